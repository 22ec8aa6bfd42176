#!/usr/bin/env python3
"""Regenerates the malformed-input corpus in this folder (see README.md).

Standard library only and deterministic (fixed seed, fixed zip timestamps), so running it
again gives byte-identical files. Usage: python3 tests/malformed/make.py
"""
import os
import random
import struct
import zipfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def put(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def chunk(tag, body):
    pad = b"\0" if len(body) % 2 else b""
    return tag + struct.pack("<I", len(body)) + body + pad


def fmt(tag=1, channels=1, rate=16000, bits=16, block_align=None, byte_rate=None):
    if block_align is None:
        block_align = channels * bits // 8
    if byte_rate is None:
        byte_rate = (block_align * rate) & 0xFFFFFFFF
    return struct.pack("<HHIIHH", tag, channels, rate, byte_rate, block_align, bits)


def riff(*chunks, magic=b"RIFF"):
    body = b"WAVE" + b"".join(chunks)
    return magic + struct.pack("<I", len(body)) + body


# 0.1 s of a 440 Hz tone, 16 kHz 16-bit mono: the "audio" inside the bad headers.
TONE = b"".join(
    struct.pack("<h", int(8000 * (((i * 440 * 4 // 16000) % 4) - 1.5) / 1.5))
    for i in range(1600)
)


def wav(fmt_body, data=TONE):
    return riff(chunk(b"fmt ", fmt_body), chunk(b"data", data))


def png_1x1():
    def pchunk(tag, body):
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + pchunk(b"IHDR", ihdr) + pchunk(b"IDAT", idat) + pchunk(b"IEND", b"")


def zip_bytes():
    path = os.path.join(HERE, "zip-named.m4a")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo("議事録.txt", date_time=(2025, 11, 25, 15, 45, 0))
        z.writestr(info, "これは録音ではなく ZIP です。\n" * 4)
    with open(path, "rb") as f:
        return f.read()


def main():
    rng = random.Random(20251125)

    # --- audio -----------------------------------------------------------------------------
    put("empty.mp3", b"")
    put("rate-0hz.wav", wav(fmt(rate=0)))
    put("rate-4ghz.wav", wav(fmt(rate=4_000_000_000)))
    put("rate-1hz.wav", wav(fmt(rate=1)))
    put("channels-0.wav", wav(fmt(channels=0, block_align=2, byte_rate=32000)))
    put("channels-65535.wav", wav(fmt(channels=65535, block_align=65535 * 2 & 0xFFFF)))
    put("bits-0.wav", wav(fmt(bits=0, block_align=2, byte_rate=32000)))
    put("float-16bit.wav", wav(fmt(tag=3, bits=16)))
    put("riff-header-only.wav", b"RIFF\x04\x00\x00\x00WAVE")
    put("fmt-size-4gb.wav", b"RIFF\xff\xff\xff\xffWAVEfmt \xf0\xff\xff\xff" + fmt() + TONE[:64])
    put("data-before-fmt.wav", riff(chunk(b"data", TONE[:320]), chunk(b"fmt ", fmt())))
    put("no-data-chunk.wav", riff(chunk(b"fmt ", fmt()), chunk(b"LIST", b"INFOISFT\x04\x00\x00\x00test")))
    put("rf64.wav", riff(chunk(b"ds64", struct.pack("<QQQI", 3232, 3200, 1600, 0)),
                         chunk(b"fmt ", fmt()), chunk(b"data", TONE[:3200]), magic=b"RF64"))
    ext = struct.pack("<HHIIHHHHI16s", 0xFFFE, 1, 16000, 32000, 2, 16, 22, 16, 4,
                      bytes(range(16)))
    put("extensible-unknown-guid.wav", wav(ext))
    put("png-named.mp3", png_1x1())
    zip_bytes()
    put("random.flac", bytes(rng.getrandbits(8) for _ in range(512)))
    put("text.ogg", "これは音声ではありません。会議のメモです。\n".encode() * 8)
    put("id3-only.mp3", b"ID3\x04\x00\x00\x7f\x7f\x7f\x7f" + b"\0" * 54)
    streaminfo = struct.pack(">HH", 4096, 4096) + b"\0\0\0" + b"\0\0\0" + \
        (0).to_bytes(8, "big") + b"\0" * 16
    put("flac-rate-0.flac", b"fLaC" + bytes([0x80]) + len(streaminfo).to_bytes(3, "big") + streaminfo
        + b"\xff\xf8" + bytes(rng.getrandbits(8) for _ in range(64)))
    put("ftyp-only.m4a", struct.pack(">I", 24) + b"ftypM4A \0\0\0\0M4A isom")
    put("ogg-bad-page.ogg", b"OggS\0\x02" + b"\0" * 8 + b"\x01\0\0\0" + b"\0\0\0\0" + b"\0\0\0\0"
        + b"\x01\x1e" + b"\x01vorbis" + bytes(rng.getrandbits(8) for _ in range(23)))

    # --- meeting sheets --------------------------------------------------------------------
    put("sheet-wrong-types.toml", "会議名 = 42\n場所 = [\"第1委員会室\"]\n".encode())
    put("sheet-unknown-key.toml", "会議名 = \"総務常任委員会\"\n会議室 = \"第1委員会室\"\n".encode())
    put("sheet-bad-date.toml", "会議名 = \"総務常任委員会\"\n開始 = 2025-13-45T25:61:00\n".encode())
    put("sheet-shift-jis.toml", "会議名 = \"総務常任委員会\"\n場所 = \"第1委員会室\"\n".encode("shift_jis"))
    put("sheet-end-before-start.toml",
        "開始 = 2025-11-25T15:45:00\n終了 = 2025-11-25T09:00:00\n".encode())
    put("sheet-person-typo.toml", "出席者 = [{ 職 = \"委員長\", 名前 = \"山田太郎\" }]\n".encode())

    # --- JSON for `gijiroku relabel` -------------------------------------------------------
    put("other-shape.json", b'{"transcription":[{"timestamps":{"from":"00:00:00,000",'
        b'"to":"00:00:02,000"},"text":" hello"}]}\n')
    ours = ('{\n  "segments": [\n    {"start": 0.5, "end": 2.0, "speaker": "話者1", '
            '"text": "ただいまから開会します。", "confidence": 0.9}\n  ],\n'
            '  "model": "base",\n  "audio_seconds": 10.0,\n  "labels": ["話者1"]\n}\n').encode()
    put("truncated.json", ours[: len(ours) * 2 // 3])
    put("segments-wrong-type.json", b'{"segments": "none", "model": "base"}\n')
    put("shift-jis.json", '{"segments": [], "model": "ベース"}\n'.encode("shift_jis"))


if __name__ == "__main__":
    main()
