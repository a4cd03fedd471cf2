"""Redis stops while a real `avis web` (gunicorn) serves: the web degrades instead of failing.

A signed-in manager keeps their pages (sessions are read from the database when the cache cannot
answer), the API keeps taking interactions (rate limits let them through uncounted, the queue's
wake-ups are left to the sweeps), sign-in throttling still locks out (django-axes counts in the
database), /readyz says Redis is down, and when Redis is back the cache serves again."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from tests.cluster import REDIS, PrivateRedis
from tests.factories import interaction_payload
from tests.helpers import open_all_day
from tests.operations.test_web_processes import _stop, sign_in, start_web

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def web_on_a_private_redis(tmp_path: Path):  # noqa: ANN201
    if not Path(REDIS).exists():
        pytest.skip("redis-server is not installed")
    redis = PrivateRedis(tmp_path / "redis")
    redis.start()
    process, base = start_web(
        tmp_path,
        "web",
        processes=1,
        AVIS_REDIS_URL=redis.url,
        AVIS_HUEY_NAME="avis-redis-down",
        AVIS_API_RATE_PER_KEY="100",
        AVIS_LOGIN_FAILURE_LIMIT="2",
        AVIS_LOG_LEVEL="WARNING",
    )
    try:
        yield redis, base
    finally:
        _stop(process)
        redis.stop()


def test_with_redis_stopped_a_signed_in_manager_keeps_their_pages_and_the_api_takes_interactions(
    tmp_path, org, web_on_a_private_redis
) -> None:
    redis, base = web_on_a_private_redis
    open_all_day(org.organisation)
    browser = httpx.Client(timeout=30)
    assert sign_in(browser, org, form_from=base, post_to=base).status_code == 302
    assert browser.get(f"{base}/").status_code == 200  # the session is in Redis (and the database)
    key = {"Authorization": f"Bearer {org.api_key}", "Content-Type": "application/json"}

    time.sleep(1.1)  # Redis's append-only file has the session (synced every second)
    redis.stop()

    for page in ("/", "/profile/"):
        answer = browser.get(f"{base}{page}")
        assert answer.status_code == 200, (page, answer.status_code)  # signed in: not sent to /login/
        assert 'action="/logout/"' in answer.text
    body = json.dumps(interaction_payload("redis-down-1", customer="RD-1", email="rd1@example.fr"))
    posted = httpx.post(f"{base}/api/v1/interactions", content=body, headers=key, timeout=30)
    assert posted.status_code == 200, posted.text
    assert httpx.get(f"{base}/api/v1/touchpoints", headers=key, timeout=30).status_code == 200
    ready = httpx.get(f"{base}/readyz", timeout=30)
    assert ready.status_code == 200 and ready.json()["status"] == "degraded"
    assert ready.json()["checks"]["redis"]["ok"] is False
    assert ready.json()["checks"]["database"]["ok"] is True
    # Signing in works from the database alone, and throttling does not open: two refusals lock out.
    stranger = httpx.Client(timeout=30)
    refusals = [sign_in(stranger, org, form_from=base, post_to=base, password="wrong") for _ in range(2)]
    assert [refused.status_code for refused in refusals] == [200, 429]
    assert sign_in(stranger, org, form_from=base, post_to=base).status_code == 429  # even the right one
    # Signing out during the outage holds when Redis comes back with its old copy of the session.
    session = browser.cookies["sessionid"]
    browser.post(f"{base}/logout/", data={"csrfmiddlewaretoken": browser.cookies["csrftoken"]})

    redis.start()

    assert httpx.get(f"{base}/readyz", timeout=30).json()["status"] == "ok"
    log = tmp_path / "web.log"
    old_cookie = httpx.Client(timeout=30, cookies={"sessionid": session})
    while "Redis is back" not in log.read_text():  # the cache tries Redis again within 5 s
        assert old_cookie.get(f"{base}/").status_code == 302  # to the login page
        time.sleep(0.5)
    assert old_cookie.get(f"{base}/").status_code == 302
    assert log.read_text().count("Redis is unreachable") == 1
