"""Disclosure control on metadata: site x role x date combinations that single out fewer than k
people are generalised for those outside the identifiable tier."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from service.auth.models import Role
from service.runtime import Runtime
from service.sources.service import encode_cursor
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


ROLES = ("clinical", "technical", "vendor", "managerial", "policy_maker", "other")
GROUPS = {
    "clinical": "frontline",
    "technical": "support",
    "vendor": "support",
    "managerial": "leadership",
    "policy_maker": "leadership",
    "other": "other",
}


def quarter_bounds(period: str) -> tuple[date, date]:
    year, q = int(period[:4]), int(period[-1])
    start = date(year, 3 * q - 2, 1)
    end = date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)
    return start, end - timedelta(days=1)


def expected(seen: dict[str, Any], probe: dict[str, str]) -> bool:
    """Whether a source, as the viewer sees it, answers a probe: from the shown values only."""
    if seen["disclosure"] == "withheld":
        return not probe
    if "participant" in probe and probe["participant"] not in {
        p["code"] for p in seen["participants"]
    }:
        return False
    if "role" in probe:
        wanted = probe["role"] if seen["disclosure"] == "exact" else GROUPS[probe["role"]]
        if wanted not in seen["roles"]:
            return False
    if "date_from" in probe or "date_to" in probe:
        if seen["disclosure"] == "exact":
            first = last = date.fromisoformat(seen["occurred_on"])
        else:
            first, last = quarter_bounds(seen["occurred_period"])
        if "date_from" in probe and first < date.fromisoformat(probe["date_from"]):
            return False
        if "date_to" in probe and last > date.fromisoformat(probe["date_to"]):
            return False
    return True


def listed_ids(api: Api, **params: Any) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        page = api.get("/sources", params={**params, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        ids += [s["id"] for s in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return ids


def probes() -> list[dict[str, str]]:
    days = [date(2023, 12, 31) + timedelta(days=n) for n in range(93)]  # around 2024-Q1
    found: list[dict[str, str]] = [{"date_from": d.isoformat()} for d in days]
    found += [{"date_to": d.isoformat()} for d in days]
    found += [
        {"date_from": a, "date_to": b}
        for a in ("2024-01-01", "2024-01-02", "2024-02-20")
        for b in ("2024-02-20", "2024-03-30", "2024-03-31")
    ]
    found += [{"role": role} for role in ROLES]
    found += [{"participant": f"P-00{n}"} for n in range(1, 8)]
    found += [{"role": "clinical", "date_from": "2024-01-01", "date_to": "2024-03-31"}]
    return found


def probing_world(alice: Api) -> dict[str, str]:
    """Site RXA in 2024-Q1: three nurses on three days (generalised to 2024-Q1, frontline for
    outsiders), a manager alone (withheld), and three technicians on one day (exact)."""
    people = {"P-001": "clinical", "P-002": "clinical", "P-003": "clinical"}
    people |= {"P-004": "managerial", "P-005": "technical", "P-006": "technical"}
    people |= {"P-007": "technical"}
    for code, role in people.items():
        made = alice.post(
            "/participants",
            json={"code": code, "site": "RXA", "role": role, "role_detail": f"{code} detail"},
        ).json()
        assert consent(alice, made["id"], "archive,share_team", "2024-01-01").status_code == 201
    made = {}
    for code, day in (
        ("P-001", "2024-01-10"),
        ("P-005", "2024-02-01"),
        ("P-004", "2024-02-20"),
        ("P-002", "2024-02-11"),
        ("P-006", "2024-02-01"),
        ("P-003", "2024-03-12"),
        ("P-007", "2024-02-01"),
    ):
        made[code] = interview(alice, code, day)
    return made


def test_filters_answer_from_the_values_shown(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    alice, bob = world(admin, clean, server)
    analyst = Api(server.url, make_user(clean, Role.analyst), clean)
    made = probing_world(alice)

    for viewer in (analyst, bob, alice):
        seen = {s["id"]: s for s in viewer.get("/sources").json()["items"]}
        assert set(seen) == set(made.values())
        kinds = {code: seen[made[code]]["disclosure"] for code in made}
        if viewer is alice:
            assert set(kinds.values()) == {"exact"}
            assert seen[made["P-004"]]["occurred_on"] == "2024-02-20"
        else:
            assert kinds == {
                "P-001": "generalised",
                "P-002": "generalised",
                "P-003": "generalised",
                "P-004": "withheld",
                "P-005": "exact",
                "P-006": "exact",
                "P-007": "exact",
            }
            # A code beside a source says, through GET /participants, the person's exact role.
            for code in ("P-001", "P-002", "P-003", "P-004"):
                assert seen[made[code]]["participants"] == []
            assert [p["code"] for p in seen[made["P-005"]]["participants"]] == ["P-005"]
        wrong = []
        for probe in probes():
            got = set(listed_ids(viewer, **probe))
            want = {sid for sid, s in seen.items() if expected(s, probe)}
            if got != want:
                wrong.append(f"{probe}: got {sorted(got)}, expected {sorted(want)}")
        assert not wrong, "\n".join(wrong)

    # The own site's researcher filters on the exact values.
    assert set(listed_ids(alice, date_from="2024-01-11", date_to="2024-02-20")) == {
        made[c] for c in ("P-002", "P-004", "P-005", "P-006", "P-007")
    }
    assert listed_ids(alice, role="managerial") == [made["P-004"]]
    assert listed_ids(alice, participant="P-001") == [made["P-001"]]
    assert listed_ids(analyst, participant="P-005") == [made["P-005"]]


def test_pages_stay_full_when_hidden_values_drop_rows(
    admin: Api, clean: Runtime, server: LiveServer, make_server
) -> None:
    alice, _ = world(admin, clean, server)
    analyst = Api(server.url, make_user(clean, Role.analyst), clean)
    made = probing_world(alice)
    quarter = {"date_from": "2024-01-01", "date_to": "2024-03-31"}
    # The manager's withheld interview lies in the range but must not be returned; every page
    # but the last is still full.
    pages = []
    cursor = None
    while True:
        params = {**quarter, "limit": 2, **({"cursor": cursor} if cursor else {})}
        body = analyst.get("/sources", params=params).json()
        pages.append([s["id"] for s in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert [len(p) for p in pages] == [2, 2, 2]
    assert {i for p in pages for i in p} == set(made.values()) - {made["P-004"]}

    # The work per request is bounded: past the scan limit a page comes back short, with a
    # cursor to go on from that never names the dropped row.
    live, _ = make_server(list_scan_rows=2)
    bounded = Api(live.url, analyst.token, clean)
    pages, cursors = [], []
    cursor = None
    while True:
        params = {**quarter, "limit": 2, **({"cursor": cursor} if cursor else {})}
        body = bounded.get("/sources", params=params).json()
        pages.append([s["id"] for s in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            break
        cursors.append(cursor)
    assert [len(p) for p in pages] == [2, 2, 1, 1]
    assert [i for p in pages for i in p] == listed_ids(analyst, **quarter)
    assert encode_cursor(uuid.UUID(made["P-004"])) not in cursors


def test_role_detail_and_consent_dates_stay_in_the_identifiable_tier(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    alice, bob = world(admin, clean, server)
    analyst = Api(server.url, make_user(clean, Role.analyst), clean)
    made = alice.post(
        "/participants",
        json={"code": "P-001", "site": "RXA", "role": "clinical", "role_detail": "ward sister"},
    ).json()
    assert consent(alice, made["id"], "archive,share_team", "2024-01-10").status_code == 201
    for viewer, entitled in ((alice, True), (admin, True), (bob, False), (analyst, False)):
        views = [
            viewer.get("/participants").json()["items"][0],
            viewer.get(f"/participants/{made['id']}").json(),
        ]
        history = viewer.get(f"/participants/{made['id']}/consents").json()
        for view in views:
            assert view["role"] == "clinical"
            assert view["consent"]["scopes"]["share_team"] is True
            assert (view["role_detail"] == "ward sister") is entitled
            assert (view["role_detail"] is None) is not entitled
        for given in [v["consent"] for v in views] + history:
            assert (given["given_on"] == "2024-01-10") is entitled
            assert (given["given_on"] is None) is not entitled
            assert (given["created_at"] is None) is not entitled


def test_dates_at_the_end_of_the_calendar_are_refused_not_a_500(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    """A source dated in 9999 once made every outsider's list answer 500 (its quarter had no
    end); the dates an archive takes are bounded, and the filters too."""
    from service.deid.disclosure import quarter

    alice, bob = world(admin, clean, server)
    analyst = Api(server.url, make_user(clean, Role.analyst), clean)
    made = bob.upload(
        [("notes.txt", b"Notes of a meeting.\n")],
        site="RXB",
        roles="vendor",
        occurred_on="9999-11-15",
    )
    assert made.status_code == 422, made.text
    assert "occurred_on" in made.json()["detail"]
    ok = bob.upload(
        [("notes.txt", b"Notes of a meeting.\n")],
        site="RXB",
        roles="vendor",
        occurred_on="2199-12-31",
    )
    assert ok.status_code == 201, ok.text
    for api in (analyst, alice, admin):
        assert api.get("/sources").status_code == 200
        assert api.get(f"/sources/{ok.json()['id']}").status_code == 200
        for params in (
            {"date_from": "9999-12-31"},
            {"date_to": "9999-12-31"},
            {"date_from": "0001-01-01", "date_to": "9999-12-31", "role": "clinical"},
        ):
            response = api.get("/sources", params=params)
            assert response.status_code == 422, (params, response.text)
        spanning = api.get("/sources", params={"date_from": "2199-10-01", "date_to": "2199-12-31"})
        assert spanning.status_code == 200
    assert quarter(date(9999, 11, 15))[0] == "9999-Q4"
