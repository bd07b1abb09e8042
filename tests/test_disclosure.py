"""Disclosure control on metadata: site x role x date combinations that single out fewer than k
people are generalised for those outside the identifiable tier."""

from __future__ import annotations

from service.auth.models import Role
from service.runtime import Runtime
from tests.conftest import Api, LiveServer, make_user
from tests.test_participants import consent, world


def interview(api: Api, code: str, day: str) -> str:
    response = api.upload(
        [(f"{code}.txt", f"Interview with {code}.\n".encode())],
        site="RXA",
        occurred_on=day,
        participants=code,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_rare_combinations_are_generalised_for_outsiders(
    admin: Api, clean: Runtime, server: LiveServer, make_server
) -> None:
    alice, bob = world(admin, clean, server)
    analyst = Api(server.url, make_user(clean, Role.analyst), clean)
    for code, role in (
        ("P-001", "clinical"),
        ("P-002", "clinical"),
        ("P-003", "clinical"),
        ("P-004", "managerial"),
    ):
        made = alice.post("/participants", json={"code": code, "site": "RXA", "role": role}).json()
        assert consent(alice, made["id"], "archive,share_team", "2024-01-01").status_code == 201
    nurse = interview(alice, "P-001", "2024-01-10")
    interview(alice, "P-002", "2024-02-11")
    interview(alice, "P-003", "2024-03-12")
    manager = interview(alice, "P-004", "2024-02-20")

    own = alice.get(f"/sources/{nurse}").json()
    assert (own["disclosure"], own["occurred_on"], own["roles"]) == (
        "exact",
        "2024-01-10",
        ["clinical"],
    )

    seen = analyst.get(f"/sources/{nurse}").json()
    assert seen["disclosure"] == "generalised"
    assert (seen["occurred_on"], seen["occurred_period"], seen["roles"]) == (
        None,
        "2024-Q1",
        ["frontline"],
    )
    assert bob.get(f"/sources/{nurse}").json()["occurred_period"] == "2024-Q1"  # other site too

    alone = analyst.get(f"/sources/{manager}").json()
    assert (alone["disclosure"], alone["occurred_period"], alone["roles"]) == ("withheld", None, [])
    listed = {s["id"]: s for s in analyst.get("/sources").json()["items"]}
    assert listed[manager]["disclosure"] == "withheld"

    # k is a setting: with k=1 nothing needs generalising.
    live, _ = make_server(disclosure_k=1)
    relaxed = Api(live.url, analyst.token, clean)
    assert relaxed.get(f"/sources/{nurse}").json()["occurred_on"] == "2024-01-10"
