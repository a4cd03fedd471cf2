from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from django.test import Client

from tests.factories import OrganisationSetup, make_organisation


def pytest_configure(config: pytest.Config) -> None:
    from django.conf import settings
    from huey.contrib.djhuey import HUEY

    # Tasks run inline unless a test starts a real worker.
    HUEY.immediate = True
    # Real password hashing costs half a second per user; tests make many.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under CI a test that needs an absent server must fail, not skip."""
    config._avis_ci = os.environ.get("CI", "").lower() == "true"  # type: ignore[attr-defined]


def need_server(host: str, port: int, what: str) -> None:
    try:
        with socket.create_connection((host, port), timeout=1):
            return
    except OSError:
        message = f"{what} is not available on {host}:{port}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (CI=true: a missing server is a failure)")
        pytest.skip(message)


@pytest.fixture(autouse=True)
def _language_of_each_test_is_its_own() -> Iterator[None]:
    """A request through the test client leaves its language active in the thread (Django's
    LocaleMiddleware activates, nothing deactivates); code run after it must not inherit it."""
    yield
    from django.utils import translation

    translation.deactivate()


@pytest.fixture
def org(db: None) -> OrganisationSetup:
    return make_organisation("Assurances du Centre")


@pytest.fixture
def other_org(db: None) -> OrganisationSetup:
    return make_organisation("Banque du Nord", slug="banque-du-nord")


@pytest.fixture
def api(org: OrganisationSetup) -> Client:
    return Client(headers={"Authorization": f"Bearer {org.api_key}"})


@dataclass
class Mailbox:
    host: str
    port: int
    messages: list[Message] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if address in (m["To"] or "")]


class _Collector:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802
        self.box.messages.append(message_from_bytes(envelope.original_content or envelope.content))
        self.box.arrived.set()
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server(settings) -> Iterator[Mailbox]:  # noqa: ANN001
    """A real SMTP server (aiosmtpd) on a free local port; avis sends email to it."""
    box = Mailbox("127.0.0.1", _free_port())
    controller = Controller(_Collector(box), hostname=box.host, port=box.port)
    controller.start()
    settings.EMAIL_HOST = box.host
    settings.EMAIL_PORT = box.port
    settings.AVIS_EMAIL_PROVIDER = "smtp"
    try:
        yield box
    finally:
        controller.stop()
