"""Streaming into the object store: parts cut at the right places whatever the chunking."""

from __future__ import annotations

import hashlib
import os
import random
from collections.abc import Iterator

import pytest

from service.storage.embedded import EmbeddedS3
from service.storage.service import _is_loopback
from tests.conftest import RUN, make_test_store

PART = 5 * 1024 * 1024


def chunked(data: bytes, rng: random.Random) -> Iterator[bytes]:
    i = 0
    while i < len(data):
        step = rng.choice([1, 1000, 65536, 1024 * 1024, 3 * 1024 * 1024])
        yield data[i : i + step]
        i += step


@pytest.mark.parametrize("size", [1, PART - 1, PART, PART + 1, 2 * PART + 12345])
def test_put_stream_round_trips_any_chunking(s3: EmbeddedS3, size: int) -> None:
    store = make_test_store(s3, f"t{RUN}-st")
    rng = random.Random(size)
    data = os.urandom(size)
    stored = store.put_stream(store.originals, f"k{size}", chunked(data, rng))
    assert stored.size == size
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.head == data[: 64 * 1024]
    assert store.get_bytes(store.originals, f"k{size}") == data
    store.remove_prefix(store.originals, "")


def test_failure_mid_stream_leaves_no_object(s3: EmbeddedS3) -> None:
    store = make_test_store(s3, f"t{RUN}-st")

    def broken() -> Iterator[bytes]:
        yield os.urandom(3 * PART)
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        store.put_stream(store.originals, "broken", broken())
    assert not store.exists(store.originals, "broken")
    uploads = list(store.client._list_multipart_uploads(store.originals).uploads)
    assert uploads == []


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1:8333", True),
        ("127.3.2.1", True),
        ("localhost:9000", True),
        ("[::1]:9000", True),
        ("::1", True),
        ("minio:9000", False),
        ("10.0.0.5:9000", False),
        ("[2001:db8::1]:9000", False),
        ("s3.eu-west-2.amazonaws.com", False),
    ],
)
def test_only_loopback_endpoints_skip_payload_hashing(host: str, loopback: bool) -> None:
    assert _is_loopback(host) is loopback
