"""The sandbox's child process: loads the extractors once, then runs jobs sent over a pipe.

Only `serve` runs here; the parent side is `service.extraction.sandbox`. Importing this module
is cheap, since the parent imports it too (to name `serve` as the process target).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import resource
import signal
import sys
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from service.extraction.engine import (
    Extraction,
    ExtractionFailed,
    Limits,
    OcrConfig,
    extract,
    memory_reason,
)

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Job:
    path: str
    media_type: str
    ocr: OcrConfig
    limits: Limits


@dataclass(frozen=True)
class Ready:
    pid: int
    baseline_bytes: int  # address space in use after warm-up; limits are added to this


@dataclass(frozen=True)
class Done:
    extraction: Extraction


@dataclass(frozen=True)
class Failed:
    reason: str
    retire: bool  # the child's state may be damaged (it ran out of memory): replace it


def limit_threads() -> None:
    """One thread per numerical library: extractions run side by side in separate processes,
    and idle BLAS/OpenMP thread pools only cost memory. Must run before numpy is imported."""
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")


def warm_up() -> None:
    """Import every reader and load the spaCy pipeline, so no job pays for it."""
    from service.extraction import documents, nlp, pdf, plaintext, transcripts  # noqa: F401

    documents.load_partitioners()
    nlp.spacy_pipeline()
    nlp.pos_tag("We read the notes.")  # the first call initialises spaCy's tagger


def serve(connection: Connection) -> None:
    """The child's main loop: Ready, then one reply per Job until the pipe closes."""
    # Its own process group, so the parent can kill it together with any soffice, pandoc or
    # tesseract it started; and no terminal Ctrl-C, which is for the parent to handle.
    os.setpgrp()
    _die_with_parent()
    limit_threads()
    warm_up()
    baseline = _address_space()
    connection.send(Ready(pid=os.getpid(), baseline_bytes=baseline))
    while True:
        try:
            job = connection.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        reply = _run(job, baseline=baseline)
        try:
            connection.send(reply)
        except MemoryError:
            # The extraction fitted, but not a pickled copy of it as well.
            connection.send(Failed(memory_reason(job.limits), retire=True))


def _run(job: Job, *, baseline: int) -> Done | Failed:
    _limit_memory(baseline + job.limits.memory_bytes)
    try:
        return Done(extract(Path(job.path), job.media_type, ocr=job.ocr, limits=job.limits))
    except ExtractionFailed as exc:
        return Failed(exc.reason, retire=isinstance(exc.__cause__, MemoryError))
    except MemoryError:
        return Failed(memory_reason(job.limits), retire=True)
    except Exception:  # noqa: BLE001 - the child must answer every job
        logger.exception("Extraction of %s failed unexpectedly", job.path)
        return Failed(
            "Text extraction failed unexpectedly on this file; an administrator can find the "
            "details in the worker's log.",
            retire=True,
        )


def _address_space() -> int:
    """Virtual memory size of this process, in bytes."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[0])
    return pages * os.sysconf("SC_PAGE_SIZE")


def _limit_memory(limit: int) -> None:
    """Cap the address space (a soft limit, so the next job can set its own). Allocations past
    it fail: in Python as MemoryError, in a C library as an error or, at worst, a crash of this
    child, which the parent reports."""
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _die_with_parent() -> None:
    """Ask Linux to kill this process when its parent (the forkserver, which exits with the
    service) exits, even in the middle of a job."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
