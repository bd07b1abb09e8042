"""Runs `extract()` in a long-lived child process, with a memory cap and a time limit.

Parsers are large C and Python code bases fed hostile input: a file can make one allocate
without bound, loop, or crash. In the child that costs the child; the caller (an API process
or a Celery worker thread) only sees ExtractionFailed, and the next run gets a fresh child.

Children come from a multiprocessing *forkserver*: safe when the caller has threads (fork
would copy locks held by other threads), and much cheaper than spawn, because the forkserver
imports unstructured and loads spaCy once (`preload.py`) and every child is a copy-on-write
fork of it.

Measured on the 2-core development machine: the forkserver takes ~2.5 s to start (once per
service process, on the first `run()`); after that a child is ready in ~20 ms, and a job costs
~0.5 ms more than calling `extract()` in-process, plus moving the result over the pipe (~0.05 s
for the 1.7 MB of text and 6,000 elements of a 1,000-page PDF).

The child's address space is capped at what it uses after warm-up (~430 MiB: Python, numpy,
unstructured, spaCy's model) plus `Limits.memory_bytes`, with RLIMIT_AS. The cap is inherited
by the programs it runs (soffice, pandoc, tesseract), each of which gets the same allowance.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

from service.extraction import child
from service.extraction.engine import (
    Extraction,
    ExtractionFailed,
    Limits,
    OcrConfig,
    timeout_reason,
)

logger = logging.getLogger(__name__)

_CONTEXT = multiprocessing.get_context("forkserver")
_PRELOAD = "service.extraction.preload"
# Starting a child normally takes well under a second; this only bounds a broken installation.
_START_TIMEOUT_SECONDS = 120.0


class SandboxUnavailable(RuntimeError):
    """The child process could not be started: a problem with this machine, not the file.
    Retry later; do not mark the file as failed."""


class Sandbox:
    """One child process that runs extractions, one at a time.

    Give each worker thread its own Sandbox: a Sandbox is not thread-safe. The child is started
    on the first `run()` and replaced after `max_jobs_per_child` jobs (to return any memory
    the parsers hold on to), after a timeout, and after it crashes or runs out of memory.
    """

    def __init__(self, *, max_jobs_per_child: int = 200) -> None:
        self._max_jobs = max_jobs_per_child
        self._process: BaseProcess | None = None
        self._connection: Connection | None = None
        self._jobs = 0
        # Only takes effect if this process has not started its forkserver yet.
        _CONTEXT.set_forkserver_preload([_PRELOAD])

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def child_pid(self) -> int | None:
        """The current child's process id, if one is running."""
        return self._process.pid if self._process is not None else None

    def run(self, path: Path, media_type: str, *, ocr: OcrConfig, limits: Limits) -> Extraction:
        """`extract()` in the child. Raises ExtractionFailed for the file's problems (including
        running out of time or memory) and SandboxUnavailable if no child can be started."""
        job = child.Job(path=str(path), media_type=media_type, ocr=ocr, limits=limits)
        connection = self._send(job)
        if not connection.poll(limits.timeout_seconds):
            self._kill()
            raise ExtractionFailed(timeout_reason(limits))
        try:
            reply = connection.recv()
        except (EOFError, OSError):
            raise ExtractionFailed(self._crash_reason(limits)) from None
        self._jobs += 1
        if isinstance(reply, child.Failed):
            if reply.retire:
                self._stop()
            raise ExtractionFailed(reply.reason)
        if self._jobs >= self._max_jobs:
            self._stop()
        assert isinstance(reply, child.Done)
        return reply.extraction

    def close(self) -> None:
        """Stop the child; a later `run()` starts a new one."""
        self._stop()

    def _send(self, job: child.Job) -> Connection:
        """Hand `job` to a live child, starting one if needed (once more if the current one
        turns out to have died while idle)."""
        for attempt in (1, 2):
            if self._connection is None:
                self._start()
            assert self._connection is not None
            try:
                self._connection.send(job)
                return self._connection
            except (BrokenPipeError, ConnectionResetError, EOFError):
                logger.warning("Extraction child died while idle; starting another")
                self._kill()
                if attempt == 2:
                    raise SandboxUnavailable("The extraction child process keeps dying") from None
        raise AssertionError("unreachable")

    def _start(self) -> None:
        parent_end, child_end = _CONTEXT.Pipe(duplex=True)
        process = _CONTEXT.Process(
            target=child.serve, args=(child_end,), name="qualarchive-extraction", daemon=True
        )
        try:
            process.start()
        except OSError as exc:
            raise SandboxUnavailable(f"Could not start the extraction process: {exc}") from exc
        finally:
            child_end.close()
        self._process, self._connection, self._jobs = process, parent_end, 0
        try:
            ready = parent_end.recv() if parent_end.poll(_START_TIMEOUT_SECONDS) else None
        except (EOFError, OSError):
            ready = None
        if not isinstance(ready, child.Ready):
            self._kill()
            raise SandboxUnavailable("The extraction process did not start; see the log")
        logger.debug(
            "Extraction child %d ready (address space %d MiB)",
            ready.pid,
            ready.baseline_bytes >> 20,
        )

    def _stop(self) -> None:
        """Ask the child to exit; kill it if it does not within a few seconds."""
        if self._connection is not None:
            with contextlib.suppress(OSError, ValueError):
                self._connection.send(None)
        if self._process is not None:
            self._process.join(timeout=5)
        self._kill()

    def _kill(self) -> None:
        """Kill the child and its process group (soffice, pandoc, tesseract), and forget it."""
        process, connection = self._process, self._connection
        self._process, self._connection = None, None
        if connection is not None:
            connection.close()
        if process is None:
            return
        if process.pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(ValueError):
            process.kill()
        process.join(timeout=10)
        with contextlib.suppress(ValueError):
            process.close()

    def _crash_reason(self, limits: Limits) -> str:
        process = self._process
        exit_code = None
        if process is not None:
            process.join(timeout=5)
            exit_code = process.exitcode
        self._kill()  # also reaps anything the child left running in its group
        if exit_code is not None and exit_code < 0:
            signal_number = -exit_code
            if signal_number == signal.SIGKILL:
                return (
                    "Extraction was killed by the operating system while reading this file, "
                    "probably because the machine ran out of memory. If it happens again with "
                    "this file, split it into smaller files."
                )
            name = signal.Signals(signal_number).name
            return (
                f"The program reading this file crashed ({name}). It may have run out of "
                f"memory (the limit is {limits.memory_bytes >> 20} MiB per file), or the file "
                "may be damaged or built to break readers: re-save it from the program that made "
                "it, or export it to PDF, and upload it again."
            )
        return (
            f"The extraction process stopped unexpectedly (exit status {exit_code}) while "
            "reading this file. Re-save the file from the program that made it and try again."
        )
