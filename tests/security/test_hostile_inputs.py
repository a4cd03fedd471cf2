"""Inputs that once answered 500 (issue 15): each is now a clear error naming the field, or is read."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from avis.interactions.models import Interaction
from tests.factories import interaction_payload

pytestmark = pytest.mark.django_db


def post(api: Client, body: object, path: str = "/api/v1/interactions") -> object:
    return api.post(path, body, content_type="application/json")


def test_an_item_in_year_1_is_refused_alone_and_the_batch_kept(api: Client) -> None:
    items = [
        interaction_payload("ok-1", customer="C-1"),
        interaction_payload("ancient", customer="C-2", occurred_at="0001-01-01T00:00:00+00:00"),
        {"external_id": 42},
        "not even an object",
        interaction_payload("ok-2", customer="C-3"),
    ]
    reply = post(api, {"items": items}, "/api/v1/interactions/batch")
    assert reply.status_code == 200
    body = reply.json()
    assert (body["accepted"], body["invalid"]) == (2, 3)
    ancient = body["results"][1]
    assert (ancient["status"], ancient["external_id"]) == ("invalid", "ancient")
    assert [e["field"] for e in ancient["errors"]] == ["occurred_at"]
    assert "1900" in ancient["errors"][0]["message"]
    assert [r["status"] for r in body["results"]] == ["accepted", "invalid", "invalid", "invalid", "accepted"]
    assert set(Interaction.objects.values_list("external_id", flat=True)) == {"ok-1", "ok-2"}


def test_one_interaction_in_year_1_is_a_422(api: Client) -> None:
    reply = post(api, interaction_payload("e", occurred_at="0001-01-01T00:00:00+00:00"))
    assert reply.status_code == 422
    assert reply.json()["errors"][0]["field"] == "occurred_at"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/metrics?since=0001-01-01T00:00:00Z",
        "/api/v1/metrics?until=9999-12-31T23:59:59Z",
        "/api/v1/metrics/weighted?since=0001-01-01T00:00:00Z",
        "/api/v1/comments?since=0001-01-01T00:00:00Z",
        "/api/v1/exports/answers?since=0001-01-01T00:00:00Z",
        "/api/v1/exports/metrics?since=0001-01-01T00:00:00Z",
        "/api/v1/exports/report?period=custom&since=0001-01-01&until=2026-01-01",
    ],
)
def test_dates_outside_1900_2200_are_a_422_on_metrics_and_exports(api: Client, path: str) -> None:
    reply = api.get(path)
    assert reply.status_code == 422, reply.content
    assert reply.json()["code"] == "validation_error"
    assert reply.json()["errors"][0]["field"] in {"since", "until"}


@pytest.mark.parametrize("value", ["09:00+02:00", "09:00:00Z", "25:00", "nine"])
def test_send_from_with_an_offset_or_not_a_time_is_a_422(api: Client, value: str) -> None:
    reply = api.put("/api/v1/policy", {"send_from": value}, content_type="application/json")
    assert reply.status_code == 422, reply.content
    assert reply.json()["errors"][0]["field"] == "send_from"


def test_send_from_and_until_match_their_declared_format(api: Client) -> None:
    schema = api.get("/api/v1/openapi.json").json()["components"]["schemas"]
    declared = schema["PolicyOut"]["properties"]["send_from"]
    assert "format" not in declared and declared["pattern"]
    assert (
        api.put("/api/v1/policy", {"send_from": "08:30"}, content_type="application/json").status_code == 200
    )
    assert api.get("/api/v1/policy").json()["send_from"] == "08:30:00"


def test_unknown_api_paths_and_objects_answer_json_404(api: Client) -> None:
    for path in ["/api/v1/no-such-thing", "/api/v1/cases/999999", "/api/v1/surveys/999999"]:
        reply = api.get(path)
        assert reply.status_code == 404, path
        assert reply["Content-Type"].startswith("application/json"), path
        assert set(reply.json()) >= {"code", "message"}


def test_a_fault_answers_the_documented_json_500(org, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug is injected (no input reaches one any more): the answer is still the API's JSON."""

    def broken(**kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("avis.analytics.api.metric_values", broken)
    client = Client(headers={"Authorization": f"Bearer {org.api_key}"}, raise_request_exception=False)
    reply = client.get("/api/v1/metrics")
    assert reply.status_code == 500
    assert reply.json() == {"code": "server_error", "message": "Internal error; it has been logged."}


def test_every_operation_declares_422_and_500_as_the_error_shape(api: Client) -> None:
    schema = api.get("/api/v1/openapi.json").json()
    assert "Error" in schema["components"]["schemas"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status in ("404", "422", "500"):
                content = operation["responses"][status]["content"]["application/json"]["schema"]
                assert content == {"$ref": "#/components/schemas/Error"}, (method, path, status)


def test_a_segment_cannot_pass_a_django_lookup_through(api: Client) -> None:
    for segment in ["first_name__regex=^M", "a__b=1", "plan=", "=x"]:
        reply = api.get(f"/api/v1/metrics?segment={segment}")
        if segment == "plan=":
            assert reply.status_code == 200
            continue
        assert reply.status_code == 422, segment
        assert reply.json()["errors"][0]["field"] == "segment"
    # A key named like a lookup is a key, not a lookup.
    assert api.get("/api/v1/metrics?segment=contains=x").status_code == 200
    assert api.get("/api/v1/metrics?segment=regex=x").status_code == 200


@pytest.mark.parametrize(
    ("field", "value"),
    [("window_days", -5), ("window_days", 10**6), ("severity", 99), ("threshold", 10**12)],
)
def test_case_rules_out_of_range_are_a_422(api: Client, field: str, value: int) -> None:
    rule = {"condition": "detractor", "threshold": 6, field: value}
    reply = api.post("/api/v1/cases/rules", rule, content_type="application/json")
    assert reply.status_code == 422, reply.content
    assert reply.json()["errors"][0]["field"] == field


def test_a_customer_id_with_a_slash_has_its_page_and_the_decisions_page_works(org, api: Client) -> None:
    from tests.factories import PASSWORD
    from tests.helpers import post_interaction

    assert post_interaction(api, "evt-slash", customer="AGENCE/LYON/42").status_code == 200
    client = Client()
    assert client.login(username=org.manager_email, password=PASSWORD)
    decisions = client.get("/decisions/")
    assert decisions.status_code == 200
    assert "/customers/AGENCE/LYON/42/" in decisions.content.decode()
    assert client.get("/customers/AGENCE/LYON/42/").status_code == 200


@pytest.mark.parametrize("written", ["AGENCE/LYON/42", "AGENCE%2FLYON%2F42"])
def test_a_customer_id_with_a_slash_works_in_every_customer_operation_of_the_api(
    org, api: Client, written: str
) -> None:
    from tests.helpers import post_interaction

    assert post_interaction(api, "evt-slash", customer="AGENCE/LYON/42").status_code == 200
    history = api.get(f"/api/v1/customers/{written}/contact-history")
    assert history.status_code == 200, history.content
    assert len(history.json()["decisions"]) == 1
    export = api.get(f"/api/v1/customers/{written}/export")
    assert export.status_code == 200, export.content
    assert export.json()["customer"]["external_id"] == "AGENCE/LYON/42"
    opt_out = api.post(
        f"/api/v1/customers/{written}/opt-out", {"channel": "all"}, content_type="application/json"
    )
    assert opt_out.status_code == 200, opt_out.content
    assert opt_out.json()["customer"] == "AGENCE/LYON/42"
    assert api.get("/api/v1/customers/AGENCE/LYON/43/export").status_code == 404  # another id: not found
    erased = api.delete(f"/api/v1/customers/{written}")
    assert erased.status_code == 200, erased.content
    assert api.get(f"/api/v1/customers/{written}/export").status_code == 404


def _simulation(org, history: bytes):  # noqa: ANN001, ANN202
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.factories import PASSWORD

    client = Client()
    assert client.login(username=org.manager_email, password=PASSWORD)
    upload = SimpleUploadedFile("history.csv", history, content_type="text/csv")
    return client.post(
        "/governance/simulation/",
        {
            "source": "upload",
            "history": upload,
            "policy": "edited",
            "policy_json": '{"windows": [{"max": 1, "days": 30}]}',
            "compare": "current",
            "response_rate": "0.4",
        },
    )


def test_a_history_not_in_utf8_is_refused_on_the_simulation_form(org) -> None:
    latin1 = "customer,touchpoint,occurred_at\nC-1,é,2026-01-01T10:00:00+01:00\n".encode("latin-1")
    reply = _simulation(org, b"\xff\xfe" + latin1)
    assert reply.status_code == 400  # the form again, with the reason
    page = reply.content.decode()
    assert "not a CSV file in UTF-8" in page, re.findall(r"errorlist.*?</ul>|class=\"error.*?</", page, re.S)


def test_a_history_over_the_size_cap_is_refused(org, settings) -> None:
    settings.AVIS_SIMULATION_MAX_MB = 1
    reply = _simulation(org, b"customer,touchpoint,occurred_at\n" + b"x" * (1024 * 1024 + 1))
    assert reply.status_code == 400
    assert "larger than 1 MB" in reply.content.decode()


def test_huge_page_numbers_are_refused_or_empty_never_a_500(org, api: Client) -> None:
    from tests.factories import PASSWORD

    reply = api.get("/api/v1/comments?page=99999999999999999999")
    assert reply.status_code == 422
    assert reply.json()["errors"][0]["field"] == "page"
    assert api.get("/api/v1/comments?page=100000").status_code == 200
    client = Client()
    assert client.login(username=org.manager_email, password=PASSWORD)
    assert client.get("/analytics/comments/?page=99999999999999999999").status_code in {200, 400}
