#!/usr/bin/env python3
"""Diarization error rate of a hypothesis RTTM against a reference RTTM, with pyannote.metrics.

Usage: der.py REFERENCE.rttm HYPOTHESIS.rttm

Prints DER at collar 0.25 s and 0 s, each with its miss / false alarm / confusion parts, and the
speaker counts. "Collar 0.25" follows NIST md-eval: 0.25 s on *each* side of every reference
boundary is not scored (pyannote's `collar` argument is the total width, so it gets 0.5).
Overlapping speech is scored. Needs pyannote.metrics (e.g. a throwaway venv:
`python3 -m venv /work/.venv-der && /work/.venv-der/bin/pip install pyannote.metrics`).
"""
import sys
import warnings

from pyannote.core import Annotation, Segment
from pyannote.metrics.diarization import DiarizationErrorRate


def load_rttm(path):
    ann = Annotation()
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            fields = line.split()
            if not fields or fields[0] != "SPEAKER":
                continue
            start, dur = float(fields[3]), float(fields[4])
            if dur > 0:
                ann[Segment(start, start + dur), i] = fields[7]
    return ann


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    ref, hyp = load_rttm(sys.argv[1]), load_rttm(sys.argv[2])
    print(f"speakers: reference {len(ref.labels())}, hypothesis {len(hyp.labels())}")
    for collar in (0.25, 0.0):
        metric = DiarizationErrorRate(collar=2 * collar, skip_overlap=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "uem was approximated" is expected
            d = metric(ref, hyp, detailed=True)
        total = d["total"]
        print(
            f"collar {collar:.2f}: DER {100 * d['diarization error rate']:.2f}%  "
            f"(miss {d['missed detection']:.2f} s, false alarm {d['false alarm']:.2f} s, "
            f"confusion {d['confusion']:.2f} s of {total:.2f} s)"
        )


if __name__ == "__main__":
    main()
