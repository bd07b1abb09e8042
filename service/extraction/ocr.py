"""Optical character recognition of page images with the Tesseract command-line program."""

from __future__ import annotations

import functools
import io
import os
import shutil
import subprocess
from typing import TYPE_CHECKING

from service.extraction.engine import OcrConfig

if TYPE_CHECKING:
    from PIL.Image import Image


class OcrError(Exception):
    """Tesseract ran but could not read the image (missing language data, bad image...)."""


def tesseract_path(config: OcrConfig) -> str | None:
    """The Tesseract executable `config` names, or None when OCR is unavailable."""
    if not config.tesseract_cmd:
        return None
    return shutil.which(config.tesseract_cmd)


@functools.cache
def tesseract_version(executable: str) -> str:
    """E.g. "tesseract 5.3.0"; "tesseract" if it cannot say."""
    try:
        completed = subprocess.run(  # noqa: S603 - the configured Tesseract
            [executable, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return "tesseract"
    first_line = (completed.stdout or completed.stderr).strip().splitlines()[:1]
    return first_line[0] if first_line else "tesseract"


def read_image(image: Image, *, executable: str, language: str, dpi: int, timeout: float) -> str:
    """The text Tesseract finds in `image`, with blank lines between paragraphs.

    Raises OcrError if Tesseract fails, and subprocess.TimeoutExpired (having killed it) after
    `timeout` seconds.
    """
    buffer = io.BytesIO()
    # Uncompressed PNM: no time spent compressing an image that is read once, from a pipe.
    image.save(buffer, format="PPM")
    # One thread per Tesseract: the service runs several extractions side by side, and
    # Tesseract's OpenMP threads then make it slower, not faster.
    environment = dict(os.environ, OMP_THREAD_LIMIT="1")
    command = [executable, "stdin", "stdout", "-l", language, "--dpi", str(dpi), "--psm", "3"]
    completed = subprocess.run(  # noqa: S603 - the configured Tesseract, fixed arguments
        command,
        input=buffer.getvalue(),
        capture_output=True,
        timeout=timeout,
        env=environment,
        check=False,
    )
    if completed.returncode != 0:
        message = completed.stderr.decode("utf-8", "replace").strip()
        raise OcrError(message or f"tesseract exited with status {completed.returncode}")
    return completed.stdout.decode("utf-8", "replace")
