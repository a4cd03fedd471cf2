"""``avis demo``: a small Mutuelle Horizon, loaded once for the module, checked as a visitor would."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from io import StringIO
from statistics import mean
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.db.models import Q
from django.utils import timezone

from avis.analytics.queries import metric_values
from avis.barometers.against_flow import against_flow
from avis.barometers.models import Barometer, SampledCase, months_later
from avis.barometers.results import wave_results
from avis.barometers.wave_page import wave_page
from avis.cases.effect import closed_loop_effect
from avis.cases.models import Case, CaseEvent
from avis.customers.models import Customer
from avis.dashboard.demo.barometer import REGIONS
from avis.dashboard.demo.barometer import TOUCHPOINT as BAROMETER_TOUCHPOINT
from avis.dashboard.demo.generator import LoadReport, drop_demo, load_demo
from avis.dashboard.demo.live import LiveFeed
from avis.dashboard.queries import setup_checklist
from avis.governance.models import Decision
from avis.interactions.models import Agent, Interaction
from avis.messaging.models import MessageStatus, OutboundMessage
from avis.surveys.models import Answer, Invitation, Response

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")


# The demo's six months end "now": its calendar (weekends, public holidays) and so its counts
# depend on the day it is loaded. The module loads it, and reads it, as of one Wednesday morning.
LOADED_AT = datetime(2026, 11, 18, 9, 30, tzinfo=PARIS)


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker) -> Iterator[LoadReport]:  # noqa: ANN001
    with time_machine.travel(LOADED_AT, tick=True), django_db_blocker.unblock():
        report = load_demo(customers=200, interactions=1500, seed=7)
        yield report
        drop_demo(report.organisation)


def test_history_covers_every_touchpoint_with_answers(demo: LoadReport) -> None:
    organisation = demo.organisation
    flow = ~Q(touchpoint__code=BAROMETER_TOUCHPOINT)  # the barometer's own invitations aside
    assert Interaction.objects.filter(flow, organisation=organisation).count() == 1500
    answered = set(
        Response.objects.filter(organisation=organisation).values_list("touchpoint__code", flat=True)
    )
    assert answered == {"call_center.call", "web.chat", "branch.visit", "claim.settled", BAROMETER_TOUCHPOINT}
    invited = Invitation.objects.filter(flow, organisation=organisation).count()
    responses = Response.objects.filter(flow, organisation=organisation).count()
    assert 0.3 < responses / invited < 0.6


def test_twenty_agents_score_differently(demo: LoadReport) -> None:
    organisation = demo.organisation
    assert Agent.objects.filter(organisation=organisation).count() == 20
    scores: dict[str, list[int]] = {}
    for name, number in Answer.objects.filter(
        organisation=organisation, attribution="agent", not_applicable=False
    ).values_list("agent__name", "number"):
        scores.setdefault(name, []).append(number)
    means = {name: mean(values) for name, values in scores.items() if len(values) >= 3}
    assert len(means) >= 15
    assert max(means.values()) - min(means.values()) > 1.0


def test_answers_and_comments_come_in_french_and_english(demo: LoadReport) -> None:
    comments = Answer.objects.filter(organisation=demo.organisation, kind="text").exclude(text="")
    by_language = set(comments.values_list("response__locale", flat=True))
    assert by_language == {"fr", "en"}
    assert comments.count() >= 30


def test_unhappy_answers_opened_cases_and_most_old_ones_are_closed(demo: LoadReport) -> None:
    cases = Case.objects.filter(organisation=demo.organisation)
    assert cases.exists()
    unhappy = Response.objects.filter(organisation=demo.organisation).filter(
        Q(answers__kind="nps", answers__number__lte=6)
        | Q(answers__attribution="resolution", answers__choice="no")
    )
    # Each unhappy answer opened a case, or joined its customer's case still open on that touchpoint.
    joined = CaseEvent.objects.filter(case__organisation=demo.organisation, kind="joined").count()
    assert cases.count() + joined == unhappy.distinct().count()
    old = cases.filter(opened_at__lt=timezone.now() - timedelta(days=7))
    assert old.filter(status="resolved").count() > 0.8 * old.count()


def test_the_closed_loop_effect_reads_the_demo_cases_as_they_were_worked(demo: LoadReport) -> None:
    # The issue: every case closed "now" (when the demo was built), so no customer handled in time
    # could have answered after it, and "left" read 0 % beside dozens of cases closed as left.
    organisation = demo.organisation
    closed = Case.objects.filter(organisation=organisation, closed_at__isnull=False)
    assert closed.exists() and all(
        c.closed_at < LOADED_AT - timedelta(hours=1) or c.opened_at > LOADED_AT - timedelta(days=3)
        for c in closed
    )
    with time_machine.travel(LOADED_AT + timedelta(hours=1), tick=False):
        effect = closed_loop_effect(
            organisation=organisation, since=LOADED_AT - timedelta(days=90), until=timezone.now()
        )
    recovered = effect.recovered
    assert recovered.customers > 0 and recovered.answered_later.value > 0
    first_cases: dict[int, Case] = {}
    for case in Case.objects.filter(
        organisation=organisation, opened_at__gte=LOADED_AT - timedelta(days=90)
    ).order_by("opened_at", "id"):
        first_cases.setdefault(case.customer_id, case)
    left_on_first_case = sum(c.outcome == "left" for c in first_cases.values())
    churned = round(recovered.churned.value * recovered.customers) + round(
        effect.not_in_time.churned.value * effect.not_in_time.customers
    )
    # Each first case closed as "left" is in one group or the other (closed: in time, or late).
    assert churned >= left_on_first_case > 0


def test_metrics_carry_sample_sizes_and_intervals(demo: LoadReport) -> None:
    for metric in ("nps", "resolution_rate", "response_rate"):
        values = metric_values(organisation=demo.organisation, metric=metric, period="month")
        # The barometer's touchpoint has figures too where its questionnaire asks the metric.
        assert {v.touchpoint for v in values} - {BAROMETER_TOUCHPOINT} == {
            "call_center.call",
            "web.chat",
            "branch.visit",
            "claim.settled",
        }
        for value in values:
            estimate = value.estimate
            assert estimate.n > 0
            assert estimate.ci_low < estimate.ci_high
            if metric != "nps":  # Wilson intervals always hold the observed rate
                assert estimate.ci_low <= estimate.value <= estimate.ci_high


def test_online_chat_measures_effort_and_easier_chats_are_the_resolved_ones(demo: LoadReport) -> None:
    values = metric_values(organisation=demo.organisation, metric="ces", period="quarter")
    values = [v for v in values if v.touchpoint != BAROMETER_TOUCHPOINT]  # asks how easy we are to reach
    assert {v.touchpoint for v in values} == {"web.chat"}
    # Enough effort answers to read (19 to 30 with this small demo, depending on the instant it is built).
    assert sum(v.estimate.n for v in values) >= 15
    for value in values:
        if value.estimate.n > 1:
            assert 1 <= value.estimate.value <= 7
            assert value.estimate.ci_low <= value.estimate.value <= value.estimate.ci_high
    effort = Answer.objects.filter(
        organisation=demo.organisation, kind="ces", response__touchpoint__code="web.chat"
    )
    resolved = effort.filter(response__answers__question__code="resolved", response__answers__choice="yes")
    unresolved = effort.filter(response__answers__question__code="resolved", response__answers__choice="no")
    assert mean(resolved.values_list("number", flat=True)) > mean(unresolved.values_list("number", flat=True))


def test_governance_kept_customers_from_being_over_surveyed(demo: LoadReport) -> None:
    reasons = set(Decision.objects.filter(organisation=demo.organisation).values_list("reason", flat=True))
    assert {"eligible", "not_sampled", "cap_reached", "quarantine"} <= reasons


def test_old_invitations_are_not_sent_again_when_the_worker_starts(demo: LoadReport) -> None:
    waiting = OutboundMessage.objects.filter(
        organisation=demo.organisation, status=MessageStatus.PENDING, not_before__lte=timezone.now()
    )
    assert not waiting.exists()
    assert OutboundMessage.objects.filter(organisation=demo.organisation, status=MessageStatus.SENT).exists()


def test_the_costs_page_prices_every_sms_the_demo_sent(demo: LoadReport) -> None:
    """The demo records its history without sending: each SMS still has its text, segments and cost."""
    from django.test import Client

    sms = OutboundMessage.objects.filter(
        organisation=demo.organisation, channel="sms", status=MessageStatus.SENT
    )
    assert sms.exists()
    assert not sms.filter(Q(segments=0) | Q(cost=0) | Q(body_text="")).exists()
    client = Client()
    client.force_login(demo.organisation.memberships.get(role="manager").user)
    page = client.get("/messaging/costs/").content.decode()
    segments = re.findall(r'data-field="month-segments">(\d+)<', page)
    assert segments and all(int(n) > 0 for n in segments)


def _next_tuesday_morning() -> datetime:
    today = timezone.now().astimezone(PARIS).date()
    day = today + timedelta(days=(1 - today.weekday()) % 7 or 7)
    return datetime.combine(day, time(11, 0), tzinfo=PARIS)


def test_live_feed_brings_new_interactions_and_answers(demo: LoadReport) -> None:
    organisation = demo.organisation
    before = Interaction.objects.filter(organisation=organisation).count()
    answers_before = Response.objects.filter(organisation=organisation).count()
    feed = LiveFeed(organisation_id=organisation.id, seed=3)
    start = _next_tuesday_morning()
    ticks = [feed.tick(now=start + timedelta(seconds=30 * step)) for step in range(30)]
    assert Interaction.objects.filter(organisation=organisation).count() == before + sum(
        t.interactions for t in ticks
    )
    assert sum(t.interactions for t in ticks) >= 30
    assert sum(t.invitations for t in ticks) > 0
    assert sum(t.answers for t in ticks) > 0
    assert Response.objects.filter(organisation=organisation).count() == answers_before + sum(
        t.answers for t in ticks
    )


def test_the_quarterly_barometer_has_four_closed_waves_beside_the_flow(demo: LoadReport) -> None:
    """Four past waves run through the barometer's services: drawn, sent, answered, closed with final
    dispositions, weighted; the third rewords a question (a break in its series); the last ones sit
    in the history's six months, so the page against the flow has the flow's figures beside them."""
    organisation = demo.organisation
    barometer = Barometer.objects.get(organisation=organisation)
    waves = list(barometer.waves.order_by("number"))
    assert [w.status for w in waves] == ["closed"] * 4
    assert [w.frame_date for w in waves[1:]] == [months_later(w.frame_date, 3) for w in waves[:3]]
    assert waves[-1].fieldwork_ends_at < LOADED_AT
    assert set(
        Customer.objects.filter(organisation=organisation).values_list("attributes__region", flat=True)
    ) == {name for name, _ in REGIONS}
    for wave in waves:
        cases = SampledCase.objects.filter(wave=wave)
        assert cases.exists() and not cases.filter(disposition="").exists()
        assert {"I", "UH"} <= set(cases.values_list("disposition", flat=True))
        # Governance at each draw, as the ledger stood then: opt-outs, caps, quarantine.
        assert (
            wave.exclusions and wave.frame_size < Customer.objects.filter(organisation=organisation).count()
        )
    # Weighted, with design-based figures (a small demo's wave may lack a respondent in a stratum:
    # it says why, and is not weighted).
    weighted = [w for w in waves if wave_results(wave=w).report is not None]
    assert len(weighted) >= 3 and weighted[-1].number >= 3
    assert waves[2].version_id != waves[1].version_id == waves[0].version_id
    page = wave_page(wave=waves[-1])
    # The break is where the wording changed (a wave a small demo cannot weight has no point).
    assert [p.wave for p in page.trends["csat_3"] if p.break_before] in ([3], [4])
    assert not any(p.break_before for p in page.trends["nps"])
    found = against_flow(wave=weighted[-1])
    nps = next(m for m in found.metrics if m.metric == "nps")
    assert nps.overall.flow.n > 0 and nps.overall.difference is not None
    assert {side.label for side in nps.regions if side.flow is not None} == {name for name, _ in REGIONS}
    # The barometer's sampled customers were asked through governance: the ledger says why.
    assert Decision.objects.filter(organisation=organisation, reason="barometer_sample").count() == (
        SampledCase.objects.filter(wave__barometer=barometer, invitation__isnull=False).count()
    )


def test_running_the_command_again_without_reset_loads_nothing(demo: LoadReport) -> None:
    before = Interaction.objects.filter(organisation=demo.organisation).count()
    out = StringIO()
    call_command("demo", "--no-serve", stdout=out)
    assert "already loaded" in out.getvalue()
    assert "horizon-demo" in out.getvalue()
    assert Interaction.objects.count() == before


def test_reset_loads_the_demo_afresh(demo: LoadReport) -> None:
    out = StringIO()
    call_command("demo", "--no-serve", "--reset", "--customers", "40", "--interactions", "120", stdout=out)
    assert "API key" in out.getvalue() and "avis_" in out.getvalue()
    assert Interaction.objects.filter(organisation__slug="mutuelle-horizon").count() == 120


def test_the_demo_company_is_set_up_completely(demo: LoadReport) -> None:
    checklist = setup_checklist(organisation=demo.organisation)

    assert checklist.complete, [step.detail for step in checklist.steps if not step.done]
