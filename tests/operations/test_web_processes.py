"""Two real `avis web` (gunicorn) processes behind one address (Debian's nginx with deploy/'s proxy
settings, round-robin): a sign-in made on one is honoured by the other, the API rate limit counts
the requests of both together, and the Prometheus endpoint sums the counts of gunicorn's processes."""

from __future__ import annotations

import os
import re
import shutil
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

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.slow]


def start_web(tmp_path: Path, name: str, processes: int, **env: str) -> tuple[subprocess.Popen[bytes], str]:
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
                "AVIS_BEHIND_PROXY": "true",
                "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / f"{name}-prometheus"),
                **env,
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / f"{name}.log"
    assert wait_for(lambda: _answers(base), timeout=90), log.read_text()
    # The one that answers is this test's gunicorn, not another process's on the same port.
    assert f"Listening at: {base} ({process.pid})" in log.read_text(), log.read_text()
    return process, base


def start_nginx(tmp_path: Path, upstreams: list[str]) -> tuple[subprocess.Popen[bytes], str]:
    """Debian's nginx in front, with deploy/'s proxy settings: one address, round-robin."""
    port = free_port()
    servers = " ".join(f"server {urlparse(each).netloc};" for each in upstreams)
    temp = " ".join(
        f"{each}_temp_path {tmp_path};" for each in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid; error_log {tmp_path}/nginx-error.log; events {{}}\n"
        f"http {{ {temp} access_log off; upstream avis_web {{ {servers} keepalive 8; }}\n"
        f"server {{ listen 127.0.0.1:{port}; location / {{ proxy_pass http://avis_web; "
        f"include {DEPLOY / 'avis_proxy_params'}; }} }} }}\n",
        encoding="utf-8",
    )
    process = subprocess.Popen(  # noqa: S603
        ["nginx", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path), "-g", "daemon off;"],  # noqa: S607
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    assert wait_for(lambda: _answers(base), timeout=30), (tmp_path / "nginx-error.log").read_text()
    return process, base


def sign_in(
    browser: httpx.Client, org, *, form_from: str, post_to: str, password: str = PASSWORD
) -> httpx.Response:  # noqa: ANN001
    """The manager signs in as a browser does: the form (its CSRF cookie) from one address, the post
    to another. The processes run avis's real settings, so their hasher, not the tests' fast one."""
    get_user_model().objects.filter(username=org.manager_email.lower()).update(
        password=PBKDF2PasswordHasher().encode(PASSWORD, PBKDF2PasswordHasher().salt())
    )
    browser.get(f"{form_from}/login/")
    return browser.post(
        f"{post_to}/login/",
        data={
            "username": org.manager_email,
            "password": password,
            "csrfmiddlewaretoken": browser.cookies["csrftoken"],
        },
    )


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()  # gunicorn's graceful stop; nginx's fast one
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def two_web_processes(tmp_path: Path):  # noqa: ANN201
    """(a, b, front): two `avis web`, and nginx in front of both when Debian's nginx is installed
    (else the test alternates between them itself)."""
    if not settings.AVIS_REDIS_URL:
        pytest.skip("sessions, cache and rate limits are shared through Redis: run with AVIS_REDIS_URL")
    url = urlparse(settings.AVIS_REDIS_URL)
    need_server(url.hostname or "127.0.0.1", url.port or 6379, "Redis")
    started = []
    try:
        started.append(start_web(tmp_path, "a", processes=2))
        started.append(start_web(tmp_path, "b", processes=1))
        bases = [base for _, base in started]
        if shutil.which("nginx") or Path("/usr/sbin/nginx").exists():
            started.append(start_nginx(tmp_path, bases))
            bases.append(started[-1][1])
        else:
            bases.append(None)
        yield bases
    finally:
        for process, _ in reversed(started):
            _stop(process)


def test_any_web_process_answers_the_same_session_and_the_same_rate_limit(
    tmp_path, org, two_web_processes
) -> None:
    a, b, front = two_web_processes
    bases = [front] * 8 if front else [a, b] * 4  # one address (nginx, round-robin), or alternating
    browser = httpx.Client(timeout=60)
    signed_in = sign_in(browser, org, form_from=bases[0], post_to=bases[1])
    assert signed_in.status_code == 302, signed_in.text
    for base in bases[:4]:
        profile = browser.get(f"{base}/profile/")
        assert profile.status_code == 200, (base, profile.status_code)

    # Five API requests a minute for this key, counted on both processes together (in one minute).
    if time.time() % 60 > 45:
        time.sleep(61 - time.time() % 60)
    key = {"Authorization": f"Bearer {org.api_key}"}
    statuses = [
        httpx.get(f"{base}/api/v1/touchpoints", headers=key, timeout=60).status_code for base in bases
    ]
    assert statuses.count(200) == 5 and statuses[5:] == [429, 429, 429], statuses

    # Both processes answered the signed-in pages and the API.
    for name in ("a", "b"):
        log = (tmp_path / f"{name}.log").read_text()
        assert "GET /profile/ status=200" in log and "GET /api/v1/touchpoints status=" in log, name
    # Each scrape sums its gunicorn's processes; the two together saw the five answered.
    answered = 0.0
    for base in (a, b):
        metrics = httpx.get(f"{base}/-/metrics", timeout=60).text
        found = re.search(r'avis_http_requests_total\{route="api",status="2xx"\} ([0-9.]+)', metrics)
        answered += float(found.group(1)) if found else 0.0
    assert answered == 5


def test_a_sigterm_lets_gunicorn_finish_and_exit(tmp_path: Path) -> None:
    process, base = start_web(tmp_path, "alone", processes=1)
    assert httpx.get(f"{base}/readyz", timeout=60).json()["status"] == "ok"
    process.terminate()
    assert process.wait(timeout=40) == 0
    assert "Shutting down: Master" in (tmp_path / "alone.log").read_text()
