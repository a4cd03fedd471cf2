"""The response rate is a metric like the others: from the roll-ups, with n, a Wilson interval and filters."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from statsmodels.stats.proportion import proportion_confint

from avis.analytics.models import DailyRollup
from avis.analytics.queries import metric_values
from avis.analytics.services import rebuild_rollups, record_invitations_in_rollups
from avis.surveys.models import Invitation
from tests.analytics.answering import survey_and_answer
from tests.helpers import open_all_day

pytestmark = pytest.mark.django_db(transaction=True)  # invitations are sent on commit
PARIS = ZoneInfo("Europe/Paris")


def _rate(org, **filters) -> object:  # noqa: ANN001, ANN003
    (value,) = metric_values(
        organisation=org.organisation, metric="response_rate", period="all", group_by=[], **filters
    )
    return value


def test_response_rate_has_n_and_the_wilson_interval_under_every_filter(org) -> None:
    open_all_day(org.organisation)
    march = datetime(2026, 3, 10, 11, tzinfo=PARIS)
    survey_and_answer(org, march, [10, None, 9, None, None], team="lyon", attributes={"tier": "gold"})
    survey_and_answer(org, march, [3, 2, None], team="paris", attributes={"tier": "basic"})
    survey_and_answer(org, march, [8, None], "branch.visit", team="paris", attributes={"tier": "gold"})

    everything = _rate(org)
    low, high = proportion_confint(5, 10, alpha=0.05, method="wilson")
    assert (everything.estimate.n, everything.estimate.value, everything.estimate.method) == (
        10,
        0.5,
        "wilson",
    )
    assert everything.estimate.ci_low == pytest.approx(low, abs=1e-6)
    assert everything.estimate.ci_high == pytest.approx(high, abs=1e-6)
    assert not everything.reliable  # 10 invitations, below the default minimum of 30

    cases = {
        (("team", "lyon"),): (2, 5),
        (("team", "paris"),): (3, 5),
        (("touchpoint", "branch.visit"),): (1, 2),
        (("channel", "email"),): (5, 10),
        (("segment", ("tier", "gold")),): (3, 7),
        (("segment", ("tier", "gold")), ("team", "paris")): (1, 2),
    }
    for filters, (responded, invited) in cases.items():
        value = _rate(org, **dict(filters))
        low, high = proportion_confint(responded, invited, alpha=0.05, method="wilson")
        assert (value.estimate.n, value.estimate.value) == (invited, pytest.approx(responded / invited)), (
            filters
        )
        assert (value.estimate.ci_low, value.estimate.ci_high) == (
            pytest.approx(low, abs=1e-6),
            pytest.approx(high, abs=1e-6),
        ), filters
    assert metric_values(organisation=org.organisation, metric="response_rate", channel="sms") == []


def test_response_rate_is_read_from_the_rollups_which_a_rebuild_restores(org) -> None:
    open_all_day(org.organisation)
    survey_and_answer(org, datetime(2026, 3, 10, 11, tzinfo=PARIS), [10, None, None, 3])
    assert _rate(org).estimate.n == 4
    DailyRollup.objects.filter(organisation=org.organisation, invited__gt=0).update(invited=40)
    assert _rate(org).estimate.n == 40  # the figure is the roll-ups' sum, not a count of invitations
    rebuild_rollups(organisation=org.organisation)
    assert (_rate(org).estimate.n, _rate(org).estimate.value) == (4, 0.5)


def test_an_invitation_reported_sent_twice_counts_once(org) -> None:
    open_all_day(org.organisation)
    survey_and_answer(org, datetime(2026, 3, 10, 11, tzinfo=PARIS), [None, None])
    for invitation in Invitation.objects.filter(organisation=org.organisation):
        assert record_invitations_in_rollups(invitation_ids=[invitation.id]) == 0  # already counted on send
    assert (_rate(org).estimate.n, _rate(org).estimate.value) == (2, 0.0)


def test_metrics_api_gives_the_response_rate_by_channel(org, api) -> None:
    open_all_day(org.organisation)
    survey_and_answer(org, datetime(2026, 3, 10, 11, tzinfo=PARIS), [10, None, 7])
    (row,) = api.get(
        "/api/v1/metrics", {"metric": "response_rate", "period": "all", "group_by": "channel"}
    ).json()
    assert (row["channel"], row["n"], row["method"]) == ("email", 3, "wilson")
    assert row["value"] == pytest.approx(2 / 3)
    assert row["ci_low"] < row["value"] < row["ci_high"]
