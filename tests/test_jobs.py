"""GET /jobs/{id}: visible only with its source, and a job's error never carries raw exception
text (a database error's message holds the values it was given)."""

from __future__ import annotations

import logging
import uuid

import pytest
from sqlalchemy import text

from service.auth.models import Role
from service.db import transaction
from service.jobs.models import Job, JobKind, JobStatus
from service.runtime import Runtime
from tests.conftest import Api, LiveServer, make_user
from tests.test_participants import world

NAME = "Rosalind Quarrington"


def test_a_job_is_seen_only_by_those_who_see_its_source(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    alice, bob = world(admin, clean, server)
    analyst = Api(server.url, make_user(clean, Role.analyst), clean)
    # P-017 has no consent to archiving yet: the source is for RXA's researchers and admins.
    made = alice.post("/participants", json={"code": "P-017", "site": "RXA", "role": "clinical"})
    assert made.status_code == 201, made.text
    response = alice.upload([("i.txt", b"An interview.\n")], site="RXA", participants="P-017")
    assert response.status_code == 201, response.text
    job_id = response.json()["files"][0]["job_id"]
    with transaction(clean.engine) as session:
        orphan = Job(kind=JobKind.extract, status=JobStatus.succeeded)  # never run
        session.add(orphan)
        session.flush()
        orphan_id = orphan.id

    unknown = admin.get(f"/jobs/{uuid.uuid4()}")
    assert unknown.status_code == 404
    for api in (admin, alice):
        assert api.get(f"/jobs/{job_id}").status_code == 200
    for api in (bob, analyst):
        refused = api.get(f"/jobs/{job_id}")
        assert (refused.status_code, refused.json()) == (404, unknown.json())
    refusals = admin.get("/audit", params={"target": job_id}).json()["items"]
    assert sum(e["outcome"] == "refused" for e in refusals) == 2  # audited, though answered 404
    assert admin.get(f"/jobs/{orphan_id}").status_code == 200
    for api in (alice, bob, analyst):
        refused = api.get(f"/jobs/{orphan_id}")
        assert (refused.status_code, refused.json()) == (404, unknown.json())


@pytest.fixture
def text_refused(clean: Runtime):
    """The database refuses to store extracted text, quoting the text in its message."""
    with clean.engine.begin() as conn:
        if clean.engine.dialect.name == "postgresql":
            conn.execute(
                text(
                    "CREATE FUNCTION refuse_text() RETURNS trigger LANGUAGE plpgsql AS $$ "
                    "BEGIN RAISE EXCEPTION 'refused: %', NEW.content; END $$"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_text BEFORE INSERT ON text "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_text()"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_text BEFORE INSERT ON text "
                    "BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )
    try:
        yield
    finally:
        with clean.engine.begin() as conn:
            if clean.engine.dialect.name == "postgresql":
                conn.execute(text("DROP TRIGGER refuse_text ON text"))
                conn.execute(text("DROP FUNCTION refuse_text()"))
            else:
                conn.execute(text("DROP TRIGGER refuse_text"))


def test_a_failed_jobs_error_holds_no_text_of_the_exception(
    clean: Runtime, make_server, text_refused, caplog: pytest.LogCaptureFixture
) -> None:
    live, rt = make_server(job_max_attempts=1)
    api = Api(live.url, make_user(clean, Role.admin), clean)
    caplog.set_level(logging.DEBUG)
    response = api.upload([("i.txt", f"The interview with {NAME}.\n".encode())])
    assert response.status_code == 201, response.text
    assert api.wait(response.json()["id"])["status"] == "failed"
    job = api.get(f"/jobs/{response.json()['files'][0]['job_id']}").json()
    assert job["status"] == "failed"
    assert job["error"] and "Error" in job["error"]  # the exception's class, for support
    for piece in ("Rosalind", "Quarrington", "refused", "INSERT", "VALUES"):
        assert piece not in job["error"]
    assert "Quarrington" not in caplog.text  # messages and tracebacks alike
