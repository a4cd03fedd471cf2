"""Many processes deciding for the same customers at once break no cap, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from avis.governance.models import Decision
from avis.governance.queries import contact_rule_breaches
from tests.helpers import open_all_day
from tests.messaging.conftest import database_url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
PROCESSES, PER_PROCESS, CUSTOMERS = 6, 20, 6


def test_six_processes_deciding_for_the_same_six_customers_break_no_rule(org) -> None:
    open_all_day(
        org.organisation,
        windows=[{"max": 2, "days": 30}, {"max": 3, "days": 365}],
        quarantine_days=0,
        touchpoint_gaps={"claim.settled": 20},
        priorities={"claim.settled": 5},
    )
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "AVIS_HUEY_IMMEDIATE": "false",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    processes = [
        subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                str(ROOT / "tests/governance/decide_in_process.py"),
                str(org.organisation.id),
                str(number),
                str(PER_PROCESS),
                str(CUSTOMERS),
            ],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        for number in range(PROCESSES)
    ]
    outputs = [process.communicate(timeout=300)[0].decode() for process in processes]
    assert [process.returncode for process in processes] == [0] * PROCESSES, outputs
    decisions = Decision.objects.filter(organisation=org.organisation)
    assert decisions.count() == PROCESSES * PER_PROCESS
    surveys = decisions.filter(outcome__in=["invite", "defer"]).count()
    # Every customer reached its cap, and not one survey more.
    assert surveys == 2 * CUSTOMERS
    assert contact_rule_breaches(organisation=org.organisation) == []
