"""HTTP hardening: a strict Content-Security-Policy, HTTPS settings derived from AVIS_BASE_URL, no copy
of signed-in pages kept by browsers, and `avis check --deploy` clean in the production configuration."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from tests.factories import PASSWORD

SRC = Path(__file__).resolve().parents[2] / "src" / "avis"
# Rendered for mail clients and the PDF renderer, never served to a browser as a page.
NOT_PAGES = {"invitation_email.html", "report.html", "wave_report.html"}
INLINE = re.compile(
    r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")|<style|\sstyle=|\son[a-z]+=|hx-on"
)


def _production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    # Not the test run's own settings: its database, nor the browser tests' async switch.
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env.update(
        AVIS_VAR_DIR=str(tmp_path),
        AVIS_BASE_URL="https://avis.example.fr",
        AVIS_ALLOWED_HOSTS="avis.example.fr",
        AVIS_SECRET_KEY=secrets.token_urlsafe(60),
        AVIS_DEBUG="false",
        PYTHONPATH=str(SRC.parent),
    )
    env.update(extra)
    return env


def test_check_deploy_is_clean_in_the_production_configuration(tmp_path: Path) -> None:
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "avis.cli", "check", "--deploy", "--fail-level", "WARNING"],
        env=_production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_an_https_base_url_turns_on_hsts_ssl_redirect_and_secure_cookies(tmp_path: Path) -> None:
    script = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS > 0, "
        "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)"
    )
    run = {"capture_output": True, "text": True, "timeout": 60}
    https = subprocess.run([sys.executable, "-c", script], env=_production_env(tmp_path), **run)  # noqa: S603
    assert https.stdout.split() == ["True", "True", "True", "True"], https.stderr
    plain = _production_env(tmp_path, AVIS_BASE_URL="http://127.0.0.1:8000")
    local = subprocess.run([sys.executable, "-c", script], env=plain, **run)  # noqa: S603
    assert local.stdout.split() == ["False", "False", "False", "False"], local.stderr


@pytest.mark.django_db
def test_pages_carry_a_csp_without_unsafe_inline_and_signed_in_pages_are_not_stored(org) -> None:
    client = Client()
    login = client.get("/login/")
    policy = login["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert client.login(username=org.manager_email, password=PASSWORD)
    for path in ["/", "/cases/", "/analytics/"]:
        page = client.get(path)
        assert page.status_code == 200, path
        assert "no-store" in page["Cache-Control"], path
        assert "unsafe-inline" not in page["Content-Security-Policy"], path


def test_no_template_served_as_a_page_has_inline_script_or_style() -> None:
    found = []
    for template in SRC.rglob("templates/**/*.html"):
        if template.name in NOT_PAGES:
            continue
        for number, line in enumerate(template.read_text(encoding="utf-8").splitlines(), 1):
            if INLINE.search(line):
                found.append(f"{template.relative_to(SRC)}:{number}: {line.strip()[:80]}")
    assert not found, "\n".join(found)


def test_htmx_is_told_not_to_inject_its_indicator_styles() -> None:
    for base in ["templates/base.html", "surveys/templates/surveys/base_respondent.html"]:
        assert '"includeIndicatorStyles": false' in (SRC / base).read_text(encoding="utf-8"), base
