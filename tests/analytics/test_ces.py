"""Customer effort (CES, 1–7): asked on the page and by SMS, rolled up, a mean with Student's t interval."""

from __future__ import annotations

import math
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.test import Client
from django.utils import timezone
from scipy import stats

from avis.analytics.queries import metric_values
from avis.analytics.services import rebuild_rollups
from avis.interactions.flow import ingest_interactions
from avis.interactions.schemas import InteractionIn
from avis.messaging.sms_replies import parse_reply
from avis.surveys.services import AnswersInvalid, submit_response
from tests.analytics.answering import ask_effort, survey_and_answer
from tests.analytics.test_pages import signed_in
from tests.factories import interaction_payload
from tests.helpers import open_all_day

pytestmark = pytest.mark.django_db(transaction=True)  # invitations are sent on commit
PARIS = ZoneInfo("Europe/Paris")


def invitation_token(org) -> str:  # noqa: ANN001
    (result,) = ingest_interactions(
        organisation=org.organisation,
        items=[InteractionIn(**interaction_payload("ces-page", occurred_at=timezone.now()))],
    )
    return result.invitation.token


def test_the_respondent_page_offers_one_to_seven_and_refuses_eight(org) -> None:
    open_all_day(org.organisation)
    ask_effort(org)
    token = invitation_token(org)
    page = Client().get(f"/s/{token}").content.decode()
    assert [v for v in range(0, 12) if f'name="effort" value="{v}"' in page] == [1, 2, 3, 4, 5, 6, 7]
    assert "scale-ces" in page
    with pytest.raises(AnswersInvalid) as refused:
        submit_response(token=token, answers={"nps": "9", "effort": "8"})
    assert "1" in refused.value.problems["effort"] and "7" in refused.value.problems["effort"]
    response = submit_response(token=token, answers={"nps": "9", "effort": "7"})
    assert [a.number for a in response.answers.filter(kind="ces")] == [7]


def test_an_sms_reply_reads_a_score_on_the_effort_scale() -> None:
    assert parse_reply("6", question_kind="ces").value == 6
    assert parse_reply("7 très simple merci", question_kind="ces").value == 7
    assert parse_reply("9", question_kind="ces").kind == "unclear"


def test_ces_is_a_mean_with_the_t_interval_from_the_rollups(org, api) -> None:
    open_all_day(org.organisation)
    ask_effort(org)
    efforts = ["7", "6", "na", "2", "5", "7", "4", "1"]
    survey_and_answer(
        org, datetime(2026, 3, 10, 11, tzinfo=PARIS), [9] * len(efforts), more={"effort": efforts}
    )
    survey_and_answer(org, datetime(2026, 4, 10, 11, tzinfo=PARIS), [9, 9], more={"effort": ["3", "6"]})
    (march, april) = metric_values(organisation=org.organisation, metric="ces", period="month")
    scores = np.array([7, 6, 2, 5, 7, 4, 1], dtype=float)  # "not applicable" left out
    low, high = stats.t.interval(0.95, len(scores) - 1, loc=scores.mean(), scale=stats.sem(scores))
    assert (march.estimate.n, march.estimate.method) == (7, "t")
    assert march.estimate.value == pytest.approx(scores.mean(), abs=1e-9)
    assert (march.estimate.ci_low, march.estimate.ci_high) == (
        pytest.approx(low, abs=1e-6),
        pytest.approx(high, abs=1e-6),
    )
    assert (april.estimate.n, april.estimate.value) == (2, 4.5)

    rows = api.get("/api/v1/metrics", {"metric": "ces", "period": "all"}).json()
    (row,) = rows
    everything = np.array([*scores, 3, 6])
    assert (row["n"], row["method"], row["reliable"]) == (9, "t", False)
    assert row["value"] == pytest.approx(everything.mean())
    half = stats.t.ppf(0.975, 8) * everything.std(ddof=1) / math.sqrt(9)
    assert row["ci_high"] - row["value"] == pytest.approx(half, abs=1e-6)

    rebuild_rollups(organisation=org.organisation)  # the same figure from a recomputation
    assert metric_values(organisation=org.organisation, metric="ces", period="month") == [march, april]


def test_the_figures_page_shows_the_effort_with_its_interval(org) -> None:
    open_all_day(org.organisation)
    ask_effort(org)
    survey_and_answer(
        org, datetime(2026, 3, 10, 11, tzinfo=PARIS), [9, 8, 7], more={"effort": ["6", "5", "7"]}
    )
    page = signed_in(org).get("/analytics/?metric=ces&period=month").content.decode()
    assert "CES mean 1–7" in page and "6.00" in page and "n=3" in page
    assert '<option value="ces" selected>' in page
    metrics = signed_in(org).get("/metrics/?metric=ces").content.decode()
    assert "6.00 <small>[3.52 ; 8.48] n=3</small>" in metrics  # a mean on its scale, not a percentage
