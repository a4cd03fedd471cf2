"""Outgoing webhooks reach public addresses only: refused when saved, refused when sent (after DNS
resolution), no redirect followed; the delivery log says why. Against real local HTTP servers."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client

from avis.cases.models import WebhookDelivery, WebhookEndpoint
from avis.cases.services import add_webhook_endpoint
from avis.errors import ValidationFailed
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


class Server(ThreadingHTTPServer):
    """A local receiver: answers ``code`` (with ``location`` for a redirect) and counts the calls."""

    def __init__(self, code: int = 204, location: str = "") -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.code, self.location, self.calls = code, location, 0

    def url(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.server_address[1]}/hooks/avis"


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        server: Server = self.server  # type: ignore[assignment]
        server.calls += 1
        self.send_response(server.code)
        if server.location:
            self.send_header("Location", server.location)
        self.end_headers()

    do_GET = do_POST  # noqa: N815 (a followed 303 would arrive as a GET)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def serve() -> Iterator:
    servers: list[Server] = []

    def start(code: int = 204, location: str = "") -> Server:
        server = Server(code, location)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://127.1/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "http://10.0.0.5/hook",
        "http://172.16.3.4/hook",
        "https://192.168.1.10/hook",
        "http://169.254.169.254/latest/meta-data/",  # the cloud's metadata service
        "http://[fe80::1]/hook",
        "http://100.64.0.1/hook",
    ],
)
def test_an_internal_address_is_refused_when_saved(org, url: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        add_webhook_endpoint(organisation=org.organisation, url=url)
    assert refused.value.field == "url"
    assert "not public" in refused.value.message
    assert not WebhookEndpoint.objects.exists()


def test_the_api_and_the_page_refuse_an_internal_address_with_the_reason(org) -> None:
    api = Client(headers={"Authorization": f"Bearer {org.api_key}"})
    reply = api.post(
        "/api/v1/cases/webhooks", {"url": "http://169.254.169.254/"}, content_type="application/json"
    )
    assert reply.status_code == 422, reply.content
    assert "link-local" in reply.content.decode()
    admin = Client()
    assert admin.login(username=org.admin_email, password=PASSWORD)
    page = admin.post("/cases/settings/webhook", {"url": "http://10.1.2.3/crm"}, follow=True).content.decode()
    assert "not public" in page and "private" in page
    assert not WebhookEndpoint.objects.exists()


def test_a_public_address_is_saved(org) -> None:
    endpoint = add_webhook_endpoint(organisation=org.organisation, url="https://203.0.113.9.example/hook")
    assert endpoint.pk  # a name that does not resolve (yet) is kept; it is checked at every delivery
    assert add_webhook_endpoint(organisation=org.organisation, url="https://8.8.8.8/hook").pk


def test_the_allow_list_lets_an_operator_trust_an_internal_host(org, settings, serve) -> None:
    server = serve()
    settings.AVIS_WEBHOOK_ALLOW = ["127.0.0.0/8"]
    endpoint = add_webhook_endpoint(organisation=org.organisation, url=server.url())
    assert endpoint.pk


def _resolving_to_this_machine() -> str:
    """A host name (not "localhost") that the resolver turns into this machine's own address."""
    name = socket.gethostname()
    try:
        address = socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)[0][4][0]
    except socket.gaierror:
        pytest.skip(f"this machine's name {name!r} does not resolve")
    if address == "127.0.0.1":
        return name
    pytest.skip(f"{name!r} resolves to {address}, not to the loopback our local receiver listens on")


def _deliver(org, respond, capture) -> WebhookDelivery:  # noqa: ANN001
    with capture(execute=True):
        respond(nps=2, comment="Toujours en panne")
    return WebhookDelivery.objects.get()


def test_a_name_resolving_to_loopback_is_refused_when_sent_and_the_log_says_why(
    org, respond, serve, settings, django_capture_on_commit_callbacks
) -> None:
    settings.AVIS_WEBHOOK_RETRY_SECONDS = 0
    name = _resolving_to_this_machine()
    server = serve()
    # Saved when the name was trusted (or resolved elsewhere: DNS changes); no longer trusted now.
    settings.AVIS_WEBHOOK_ALLOW = [name]
    add_webhook_endpoint(organisation=org.organisation, url=server.url(name))
    settings.AVIS_WEBHOOK_ALLOW = []
    delivery = _deliver(org, respond, django_capture_on_commit_callbacks)
    assert (delivery.status, delivery.attempts) == ("failed", 1)  # retrying cannot help
    error = delivery.tries.get().error
    assert f"refused: {name} is 127.0.0.1, a loopback address" in error
    assert server.calls == 0
    admin = Client()
    assert admin.login(username=org.admin_email, password=PASSWORD)
    assert "a loopback address" in admin.get("/cases/settings").content.decode()


def test_a_name_on_the_allow_list_is_called_at_the_address_it_resolves_to(
    org, respond, serve, settings, django_capture_on_commit_callbacks
) -> None:
    name = _resolving_to_this_machine()
    server = serve()
    settings.AVIS_WEBHOOK_ALLOW = [name]
    add_webhook_endpoint(organisation=org.organisation, url=server.url(name))
    delivery = _deliver(org, respond, django_capture_on_commit_callbacks)
    assert (delivery.status, server.calls) == ("delivered", 1)


def test_an_address_saved_before_the_guard_is_refused_when_sent(
    org, respond, serve, django_capture_on_commit_callbacks
) -> None:
    server = serve()
    WebhookEndpoint.objects.create(organisation=org.organisation, url=server.url(), secret="s")
    delivery = _deliver(org, respond, django_capture_on_commit_callbacks)
    assert (delivery.status, server.calls) == ("failed", 0)
    assert "loopback" in delivery.tries.get().error


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_a_redirect_is_not_followed_and_fails_the_delivery(
    org, respond, serve, settings, django_capture_on_commit_callbacks, code: int
) -> None:
    settings.AVIS_WEBHOOK_ALLOW = ["127.0.0.1"]
    inside = serve()  # what the redirect points at: an internal service
    outside = serve(code, location=inside.url())
    add_webhook_endpoint(organisation=org.organisation, url=outside.url())
    delivery = _deliver(org, respond, django_capture_on_commit_callbacks)
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    attempt = delivery.tries.get()
    assert attempt.status_code == code
    assert attempt.error == f"redirect not followed (to {inside.url()})"
    assert (outside.calls, inside.calls) == (1, 0)
    api = Client(headers={"Authorization": f"Bearer {org.api_key}"})
    assert api.get("/api/v1/cases/webhooks/deliveries").json()[0]["tries"][0]["error"].startswith("redirect")
