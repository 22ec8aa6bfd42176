#!/usr/bin/env bash
# CER of the committed samples after each quality step (issue: hallucination guard, ケバ取り,
# 公用文, vocabulary), each step added to the previous one:
#   raw       --no-guard --style verbatim, no meeting sheet
#   guard     + hallucination guard (VAD-only decoding is on in every step)
#   clean     + ケバ取り and 公用文 rules (--style clean, the default)
#   sheet     + the meeting sheet (its names, 会議名 and 議題 prime the recogniser)
#   glossary  + a glossary of the meeting's subject terms (terms only, no 誤→正 table)
# Usage: scripts/quality_steps.sh [extra transcribe flags, e.g. --greedy]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/gijiroku
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/glossary.toml" <<'TOML'
terms = ["窓口のデジタル化事業", "補正予算", "橋りょう", "長寿命化対策", "片側交互通行", "市債", "交付税措置", "財政規律"]
TOML
printf '%-8s %-9s %s\n' sample step CER
for s in meeting multi; do
    base=(transcribe "samples/$s.wav" --formats json -q --force "$@")
    steps=(
        "raw|--no-guard --style verbatim"
        "guard|--style verbatim"
        "clean|"
        "sheet|--meeting samples/$s.toml"
        "glossary|--meeting samples/$s.toml --glossary $tmp/glossary.toml"
    )
    for st in "${steps[@]}"; do
        name=${st%%|*}
        flags=${st#*|}
        out="$tmp/$s-$name"
        # shellcheck disable=SC2086
        "$bin" "${base[@]}" -o "$out" $flags
        printf '%-8s %-9s %s\n' "$s" "$name" "$(python3 scripts/cer.py "$out/$s.json" "samples/$s.ref.txt" | head -1)"
    done
done
