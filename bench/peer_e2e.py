#!/usr/bin/env python3
"""The end-to-end peer of bench/bench.py: minutes with speakers the way a Python user would make
them without gijiroku. faster-whisper (CTranslate2 model directory, settings exactly those of
bench/fw_run.py) transcribes the file, senko 0.2.2's CPU diarizer finds the speakers in the same
file, and each faster-whisper segment gets the senko speaker that overlaps it most in time ("?"
when none does).

Writes --out {"segments": [{"start", "end", "text", "speaker"}], "seconds": wall seconds inside
this script (imports and model loading included), "speakers": speakers senko found,
"asr_seconds" and "diarize_seconds": the two steps, each with its model loading} and --rttm
(senko's merged segments, as scripts/peer_senko.py writes them). bench.py times the whole
process from outside (/usr/bin/time -v), like every other row.

Runs inside the benchmark venv (faster-whisper, senko==0.2.2, kaldi-native-fbank). Audio: 16 kHz
mono 16-bit WAV (senko refuses anything else).
"""
import time

T0 = time.time()  # before the heavy imports: they are part of what a user waits for

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def load_peer_senko():
    """scripts/peer_senko.py as a module, for its fbank workaround (not a package: load by path)."""
    spec = importlib.util.spec_from_file_location("peer_senko", REPO / "scripts" / "peer_senko.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def transcribe(model_dir, audio, compute, beam, threads):
    """faster-whisper with bench/fw_run.py's settings; the model is freed on return."""
    from faster_whisper import WhisperModel

    model = WhisperModel(model_dir, device="cpu", compute_type=compute, cpu_threads=threads, num_workers=1)
    segments, _ = model.transcribe(
        audio,
        language="ja",
        beam_size=beam,
        best_of=5,
        vad_filter=True,
        condition_on_previous_text=False,
        word_timestamps=False,
    )
    return [{"start": s.start, "end": s.end, "text": s.text} for s in segments]


def diarize(audio, threads):
    """senko's merged segments [{"start", "end", "speaker"}] on CPU, PyTorch capped to `threads`."""
    peer = load_peer_senko()
    # As scripts/peer_senko.py: senko sizes PyTorch's thread pool by os.cpu_count() when it is
    # built; ask for fewer before it looks.
    real = os.cpu_count
    os.cpu_count = lambda: threads  # type: ignore[assignment]
    try:
        import torch

        torch.set_num_threads(threads)
        import senko
        import senko.diarizer

        # senko's bundled C++ fbank library dies with SIGILL on this CPU: never load it, compute
        # the same features with kaldi-native-fbank instead (details in peer_senko.py).
        peer._stub_fbank_library(senko.diarizer)
        senko.diarizer.Diarizer._extract_fbank_features = peer._python_fbank(senko.diarizer)
        # warmup=False: senko's README shows warmup=True, but warming up only makes the *next*
        # call fast in a long-lived process (dummy CAM++ batches and a UMAP/HDBSCAN run on 4250
        # random embeddings). Someone turning one recording into minutes gains nothing from it,
        # so it is left out: the peer's best case, not a handicap.
        diarizer = senko.Diarizer(device="cpu", warmup=False, quiet=True)
    finally:
        os.cpu_count = real  # type: ignore[assignment]
    result = diarizer.diarize(str(audio))
    return [] if result is None else result["merged_segments"]  # None: senko heard no speech


def assign(segments, turns):
    """Each segment gets the speaker with the most time overlapping it; "?" when none overlaps."""
    for seg in segments:
        overlap = {}
        for t in turns:
            o = min(seg["end"], t["end"]) - max(seg["start"], t["start"])
            if o > 0:
                overlap[t["speaker"]] = overlap.get(t["speaker"], 0.0) + o
        seg["speaker"] = max(overlap, key=overlap.get) if overlap else "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model_dir")
    ap.add_argument("audio", type=Path)
    ap.add_argument("--compute", default="int8")
    ap.add_argument("--beam", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--rttm", required=True, type=Path)
    a = ap.parse_args()
    # Before torch or CTranslate2 start their OpenMP pools (as peer_senko.py does).
    os.environ.setdefault("OMP_NUM_THREADS", str(a.threads))

    # One after the other, as a user's script would: on 2 cores running them side by side only
    # makes both slower and doubles the memory peak.
    t = time.time()
    segments = transcribe(a.model_dir, str(a.audio), a.compute, a.beam, a.threads)
    t_asr = time.time() - t
    t = time.time()
    turns = diarize(a.audio, a.threads)
    t_diar = time.time() - t
    assign(segments, turns)

    name = a.audio.stem
    with open(a.rttm, "w", encoding="utf-8") as f:
        for s in turns:
            f.write(f"SPEAKER {name} 1 {s['start']:.3f} {s['end'] - s['start']:.3f} <NA> <NA> {s['speaker']} <NA> <NA>\n")
    speakers = len({t["speaker"] for t in turns})
    with open(a.out, "w", encoding="utf-8") as f:
        # asr_seconds / diarize_seconds (model loading included in each) say where the time went.
        json.dump({"segments": segments, "seconds": time.time() - T0, "speakers": speakers,
                   "asr_seconds": t_asr, "diarize_seconds": t_diar}, f, ensure_ascii=False)


if __name__ == "__main__":
    main()
