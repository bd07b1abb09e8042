"""The audit log: who did or read what, refusals included, hash-chained and verifiable; and the
site scoping of identifiable material that it records."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import text

from service.audit import service as audit_service
from service.auth.models import Role
from service.runtime import Runtime
from tests.conftest import Api, LiveServer, make_user

BIN = Path(sys.executable).parent
NOTES = b"Notes from the ward meeting about the discharge pathway.\n"


def events(admin: Api, **params: str) -> list[dict]:
    response = admin.get("/audit", params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def site_world(admin: Api, clean: Runtime, server: LiveServer) -> tuple[Api, Api, dict, dict]:
    """Two sites, a researcher at each, and a source at each."""
    for code in ("RXA", "RXB"):
        assert admin.post("/sites", json={"code": code, "name": code}).status_code == 201
    alice = Api(server.url, make_user(clean, Role.researcher, "alice@example.org", ["RXA"]), clean)
    bob = Api(server.url, make_user(clean, Role.researcher, "bob@example.org", ["RXB"]), clean)
    at_a = alice.upload([("a.txt", NOTES)], site="RXA")
    at_b = bob.upload([("b.txt", NOTES + b"B")], site="RXB")
    assert at_a.status_code == 201 and at_b.status_code == 201, (at_a.text, at_b.text)
    return alice, bob, at_a.json(), at_b.json()


def test_researchers_see_identifiable_material_of_their_own_sites_only(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    alice, bob, at_a, at_b = site_world(admin, clean, server)
    alice.wait(at_a["id"])
    bob.wait(at_b["id"])
    own = f"/sources/{at_a['id']}/files/{at_a['files'][0]['id']}/content"
    other = f"/sources/{at_b['id']}/files/{at_b['files'][0]['id']}/content"
    assert alice.get(own).status_code == 200
    refused = alice.get(other)
    assert refused.status_code == 403
    assert "site you do not belong to" in refused.json()["detail"]
    text_b = alice.get(f"/sources/{at_b['id']}/text", params={"form": "identifiable"})
    assert text_b.status_code == 403
    # Metadata is for everyone; the other site's filenames are not.
    seen = alice.get(f"/sources/{at_b['id']}").json()
    assert seen["files"][0]["original_filename"] is None
    assert alice.get(f"/sources/{at_a['id']}").json()["files"][0]["original_filename"] == "a.txt"
    # Nor can a researcher add material to another site.
    wrong_site = alice.upload([("c.txt", NOTES + b"C")], site="RXB")
    assert wrong_site.status_code == 403
    attach = alice.http.post(
        f"/sources/{at_b['id']}/files", files=[("file", ("d.txt", NOTES + b"D", "text/plain"))]
    )
    assert attach.status_code == 403
    assert admin.get(other).status_code == 200


def test_writes_reads_and_refusals_are_recorded(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    alice, bob, at_a, at_b = site_world(admin, clean, server)
    file_a = at_a["files"][0]["id"]
    assert alice.get(f"/sources/{at_a['id']}/files/{file_a}/content").status_code == 200
    assert bob.get(f"/sources/{at_a['id']}/files/{file_a}/content").status_code == 403

    created = events(admin, action="source.create")
    assert {e["actor"] for e in created} == {"alice@example.org", "bob@example.org"}
    mine = next(e for e in created if e["target_id"] == at_a["id"])
    assert mine["detail"]["files"][0]["sha256"] == at_a["files"][0]["sha256"]
    assert mine["client_address"] == "127.0.0.1"
    assert mine["outcome"] == "ok"

    [read] = events(admin, action="file.read")
    assert (read["actor"], read["target_id"], read["outcome"]) == (
        "alice@example.org",
        file_a,
        "ok",
    )
    [refusal] = events(admin, actor="bob@example.org", target=file_a)
    assert refusal["outcome"] == "refused"
    assert refusal["target_type"] == "file"
    assert "site you do not belong to" in refusal["detail"]["reason"]
    assert refusal["action"] == "GET /sources/{source_id}/files/{file_id}/content"

    # An analyst reading the log is itself refused, and that too is recorded.
    analyst = Api(server.url, make_user(clean, Role.analyst, "ann@example.org"), clean)
    assert analyst.get("/audit").status_code == 403
    assert events(admin, actor="ann@example.org")[0]["outcome"] == "refused"
    # Nothing in the log carries the content of what was read.
    with clean.engine.connect() as conn:
        dump = " ".join(str(r) for r in conn.execute(text("SELECT * FROM audit_event")))
    assert "discharge pathway" not in dump


def test_audit_filters_pages_and_csv(admin: Api, clean: Runtime, server: LiveServer) -> None:
    for n in range(5):
        assert admin.post("/sites", json={"code": f"S{n}", "name": f"Site {n}"}).status_code == 201
    page = admin.get("/audit", params={"action": "site.create", "limit": 2}).json()
    assert [e["detail"]["code"] for e in page["items"]] == ["S4", "S3"]
    rest = admin.get(
        "/audit", params={"action": "site.create", "limit": 10, "cursor": page["next_cursor"]}
    ).json()
    assert [e["detail"]["code"] for e in rest["items"]] == ["S2", "S1", "S0"]
    first = page["items"][-1]["occurred_at"]
    since = admin.get("/audit", params={"action": "site.create", "since": first}).json()
    assert len(since["items"]) == 2
    assert admin.get("/audit", params={"colour": "red"}).status_code == 422

    exported = admin.get("/audit.csv", params={"action": "site.create"})
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["action"] for r in rows] == ["site.create"] * 5
    assert rows[0]["seq"] < rows[-1]["seq"] or int(rows[0]["seq"]) < int(rows[-1]["seq"])
    assert events(admin, action="audit.export")


def test_concurrent_appends_keep_one_chain(admin: Api, clean: Runtime) -> None:
    def create(n: int) -> int:
        return admin.post("/sites", json={"code": f"C{n}", "name": f"C{n}"}).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(create, range(24))) == {201}
    verdict = audit_service.verify(engine=clean.engine)
    assert verdict.ok, verdict
    assert verdict.checked >= 24


def _verify_cli(runtime: Runtime, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUALARCHIVE_")}
    env |= {
        "QUALARCHIVE_DATABASE_URL": runtime.engine.url.render_as_string(hide_password=False),
        "QUALARCHIVE_DATA_DIR": str(tmp_path),
    }
    return subprocess.run(
        [str(BIN / "qualarchive"), "audit", "verify"], env=env, capture_output=True, text=True
    )


def test_verify_names_the_first_tampered_event(admin: Api, clean: Runtime, tmp_path: Path) -> None:
    for n in range(6):
        assert admin.post("/sites", json={"code": f"V{n}", "name": f"V{n}"}).status_code == 201
    intact = _verify_cli(clean, tmp_path)
    assert intact.returncode == 0, intact.stderr
    assert "intact: 6 events checked" in intact.stderr

    # Someone with database access rewrites what event 3 says.
    with clean.engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET actor = 'someone-else' WHERE seq = 3"))
    broken = _verify_cli(clean, tmp_path)
    assert broken.returncode == 1
    assert "broken at event 3" in broken.stderr
    assert "do not match its hash" in broken.stderr


def test_verify_notices_removed_events(admin: Api, clean: Runtime) -> None:
    for n in range(4):
        assert admin.post("/sites", json={"code": f"R{n}", "name": f"R{n}"}).status_code == 201
    with clean.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE seq = 2"))
    verdict = audit_service.verify(engine=clean.engine)
    assert (verdict.broken_at, verdict.reason) == (2, "event 2 is missing")
    with clean.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE seq >= 2"))
    verdict = audit_service.verify(engine=clean.engine)
    assert verdict.broken_at == 2
    assert "removed" in verdict.reason
