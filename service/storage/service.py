"""The object store: originals (write-once) and derived outputs, on any S3 API via ``minio``."""

from __future__ import annotations

import hashlib
import io
import ipaddress
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import urllib3
from minio import Minio
from minio.credentials import Credentials
from minio.datatypes import Part
from minio.deleteobjects import DeleteObject
from minio.error import S3Error

log = logging.getLogger(__name__)

# S3's smallest multipart part (except the last one).
MIN_PART_BYTES = 5 * 1024**2


class _Client(Minio):
    """``Minio`` that, on a loopback endpoint, does not hash request bodies for the signature.

    Over plain HTTP minio-py signs a SHA-256 of every body it sends (over TLS it already sends
    ``UNSIGNED-PAYLOAD``). For an S3 server on this same machine there is no network for the
    payload hash to protect, and it costs a second full SHA-256 pass over every upload; the
    archive's own SHA-256 of each original, recorded at upload, is what fixity checks rely on.
    Requests are still signed (and authenticated) in full.
    """

    def _build_headers(
        self,
        host: str,
        headers: dict[str, Any] | None = None,
        body: bytes | None = None,
        creds: Credentials | None = None,
    ) -> tuple[dict[str, Any], datetime]:
        if not body or not creds or not _is_loopback(host):
            return super()._build_headers(host, headers, body, creds)
        headers, date = super()._build_headers(host, headers, None, creds)
        headers["Content-Length"] = str(len(body))
        headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD"
        return headers, date


def _is_loopback(host: str) -> bool:
    name = (
        host.rsplit(":", 1)[0].strip("[]") if host.count(":") <= 1 or host.startswith("[") else host
    )
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class StoreUnavailable(Exception):
    """The object store could not be reached or refused the operation."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    sha256: str
    head: bytes  # the first bytes, for sniffing the media type


class ObjectStore:
    """A thin layer over ``minio`` that knows the two buckets and streams in bounded memory."""

    def __init__(
        self,
        *,
        endpoint: str,
        access_key: str,
        secret_key: str,
        secure: bool = False,
        region: str | None = None,
        originals_bucket: str = "originals",
        derived_bucket: str = "derived",
        part_bytes: int = 8 * 1024**2,
        parallel_parts: int = 2,
    ) -> None:
        # Short connect timeout and few retries: a down store must turn into a clear 503
        # within seconds, not hang a request.
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=5, read=120),
            retries=urllib3.Retry(total=2, backoff_factor=0.2, status_forcelist=[502, 503, 504]),
            maxsize=32,
        )
        self.client = _Client(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region,
            http_client=http,
        )
        self.originals = originals_bucket
        self.derived = derived_bucket
        self.part_bytes = max(part_bytes, MIN_PART_BYTES)
        self.parallel_parts = max(parallel_parts, 1)

    # -- set-up and health ---------------------------------------------------------------

    def ensure_buckets(self) -> None:
        for bucket in (self.originals, self.derived):
            try:
                if not self.client.bucket_exists(bucket):
                    self.client.make_bucket(bucket)
            except S3Error as exc:
                if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise StoreUnavailable(f"cannot create bucket {bucket}: {exc.code}") from exc
            except Exception as exc:
                raise StoreUnavailable(f"object store unreachable: {exc}") from exc

    def ping(self) -> None:
        """Raise StoreUnavailable unless both buckets answer."""
        try:
            for bucket in (self.originals, self.derived):
                if not self.client.bucket_exists(bucket):
                    raise StoreUnavailable(f"bucket {bucket} does not exist")
        except StoreUnavailable:
            raise
        except Exception as exc:
            raise StoreUnavailable(f"object store unreachable: {type(exc).__name__}") from exc

    # -- writing ------------------------------------------------------------------------

    def put_stream(
        self,
        bucket: str,
        key: str,
        chunks: Iterator[bytes],
        *,
        head_bytes: int = 64 * 1024,
        on_head: Callable[[bytes], None] | None = None,
        content_type: str = "application/octet-stream",
    ) -> StoredObject:
        """Store a stream of unknown length, hashing it on the way, in bounded memory.

        At most ``parallel_parts + 1`` parts are held at once. ``on_head`` sees the first
        ``head_bytes`` before anything is written, so a refusal costs no upload. If anything
        raises (the client goes away, a limit is exceeded, the store fails), the multipart upload
        is aborted and nothing is left in the bucket.
        """
        digest = hashlib.sha256()
        size = 0
        head = b""
        # Chunks wait here until a part is full; joining them is the one copy a part costs.
        pending: list[bytes] = []
        pending_size = 0
        upload_id: str | None = None
        futures: list[Future[Part]] = []
        pool: ThreadPoolExecutor | None = None
        part_number = 0

        def send(data: bytes, number: int) -> Part:
            assert upload_id is not None
            etag = self.client._upload_part(bucket, key, data, None, upload_id, number)
            return Part(number, etag)

        def take_part() -> bytes:
            # Whole chunks up to the part size, then the head of the chunk that straddles it.
            nonlocal pending, pending_size
            taken, total = [], 0
            while total + len(pending[0]) <= self.part_bytes:
                total += len(pending[0])
                taken.append(pending.pop(0))
            cut = self.part_bytes - total
            if cut:
                straddling = pending[0]
                taken.append(straddling[:cut])
                pending[0] = straddling[cut:]
            pending_size -= self.part_bytes
            return b"".join(taken)

        try:
            for chunk in chunks:
                if not chunk:
                    continue
                digest.update(chunk)
                size += len(chunk)
                if len(head) < head_bytes:
                    head += chunk[: head_bytes - len(head)]
                    if len(head) >= head_bytes and on_head is not None:
                        on_head(head)
                        on_head = None
                pending.append(chunk)
                pending_size += len(chunk)
                # Keep at least one byte back so that the final part is never empty.
                while pending_size > self.part_bytes:
                    data = take_part()
                    if upload_id is None:
                        upload_id = self.client._create_multipart_upload(
                            bucket, key, {"Content-Type": content_type}
                        )
                        pool = ThreadPoolExecutor(self.parallel_parts, "s3-part")
                    part_number += 1
                    # Bound the parts in flight: wait for the oldest before queueing more.
                    while sum(not f.done() for f in futures) >= self.parallel_parts:
                        next(f for f in futures if not f.done()).result()
                    assert pool is not None
                    futures.append(pool.submit(send, data, part_number))
            if on_head is not None:
                on_head(head)
            last = b"".join(pending)
            if upload_id is None:
                self.client.put_object(
                    bucket, key, io.BytesIO(last), len(last), content_type=content_type
                )
            else:
                assert pool is not None
                part_number += 1
                futures.append(pool.submit(send, last, part_number))
                parts = [f.result() for f in futures]
                self.client._complete_multipart_upload(bucket, key, upload_id, parts)
        except BaseException:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
                pool = None
            if upload_id is not None:
                try:
                    self.client._abort_multipart_upload(bucket, key, upload_id)
                except Exception:  # noqa: BLE001  (the original error matters more)
                    log.warning("could not abort multipart upload of %s/%s", bucket, key)
            raise
        finally:
            if pool is not None:
                pool.shutdown(wait=True)
        return StoredObject(key=key, size=size, sha256=digest.hexdigest(), head=head)

    def put_bytes(self, bucket: str, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(bucket, key, io.BytesIO(data), len(data), content_type=content_type)

    # -- reading ------------------------------------------------------------------------

    def size(self, bucket: str, key: str) -> int:
        return int(self.client.stat_object(bucket, key).size or 0)

    def exists(self, bucket: str, key: str) -> bool:
        try:
            self.client.stat_object(bucket, key)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject"):
                return False
            raise
        return True

    def iter_range(
        self, bucket: str, key: str, *, offset: int = 0, length: int | None = None
    ) -> Iterator[bytes]:
        """Yield the object's bytes (or a range of them) in 1 MiB pieces."""
        response = self.client.get_object(bucket, key, offset=offset, length=length or 0)
        try:
            yield from response.stream(1024 * 1024)
        finally:
            response.close()
            response.release_conn()

    def get_bytes(self, bucket: str, key: str) -> bytes:
        return b"".join(self.iter_range(bucket, key))

    def download(self, bucket: str, key: str, path: Path) -> None:
        self.client.fget_object(bucket, key, str(path))

    def open_seekable(self, bucket: str, key: str, size: int) -> BinaryIO:
        """A read-only, seekable file over the object, fetching only the ranges read."""
        return io.BufferedReader(_RangeReader(self, bucket, key, size), buffer_size=64 * 1024)

    # -- removing -----------------------------------------------------------------------

    def remove(self, bucket: str, key: str) -> None:
        self.client.remove_object(bucket, key)

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        return [
            o.object_name
            for o in self.client.list_objects(bucket, prefix, recursive=True)
            if o.object_name is not None
        ]

    def remove_prefix(self, bucket: str, prefix: str) -> int:
        """Remove every object under ``prefix``; return how many were removed."""
        names = [o.object_name for o in self.client.list_objects(bucket, prefix, recursive=True)]
        errors = list(
            self.client.remove_objects(bucket, (DeleteObject(n) for n in names if n is not None))
        )
        if errors:
            raise StoreUnavailable(f"could not remove {len(errors)} objects under {prefix}")
        return len(names)


class _RangeReader(io.RawIOBase):
    def __init__(self, store: ObjectStore, bucket: str, key: str, size: int) -> None:
        self._store, self._bucket, self._key, self._size = store, bucket, key, size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        want = min(len(buffer), self._size - self._pos)
        if want <= 0:
            return 0
        data = b"".join(
            self._store.iter_range(self._bucket, self._key, offset=self._pos, length=want)
        )
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)
