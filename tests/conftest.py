from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from urllib.parse import urlparse

import pytest
from aiosmtpd.controller import Controller
from django.test import Client

from tests.clock import INSTANTS, NOW_VARIABLE, parse_instant, start_travel
from tests.factories import OrganisationSetup, make_organisation
from tests.ports import free_port


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--each-instant",
        action="store_true",
        help="run each test marked `clock` once at each instant of tests/clock.py's INSTANTS",
    )


def pytest_report_header(config: pytest.Config) -> str:
    instant = os.environ.get(NOW_VARIABLE)
    if instant:
        return f"clock: {NOW_VARIABLE}={instant} (replay with {NOW_VARIABLE}={instant} ./dev test)"
    return "clock: the machine's own (set AVIS_TEST_NOW=2026-12-06T07:30:00+01:00 to run at an instant)"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.config.getoption("each_instant") and metafunc.definition.get_closest_marker("clock"):
        metafunc.parametrize("_instant", list(INSTANTS.values()), ids=list(INSTANTS), indirect=True)


@pytest.fixture(autouse=True)
def _instant(request: pytest.FixtureRequest) -> Iterator[None]:
    """Under --each-instant, a `clock` test runs at the instant it was given (the clock ticks on)."""
    text = getattr(request, "param", None)
    if text is None:
        yield
        return
    import time_machine

    with time_machine.travel(parse_instant(text), tick=True):
        yield


def pytest_configure(config: pytest.Config) -> None:
    from django.conf import settings
    from huey.contrib.djhuey import HUEY

    # The whole run at AVIS_TEST_NOW, when it is set (worker processes follow: tests/clock.py).
    config._avis_clock = start_travel()  # type: ignore[attr-defined]
    # Tasks run inline unless a test starts a real worker.
    HUEY.immediate = True
    # Real password hashing costs half a second per user; tests make many.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # On Redis (AVIS_REDIS_URL) the cache outlives the run: each run reads only its own entries.
    cache = settings.CACHES["default"]
    cache["KEY_PREFIX"] = f"{cache.get('KEY_PREFIX', '')}:{os.getpid()}"
    # Tests post far faster than any integration; tests/accounts/test_api_rate_limits.py sets limits.
    settings.AVIS_API_RATE_PER_KEY = settings.AVIS_API_RATE_PER_ADDRESS = 0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under CI a test that needs an absent server must fail, not skip."""
    config._avis_ci = os.environ.get("CI", "").lower() == "true"  # type: ignore[attr-defined]
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        # What changes nothing by engine runs on SQLite only: the browser, a test that touches no
        # database, the backup tests (they run each engine themselves: engine_name).
        touches_database = item.get_closest_marker("django_db") or {"db", "transactional_db"} & set(fixtures)
        if item.get_closest_marker("browser") or "engine_name" in fixtures or not touches_database:
            item.add_marker(pytest.mark.engine_independent)
    # The longest first, so that no test process is left alone with one at the end (pytest-xdist
    # hands tests out in this order); the order is the same in every process, as xdist requires.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session")
def django_db_keepdb(request: pytest.FixtureRequest, django_db_modify_db_settings: None) -> bool:
    """Each test process's database starts as a copy of the migrated template (tests/migrated.py)
    and is kept as it is, not migrated again from nothing."""
    from django.conf import settings

    from tests.migrated import fresh_database

    if request.config.getvalue("reuse_db"):
        return True
    database = settings.DATABASES["default"]
    name = database["TEST"].get("NAME") or f"test_{database['NAME']}"
    if database["ENGINE"].endswith("sqlite3"):
        fresh_database(f"sqlite:///{name}")
    else:
        account = database["USER"] + (f":{database['PASSWORD']}" if database.get("PASSWORD") else "")
        fresh_database(f"postgres://{account}@{database['HOST']}:{database['PORT'] or 5432}/{name}")
    return True


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


@pytest.fixture(autouse=True)
def _process_caches_of_each_test_are_its_own() -> Iterator[None]:
    """The per-process caches of published questions, their pages and an organisation's alert rules,
    calendar and ladder are keyed by ids, which a rolled-back test hands out again to the next one;
    a Redis outage one test made is its own."""
    yield
    from avis.cache import forget_outage
    from avis.kept import forget_everything
    from avis.surveys.queries import forget_version_questions
    from avis.surveys.respondent_page import forget_respondent_pages

    forget_version_questions()
    forget_respondent_pages()
    forget_everything()
    forget_outage()


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


@pytest.fixture
def smtp_server(settings) -> Iterator[Mailbox]:  # noqa: ANN001
    """A real SMTP server (aiosmtpd) on a free local port; avis sends email to it."""
    box = Mailbox("127.0.0.1", free_port())
    controller = Controller(_Collector(box), hostname=box.host, port=box.port)
    controller.start()
    settings.EMAIL_HOST = box.host
    settings.EMAIL_PORT = box.port
    settings.AVIS_EMAIL_PROVIDER = "smtp"
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture
def real_queue():  # noqa: ANN201
    """Tasks go to the real queue (SQLite file, or Redis when configured) instead of running inline."""
    from django.conf import settings
    from huey.contrib.djhuey import HUEY

    if settings.AVIS_REDIS_URL:
        url = urlparse(settings.AVIS_REDIS_URL)
        need_server(url.hostname or "127.0.0.1", url.port or 6379, "Redis")
    HUEY.immediate = False
    HUEY.flush()
    try:
        yield HUEY
    finally:
        HUEY.flush()
        HUEY.immediate = True
