#!/usr/bin/env bash
# Installs the system programs the extractors call (OCR, PDF rasterising, DOC conversion, audio
# probing and decoding; speech synthesis for the tests) when this is a Debian/Ubuntu machine
# and we may: as root with apt-get available.
# Anything already present is left alone, so a second run costs a few milliseconds.
set -euo pipefail

declare -A wanted=(
  [tesseract]="tesseract-ocr tesseract-ocr-eng"
  [pdftoppm]="poppler-utils"
  [soffice]="libreoffice-writer-nogui"
  [ffprobe]="ffmpeg"
  # Speech synthesis for the transcription tests and benchmark.
  [espeak-ng]="espeak-ng"
  [sox]="sox"
)

missing=()
for cmd in "${!wanted[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=(${wanted[$cmd]})
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "note: not installing ${missing[*]} (needs root and apt-get)." >&2
  echo "      Without them: scanned PDF pages are listed as unread, .doc files fail with a reason." >&2
  exit 0
fi

echo "Installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || echo "warning: apt-get update failed; trying the cached package lists" >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
