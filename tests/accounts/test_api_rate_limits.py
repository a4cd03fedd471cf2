"""API rate limits per key and per client address: over the minute's limit, 429 with Retry-After.
The counts live in the database (or Redis), so every process shares them."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test import Client

from avis.accounts import throttling
from avis.accounts.services import create_api_key
from avis.cache import client as redis_client
from tests.conftest import need_server

MINUTE = datetime(2026, 3, 2, 9, 30, 45, tzinfo=ZoneInfo("Europe/Paris"))


@pytest.fixture
def limits(settings):  # noqa: ANN001, ANN201
    settings.AVIS_API_RATE_PER_KEY = 3
    settings.AVIS_API_RATE_PER_ADDRESS = 5
    return settings


@pytest.mark.django_db
def test_a_key_over_its_limit_gets_429_with_retry_after_until_the_next_minute(org, api, limits) -> None:
    _, other_key = create_api_key(organisation=org.organisation, name="other")
    other = Client(headers={"Authorization": f"Bearer {other_key}"}, REMOTE_ADDR="198.51.100.4")
    with time_machine.travel(MINUTE, tick=False):
        assert [api.get("/api/v1/touchpoints").status_code for _ in range(3)] == [200, 200, 200]
        refused = api.get("/api/v1/touchpoints")
        assert refused.status_code == 429
        assert refused["Retry-After"] == "15"
        assert refused.json()["code"] == "rate_limited"
        assert other.get("/api/v1/touchpoints").status_code == 200  # another key: its own count
    with time_machine.travel(MINUTE + timedelta(seconds=15), tick=False):
        assert api.get("/api/v1/touchpoints").status_code == 200


@pytest.mark.django_db
def test_an_address_over_its_limit_gets_429_whatever_it_sends(limits) -> None:
    stranger = Client(REMOTE_ADDR="203.0.113.50")
    with time_machine.travel(MINUTE, tick=False):
        answers = [stranger.get("/api/v1/touchpoints").status_code for _ in range(6)]
        assert answers == [401] * 5 + [429]
        # Made-up keys count against the address too: guessing keys is throttled.
        guess = Client(REMOTE_ADDR="203.0.113.50", headers={"Authorization": "Bearer avis_0123456789ab_x"})
        assert guess.get("/api/v1/touchpoints").status_code == 429
        assert Client(REMOTE_ADDR="203.0.113.51").get("/api/v1/touchpoints").status_code == 401


@pytest.mark.django_db
def test_pages_are_not_counted(org, limits) -> None:
    client = Client(REMOTE_ADDR="203.0.113.52")
    with time_machine.travel(MINUTE, tick=False):
        assert {client.get("/login/").status_code for _ in range(8)} == {200}


@pytest.mark.django_db(transaction=True)
def test_another_process_counts_in_the_same_database(limits) -> None:
    """Two web processes share one count: what one counted, the other sees."""
    settings_dict = connection.settings_dict
    if connection.vendor == "sqlite":
        url = f"sqlite:///{settings_dict['NAME']}"
    else:
        url = "postgres://{USER}@{HOST}:{PORT}/{NAME}".format(**settings_dict)
    code = (
        "import django; django.setup();"
        "from avis.accounts.throttling import count_request;"
        "at = 1_700_000_000.0;"
        "print(count_request('key:shared', now=at), count_request('key:shared', now=at))"
    )
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "avis.settings"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)  # noqa: S603
    assert done.stdout.split() == ["1", "2"], done.stderr
    assert throttling.count_request("key:shared", now=1_700_000_010.0) == 3
    assert throttling.count_request("key:shared", now=1_700_000_060.0) == 1  # the next minute


def test_counts_go_to_redis_when_it_is_configured(settings) -> None:
    need_server("127.0.0.1", 6379, "Redis")
    settings.AVIS_REDIS_URL = "redis://127.0.0.1:6379/13"
    redis_client.cache_clear()
    try:
        redis_client().flushdb()
        assert [throttling.count_request("ip:192.0.2.1", now=1_700_000_000.0) for _ in range(3)] == [1, 2, 3]
        assert redis_client().ttl("avis:rate:ip:192.0.2.1:28333333") > 0
        assert throttling.count_request("ip:192.0.2.1", now=1_700_000_060.0) == 1
    finally:
        redis_client().flushdb()
        redis_client.cache_clear()


@pytest.mark.django_db
def test_while_redis_is_unreachable_api_requests_go_through_uncounted(org, api, limits) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on: Redis restarting
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    limits.AVIS_REDIS_URL = f"redis://127.0.0.1:{port}/0"
    redis_client.cache_clear()
    try:
        statuses = [api.get("/api/v1/touchpoints").status_code for _ in range(5)]
    finally:
        redis_client.cache_clear()
    assert statuses == [200] * 5  # over the limit of 3, but nothing could count them
