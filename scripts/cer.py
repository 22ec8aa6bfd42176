#!/usr/bin/env python3
"""Character error rate of a gijiroku transcript against a reference text.

Usage: cer.py HYP REF [--field text|raw_text] [--show]

HYP is the JSON written by `gijiroku transcribe` (its `segments[].text` are joined; `--field
raw_text` scores the recogniser's text before clean-up) or a plain text file. REF is plain text.
Both are normalised the same way before scoring: NFKC (full-width digits and Latin to half
width), Latin lower-cased, whitespace, punctuation and symbols dropped (so 1,250 and 1250 match,
and 、。「」★ never count). Kanji numerals and Arabic numerals stay different (十五 ≠ 15).
CER = (substitutions + deletions + insertions) / reference characters. Prints the rate in percent
and the edit counts; `--show` also prints the normalised hypothesis. Standard library only.
"""
import json
import sys
import unicodedata


def normalise(text):
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(
        c for c in text if not c.isspace() and unicodedata.category(c)[0] not in "PSZC"
    )


def edit_ops(hyp, ref):
    """(substitutions, deletions, insertions) of the cheapest alignment of hyp to ref."""
    # Each cell: (cost, subs, dels, ins); ties prefer substitutions, as sclite does.
    prev = [(j, 0, 0, j) for j in range(len(hyp) + 1)]
    for i in range(1, len(ref) + 1):
        cur = [(i, 0, i, 0)]
        for j in range(1, len(hyp) + 1):
            same = ref[i - 1] == hyp[j - 1]
            d = prev[j - 1]
            best = (d[0] + (0 if same else 1), d[1] + (0 if same else 1), d[2], d[3])
            u = prev[j]
            if u[0] + 1 < best[0]:
                best = (u[0] + 1, u[1], u[2] + 1, u[3])
            left = cur[j - 1]
            if left[0] + 1 < best[0]:
                best = (left[0] + 1, left[1], left[2], left[3] + 1)
            cur.append(best)
        prev = cur
    return prev[-1][1:]


def hypothesis(path, field):
    with open(path, encoding="utf-8") as f:
        raw = f.read()
    if path.endswith(".json"):
        doc = json.loads(raw)
        return "".join(s.get(field, s.get("text", "")) for s in doc["segments"])
    return raw


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    field = "text"
    if "--field" in argv:
        i = argv.index("--field")
        field = argv[i + 1]
        args.remove(field)
    if len(args) != 2:
        sys.exit(__doc__)
    hyp = normalise(hypothesis(args[0], field))
    with open(args[1], encoding="utf-8") as f:
        ref = normalise(f.read())
    if not ref:
        sys.exit(f"{args[1]}: the reference is empty after normalisation")
    s, d, i = edit_ops(hyp, ref)
    print(f"CER {100.0 * (s + d + i) / len(ref):.2f}%  (S {s}, D {d}, I {i}, N {len(ref)})")
    if "--show" in argv:
        print(hyp)


if __name__ == "__main__":
    main(sys.argv[1:])
