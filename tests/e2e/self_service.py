"""What both self-service tests share: the files a company brings, and `avis` run as a separate program."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

from django.db import connection

CUSTOMERS = 1000
PAST_INTERACTIONS = 5000
# One bad row in the customers' file, two in the interactions': line numbers count the header as line 1.
BAD_CUSTOMER_LINE = 1 + 417
BAD_TOUCHPOINT_LINE = 1 + 1200
BAD_DATE_LINE = 1 + 3333


def customers_file() -> bytes:
    """1,000 customers as Excel in French saves them: semicolons, Windows-1252, French phone numbers."""
    lines = ["Numéro client;Portable;Email;Langue;Segment"]
    for i in range(CUSTOMERS):
        phone = "06 12" if 1 + i + 1 == BAD_CUSTOMER_LINE else f"06 {20 + i // 100:02d} {i % 100:02d} 11 22"
        lines.append(
            f"C-{i:04d};{phone};client{i}@garage-martin.example;fr;{'pro' if i % 5 == 0 else 'particulier'}"
        )
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


def interactions_file(*, code: str, now: datetime) -> bytes:
    """5,000 past visits over the last year, in French dates; one names a touchpoint that doesn't exist and
    one a day that doesn't."""
    lines = ["Référence;Étape;Date;Numéro client;Conseiller;Agence"]
    for i in range(PAST_INTERACTIONS):
        line = 1 + i + 1
        when = (now - timedelta(days=400) + timedelta(minutes=97 * i)).strftime("%d/%m/%Y %H:%M")
        step = "atelier.inconnu" if line == BAD_TOUCHPOINT_LINE else code
        if line == BAD_DATE_LINE:
            when = "31/02/2026 10:00"
        lines.append(
            f"H-{i:05d};{step};{when};C-{i % CUSTOMERS:04d};A-{i % 7};{'lyon' if i % 2 else 'vienne'}"
        )
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


def plain_text(message) -> str:  # noqa: ANN001
    """The plain-text part of an email caught by the test's SMTP server."""
    part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    return part.get_payload(decode=True).decode()


def avis(*args: str) -> subprocess.CompletedProcess[str]:
    """The `avis` command in its own process, on the test database, as an administrator would type it."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        url = f"sqlite:///{settings['NAME']}"
    else:
        url = f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"
    env = os.environ | {"DATABASE_URL": url}
    command = [str(Path(sys.executable).parent / "avis"), *args]
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=600
    )  # noqa: S603
    assert done.returncode == 0, done.stderr
    return done
