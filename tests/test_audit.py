"""The audit log: who did or read what, refusals included, hash-chained and verifiable; and the
site scoping of identifiable material that it records."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlalchemy import text

from service.audit import service as audit_service
from service.auth.models import Role
from service.db import transaction
from service.runtime import Runtime
from tests.conftest import TEST_AUDIT_KEY, Api, LiveServer, make_user

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
    verdict = audit_service.verify(engine=clean.engine, key=clean.audit_key)
    assert verdict.ok, verdict
    assert verdict.checked >= 24


def _verify_cli(runtime: Runtime, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return _cli(runtime, tmp_path, "verify")


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
    verdict = audit_service.verify(engine=clean.engine, key=clean.audit_key)
    assert (verdict.broken_at, verdict.reason) == (2, "event 2 is missing")
    with clean.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE seq >= 2"))
    verdict = audit_service.verify(engine=clean.engine, key=clean.audit_key)
    assert verdict.broken_at == 2
    assert "removed" in verdict.reason


# -- identifiable reads that must leave an event ------------------------------------------


def test_shown_filenames_are_recorded_by_source_id(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    alice, bob, at_a, at_b = site_world(admin, clean, server)
    a_id = at_a["id"]
    assert at_a["files"][0]["original_filename"] == "a.txt"
    [created] = events(admin, actor="alice@example.org", action="source.identifiable_fields_read")
    assert (created["target_type"], created["target_id"]) == ("source", a_id)
    assert created["detail"] == {"sources": [a_id], "files": 1, "speaker_labels": 0}

    assert alice.get(f"/sources/{a_id}").json()["files"][0]["original_filename"] == "a.txt"
    listed = alice.get("/sources").json()["items"]
    assert {s["id"] for s in listed} == {a_id, at_b["id"]}
    attach = alice.http.post(
        f"/sources/{a_id}/files", files=[("file", ("more.txt", NOTES + b"2", "text/plain"))]
    )
    assert attach.status_code == 201
    linked = alice.put(f"/sources/{a_id}/participants", json={"participants": []})
    assert linked.status_code == 200, linked.text
    shown = events(admin, actor="alice@example.org", action="source.identifiable_fields_read")
    assert len(shown) == 5
    # The list showed alice the names of her own site's files only: one event, one source.
    assert [e["detail"]["sources"] for e in shown] == [[a_id]] * 5
    assert [e["detail"]["files"] for e in shown] == [2, 2, 1, 1, 1]

    # Bob sees alice's source without its filenames: no event for him about it.
    assert bob.get(f"/sources/{a_id}").json()["files"][0]["original_filename"] is None
    bobs = events(admin, actor="bob@example.org", action="source.identifiable_fields_read")
    assert all(e["detail"]["sources"] == [at_b["id"]] for e in bobs)
    # An admin's list names both sources in one event, and no filename anywhere.
    admin.get("/sources")
    [listing] = events(admin, action="source.identifiable_fields_read", actor=admin_email(admin))
    assert sorted(listing["detail"]["sources"]) == sorted([a_id, at_b["id"]])
    assert listing["target_id"] is None
    with clean.engine.connect() as conn:
        dump = " ".join(str(r) for r in conn.execute(text("SELECT * FROM audit_event")))
    assert "a.txt" not in dump and "more.txt" not in dump


def admin_email(api: Api) -> str:
    return str(api.get("/users/me").json()["email"])


def test_reading_the_log_and_the_term_list_is_recorded(admin: Api) -> None:
    assert admin.post("/sites", json={"code": "L1", "name": "L1"}).status_code == 201
    assert events(admin, action="site.create")
    [read] = events(admin, action="audit.read")
    assert read["detail"] == {"filters": {"action": "site.create"}, "count": 1}
    assert admin.get("/deid-terms").status_code == 200
    [terms] = events(admin, action="deid_terms.read")
    assert terms["detail"] == {"count": 0}


# -- refusals whose ids do not fit the log --------------------------------------------------


def test_refusals_with_oversized_or_control_character_ids_are_recorded(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    analyst = Api(server.url, make_user(clean, Role.analyst, "ann@example.org"), clean)
    # The role check refuses before the id is parsed, so the raw path text reaches the log.
    long_id = "7" * 300
    assert analyst.post(f"/users/{long_id}/disable").status_code == 403
    assert analyst.post("/users/ab%00cd%1b[31m/disable").status_code == 403
    refusals = events(admin, actor="ann@example.org")
    assert [e["outcome"] for e in refusals] == ["refused", "refused"]
    nul, long = refusals
    assert long["target_type"] == "user"
    assert len(long["target_id"]) == 64
    assert long["target_id"] == "7" * 63 + "…"
    assert nul["target_id"] == "abcd[31m"
    assert audit_service.verify(engine=clean.engine, key=clean.audit_key).ok


def test_requests_naming_a_malformed_or_unknown_id_are_recorded(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    """An authenticated request whose path names a target and that is answered 404 or 422 is a
    refusal: probing ids (malformed or well-formed) on identifiable routes leaves a trace."""
    analyst = Api(server.url, make_user(clean, Role.analyst, "ann@example.org"), clean)
    unknown = "0190a0b0-0000-7000-8000-000000000000"
    calls = [
        ("/sources/%00/text", {"form": "identifiable"}, 422, "source"),
        (f"/sources/{unknown}/files/{'A' * 5000}/content", {}, 422, "file"),
        ("/participants/%E2%98%83", {"identity": "true"}, 422, "participant"),
        (f"/sources/{unknown}/text", {"form": "identifiable"}, 404, "source"),
        (f"/participants/{unknown}", {"identity": "true"}, 404, "participant"),
        (f"/jobs/{unknown}", {}, 404, "job"),
    ]
    for path, params, status, _ in calls:
        response = analyst.get(path, params=params)
        assert response.status_code == status, (path, response.text)
    refusals = list(reversed(events(admin, actor="ann@example.org")))
    assert [(e["outcome"], e["detail"]["status"], e["target_type"]) for e in refusals] == [
        ("refused", status, target) for _, _, status, target in calls
    ]
    nul, long, snowman, text_404, participant_404, job_404 = refusals
    assert nul["action"] == "GET /sources/{source_id}/text"
    assert nul["target_id"] == ""  # the NUL is cleaned away
    assert long["target_id"] == "A" * 63 + "…"
    assert long["detail"]["source_id"] == unknown
    assert snowman["target_id"] == "\u2603"
    assert text_404["target_id"] == participant_404["target_id"] == job_404["target_id"] == unknown
    assert participant_404["detail"]["reason"] == "No participant with that id."
    # A malformed id's reason names where and what kind of error, never the value sent.
    assert nul["detail"]["reason"] == "path.source_id: uuid_parsing"
    assert "AAAA" not in json.dumps(long["detail"])
    # Without a token the same requests stay within the budget for anonymous refusals.
    anonymous = httpx.Client(base_url=f"{server.url}/api/v1")
    assert anonymous.get("/sources/%00/text").status_code == 401
    assert audit_service.verify(engine=clean.engine, key=clean.audit_key).ok


def test_append_bounds_and_cleans_every_field(clean: Runtime) -> None:
    actor = audit_service.Actor(user_id=None, label="x\x00y" * 200, client_address="::1\n")
    with transaction(clean.engine) as session:
        audit_service.append(
            session=session,
            key=clean.audit_key,
            actor=actor,
            action="GET /" + "a" * 300 + "\x00",
            target_type="route\r\n" * 10,
            target_id="id\x00\x7f\u202e" + "z" * 100,
            outcome="refused",
            detail={"reason": "bad\x00" + "r" * 5000, "ids\x00": ["a\x00b"]},
        )
    with clean.engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM audit_event")).mappings().one()
    assert len(row["action"]) == 120 and row["action"].endswith("…")
    assert row["target_type"] == "route" * 6 + "r…"
    assert row["target_id"].startswith("idzz") and len(row["target_id"]) == 64
    assert len(row["actor"]) == 320 and "\x00" not in row["actor"]
    assert row["client_address"] == "::1"
    detail = row["detail"] if isinstance(row["detail"], dict) else json.loads(row["detail"])
    assert detail["reason"].startswith("badrrr") and detail["reason"].endswith("…")
    assert len(detail["reason"]) == 1000
    assert detail["ids"] == ["ab"]
    assert audit_service.verify(engine=clean.engine, key=clean.audit_key).ok


def test_unauthenticated_refusals_are_recorded_within_a_budget(make_server) -> None:  # type: ignore[no-untyped-def]
    live, rt = make_server(audit_unauthenticated_per_minute=3)
    anonymous = httpx.Client(base_url=f"{live.url}/api/v1")
    for _ in range(4):
        assert anonymous.get("/sources").status_code == 401
    for _ in range(4):
        bad = anonymous.get("/sources", headers={"Authorization": "Bearer qa_nope"})
        assert bad.status_code == 401
    with rt.engine.connect() as conn:
        rows = list(
            conn.execute(
                text("SELECT actor, action, outcome, detail FROM audit_event ORDER BY seq")
            ).mappings()
        )
    # The first three in the minute are recorded; the rest are only counted, so a flood of
    # requests without a token cannot grow the log faster than the budget.
    assert [(r["actor"], r["action"], r["outcome"]) for r in rows] == [
        ("anonymous", "GET /sources", "refused")
    ] * 3
    detail = (
        rows[0]["detail"] if isinstance(rows[0]["detail"], dict) else json.loads(rows[0]["detail"])
    )
    assert detail["status"] == 401


def test_refusal_budget_reports_what_it_held_back() -> None:
    now = [1000.0]
    budget = audit_service.RefusalBudget(per_minute=2, clock=lambda: now[0])
    assert [budget.take() for _ in range(5)] == [0, 0, None, None, None]
    now[0] += 61
    # The first event of the next minute carries the count of those held back.
    assert budget.take() == 3
    assert budget.take() == 0


# -- a keyed chain, anchored outside the database ---------------------------------------------


def _sites(admin: Api, prefix: str, n: int) -> None:
    for i in range(n):
        assert admin.post("/sites", json={"code": f"{prefix}{i}", "name": "x"}).status_code == 201


def _rehash_plain(clean: Runtime, *, since: int, mac: int | None = None) -> None:
    """What someone with the database but not the key can do: recompute plain SHA-256 hashes."""
    from sqlmodel import Session, col, select

    from service.audit.models import AuditEvent, AuditHead

    with Session(clean.engine) as session:
        events_ = list(session.exec(select(AuditEvent).order_by(col(AuditEvent.seq))))
        prev = events_[since - 2].hash if since > 1 else audit_service.GENESIS_HASH
        for event in events_[since - 1 :]:
            if mac is not None:
                event.mac = mac
            event.prev_hash = prev
            event.hash = audit_service.event_hash(event, key=None)
            prev = event.hash
        head = session.get(AuditHead, 1)
        assert head is not None
        head.last_hash = prev
        session.commit()


def test_rewriting_with_plain_hashes_is_detected_without_an_anchor(
    admin: Api, clean: Runtime
) -> None:
    _sites(admin, "K", 4)
    key = clean.audit_key
    assert audit_service.verify(engine=clean.engine, key=key).ok
    # The key is what makes the difference: with another one the first event already fails.
    assert audit_service.verify(engine=clean.engine, key=b"another key" * 3).broken_at == 1
    with clean.engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET actor = 'someone-else' WHERE seq = 2"))
    _rehash_plain(clean, since=2)
    verdict = audit_service.verify(engine=clean.engine, key=key)
    assert (verdict.broken_at, verdict.reason) == (2, "its contents do not match its hash")
    # Marking the rewritten events as written before the key does not help either...
    _rehash_plain(clean, since=2, mac=0)
    verdict = audit_service.verify(engine=clean.engine, key=key)
    assert verdict.broken_at == 2 and "without the key" in (verdict.reason or "")
    # ... nor does marking the whole log so.
    _rehash_plain(clean, since=1, mac=0)
    verdict = audit_service.verify(engine=clean.engine, key=key)
    assert verdict.broken_at == 4 and "without the key" in (verdict.reason or "")


def test_events_from_before_the_key_are_verified_as_they_were_written(
    admin: Api, clean: Runtime
) -> None:
    _sites(admin, "U", 3)
    _rehash_plain(clean, since=1, mac=0)  # as a log written before the key existed
    _sites(admin, "W", 2)  # the service has a key now: it seals what came before
    verdict = audit_service.verify(engine=clean.engine, key=clean.audit_key)
    assert verdict.ok, verdict
    assert verdict.checked == 5


def test_truncation_is_detected_with_an_anchor(admin: Api, clean: Runtime) -> None:
    _sites(admin, "T", 3)
    anchor = audit_service.anchor_now(engine=clean.engine, key=clean.audit_key)
    assert anchor.seq == 4  # the anchor is itself an event of the log
    _sites(admin, "X", 2)
    later = audit_service.anchor_now(engine=clean.engine, key=clean.audit_key)
    assert audit_service.verify(
        engine=clean.engine, key=clean.audit_key, anchors=[anchor, later]
    ).ok

    # Someone drops the last four events and rewinds the head to event 3.
    with clean.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE seq > 3"))
        third = conn.execute(text("SELECT hash FROM audit_event WHERE seq = 3")).scalar_one()
        conn.execute(text("UPDATE audit_head SET seq = 3, last_hash = :h"), {"h": third})
    # Without an anchor the shorter chain is consistent in itself...
    assert audit_service.verify(engine=clean.engine, key=clean.audit_key).ok
    # ... an anchor taken before the cut says it is not whole.
    verdict = audit_service.verify(engine=clean.engine, key=clean.audit_key, anchors=[anchor])
    assert not verdict.ok
    assert verdict.broken_at == 4
    assert "truncated" in (verdict.reason or "")


def test_an_anchor_whose_hash_differs_at_its_seq_means_rewritten(
    admin: Api, clean: Runtime
) -> None:
    _sites(admin, "A", 2)
    anchor = audit_service.anchor_now(engine=clean.engine, key=clean.audit_key)
    forged = audit_service.Anchor(seq=anchor.seq, hash="f" * 64, anchored_at=anchor.anchored_at)
    verdict = audit_service.verify(engine=clean.engine, key=clean.audit_key, anchors=[forged])
    assert verdict.broken_at == anchor.seq
    assert "rewritten" in (verdict.reason or "")


def test_admins_fetch_the_anchor_and_that_is_recorded(
    admin: Api, analyst: Api, clean: Runtime
) -> None:
    _sites(admin, "H", 2)
    response = admin.get("/audit/anchor")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"seq", "hash", "anchored_at"}
    [event] = events(admin, action="audit.anchor")
    assert (event["seq"], event["hash"]) == (body["seq"], body["hash"])
    assert analyst.get("/audit/anchor").status_code == 403
    anchor = audit_service.Anchor.model_validate(body)
    assert audit_service.verify(engine=clean.engine, key=clean.audit_key, anchors=[anchor]).ok


def _cli(runtime: Runtime, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUALARCHIVE_")}
    env |= {
        "QUALARCHIVE_DATABASE_URL": runtime.engine.url.render_as_string(hide_password=False),
        "QUALARCHIVE_DATA_DIR": str(tmp_path),
        "QUALARCHIVE_AUDIT_KEY": TEST_AUDIT_KEY,
    }
    return subprocess.run(
        [str(BIN / "qualarchive"), "audit", *args], env=env, capture_output=True, text=True
    )


def test_cli_anchor_and_verify_with_anchors(admin: Api, clean: Runtime, tmp_path: Path) -> None:
    _sites(admin, "C", 3)
    anchors = tmp_path / "anchors.jsonl"
    first = _cli(clean, tmp_path, "anchor", "--out", str(anchors))
    assert first.returncode == 0, first.stderr
    printed = _cli(clean, tmp_path, "anchor")
    assert printed.returncode == 0, printed.stderr
    on_stdout = json.loads(printed.stdout)
    assert on_stdout["seq"] == 5
    assert _cli(clean, tmp_path, "anchor", "--out", str(anchors)).returncode == 0
    lines = anchors.read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [4, 6]

    intact = _cli(clean, tmp_path, "verify", "--anchor", str(anchors))
    assert intact.returncode == 0, intact.stderr
    assert "intact: 6 events checked" in intact.stderr
    assert "2 anchors" in intact.stderr

    with clean.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE seq > 5"))
        fifth = conn.execute(text("SELECT hash FROM audit_event WHERE seq = 5")).scalar_one()
        conn.execute(text("UPDATE audit_head SET seq = 5, last_hash = :h"), {"h": fifth})
    assert _cli(clean, tmp_path, "verify").returncode == 0
    cut = _cli(clean, tmp_path, "verify", "--anchor", str(anchors))
    assert cut.returncode == 1
    assert "truncated" in cut.stderr

    junk = tmp_path / "junk.json"
    junk.write_text("not an anchor\n")
    unreadable = _cli(clean, tmp_path, "verify", "--anchor", str(junk))
    assert unreadable.returncode == 2
    assert "not an anchor" in unreadable.stderr.lower() or "anchor" in unreadable.stderr


def test_dev_mode_generates_the_audit_key_into_the_data_dir(tmp_path: Path) -> None:
    from service.config import Settings

    settings = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    key = settings.audit_key_bytes()
    assert len(key) >= 32
    assert (tmp_path / "audit.key").stat().st_mode & 0o777 == 0o600
    assert Settings(_env_file=None, data_dir=tmp_path).audit_key_bytes() == key  # type: ignore[call-arg]
    configured = Settings(_env_file=None, data_dir=tmp_path, audit_key="k" * 40)  # type: ignore[call-arg]
    assert configured.audit_key_bytes() == b"k" * 40
