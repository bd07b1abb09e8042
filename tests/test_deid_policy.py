"""What each source's policy accepts on detection (issue 10, national documents): direct
identifiers (emails, phone numbers, NHS numbers, postcodes) are accepted in every policy whatever
their score; a national document, published without review, has every name the detector finds
replaced as well; a local document with the same words waits for a person."""

from __future__ import annotations

from service.auth.models import Role
from service.runtime import Runtime
from tests.conftest import Api, LiveServer, make_user
from tests.test_deid_workflow import deid_ready

# A contact block as national guidance prints it: a junior official's name, an email written out
# against harvesters and a postcode in lower case (both score below the bar the detector's surest
# finds pass), a phone number, and a worked example quoting an NHS number.
CONTACT = (
    b"National guidance on remote monitoring.\n"
    b"Programme manager: Lewis Grant, lewis dot grant at nhs dot net, 0113 496 0274, "
    b"Trinity House, Leeds ls1 5aa.\n"
    b"Worked example: the record for NHS number 943 476 5919 is matched before any other field.\n"
)
DIRECT = {
    "EMAIL": "lewis dot grant at nhs dot net",
    "PHONE": "0113 496 0274",
    "POSTCODE": "ls1 5aa",
    "NHS_NUMBER": "943 476 5919",
}
DESCRIPTORS = ("[Email address]", "[Phone number]", "[Postcode]", "[NHS number]")


def redactions(api: Api, source_id: str) -> dict[str, dict]:
    items = api.get(f"/sources/{source_id}/redactions").json()["items"]
    return {r["original"]: r for r in items}


def test_national_document_published_without_names_or_direct_identifiers(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    analyst = Api(server.url, make_user(clean, Role.analyst), clean)
    body = admin.upload(
        [("guidance.txt", CONTACT)], source_type="document", level="national"
    ).json()
    done = deid_ready(admin, body["id"])
    # Published by the policy: nobody reviewed or approved it.
    assert done["deid_status"] == "approved", done

    found = redactions(admin, body["id"])
    for kind, words in DIRECT.items():
        assert found[words]["entity_type"] == kind, found[words]
        assert found[words]["status"] == "accepted", found[words]
        assert found[words]["decided_by"] is None
    assert found["Lewis Grant"]["status"] == "accepted", found
    assert found["Lewis Grant"]["decided_by"] is None

    response = analyst.get(f"/sources/{body['id']}/text")
    assert response.status_code == 200, response.text
    text = response.text
    for words in [*DIRECT.values(), "Lewis Grant", "lewis", "Grant"]:
        assert words not in text, (words, text)
    for descriptor in DESCRIPTORS:
        assert descriptor in text, (descriptor, text)
    assert "[Person " in text
    # The public body's address stays: organisations and places of a national document are public.
    assert "Leeds" in text and "National guidance" in text


def test_local_document_waits_for_review_with_direct_identifiers_accepted(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    analyst = Api(server.url, make_user(clean, Role.analyst), clean)
    body = admin.upload([("guidance.txt", CONTACT)], source_type="document", level="local").json()
    done = deid_ready(admin, body["id"])
    assert done["deid_status"] == "in_review", done
    assert analyst.get(f"/sources/{body['id']}/text").status_code == 409

    found = redactions(admin, body["id"])
    for kind, words in DIRECT.items():
        assert found[words]["entity_type"] == kind, found[words]
        assert found[words]["status"] == "accepted", found[words]
    # A name is a person's call in a reviewed source (a public figure may stay).
    assert found["Lewis Grant"]["status"] == "suggested", found["Lewis Grant"]
