"""Two real `avis web` (gunicorn) processes behind one address, as a load balancer alternates them:
a sign-in made on one is honoured by the other, the API rate limit counts requests on both together,
and the Prometheus endpoint sums the request counts of gunicorn's processes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from tests.conftest import need_server
from tests.factories import PASSWORD
from tests.messaging.conftest import database_url, wait_for
from tests.operations.conftest import free_port

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.slow]


def start_web(tmp_path: Path, name: str, processes: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with (tmp_path / f"{name}.log").open("ab") as log:
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "avis.cli", "web", "--processes", str(processes), "--threads", "2"]
            + ["--bind", f"127.0.0.1:{port}"],
            env={
                **os.environ,
                "DATABASE_URL": database_url(),
                "AVIS_HUEY_IMMEDIATE": "false",
                "AVIS_API_RATE_PER_KEY": "5",
                "AVIS_API_RATE_PER_ADDRESS": "0",
                "AVIS_PROMETHEUS_CACHE_SECONDS": "0",
                "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / f"{name}-prometheus"),
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    assert wait_for(answers, timeout=90), (tmp_path / f"{name}.log").read_text()
    return process, base


@pytest.fixture
def two_web_processes(tmp_path: Path):  # noqa: ANN201
    if not settings.AVIS_REDIS_URL:
        pytest.skip("sessions, cache and rate limits are shared through Redis: run with AVIS_REDIS_URL")
    url = urlparse(settings.AVIS_REDIS_URL)
    need_server(url.hostname or "127.0.0.1", url.port or 6379, "Redis")
    started = []
    try:
        started.append(start_web(tmp_path, "a", processes=2))
        started.append(start_web(tmp_path, "b", processes=1))
        yield [base for _, base in started]
    finally:
        for process, _ in started:
            process.terminate()  # gunicorn's graceful stop
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_any_web_process_answers_the_same_session_and_the_same_rate_limit(org, two_web_processes) -> None:
    a, b = two_web_processes
    # The tests' fast hasher is not the processes' (they run avis's real settings).
    get_user_model().objects.filter(username=org.manager_email.lower()).update(
        password=PBKDF2PasswordHasher().encode(PASSWORD, PBKDF2PasswordHasher().salt())
    )
    browser = httpx.Client(timeout=60)
    browser.get(f"{a}/login/")
    signed_in = browser.post(
        f"{b}/login/",
        data={
            "username": org.manager_email,
            "password": PASSWORD,
            "csrfmiddlewaretoken": browser.cookies["csrftoken"],
        },
    )
    assert signed_in.status_code == 302, signed_in.text
    for base in (a, b, a, b):
        profile = browser.get(f"{base}/profile/")
        assert profile.status_code == 200, (base, profile.status_code)

    # Five API requests a minute for this key, counted on both processes together (in one minute).
    if time.time() % 60 > 45:
        time.sleep(61 - time.time() % 60)
    key = {"Authorization": f"Bearer {org.api_key}"}
    statuses = [
        httpx.get(f"{base}/api/v1/touchpoints", headers=key, timeout=60).status_code for base in (a, b) * 4
    ]
    assert statuses.count(200) == 5 and statuses[5:] == [429, 429, 429], statuses

    # Process a's two gunicorn processes each answered some; the scrape sums them.
    metrics = httpx.get(f"{a}/-/metrics", timeout=60).text
    found = re.search(r'avis_http_requests_total\{route="api",status="2xx"\} ([0-9.]+)', metrics)
    assert found and float(found.group(1)) == statuses[0::2].count(200), metrics[-3000:]


def test_a_sigterm_lets_gunicorn_finish_and_exit(tmp_path: Path) -> None:
    process, base = start_web(tmp_path, "alone", processes=1)
    assert httpx.get(f"{base}/readyz", timeout=60).json()["status"] == "ok"
    process.terminate()
    assert process.wait(timeout=40) == 0
    assert "Shutting down: Master" in (tmp_path / "alone.log").read_text()
