"""The tests' clock: the whole suite can run at one instant, and each time-sensitive test at many.

`AVIS_TEST_NOW=2026-12-06T07:30:00+01:00 ./dev test` runs every test as if it were that instant
(the clock then ticks on from it). Worker processes that tests start follow the same clock:
`tests/clock_site/sitecustomize.py` reads the two variables below in every child Python.

`pytest --each-instant -m clock` runs each test marked `clock` once per instant of `INSTANTS`,
the moments where sending windows, business hours and periods are most likely to be wrong.
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path

NOW_VARIABLE = "AVIS_TEST_NOW"
# When (on the real clock, seconds since the epoch) the parent process started at AVIS_TEST_NOW:
# a child started later starts as far past AVIS_TEST_NOW as the parent has ticked since.
SINCE_VARIABLE = "AVIS_TEST_NOW_SINCE"
SITE_DIR = Path(__file__).resolve().parent / "clock_site"

# Paris time unless the offset says otherwise: the demo organisation's and the default zone.
INSTANTS = {
    "weekday-0300": "2026-12-02T03:00:00+01:00",
    "weekday-0730": "2026-12-02T07:30:00+01:00",
    "weekday-1200": "2026-12-02T12:00:00+01:00",
    "weekday-2059": "2026-12-02T20:59:00+01:00",
    "weekday-2330": "2026-12-02T23:30:00+01:00",
    "sunday": "2026-12-06T10:00:00+01:00",
    "bastille-day": "2027-07-14T11:00:00+02:00",
    # The last Sunday of March: 02:00 becomes 03:00 (half an hour before, and just after).
    "dst-spring-before": "2027-03-28T01:30:00+01:00",
    "dst-spring-after": "2027-03-28T03:10:00+02:00",
    # The last Sunday of October: 03:00 goes back to 02:00 (inside the repeated hour, second pass).
    "dst-autumn": "2027-10-31T02:30:00+01:00",
    "new-year-eve": "2026-12-31T23:30:00+01:00",
    "new-year": "2027-01-01T00:30:00+01:00",
}


def parse_instant(text: str) -> datetime:
    instant = datetime.fromisoformat(text)
    if instant.tzinfo is None:
        raise ValueError(f"{NOW_VARIABLE}={text!r} needs a UTC offset, e.g. 2026-12-06T07:30:00+01:00")
    return instant


def configured_instant() -> datetime | None:
    text = os.environ.get(NOW_VARIABLE, "").strip()
    return parse_instant(text) if text else None


def start_travel() -> object | None:
    """Travel to AVIS_TEST_NOW (as far past it as the first process has ticked), if it is set."""
    instant = configured_instant()
    if instant is None:
        return None
    import time_machine

    # The real clock, even in a process already travelling (sitecustomize started it as a
    # pytest-xdist worker began): reading the travelled one would add the months travelled to
    # the elapsed time and leave this process ahead of, or behind, its own children.
    if time_machine.escape_hatch.is_travelling():
        real_now = time_machine.escape_hatch.time.time()
    else:
        real_now = time.time()
    since = float(os.environ.setdefault(SINCE_VARIABLE, repr(real_now)))
    elapsed = max(0.0, real_now - since)
    traveller = time_machine.travel(instant.timestamp() + elapsed, tick=True)
    traveller.start()
    # Children (worker processes, deciding processes) import sitecustomize from here.
    path = os.environ.get("PYTHONPATH", "")
    if str(SITE_DIR) not in path.split(os.pathsep):
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(SITE_DIR), path) if p)
    return traveller
