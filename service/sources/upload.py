"""Reading a multipart upload as a stream, part by part, in constant memory.

FastAPI's ``UploadFile`` spools each file to disk before the route runs. Originals can be
gigabytes, so the upload routes read the request body themselves: a pull parser over
``python-multipart``'s push parser, fed from the request stream on demand. A file part's bytes
go straight on to the object store as they arrive.
"""

from __future__ import annotations

import asyncio
import queue
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio.from_thread
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from service.errors import PayloadTooLarge, Unprocessable

MAX_FIELD_BYTES = 64 * 1024
MAX_PARTS = 200


# How far the event loop may read ahead of the route's thread, in chunks (each at most one
# socket read, 64 KiB with uvicorn): about 4 MiB.
READ_AHEAD_CHUNKS = 64
_END = object()


def request_chunks(request: Request) -> Iterator[bytes]:
    """The request body chunk by chunk, for a sync route running in the threadpool.

    A task on the event loop keeps reading the body into a bounded queue while this thread
    parses, hashes and stores what came before, so receiving overlaps with the work.
    Raises ``starlette.requests.ClientDisconnect`` if the client goes away.
    """
    loop: asyncio.AbstractEventLoop = anyio.from_thread.run_sync(asyncio.get_running_loop)
    chunks: queue.SimpleQueue[object] = queue.SimpleQueue()
    room: asyncio.Semaphore | None = None

    async def pump() -> None:
        nonlocal room
        room = asyncio.Semaphore(READ_AHEAD_CHUNKS)
        try:
            async for chunk in request.stream():
                if chunk:
                    await room.acquire()
                    chunks.put(chunk)
        except BaseException as exc:  # handed to the consumer, which raises it
            chunks.put(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
        else:
            chunks.put(_END)

    def make_room() -> None:
        if room is not None:
            room.release()

    task = asyncio.run_coroutine_threadsafe(pump(), loop)
    try:
        while True:
            item = chunks.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            loop.call_soon_threadsafe(make_room)
            yield item  # type: ignore[misc]
    finally:
        task.cancel()


@dataclass
class Part:
    name: str
    filename: str | None
    content_type: str | None
    _reader: MultipartReader = field(repr=False)
    _consumed: bool = field(default=False, repr=False)

    @property
    def is_file(self) -> bool:
        return self.filename is not None

    def chunks(self) -> Iterator[bytes]:
        """This part's bytes as they arrive. Must be consumed before the next part is read."""
        if self._consumed:
            raise RuntimeError("part already consumed")
        self._consumed = True
        yield from self._reader._part_data()

    def text(self) -> str:
        data = bytearray()
        for chunk in self.chunks():
            data += chunk
            if len(data) > MAX_FIELD_BYTES:
                raise PayloadTooLarge(
                    f"The form field {self.name!r} is longer than {MAX_FIELD_BYTES} bytes."
                )
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Unprocessable(f"The form field {self.name!r} is not valid UTF-8.") from exc


class MultipartReader:
    """Iterate over the parts of a ``multipart/form-data`` body."""

    def __init__(self, chunks: Iterator[bytes], content_type: str | None) -> None:
        mime, params = parse_options_header(content_type or "")
        boundary = params.get(b"boundary")
        if mime != b"multipart/form-data" or not boundary:
            raise Unprocessable(
                "Send the upload as multipart/form-data: metadata fields and one or more "
                "'file' parts."
            )
        self._chunks = chunks
        self._events: deque[tuple[str, Any]] = deque()
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[str, str] = {}
        self._ended = False
        self._parser = MultipartParser(
            boundary,
            callbacks={
                "on_part_begin": self._on_part_begin,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
                "on_end": self._on_end,
            },
        )

    # -- parser callbacks: they only record events ---------------------------------------

    def _on_part_begin(self) -> None:
        self._headers = {}

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        name = self._header_field.decode("latin-1").strip().lower()
        self._headers[name] = self._header_value.decode("utf-8", "replace").strip()
        self._header_field.clear()
        self._header_value.clear()

    def _on_headers_finished(self) -> None:
        # Events are consumed later than they are parsed: each carries its own headers.
        self._events.append(("headers", self._headers))

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        self._events.append(("data", bytes(data[start:end])))

    def _on_part_end(self) -> None:
        self._events.append(("end", b""))

    def _on_end(self) -> None:
        self._ended = True

    # -- pulling -------------------------------------------------------------------------

    def _next_event(self) -> tuple[str, Any] | None:
        while not self._events:
            if self._ended:
                return None
            chunk = next(self._chunks, None)
            if chunk is None:
                raise Unprocessable("The upload ended before its last part was complete.")
            try:
                self._parser.write(chunk)
            except MultipartParseError as exc:
                raise Unprocessable(f"The upload is not valid multipart data: {exc}") from exc
        return self._events.popleft()

    def _part_data(self) -> Iterator[bytes]:
        while True:
            event = self._next_event()
            if event is None:
                raise Unprocessable("The upload ended inside a part.")
            kind, data = event
            if kind == "end":
                return
            if kind == "data" and data:
                yield data

    def parts(self) -> Iterator[Part]:
        count = 0
        previous: Part | None = None
        while True:
            if previous is not None and not previous._consumed:
                for _ in previous.chunks():
                    pass
            event = self._next_event()
            if event is None:
                return
            kind, headers = event
            if kind != "headers":
                continue
            count += 1
            if count > MAX_PARTS:
                raise Unprocessable(f"An upload may have at most {MAX_PARTS} parts.")
            disposition, params = parse_options_header(headers.get("content-disposition"))
            if disposition != b"form-data" or b"name" not in params:
                raise Unprocessable("Every part needs a Content-Disposition with a name.")
            filename = params.get(b"filename")
            previous = Part(
                name=params[b"name"].decode("utf-8", "replace"),
                filename=None if filename is None else filename.decode("utf-8", "replace"),
                content_type=headers.get("content-type"),
                _reader=self,
            )
            yield previous
