"""Reading: lists with filters and cursors, a source, its text and originals; deleting; sites."""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlmodel import Session

from schemas.sources import SourceFilters
from service.runtime import Runtime
from service.sources import service as sources_service
from tests.conftest import Api, all_objects

NOTES = b"Notes from the steering group meeting about the new patient record.\n"


def make_site(admin: Api, code: str, name: str = "Trust") -> dict:
    response = admin.post("/sites", json={"code": code, "name": name, "kind": "provider"})
    assert response.status_code == 201, response.text
    return response.json()


def upload_notes(api: Api, n: int, **fields) -> dict:
    response = api.upload([(f"notes-{n}.txt", NOTES + str(n).encode())], **fields)
    assert response.status_code == 201, response.text
    return response.json()


def test_sites_create_list_and_refusals(admin: Api, researcher: Api) -> None:
    make_site(admin, "RXA", "North Trust")
    make_site(admin, "nat-1", "National body")
    duplicate = admin.post("/sites", json={"code": "rxa", "name": "Again"})
    assert duplicate.status_code == 409
    assert researcher.post("/sites", json={"code": "X1", "name": "x"}).status_code == 403
    bad = admin.post("/sites", json={"code": "has space", "name": "x"})
    assert bad.status_code == 422
    page = researcher.get("/sites", params={"limit": 1}).json()
    assert [s["code"] for s in page["items"]] == ["RXA"]
    rest = researcher.get("/sites", params={"limit": 1, "cursor": page["next_cursor"]}).json()
    assert [s["code"] for s in rest["items"]] == ["nat-1"]
    assert rest["next_cursor"] is None


def give_sites(admin: Api, user: Api, *codes: str) -> None:
    me = user.get("/users/me").json()["id"]
    response = admin.put(f"/users/{me}/sites", json={"sites": list(codes)})
    assert response.status_code == 200, response.text


def test_list_filters_and_cursor(admin: Api, researcher: Api) -> None:
    make_site(admin, "RXA")
    make_site(admin, "RXB")
    give_sites(admin, researcher, "RXA", "RXB")
    created = [
        upload_notes(
            researcher,
            0,
            site="RXA",
            source_type="interview",
            roles="clinical",
            occurred_on="2023-01-10",
        ),
        upload_notes(
            researcher, 1, site="RXA", source_type="observation", occurred_on="2023-06-01"
        ),
        upload_notes(
            researcher,
            2,
            site="RXB",
            source_type="interview",
            roles="managerial,technical",
            occurred_on="2024-02-02",
        ),
        upload_notes(researcher, 3, site="RXB", source_type="document", level="national"),
        upload_notes(
            researcher, 4, source_type="document", level="national", occurred_on="2022-12-31"
        ),
    ]
    ids = [c["id"] for c in created]

    def listed(**params) -> list[str]:
        response = researcher.get("/sources", params=params)
        assert response.status_code == 200, response.text
        return [s["id"] for s in response.json()["items"]]

    assert listed() == ids[::-1]  # newest first
    assert listed(site="RXA") == [ids[1], ids[0]]
    assert listed(site="rxb", source_type="interview") == [ids[2]]
    assert listed(role="technical") == [ids[2]]
    assert listed(role="clinical") == [ids[0]]
    assert listed(level="national") == [ids[4], ids[3]]
    assert listed(date_from="2023-01-01", date_to="2023-12-31") == [ids[1], ids[0]]
    assert listed(date_to="2022-12-31") == [ids[4]]

    # Walk everything two at a time.
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = researcher.get("/sources", params=params).json()
        seen += [s["id"] for s in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]

    for bad in (
        {"site": "NOPE"},
        {"role": "surgeon"},
        {"cursor": "not-a-cursor"},
        {"limit": 0},
        {"date_from": "2024-01-01", "date_to": "2023-01-01"},
        {"status": "done"},
    ):
        response = researcher.get("/sources", params=bad)
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["error"] == "Unprocessable"


def test_list_pages_use_an_index_not_offset(clean: Runtime) -> None:
    """The keyset query for a filtered page is an index range scan on both backends."""
    with Session(clean.engine) as session:
        # Build the statement the service runs for a site-filtered page with a cursor.
        query = sources_service.keyset_query(
            filters=SourceFilters(),
            site_id=sources_service.new_id(),
            after=sources_service.new_id(),
            count=51,
        )
        compiled = query.compile(clean.engine, compile_kwargs={"literal_binds": True})
        sql = str(compiled)
        # SQLite's compiler writes "OFFSET 0" after a LIMIT; nothing may skip rows.
        assert re.search(r"OFFSET (?!0\b)", sql.upper()) is None, sql
        if clean.engine.dialect.name == "sqlite":
            plan = session.execute(text(f"EXPLAIN QUERY PLAN {sql}")).all()
            assert any("ix_source_site_id_id" in str(row) for row in plan), plan
        else:
            session.execute(text("SET LOCAL enable_seqscan = off"))
            plan = session.execute(text(f"EXPLAIN {sql}")).all()
            assert any("ix_source_site_id_id" in str(row) for row in plan), plan


def test_get_source_and_404(researcher: Api) -> None:
    created = upload_notes(researcher, 1, wave="2", language="en-GB")
    body = researcher.get(f"/sources/{created['id']}").json()
    assert body["wave"] == "2"
    assert body["language"] == "en-GB"
    assert body["files"][0]["sha256"] == created["files"][0]["sha256"]
    missing = researcher.get("/sources/00000000-0000-7000-8000-000000000000")
    assert missing.status_code == 404
    assert missing.json() == {"error": "NotFound", "detail": "No source with that id."}
    assert researcher.get("/sources/not-a-uuid").status_code == 422


def test_text_is_deidentified_by_default_and_identifiable_needs_entitlement(
    researcher: Api, analyst: Api
) -> None:
    created = upload_notes(researcher, 7)
    researcher.wait(created["id"])
    default = analyst.get(f"/sources/{created['id']}/text")
    assert default.status_code == 409
    assert "awaiting review" in default.json()["detail"]
    refused = analyst.get(f"/sources/{created['id']}/text", params={"form": "identifiable"})
    assert refused.status_code == 403
    raw = researcher.get(f"/sources/{created['id']}/text", params={"form": "identifiable"})
    assert raw.status_code == 200
    assert raw.headers["content-type"].startswith("text/plain")
    assert "steering group meeting" in raw.text
    as_json = researcher.get(
        f"/sources/{created['id']}/text", params={"form": "identifiable", "format": "json"}
    ).json()
    [part] = as_json["parts"]
    assert part["text"] == raw.text
    for element in part["elements"]:
        assert part["text"][element["start"] : element["end"]] == element["text"]


def test_analyst_never_gets_an_original(researcher: Api, analyst: Api) -> None:
    created = upload_notes(researcher, 1)
    file_id = created["files"][0]["id"]
    response = analyst.get(f"/sources/{created['id']}/files/{file_id}/content")
    assert response.status_code == 403
    seen = analyst.get(f"/sources/{created['id']}")
    assert seen.status_code == 200  # metadata is for all ...
    assert seen.json()["files"][0]["original_filename"] is None  # ... but filenames name people
    assert seen.json()["files"][0]["sha256"] == created["files"][0]["sha256"]


def test_only_admins_delete_and_delete_removes_everything(admin: Api, researcher: Api) -> None:
    created = upload_notes(researcher, 1)
    researcher.wait(created["id"])
    store = researcher.runtime.store
    assert len(all_objects(store)) == 2  # the original and its elements
    assert researcher.delete(f"/sources/{created['id']}").status_code == 403
    assert admin.delete(f"/sources/{created['id']}").status_code == 204
    assert researcher.get(f"/sources/{created['id']}").status_code == 404
    assert all_objects(store) == []
    with researcher.runtime.engine.connect() as conn:
        for table in ("source", "file", "text", "job", "source_role"):
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0
    assert admin.delete(f"/sources/{created['id']}").status_code == 404


def test_job_status(researcher: Api) -> None:
    created = upload_notes(researcher, 1)
    researcher.wait(created["id"])
    job = researcher.get(f"/jobs/{created['files'][0]['job_id']}").json()
    assert job["status"] == "succeeded"
    assert job["attempts"] == 1
    assert job["kind"] == "extract"
    assert researcher.get("/jobs/00000000-0000-7000-8000-000000000000").status_code == 404


def test_health_and_readiness(anonymous: Api, server) -> None:
    import httpx

    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{server.url}/readyz").json()
    assert ready == {"status": "ok", "database": "ok", "object_store": "ok"}
    assert anonymous.get("/sources").status_code == 401


def test_openapi_lists_errors(anonymous: Api, server) -> None:
    import httpx

    spec = httpx.get(f"{server.url}/api/v1/openapi.json").json()
    upload = spec["paths"]["/api/v1/sources"]["post"]
    assert {"401", "403", "409", "413", "415", "422", "503"} <= set(upload["responses"])
    assert "multipart/form-data" in upload["requestBody"]["content"]
