#!/usr/bin/env python3
"""Transcribe one file with faster-whisper on a CTranslate2 model directory, settings matched
to gijiroku's: Japanese, Silero VAD on, no conditioning on previous text, whisper's default
temperature fallback. Writes {"segments": [{"start", "end", "text"}]} to --out.

Runs inside the throwaway venv bench/bench.py creates (faster-whisper from PyPI).
"""
import argparse
import json
import time

from faster_whisper import WhisperModel


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("audio")
    ap.add_argument("--compute", default="int8", help="int8 | float32 | float16 ...")
    ap.add_argument("--beam", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    t0 = time.time()
    model = WhisperModel(a.model_dir, device="cpu", compute_type=a.compute, cpu_threads=a.threads, num_workers=1)
    segments, info = model.transcribe(
        a.audio,
        language="ja",
        beam_size=a.beam,
        best_of=5,
        vad_filter=True,
        condition_on_previous_text=False,
        word_timestamps=False,
    )
    out = [{"start": s.start, "end": s.end, "text": s.text} for s in segments]
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump({"segments": out, "seconds": time.time() - t0, "duration": info.duration}, f, ensure_ascii=False)


if __name__ == "__main__":
    main()
