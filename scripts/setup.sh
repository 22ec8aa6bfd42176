#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages gijiroku needs to build, test and record. Idempotent:
# when everything is already installed it only checks and exits (well under a second).
#
#   scripts/setup.sh              build + test + record dependencies
#   scripts/setup.sh --fixtures   also sox format modules and ffmpeg, to regenerate
#                                 tests/fixtures with tests/fixtures/make.sh (tests don't need them)
#
# Rust itself (rustup, cargo >= 1.85) is not installed here: get it from https://rustup.rs
# or your distribution.
set -euo pipefail

packages=(
    build-essential # C/C++ compiler for whisper.cpp (and libgomp for its OpenMP threads)
    cmake           # whisper-rs-sys builds whisper.cpp with CMake
    pkg-config      # finds ALSA for cpal
    libclang-dev    # bindgen, only if WHISPER_DONT_GENERATE_BINDINGS is unset (.cargo/config.toml sets it)
    libasound2-dev  # ALSA headers: microphone capture (`gijiroku record`)
    alsa-utils      # arecord -l / alsamixer, to find and check the microphone
    sox             # converting and inspecting recordings; scripts use it for test audio
    strace          # tests/offline.rs: the proof that transcription opens no network socket
    chromium        # tests/review.rs: the review page in a real browser
    chromium-driver # ... driven over WebDriver
    ca-certificates # HTTPS to PyPI for `gijiroku models install`
    git
)
if [[ "${1:-}" == "--fixtures" ]]; then
    packages+=(libsox-fmt-all ffmpeg)
elif [[ $# -gt 0 ]]; then
    echo "usage: $0 [--fixtures]" >&2
    exit 2
fi

missing=()
for p in "${packages[@]}"; do
    if [[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" != "installed" ]]; then
        missing+=("$p")
    fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
    echo "setup: all ${#packages[@]} packages already installed"
else
    if ! command -v apt-get >/dev/null; then
        echo "setup: apt-get not found; install these with your package manager: ${missing[*]}" >&2
        exit 1
    fi
    sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || { echo "setup: not root and no sudo; run as root" >&2; exit 1; }
        sudo=(sudo)
    fi
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -q
    "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null; then
    echo "setup: cargo not found: install Rust (https://rustup.rs), then run this again" >&2
    exit 1
fi
