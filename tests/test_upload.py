"""Uploading originals: what is stored, and every refusal leaving nothing behind."""

from __future__ import annotations

import hashlib
import socket
import time

import httpx
import psycopg
import pytest
from sqlalchemy import func, select

from service.auth.models import Role
from service.runtime import Runtime
from service.sources.models import File, Source
from service.storage.service import ObjectStore
from tests import files
from tests.conftest import PG_ADMIN_URL, Api, LiveServer, all_objects, make_user


def counts(runtime: Runtime) -> tuple[int, int, list[str]]:
    with runtime.engine.connect() as conn:
        sources = conn.execute(select(func.count()).select_from(Source)).scalar_one()
        files_ = conn.execute(select(func.count()).select_from(File)).scalar_one()
    return sources, files_, all_objects(runtime.store)


def assert_nothing_stored(runtime: Runtime) -> None:
    # A refused upload may still be cleaning up for a moment after the response.
    deadline = time.monotonic() + 5
    while counts(runtime) != (0, 0, []) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert counts(runtime) == (0, 0, [])


def test_upload_stores_original_and_reports_checksum(researcher: Api) -> None:
    data = files.make_pdf(["Interview with the ward manager.", "Second page."])
    response = researcher.upload(
        [("Interview 01.pdf", data)], occurred_on="2024-03-05", tags="pilot,wave-1"
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["title"] == "Interview 1"
    assert body["tags"] == ["pilot", "wave-1"]
    assert body["occurred_on"] == "2024-03-05"
    assert body["status"] in ("received", "extracting", "ready")
    [file] = body["files"]
    assert file["sha256"] == hashlib.sha256(data).hexdigest()
    assert file["size_bytes"] == len(data)
    assert file["media_type"] == "application/pdf"
    assert file["original_filename"] == "Interview 01.pdf"
    assert file["kind"] == "document"
    assert file["job_id"]

    content = researcher.get(f"/sources/{body['id']}/files/{file['id']}/content")
    assert content.status_code == 200
    assert content.content == data
    assert content.headers["content-type"] == "application/pdf"
    assert content.headers["etag"] == f'"{file["sha256"]}"'


def test_media_type_comes_from_content_not_name(researcher: Api) -> None:
    pdf = files.make_pdf(["A PDF pretending to be a Word file."])
    body = researcher.upload([("minutes.docx", pdf)]).json()
    assert body["files"][0]["media_type"] == "application/pdf"


def test_filename_is_sanitised_and_never_a_key(researcher: Api) -> None:
    data = b"Plain notes from the observation.\n"
    body = researcher.upload([("../../etc/passwd.txt", data)], source_type="observation").json()
    [file] = body["files"]
    assert file["original_filename"] == "passwd.txt"
    store = researcher.runtime.store
    originals = [k for k in all_objects(store) if k.startswith(f"{store.originals}/")]
    assert originals == [f"{store.originals}/{body['id']}/{file['id']}"]


def test_several_files_with_kinds(researcher: Api) -> None:
    vtt = files.make_vtt(
        [(0.0, 2.5, "Interviewer", "How did it go?"), (2.5, 4.0, "P-017", "Fine.")]
    )
    notes = b"Field notes: the interview took place in the staff room.\n"
    response = researcher.upload(
        [("interview.vtt", vtt), ("notes.txt", notes)],
        file_kinds=["transcript", "notes"],
    )
    assert response.status_code == 201, response.text
    kinds = [f["kind"] for f in response.json()["files"]]
    assert kinds == ["transcript", "notes"]


def test_unsupported_type_is_refused_and_nothing_kept(researcher: Api) -> None:
    exe = b"MZ\x90\x00" + b"\x00" * 4000 + b"This program cannot be run in DOS mode"
    response = researcher.upload([("report.pdf", exe)])
    assert response.status_code == 415
    assert response.json()["error"] == "UnsupportedMediaType"
    assert "Accepted" in response.json()["detail"] or "accept" in response.json()["detail"]
    assert_nothing_stored(researcher.runtime)


def test_empty_file_is_refused(researcher: Api) -> None:
    response = researcher.upload([("empty.txt", b"")])
    assert response.status_code == 415
    assert "empty" in response.json()["detail"]
    assert_nothing_stored(researcher.runtime)


def test_refusal_of_a_later_part_removes_the_earlier_ones(researcher: Api) -> None:
    good = files.make_pdf(["fine"])
    response = researcher.upload([("a.pdf", good), ("b.exe", b"\x7fELF" + b"\x00" * 100)])
    assert response.status_code == 415
    assert_nothing_stored(researcher.runtime)


@pytest.mark.parametrize(
    ("fields", "phrase"),
    [
        ({"title": ""}, "title"),
        ({"source_type": "podcast"}, "source_type"),
        ({"occurred_on": "2024-13-45"}, "occurred_on"),
        ({"site": "NOPE"}, "No site"),
        ({"roles": "surgeon"}, "roles"),
        ({"colour": "blue"}, "Unknown field"),
        ({"language": "not a language"}, "language"),
    ],
)
def test_bad_metadata_is_422_and_nothing_kept(researcher: Api, fields: dict, phrase: str) -> None:
    response = researcher.upload([("notes.txt", b"Some notes about the meeting.\n")], **fields)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "Unprocessable"
    assert phrase in response.json()["detail"]
    assert_nothing_stored(researcher.runtime)


def test_file_kinds_must_match_files(researcher: Api) -> None:
    response = researcher.upload(
        [("a.txt", b"first notes\n"), ("b.txt", b"second notes\n")], file_kinds=["notes"]
    )
    assert response.status_code == 422
    assert "one file_kind per file" in response.json()["detail"]
    assert_nothing_stored(researcher.runtime)


def test_upload_without_files_is_422(researcher: Api) -> None:
    response = researcher.http.post(
        "/sources", data={"title": "x", "source_type": "document"}, files={"ignored": ("", b"")}
    )
    assert response.status_code == 422


def test_not_multipart_is_422(researcher: Api) -> None:
    response = researcher.http.post("/sources", json={"title": "x"})
    assert response.status_code == 422
    assert "multipart/form-data" in response.json()["detail"]


def test_same_bytes_twice_in_a_source_is_409_with_existing_id(researcher: Api) -> None:
    data = b"Transcript of the second focus group.\n"
    created = researcher.upload([("fg.txt", data)]).json()
    existing = created["files"][0]["id"]
    again = researcher.http.post(
        f"/sources/{created['id']}/files", files=[("file", ("copy.txt", data, "text/plain"))]
    )
    assert again.status_code == 409
    assert again.json()["existing_file_id"] == existing
    store = researcher.runtime.store
    originals = [k for k in all_objects(store) if k.startswith(f"{store.originals}/")]
    assert len(originals) == 1  # only the first upload's original
    in_one_request = researcher.upload([("a.txt", data), ("b.txt", data)])
    assert in_one_request.status_code == 409


def test_attach_another_file(researcher: Api) -> None:
    created = researcher.upload([("fg.txt", b"Focus group transcript.\n")]).json()
    response = researcher.http.post(
        f"/sources/{created['id']}/files",
        data={"file_kind": "notes"},
        files=[("file", ("notes.txt", b"Observer's notes.\n", "text/plain"))],
    )
    assert response.status_code == 201, response.text
    assert [f["kind"] for f in response.json()["files"]] == ["document", "notes"]
    missing = researcher.http.post(
        "/sources/00000000-0000-7000-8000-000000000000/files",
        files=[("file", ("n.txt", b"x\n", "text/plain"))],
    )
    assert missing.status_code == 404


def test_analyst_cannot_upload(analyst: Api) -> None:
    response = analyst.upload([("notes.txt", b"notes\n")])
    assert response.status_code == 403
    assert_nothing_stored(analyst.runtime)


def test_upload_needs_a_token(anonymous: Api) -> None:
    response = anonymous.upload([("notes.txt", b"notes\n")])
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_large_upload_streams_in_parts_and_ranges_read_back(researcher: Api) -> None:
    # A 12 MiB recording (kept, not extracted): three 5 MiB multipart parts in the test store.
    data = files.make_wav(seconds=12 * 1024 * 1024 / 16000, rate=8000)
    body = researcher.upload([("long.wav", data)], source_type="interview").json()
    file = body["files"][0]
    assert file["size_bytes"] == len(data)
    assert file["sha256"] == hashlib.sha256(data).hexdigest()
    url = f"/sources/{body['id']}/files/{file['id']}/content"
    part = researcher.get(url, headers={"Range": "bytes=5242870-5242899"})
    assert part.status_code == 206
    assert part.content == data[5242870:5242900]
    assert part.headers["content-range"] == f"bytes 5242870-5242899/{len(data)}"
    tail = researcher.get(url, headers={"Range": "bytes=-10"})
    assert tail.content == data[-10:]
    beyond = researcher.get(url, headers={"Range": f"bytes={len(data)}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(data)}"


# -- failures of the parts around the API ------------------------------------------------


def test_over_the_size_limit_is_413_and_nothing_kept(clean: Runtime, make_server) -> None:
    live, _ = make_server(max_upload_bytes=1024 * 1024)
    api = Api(live.url, make_user(clean, Role.researcher), clean)
    response = api.upload([("big.txt", b"words and more words\n" * 100_000)])
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]
    assert_nothing_stored(clean)


def test_object_store_down_is_503_and_no_row(clean: Runtime, make_server) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    dead_port = sock.getsockname()[1]
    sock.close()
    dead_store = ObjectStore(endpoint=f"127.0.0.1:{dead_port}", access_key="x", secret_key="y")
    live, _ = make_server(store=dead_store)
    api = Api(live.url, make_user(clean, Role.researcher), clean)
    response = api.upload([("notes.txt", b"Notes from a meeting.\n")])
    assert response.status_code == 503
    assert "object store" in response.json()["detail"]
    ready = httpx.get(f"{live.url}/readyz", timeout=30)
    assert ready.status_code == 503
    assert ready.json()["database"] == "ok"
    assert_nothing_stored(clean)


BOUNDARY = "qaboundary"
FORM_HEAD = (
    f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="title"\r\n\r\nCut short\r\n'
    f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="source_type"\r\n\r\ninterview\r\n'
    f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n'
    "Content-Type: text/plain\r\n\r\n"
).encode()
FORM_TAIL = f"\r\n--{BOUNDARY}--\r\n".encode()


def _start_upload(port: int, token: str, first: bytes, content_length: int) -> socket.socket:
    """Open a raw upload: headers, the form's head and the first bytes of the file."""
    request = (
        f"POST /api/v1/sources HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {content_length}\r\n\r\n"
    ).encode()
    conn = socket.create_connection(("127.0.0.1", port))
    conn.sendall(request + FORM_HEAD + first)
    return conn


def _read_response(conn: socket.socket) -> bytes:
    conn.settimeout(60)
    data = b""
    while b"\r\n\r\n" not in data or len(data) < data.index(b"\r\n\r\n") + 60:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_client_disconnect_mid_upload_leaves_nothing(researcher: Api, server: LiveServer) -> None:
    first = b"words " * (2 * 1024 * 1024)  # ~12 MiB of a promised 100 MiB
    conn = _start_upload(server.port, researcher.token, first, content_length=100 * 1024**2)
    time.sleep(0.5)
    conn.close()
    assert_nothing_stored(researcher.runtime)


def test_database_down_mid_upload_is_503_and_no_object(
    backend: str, researcher: Api, server: LiveServer
) -> None:
    if backend != "postgresql":
        pytest.skip("the database going away is a server event: exercised on PostgreSQL")
    database = researcher.runtime.engine.url.database
    first, rest = b"words " * 100_000, b"more words " * 10_000
    length = len(FORM_HEAD) + len(first) + len(rest) + len(FORM_TAIL)
    conn = _start_upload(server.port, researcher.token, first, content_length=length)
    time.sleep(0.5)  # the token is checked and the file is streaming
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as pg:
        pg.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        pg.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (database,)
        )
    try:
        conn.sendall(rest + FORM_TAIL)
        response = _read_response(conn)
    finally:
        conn.close()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as pg:
            pg.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
    assert response.startswith(b"HTTP/1.1 503"), response[:300]
    assert b"database" in response
    assert_nothing_stored(researcher.runtime)


def test_bare_xml_bomb_is_refused_before_any_parser_sees_it(researcher: Api) -> None:
    bomb = (
        b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>\n'
        b"<lolz>&lol3;</lolz>\n"
    )
    response = researcher.upload([("notes.txt", bomb)])
    assert response.status_code == 415
    assert "XML" in response.json()["detail"]
    assert_nothing_stored(researcher.runtime)
