#!/usr/bin/env python3
"""Score speaker naming (the sheet's roster + the chair's calls) on the development set.

Usage:
  naming_eval.py DEVSET BIN [-o OUTDIR] [--only NAME ...] [--skip NAME ...] [--reuse] [--extra "ARGS"]

For every DEVSET/NAME.wav whose NAME.turns.json gives each turn the `label` the 会議録 should
show (scripts/make_devset.py writes it), this writes OUTDIR/NAME/NAME.toml: NAME.toml without its
`[話者]` table (that table would name the voices by hand, which is what is being measured), and runs

  BIN transcribe NAME.wav --meeting OUTDIR/NAME/NAME.toml -o OUTDIR/NAME --formats json,rttm --force -q --json EXTRA

(the `--json` events go to OUTDIR/NAME/events.jsonl: the stage timings are in the `file` event; the
RTTM lets scripts/devset_eval.py --rttm-only score the same runs for speaker turns)
then compares, second by second of reference speech (turns that overlap another are left out),
the speaker of the JSON `segments` spoken at that time with the reference label:

  right     the segment carries the reference label
  wrong     it carries another name (a guess that a reviewer must catch: the costly error)
  unnamed   it carries a raw 話者N label (left for the reviewer, as designed when unsure)
  no text   no segment covers that time (recognition, not naming)

Shares are of reference speech time with text. A meeting without calls must give 0% wrong.
Also lists each voice of the JSON `voices` with how it was named. Standard library only.
"""
from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

RAW = re.compile(r"^話者\d+$")


def strip_speaker_table(text: str) -> str:
    out = []
    for line in text.splitlines():
        if line.strip() in ("[話者]", "[\"話者\"]"):
            break
        out.append(line)
    return "\n".join(out) + "\n"


def run(devset: Path, name: str, binary: str, outdir: Path, extra: list[str], reuse: bool) -> Path:
    d = outdir / name
    d.mkdir(parents=True, exist_ok=True)
    out_json = d / f"{name}.json"
    if reuse and out_json.exists():
        return out_json
    sheet = d / f"{name}.toml"
    sheet.write_text(strip_speaker_table((devset / f"{name}.toml").read_text(encoding="utf-8")), encoding="utf-8")
    cmd = [binary, "transcribe", str(devset / f"{name}.wav"), "--meeting", str(sheet), "-o", str(d),
           "--formats", "json,rttm", "--force", "-q", "--json", *extra]
    t = time.time()
    run = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True)
    (d / "events.jsonl").write_text(run.stdout, encoding="utf-8")
    print(f"{name}: {time.time() - t:.0f} s", file=sys.stderr)
    return out_json


def overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def score(turns: list[dict], doc: dict) -> dict:
    segs = [(s["start"], s["end"], s["speaker"]) for s in doc["segments"]]
    right = wrong = unnamed = notext = 0.0
    confusions: dict[tuple[str, str], float] = {}
    for t in turns:
        if t.get("overlap"):
            continue
        covered = 0.0
        for s0, s1, spk in segs:
            o = overlap(t["start"], t["end"], s0, s1)
            if o <= 0:
                continue
            covered += o
            if spk == t["label"]:
                right += o
            elif RAW.match(spk):
                unnamed += o
            else:
                wrong += o
                confusions[(t["label"], spk)] = confusions.get((t["label"], spk), 0.0) + o
        notext += max(0.0, (t["end"] - t["start"]) - covered)
    total = right + wrong + unnamed
    pct = lambda x: round(100 * x / total, 1) if total else 0.0  # noqa: E731
    voices = [{"label": v.get("label"), "name": v.get("name"), "how": v.get("how")} for v in doc.get("voices", [])]
    return {"right": pct(right), "wrong": pct(wrong), "unnamed": pct(unnamed), "speech_s": round(total, 1),
            "no_text_s": round(notext, 1), "voices": voices,
            "confusions": {f"{a} -> {b}": round(x, 1) for (a, b), x in sorted(confusions.items(), key=lambda kv: -kv[1])}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("devset", type=Path)
    ap.add_argument("binary")
    ap.add_argument("-o", "--outdir", type=Path, default=Path("/tmp/naming-eval"))
    ap.add_argument("--only", action="append")
    ap.add_argument("--skip", action="append", default=[])
    ap.add_argument("--reuse", action="store_true", help="score earlier runs in OUTDIR again")
    ap.add_argument("--extra", default="", help="more arguments for transcribe")
    args = ap.parse_args()
    names = []
    for tj in sorted(args.devset.glob("*.turns.json")):
        name = tj.name[: -len(".turns.json")]
        if args.only and name not in args.only or name in args.skip:
            continue
        turns = json.loads(tj.read_text(encoding="utf-8"))
        if not turns or "label" not in turns[0]:
            continue
        names.append((name, turns))
    results = {}
    for name, turns in names:
        out_json = run(args.devset, name, args.binary, args.outdir, shlex.split(args.extra), args.reuse)
        results[name] = score(turns, json.loads(out_json.read_text(encoding="utf-8")))
    print("| recording | right | wrong | unnamed | speech s | voices (how named) |")
    print("|---|---:|---:|---:|---:|---|")
    tot = {"right": 0.0, "wrong": 0.0, "unnamed": 0.0, "speech_s": 0.0}
    for name, r in results.items():
        hows = ", ".join(f"{v['name'] or v['label']} ({v['how']})" for v in r["voices"])
        print(f"| {name} | {r['right']}% | {r['wrong']}% | {r['unnamed']}% | {r['speech_s']} | {hows} |")
        for k in ("right", "wrong", "unnamed"):
            tot[k] += r[k] * r["speech_s"] / 100
        tot["speech_s"] += r["speech_s"]
    if tot["speech_s"]:
        s = tot["speech_s"]
        print(f"| **all** | {100 * tot['right'] / s:.1f}% | {100 * tot['wrong'] / s:.1f}% | "
              f"{100 * tot['unnamed'] / s:.1f}% | {s:.1f} | |")
    for name, r in results.items():
        if r["confusions"]:
            print(f"{name} wrong names: {r['confusions']}")
    args.outdir.mkdir(parents=True, exist_ok=True)
    (args.outdir / "naming-results.json").write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
