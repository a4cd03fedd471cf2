"""`avis serve` answers respondents while every UI thread is busy with a slow page.

A real waitress server on a real socket, built by the command's own ``bind`` with its lanes; the
application is avis's, wrapped so that ``/slow-report`` holds its thread until the test lets it go
(a report or an export that takes minutes). The respondent's page and answer come back while the
reports are still in flight, and a UI page sent meanwhile waits for a report to end.
"""

from __future__ import annotations

import threading
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connections

from avis.dashboard.management.commands.serve import bind
from avis.surveys.models import Invitation, InvitationStatus
from avis.wsgi import application
from tests.helpers import open_all_day, post_interaction

# The lanes are waitress's threads, the same on either engine.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.engine_independent]


def _fetch(url: str, data: dict[str, str] | None = None) -> tuple[int, str]:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    with urllib.request.urlopen(url, data=body, timeout=30) as reply:  # noqa: S310 - our own server
        return reply.status, reply.read().decode()


def test_a_respondent_is_answered_while_every_ui_thread_is_busy(org, api) -> None:  # noqa: ANN001
    open_all_day(org.organisation, quarantine_days=0)
    post_interaction(api, "evt-1", customer="C-1")
    token = Invitation.objects.get().token
    in_flight = threading.Semaphore(0)
    release = threading.Event()

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        try:
            if environ["PATH_INFO"] == "/slow-report":
                in_flight.release()
                release.wait(60)
                start_response("200 OK", [("Content-Type", "text/plain")])
                return [b"report"]
            return application(environ, start_response)
        finally:
            connections.close_all()  # this thread's connection ends with its request

    server = bind(host="127.0.0.1", port=0, threads=2, respondent_threads=1, application=app)
    site = f"http://127.0.0.1:{server.effective_port}"
    threading.Thread(target=server.run, daemon=True).start()
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            reports = [pool.submit(_fetch, f"{site}/slow-report") for _ in range(3)]
            for _ in range(2):  # both UI threads hold a report; the third waits in the queue
                assert in_flight.acquire(timeout=30)
            ui_page = pool.submit(_fetch, f"{site}/login/")

            status, page = _fetch(f"{site}/s/{token}")
            assert status == 200
            assert 'name="nps"' in page
            status, thanks = _fetch(f"{site}/s/{token}", {"nps": "9", "resolved": "yes", "agent": "5"})
            assert status == 200
            assert Invitation.objects.get().status == InvitationStatus.RESPONDED
            # Answered while the reports were still running, and before the UI page sent earlier.
            assert not any(report.done() for report in reports)
            assert not ui_page.done()

            release.set()
            assert [report.result(timeout=30) for report in reports] == [(200, "report")] * 3
            assert ui_page.result(timeout=30)[0] == 200
    finally:
        release.set()
        server.close()
