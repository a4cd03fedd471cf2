from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client

from avis.cases.models import Case, WebhookDelivery
from avis.cases.services import add_webhook_endpoint, webhook_retry_delay
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


class Receiver(ThreadingHTTPServer):
    """A CRM that is down twice, then takes the call."""

    failures_left = 2

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.received: list[tuple[dict[str, str], bytes, int]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/avis"


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        server: Receiver = self.server  # type: ignore[assignment]
        code = 503 if server.failures_left > 0 else 204
        server.failures_left -= 1
        server.received.append((dict(self.headers), body, code))
        self.send_response(code)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(autouse=True)
def _trust_this_machine(settings) -> None:
    """The receivers here listen on 127.0.0.1, an address avis refuses unless the operator trusts it."""
    settings.AVIS_WEBHOOK_ALLOW = ["127.0.0.1"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_webhook_that_fails_twice_is_delivered_once_with_three_tries_logged(
    org, respond, receiver, settings, django_capture_on_commit_callbacks
) -> None:
    settings.AVIS_WEBHOOK_RETRY_SECONDS = 0  # back-off is tested below; here, retry at once
    endpoint = add_webhook_endpoint(organisation=org.organisation, url=receiver.url, secret="s3cret")
    with django_capture_on_commit_callbacks(execute=True):
        respond(nps=2, comment="Toujours en panne")
    case = Case.objects.get()
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert (delivery.event, delivery.status, delivery.attempts) == ("case.opened", "delivered", 3)
    assert [t.status_code for t in delivery.tries.all()] == [503, 503, 204]
    assert [code for _, _, code in receiver.received] == [503, 503, 204]
    headers, body, _ = receiver.received[-1]
    signed = hmac.new(b"s3cret", headers["X-Avis-Timestamp"].encode() + b"." + body, hashlib.sha256)
    assert headers["X-Avis-Signature"] == "sha256=" + signed.hexdigest()
    assert len({h["X-Avis-Delivery"] for h, _, _ in receiver.received}) == 1  # the same delivery, retried
    payload = json.loads(body)
    assert payload["case"]["id"] == case.id
    assert payload["case"]["customer"] == "C-1"

    admin = Client()
    assert admin.login(username=org.admin_email, password=PASSWORD)
    log = admin.get("/cases/settings").content.decode()
    assert log.count("503") >= 2 and "204" in log
    api_log = Client(headers={"Authorization": f"Bearer {org.api_key}"}).get(
        "/api/v1/cases/webhooks/deliveries"
    )
    assert [t["status_code"] for t in api_log.json()[0]["tries"]] == [503, 503, 204]


def test_a_delivered_webhook_is_not_sent_again(
    org, respond, receiver, settings, django_capture_on_commit_callbacks
):
    from avis.cases.services import deliver_webhook

    receiver.failures_left = 0
    add_webhook_endpoint(organisation=org.organisation, url=receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        respond(nps=2)
    delivery = WebhookDelivery.objects.get()
    assert deliver_webhook(delivery_id=delivery.id) == "not_mine"
    assert len(receiver.received) == 1


def test_retries_back_off() -> None:
    assert [webhook_retry_delay(n) for n in (1, 2, 3, 4)] == [30, 60, 120, 240]


def test_an_unreachable_endpoint_gives_up_after_six_tries(
    org, respond, settings, django_capture_on_commit_callbacks
):
    settings.AVIS_WEBHOOK_RETRY_SECONDS = 0
    add_webhook_endpoint(organisation=org.organisation, url="http://127.0.0.1:1/nothing-here")
    with django_capture_on_commit_callbacks(execute=True):
        respond(nps=2)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.tries.count()) == ("failed", 6, 6)
    assert delivery.tries.first().error
