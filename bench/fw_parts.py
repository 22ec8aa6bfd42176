#!/usr/bin/env python3
"""Where faster-whisper's time goes on one 30-s window: feature extraction, the encoder, and
the decoder (greedy and beam 5), for int8 and float32, 2 threads. The counterpart for gijiroku
is the per-window log (`GIJIROKU_LOG=warn,gijiroku=debug`, see docs/performance.md).

Runs inside the venv bench/bench.py creates, after `python3 bench/bench.py` has set it up:
    /tmp/gijiroku-bench-venv/bin/python bench/fw_parts.py [audio.wav] [--repeats N]
"""
import argparse
import statistics
import time
from pathlib import Path

import ctranslate2
import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.audio import decode_audio

REPO = Path(__file__).resolve().parent.parent
# <|startoftranscript|><|ja|><|transcribe|>
PROMPT = [50258, 50266, 50359]


def timed(f, repeats):
    out, times = None, []
    for _ in range(repeats):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return out, times


def fmt(times):
    return f"{statistics.median(times):.2f} s ({min(times):.2f}-{max(times):.2f})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("audio", nargs="?", default=str(REPO / "samples" / "meeting.wav"))
    ap.add_argument("--model", default="/tmp/gijiroku-bench-ct2-base")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    pcm = decode_audio(a.audio)[: 16000 * 30]
    for compute in ("int8", "float32"):
        m = WhisperModel(a.model, device="cpu", compute_type=compute, cpu_threads=a.threads)
        feats, t_feat = timed(lambda: m.feature_extractor(pcm), a.repeats)
        x = ctranslate2.StorageView.from_array(np.ascontiguousarray(feats[:, :3000][None]))
        m.model.encode(x, to_cpu=False)  # warm-up
        enc, t_enc = timed(lambda: m.model.encode(x, to_cpu=False), a.repeats)
        for beam in (1, 5):
            r, t_dec = timed(lambda: m.model.generate(enc, [PROMPT], beam_size=beam, max_length=448), a.repeats)
            n = len(r[0].sequences_ids[0])
            print(f"{compute:8} features {fmt(t_feat)}  encoder {fmt(t_enc)}  "
                  f"{'greedy' if beam == 1 else 'beam 5'} decode {n} tokens {fmt(t_dec)} "
                  f"= {1000 * statistics.median(t_dec) / max(n, 1):.1f} ms/token")


if __name__ == "__main__":
    main()
