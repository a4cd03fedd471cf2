"""/healthz, /readyz, the Prometheus endpoint, the request id and the JSON log lines, as a load
balancer, Prometheus and a log collector see them."""

from __future__ import annotations

import json
import logging
import sys

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from avis.logs import RedactPersonalData
from avis.observability import JsonFormatter, RequestIdFilter
from avis.operations import health
from tests.helpers import open_all_day, post_interaction

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_figures(settings):  # noqa: ANN001, ANN202
    settings.AVIS_PROMETHEUS_CACHE_SECONDS = 0
    health._migrated_at = None  # noqa: SLF001
    yield
    health._migrated_at = None  # noqa: SLF001


def test_healthz_answers_without_touching_the_database(django_assert_num_queries) -> None:
    with django_assert_num_queries(0):
        response = Client().get("/healthz", HTTP_HOST="10.0.0.7:8000")  # a balancer's probe by address
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ready_when_database_migrations_and_queue_answer() -> None:
    response = Client().get("/readyz")
    assert response.status_code == 200
    checks = response.json()["checks"]
    assert {name: check["ok"] for name, check in checks.items()} == {
        "database": True,
        "migrations": True,
        "queue": True,
        **({"redis": True} if settings.AVIS_REDIS_URL else {}),
    }


def test_readyz_refuses_traffic_while_a_migration_is_not_applied() -> None:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM django_migrations WHERE app = 'operations'")
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["checks"]["migrations"] == {"ok": False, "unapplied": 1}


def test_metrics_count_what_was_ingested_and_decided_for_an_allowed_scraper(org, api) -> None:
    open_all_day(org.organisation)
    assert post_interaction(api, "m-1", customer="M-1", email="m1@example.fr").status_code == 200
    Client().get("/login/")  # one request timed
    response = Client().get("/-/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    text = response.content.decode()
    assert "avis_interactions_ingested_total 1.0" in text
    assert 'avis_decisions_total{outcome="invite",reason=' in text
    assert 'avis_outbox_messages{channel="email",status=' in text
    assert "avis_outbox_oldest_due_age_seconds" in text
    assert "avis_cases_sla_breached_total 0.0" in text
    assert 'avis_http_request_duration_seconds_bucket{le="0.005",route="ui"}' in text
    assert "m1@example.fr" not in text and "M-1" not in text


def test_metrics_are_refused_to_other_addresses_and_ask_for_the_token_when_one_is_set(settings) -> None:
    assert Client().get("/-/metrics", REMOTE_ADDR="203.0.113.9").status_code == 403
    settings.AVIS_PROMETHEUS_TOKEN = "s3cret-scrape"  # noqa: S105
    assert Client().get("/-/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403
    scraper = Client(headers={"Authorization": "Bearer s3cret-scrape"})
    assert scraper.get("/-/metrics", REMOTE_ADDR="203.0.113.9").status_code == 200


def test_behind_the_proxy_the_client_is_the_forwarded_address_not_nginx(settings) -> None:
    settings.AVIS_BEHIND_PROXY = True
    through_nginx = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.9"}
    assert Client().get("/-/metrics", **through_nginx).status_code == 403
    settings.AVIS_BEHIND_PROXY = False
    assert Client().get("/-/metrics", **through_nginx).status_code == 200


def test_the_request_id_is_echoed_or_made_and_carried_by_each_log_line(org, api) -> None:
    given = Client().get("/login/", headers={"X-Request-ID": "lb-7f3a.42"})
    assert given["X-Request-ID"] == "lb-7f3a.42"
    made = Client().get("/login/", headers={"X-Request-ID": "not a sane id; <script>"})
    assert made["X-Request-ID"] != "not a sane id; <script>" and len(made["X-Request-ID"]) == 32
    lines = JsonLines()
    root = logging.getLogger()
    root.addHandler(lines)
    try:
        response = api.get("/api/v1/customers/C-0612345678/contact-history?email=jean@example.fr")
    finally:
        root.removeHandler(lines)
    access = next(line for line in lines.lines if line["logger"] == "avis.access")
    assert access["request_id"] == response["X-Request-ID"]
    assert access["status"] == response.status_code == 404 and access["route"] == "api"
    assert access["path"] == "/api/v1/customers/…/contact-history"
    # Django's own line about the same request carries the same id.
    not_found = next(line for line in lines.lines if line["logger"] == "django.request")
    assert not_found["request_id"] == response["X-Request-ID"]
    assert "0612345678" not in json.dumps(lines.lines) and "jean@example.fr" not in json.dumps(lines.lines)


class JsonLines(logging.Handler):
    """The console handler of AVIS_LOG_FORMAT=json, keeping its lines."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.setFormatter(JsonFormatter())
        self.addFilter(RedactPersonalData())
        self.addFilter(RequestIdFilter())
        self.lines: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


def test_json_log_lines_redact_personal_data_in_messages_fields_and_tracebacks() -> None:
    try:
        raise ValueError("no customer +33612345678 / jean@example.fr")
    except ValueError:
        record = logging.getLogger("avis").makeRecord(
            "avis", logging.ERROR, __file__, 1, "sending to %s failed", ("jean@example.fr",), None
        )
        record.exc_info = sys.exc_info()
    record.recipient = "+33 6 12 34 56 78"
    line = JsonFormatter().format(record)
    assert json.loads(line)["message"] == "sending to [email] failed"
    assert "jean@example.fr" not in line and "12 34 56" not in line and "612345678" not in line


def test_a_scrape_counts_only_the_interactions_and_decisions_added_since_the_rows_already_tallied(
    org, api
) -> None:
    from avis.operations.metrics import figures

    open_all_day(org.organisation)
    for n in range(2):
        post_interaction(api, f"t-{n}", customer=f"T-{n}", email=f"t{n}@example.fr")
    tallies: dict = {}
    at = 1_800_000_000.0  # the scrapes' own clock
    assert figures(tallies, now=at)["interactions"] == 2  # a first scrape counts the whole table
    post_interaction(api, "t-2", customer="T-2", email="t2@example.fr")
    assert figures(tallies, now=at + 15)["interactions"] == 3
    assert figures(tallies, now=at + 3600)["interactions"] == 3  # an hour on: the first 2 are final
    post_interaction(api, "t-3", customer="T-3", email="t3@example.fr")
    with CaptureQueriesContext(connection) as queries:
        later = figures(tallies, now=at + 3615)
    assert later["interactions"] == 4
    assert sum(row[-1] for row in later["decisions"]) == 4
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"] and '"interactions_interaction"' in q["sql"]]
    assert counts and all('"interactions_interaction"."id" >' in sql for sql in counts), counts
