#!/usr/bin/env python3
"""A slower meeting from a sample: the pause between every two speaker turns (from the
sample's .rttm) is lengthened by 1-4 s of quiet noise, as in a real meeting where people
think, look up papers, or wait to be named. Used to measure how windows are planned around
long pauses (docs/performance.md, bench/bench.py --pauses). Beside OUT it writes OUT.rttm
(the sample's turns moved by the pauses inserted before them) and OUT.ref.txt (the sample's
words, unchanged), so CER and DER can be scored on it. With `--within P` a share P of the
pauses inside turns (between one speaker's sentences) is lengthened too, and the turns that
hold them grow (their RTTM lines then include the pause: DER counts it, CER does not).
Standard library only.

    python3 bench/stretch_pauses.py samples/meeting.wav /tmp/meeting-pauses.wav [--seed N] [--within 0.3]
"""
import argparse
import array
import random
import wave
from pathlib import Path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("wav", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--min", type=float, default=1.0, help="shortest added pause, seconds")
    ap.add_argument("--max", type=float, default=4.0, help="longest added pause, seconds")
    ap.add_argument("--within", type=float, default=0.0,
                    help="also lengthen this share of the pauses inside turns (quiet stretches of >= 0.26 s "
                         "between a speaker's sentences: a speaker who stops to look at the papers)")
    a = ap.parse_args()
    with wave.open(str(a.wav)) as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2, "16-bit mono expected"
        rate = w.getframerate()
        pcm = array.array("h", w.readframes(w.getnframes()))
    turns, records = [], []
    for line in a.wav.with_suffix(".rttm").read_text(encoding="utf-8").splitlines():
        f = line.split()
        # Only SPEAKER records carry turns (as in scripts/der.py).
        if f and f[0] == "SPEAKER":
            turns.append((float(f[3]), float(f[3]) + float(f[4])))
            records.append(f)
    turns.sort()
    cuts = [int((e + s) / 2 * rate) for (_, e), (s, _) in zip(turns, turns[1:]) if s > e]
    rng = random.Random(a.seed)
    if a.within > 0:
        cuts = sorted(cuts + [c for c in quiet_inside(pcm, rate, turns) if rng.random() < a.within])
    # Quiet room: about -50 dBFS.
    level = 100.0
    out = array.array("h")
    prev = 0
    added = []  # (sample where a pause was inserted, its length in samples)
    for c in cuts:
        out.extend(pcm[prev:c])
        n = int(rng.uniform(a.min, a.max) * rate)
        added.append((c, n))
        out.extend(int(max(-32768, min(32767, rng.gauss(0.0, level)))) for _ in range(n))
        prev = c
    out.extend(pcm[prev:])
    with wave.open(str(a.out), "wb") as o:
        o.setnchannels(1)
        o.setsampwidth(2)
        o.setframerate(rate)
        o.writeframes(out.tobytes())
    # Every turn moves by the pauses inserted before its start and grows by those inside it.
    with open(a.out.with_suffix(".rttm"), "w", encoding="utf-8") as o:
        for f in records:
            start, dur = float(f[3]), float(f[4])
            shift = sum(n for c, n in added if c <= start * rate) / rate
            grow = sum(n for c, n in added if start * rate < c < (start + dur) * rate) / rate
            f = f[:3] + [f"{start + shift:.3f}", f"{dur + grow:.3f}"] + f[5:]
            o.write(" ".join(f) + "\n")
    ref = a.wav.with_suffix(".ref.txt")
    if ref.exists():
        a.out.with_suffix(".ref.txt").write_text(ref.read_text(encoding="utf-8"), encoding="utf-8")
    print(f"{a.out}: {len(pcm) / rate:.1f} s -> {len(out) / rate:.1f} s, {len(cuts)} pauses lengthened")


def quiet_inside(pcm, rate, turns):
    """Middles of quiet stretches (20-ms frames under a tenth of the turn's mean level, at
    least 13 in a row) inside the turns, in samples."""
    hop = rate // 50
    out = []
    for s, e in turns:
        a, b = int(s * rate), min(int(e * rate), len(pcm))
        levels = [sum(abs(x) for x in pcm[i:i + hop]) / hop for i in range(a, b - hop, hop)]
        if not levels:
            continue
        quiet = 0.1 * sum(levels) / len(levels)
        run = 0
        for k, v in enumerate(levels + [quiet + 1]):
            if v < quiet:
                run += 1
                continue
            if run >= 13:
                out.append(a + (k - run // 2) * hop)
            run = 0
    return out


if __name__ == "__main__":
    main()
