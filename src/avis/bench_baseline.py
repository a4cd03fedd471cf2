"""The baseline of ``bench/respond.py``: the least a respondent's page could do on this server.

``GET`` answers a small form without reading anything; ``POST`` inserts one row with the posted
answers. Routed at ``/bench/baseline/<token>`` only when ``AVIS_BENCH_BASELINE`` is set (the
bench's own server): it goes through the same server, middleware and database as
``/s/<token>``, so the bench's ratio is the price of avis's own work on that path.
"""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

TABLE = "bench_baseline_answer"


def create_table() -> None:
    """The baseline's one table (PostgreSQL), made by the bench before the server starts."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE} "
            "(id bigserial PRIMARY KEY, token text NOT NULL, answers text NOT NULL, at timestamptz NOT NULL)"
        )


@csrf_exempt
def baseline(request: HttpRequest, token: str) -> HttpResponse:
    if request.method == "POST":
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {TABLE} (token, answers, at) VALUES (%s, %s, %s)",  # noqa: S608 - a constant
                [token, request.POST.urlencode(), timezone.now()],
            )
        return HttpResponse("<!doctype html><title>Thanks</title><p>Thank you.</p>")
    form = '<form method="post"><input name="nps"><button>Send</button></form>'
    return HttpResponse(f"<!doctype html><title>Survey</title>{form}")
