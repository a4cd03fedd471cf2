"""A survey's wording changed: the figures say where, and can be read for one version alone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from avis.analytics.queries import metric_values
from avis.surveys.design import DraftChanges, QuestionTexts, change_draft, publish_survey
from avis.surveys.models import Survey
from tests.analytics.answering import survey_and_answer
from tests.factories import PASSWORD
from tests.helpers import open_all_day

pytestmark = pytest.mark.django_db(transaction=True)  # invitations are sent on commit
PARIS = ZoneInfo("Europe/Paris")


def reword_and_publish(org, at: datetime) -> Survey:  # noqa: ANN001
    survey = Survey.objects.get(organisation=org.organisation, touchpoint__code="call_center.call")
    change_draft(
        organisation=org.organisation,
        survey_id=survey.id,
        changes=DraftChanges(
            texts={"nps": QuestionTexts(prompt={"fr": "Sur 10, nous recommanderiez-vous ?"})}
        ),
    )
    publish_survey(organisation=org.organisation, survey_id=survey.id, now=at)
    survey.refresh_from_db()
    return survey


def test_figures_are_filtered_by_version_and_the_pages_say_where_it_changed(org, api) -> None:  # noqa: ANN001
    open_all_day(org.organisation)
    first = Survey.objects.get(
        organisation=org.organisation, touchpoint__code="call_center.call"
    ).current_version
    survey_and_answer(org, datetime(2026, 3, 2, 10, tzinfo=PARIS), [10, 10, 9])  # version 1: three promoters
    second = reword_and_publish(org, datetime(2026, 3, 10, 9, tzinfo=PARIS)).current_version
    survey_and_answer(org, datetime(2026, 3, 12, 10, tzinfo=PARIS), [2, 3])  # version 2: two detractors

    def nps(version: int | None) -> tuple[int, float]:
        (value,) = metric_values(organisation=org.organisation, metric="nps", period="all", version=version)
        return value.estimate.n, value.estimate.value

    assert nps(None) == (5, 20.0)
    assert nps(first.id) == (3, 100.0)
    assert nps(second.id) == (2, -100.0)
    rate = metric_values(
        organisation=org.organisation, metric="response_rate", period="all", version=second.id
    )
    assert rate[0].estimate.n == 2  # the invitations sent with version 2

    by_api = api.get("/api/v1/metrics", {"metric": "nps", "period": "all", "version": second.id}).json()
    assert [(row["n"], row["value"]) for row in by_api] == [(2, -100.0)]
    versions = api.get(f"/api/v1/surveys/{second.survey_id}/versions").json()
    assert [(v["id"], v["number"], v["responses"]) for v in versions] == [(second.id, 2, 2), (first.id, 1, 3)]

    client = Client()
    client.login(username=org.manager_email, password=PASSWORD)
    page = client.get("/analytics/", {"since": "2026-03-01", "until": "2026-03-31"}).content.decode()
    # The touchpoint by its name (tests/factories.py), not its code.
    assert 'id="version-changes"' in page and "Call to customer service: version 2 published" in page
    assert f'<option value="{second.id}">Call to customer service, version 2</option>' in page
    before = client.get("/analytics/", {"since": "2026-03-01", "until": "2026-03-09"}).content.decode()
    assert 'id="version-changes"' not in before  # nothing changed in that window
