"""The embedded SeaweedFS: a real `weed mini` per test, in its own data directory."""

from __future__ import annotations

import io
import json
import socket
import stat
from pathlib import Path

import psutil
import pytest
from minio import Minio
from minio.error import S3Error

from service.storage.embedded import CREDENTIALS_FILE, EmbeddedS3, EmbeddedS3Error

BUCKET = "t3f9a1-originals"


def test_start_serves_s3_and_stop_ends_it(tmp_path: Path) -> None:
    with EmbeddedS3(tmp_path / "s3") as server:
        host, port = server.endpoint.split(":")
        assert host == "127.0.0.1" and int(port) > 0
        client = server.client()
        client.make_bucket(BUCKET)
        client.put_object(BUCKET, "a/b.txt", io.BytesIO(b"hello"), 5)
        assert client.get_object(BUCKET, "a/b.txt").read() == b"hello"
        with pytest.raises(S3Error) as missing:
            client.stat_object(BUCKET, "no/such/key")
        assert missing.value.code == "NoSuchKey"
    assert server.pid is None
    server.stop()  # idempotent


def test_credentials_are_kept_private_and_reused_with_the_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "s3"
    with EmbeddedS3(data_dir) as first:
        credentials = first.credentials
        first.client().make_bucket(BUCKET)
        first.client().put_object(BUCKET, "kept", io.BytesIO(b"still here"), 10)

    path = data_dir / CREDENTIALS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {
        "access_key": credentials.access_key,
        "secret_key": credentials.secret_key,
    }
    assert credentials.secret_key not in repr(credentials)

    with EmbeddedS3(data_dir) as second:
        assert second.credentials == credentials
        assert second.client().get_object(BUCKET, "kept").read() == b"still here"


def test_wrong_or_missing_credentials_are_refused(tmp_path: Path) -> None:
    with EmbeddedS3(tmp_path / "s3") as server:
        server.client().make_bucket(BUCKET)
        server.client().put_object(BUCKET, "secret", io.BytesIO(b"x"), 1)
        wrong = Minio(
            server.endpoint,
            access_key=server.credentials.access_key,
            secret_key="not-the-secret-key-0123456789",
            secure=False,
            region="us-east-1",
        )
        anonymous = Minio(server.endpoint, secure=False, region="us-east-1")
        for client in (wrong, anonymous):
            with pytest.raises(S3Error) as refused:
                client.get_object(BUCKET, "secret").read()
            assert refused.value.response.status == 403
            with pytest.raises(S3Error) as refused:
                client.put_object(BUCKET, "planted", io.BytesIO(b"x"), 1)
            assert refused.value.response.status == 403


def test_it_listens_on_loopback_only_and_leaves_nothing_after_stop(tmp_path: Path) -> None:
    data_dir = tmp_path / "s3"
    server = EmbeddedS3(data_dir)
    server.start()
    pid = server.pid
    assert pid is not None
    listening = [
        c.laddr for c in psutil.Process(pid).net_connections("inet") if c.status == "LISTEN"
    ]
    # Exactly the ten ports we chose (master, volume, filer, s3, admin and their gRPC ports): a
    # weed upgrade that opens another listener, perhaps on a default port, should be noticed.
    assert len(listening) == 10, listening
    assert {address.ip for address in listening} == {"127.0.0.1"}

    server.stop()

    assert not psutil.pid_exists(pid)
    leftovers = [
        p.pid
        for p in psutil.process_iter(["cmdline"])
        if any(str(data_dir) in part for part in p.info["cmdline"] or [])
    ]
    assert leftovers == []
    assert [a.port for a in listening if _accepts_connections(a.port)] == []


def test_two_instances_run_side_by_side(tmp_path: Path) -> None:
    with EmbeddedS3(tmp_path / "one") as one, EmbeddedS3(tmp_path / "two") as two:
        assert one.endpoint != two.endpoint
        assert one.credentials != two.credentials
        for server in (one, two):
            server.client().make_bucket(BUCKET)
            body = io.BytesIO(server.endpoint.encode())
            server.client().put_object(BUCKET, "who", body, -1, part_size=5 * 1024 * 1024)
        for server in (one, two):
            assert server.client().get_object(BUCKET, "who").read() == server.endpoint.encode()


def test_a_missing_binary_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EmbeddedS3Error, match="not an executable"):
        EmbeddedS3(tmp_path / "s3", weed_binary=str(tmp_path / "no-weed")).start()


def _accepts_connections(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0
