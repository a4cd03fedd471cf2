"""``avis simulate`` replays a small history under two policies and prints them side by side."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from avis.governance.models import Decision
from avis.governance.services import create_sampling_goal

pytestmark = pytest.mark.django_db

HISTORY = """external_id,touchpoint,occurred_at,customer_id,agent,team,email,phone,employee
e1,call_center.call,2026-03-02T11:00:00+01:00,C-1,A-1,lyon,marie@example.fr,,no
e2,branch.visit,2026-03-05T11:00:00+01:00,C-1,A-2,lyon,marie@example.fr,,no
e3,call_center.call,2026-03-09T11:00:00+01:00,C-1,A-1,lyon,marie@example.fr,,no
e4,call_center.call,2026-03-09T15:00:00+01:00,C-2,A-1,paris,,+33612345678,no
e5,claim.settled,2026-03-10T12:00:00+01:00,C-3,,paris,paul@example.fr,,yes
e6,call_center.call,2026-04-20T11:00:00+02:00,C-1,A-1,lyon,marie@example.fr,,no
"""


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    history = tmp_path / "history.csv"
    history.write_text(HISTORY, encoding="utf-8")
    strict = tmp_path / "strict.json"
    strict.write_text(
        json.dumps(
            {
                "windows": [{"max": 1, "days": 30}],
                "exclusions": [{"attribute": "employee", "operator": "is_true"}],
                "send_from": "00:00",
                "send_until": "00:00",
                "goals": [{"metric": "nps", "dimension": "team", "period": "month", "margin": 10}],
            }
        ),
        encoding="utf-8",
    )
    loose = tmp_path / "loose.json"
    loose.write_text(
        json.dumps({"windows": [{"max": 5, "days": 30}], "quarantine_days": 0, "send_from": "00:00",
                    "send_until": "00:00"}),
        encoding="utf-8",
    )  # fmt: skip
    return {"history": history, "strict": strict, "loose": loose}


def run(*args: str) -> str:
    out = StringIO()
    call_command("simulate", *args, stdout=out)
    return out.getvalue()


def test_two_policies_side_by_side_as_json(files) -> None:
    before = Decision.objects.count()
    data = json.loads(
        run("--policy", str(files["strict"]), "--compare", str(files["loose"]),
            "--interactions", str(files["history"]), "--json", "--sms-cost", "0.07")
    )  # fmt: skip
    assert data["interactions"] == 6
    assert data["customers"] == 3
    strict, loose = data["policies"]
    assert (strict["label"], loose["label"]) == ("strict", "loose")
    # Strict: C-1 once in March and once in April, C-2 by SMS, C-3 excluded as an employee.
    assert strict["surveys"] == 3
    assert strict["outcomes"]["skip/excluded"] == 1
    assert strict["outcomes"]["skip/cap_reached"] == 2
    assert strict["messages"] == {"email": 2, "sms": 1}
    assert strict["cost"] == "0.07"
    assert (strict["median"], strict["p95"], strict["max"]) == (1, 2, 2)
    # Loose: everyone, every time.
    assert loose["surveys"] == 6
    assert loose["max"] == 4
    assert loose["share_surveyed"] == 1.0
    (goal,) = strict["goals"]
    # The history starts on 2 March and ends on 20 April: both months are partial, shown apart and never
    # counted as failures.
    assert (goal["met"], goal["periods"], goal["strata"]) == (0, 0, [])
    assert {(s["stratum"], s["period"]) for s in goal["partial"]} == {
        ("lyon", "2026-03"),
        ("paris", "2026-03"),
        ("lyon", "2026-04"),
    }
    assert goal["verdict"] == "no complete team-month in the history"
    assert loose["goals"][0]["partial"] == goal["partial"] or loose["goals"][0]["partial"]  # every side
    assert Decision.objects.count() == before  # nothing written


def test_table_shows_both_policies(files) -> None:
    text = run("--policy", str(files["strict"]), "--compare", str(files["loose"]),
               "--interactions", str(files["history"]))  # fmt: skip
    assert "strict" in text and "loose" in text
    assert "customers surveyed" in text
    assert "no complete team-month in the history" in text
    assert "partial periods, shown apart" in text


def test_stored_version_of_an_organisation(org, files) -> None:
    data = json.loads(
        run("--policy", "current", "--organisation", org.organisation.slug,
            "--interactions", str(files["history"]), "--json")
    )  # fmt: skip
    assert data["policies"][0]["label"] == "v1"


def test_a_bad_file_is_a_clear_error(files, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"windows": [{"max": 0, "days": 30}]}', encoding="utf-8")
    with pytest.raises(CommandError, match="from 1 to"):
        run("--policy", str(bad), "--interactions", str(files["history"]))
    unsorted = tmp_path / "unsorted.csv"
    lines = HISTORY.splitlines()
    unsorted.write_text("\n".join([lines[0], lines[3], lines[1]]) + "\n", encoding="utf-8")
    with pytest.raises(CommandError, match="not in order"):
        run("--policy", str(files["loose"]), "--interactions", str(unsorted))


def test_goals_belong_to_the_side_that_samples_toward_them(org, files, tmp_path: Path) -> None:
    """An organisation with a goal: 'current' samples toward it, a file of rates 1.0 asks everyone."""
    create_sampling_goal(
        organisation=org.organisation, metric="nps", dimension="team", period="month", margin=10
    )
    everyone = tmp_path / "all.json"
    everyone.write_text(json.dumps({"default_sampling_rate": 1.0}), encoding="utf-8")
    data = json.loads(
        run("--policy", "current", "--compare", str(everyone), "--side", "current@0.35",
            "--organisation", org.organisation.slug, "--interactions", str(files["history"]),
            "--goal", "csat/touchpoint/quarter/5", "--json")
    )  # fmt: skip
    current, all_rates, fixed = data["policies"]
    assert (current["strategy"], current["rates"]) == ("goals", None)
    assert (all_rates["strategy"], all_rates["rates"]) == ("rates", {"*": 1.0})
    assert (fixed["strategy"], fixed["rates"]) == ("0.35", {"*": 0.35})
    # Every side reports every goal named: the organisation's and the one given on the command line.
    for side in data["policies"]:
        assert [g["description"] for g in side["goals"]] == [
            "NPS per team or site per month within ±10 points",
            "CSAT per touchpoint per quarter within ±5 points",
        ]


def test_a_strategy_needs_a_goal_and_a_bad_one_is_named(files) -> None:
    with pytest.raises(CommandError, match="needs a precision goal"):
        run("--policy", f"{files['loose']}@cheapest", "--interactions", str(files["history"]))
    with pytest.raises(CommandError, match="a rate such as 0.35"):
        run("--policy", f"{files['loose']}@often", "--interactions", str(files["history"]))
    with pytest.raises(CommandError, match="metric/dimension/period/margin"):
        run("--policy", str(files["loose"]), "--goal", "nps/team", "--interactions", str(files["history"]))
