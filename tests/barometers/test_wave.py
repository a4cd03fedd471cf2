"""A wave from the draw to the close: design, seeded draw, invitations through the flow, quotas,
reminders to non-responders, final dispositions; and the bad inputs refused with nothing sent."""

from __future__ import annotations

import importlib
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.apps import apps
from django.db.models import Count

from avis.barometers.models import SampledCase, WaveStatus, WaveStratum
from avis.barometers.services import (
    close_wave,
    draw_wave,
    plan_wave,
    send_due_reminders,
    start_fieldwork,
    tend_waves,
)
from avis.errors import Conflict, FieldsInvalid, ValidationFailed
from avis.governance.models import Decision
from avis.messaging import dispatch
from avis.messaging.models import MessageKind, OutboundMessage
from avis.surveys.models import Invitation
from avis.surveys.services import submit_response
from tests.barometers.setup import make_barometer, region_base
from tests.helpers import open_all_day, post_interaction

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")
DRAW = datetime(2026, 3, 2, 11, 0, tzinfo=PARIS)


def drawn(org, seed: int = 7, **changes):  # noqa: ANN001, ANN003, ANN201
    open_all_day(org.organisation, quarantine_days=0)
    region_base(org.organisation, changes.pop("per_region", {"north": 300, "south": 200}))
    barometer = make_barometer(org.organisation, now=DRAW, **changes)
    wave = plan_wave(organisation=org.organisation, barometer_id=barometer.id, frame_date=DRAW.date())
    return draw_wave(
        organisation=org.organisation, barometer_id=barometer.id, number=wave.number, seed=seed, now=DRAW
    )


def answer(invitation: Invitation, at: datetime) -> None:
    submit_response(token=invitation.token, answers={"nps": "9", "resolved": "yes", "agent": "5"}, now=at)


def test_the_draw_sizes_strata_for_the_goal_and_records_the_design(org) -> None:
    wave = drawn(org, margin=15.0, domain="region", domain_margin=25.0, expected_response_rate=0.6)
    assert wave.status == WaveStatus.DRAWN
    assert wave.frame_size == 500 and wave.seed == 7
    strata = {s.key: s for s in WaveStratum.objects.filter(wave=wave)}
    assert set(strata) == {"north", "south"}
    for stratum in strata.values():
        cases = SampledCase.objects.filter(stratum=stratum)
        assert cases.count() == stratum.sample_size > 0
        assert stratum.target_completes <= stratum.sample_size
        assert {round(p, 9) for p in cases.values_list("inclusion_probability", flat=True)} == {
            round(stratum.sample_size / stratum.population, 9)
        }
    assert wave.design["expected_margin"] <= 15.0
    assert all(m <= 25.0 for m in wave.design["expected_domain_margins"].values())
    assert wave.design["variance_source"] == "worst_case"
    assert not Invitation.objects.exists()  # nothing leaves before the fieldwork starts


def test_the_same_seed_on_the_same_frame_draws_the_same_customers(org, other_org) -> None:
    first = drawn(org, seed=42)
    second = drawn(other_org, seed=42)
    ours = sorted(SampledCase.objects.filter(wave=first).values_list("customer__external_id", flat=True))
    theirs = sorted(SampledCase.objects.filter(wave=second).values_list("customer__external_id", flat=True))
    assert ours == theirs


def test_a_wave_is_drawn_once_and_started_once(org) -> None:
    wave = drawn(org)
    barometer = wave.barometer
    with pytest.raises(Conflict, match="already drawn"):
        draw_wave(organisation=org.organisation, barometer_id=barometer.id, number=1, now=DRAW)
    start_fieldwork(organisation=org.organisation, barometer_id=barometer.id, number=1, now=DRAW)
    sent = OutboundMessage.objects.count()
    with pytest.raises(Conflict, match="already started"):
        start_fieldwork(organisation=org.organisation, barometer_id=barometer.id, number=1, now=DRAW)
    assert OutboundMessage.objects.count() == sent == SampledCase.objects.filter(wave=wave).count()


def test_a_goal_the_frame_cannot_meet_is_refused_with_nothing_stored(org) -> None:
    with pytest.raises(ValidationFailed, match="cannot give"):
        drawn(org, per_region={"north": 30, "south": 20}, margin=2.0)
    assert not SampledCase.objects.exists() and not WaveStratum.objects.exists()


def test_targets_that_do_not_sum_to_the_frame_are_refused(org) -> None:
    with pytest.raises(ValidationFailed, match="add up to 400"):
        drawn(org, population_targets={"region": {"north": 250, "south": 150}})
    with pytest.raises(FieldsInvalid):
        make_barometer(org.organisation, code="barometer.other", population_targets={"segment": {"pro": 1}})


def test_a_stratum_left_empty_by_the_exclusions_is_refused(org) -> None:
    open_all_day(
        org.organisation, exclusions=[{"attribute": "region", "operator": "equals", "value": "south"}]
    )
    region_base(org.organisation, {"north": 300, "south": 200})
    barometer = make_barometer(org.organisation, now=DRAW)
    plan_wave(organisation=org.organisation, barometer_id=barometer.id, frame_date=DRAW.date())
    with pytest.raises(ValidationFailed, match="south"):
        draw_wave(organisation=org.organisation, barometer_id=barometer.id, number=1, now=DRAW)


def test_fieldwork_invites_through_the_flow_counts_quotas_and_reminds_non_responders(org) -> None:
    wave = drawn(org, margin=20.0, reminder_gap_days=3, reminder_max=2)
    barometer = wave.barometer
    with time_machine.travel(DRAW, tick=False):
        start_fieldwork(organisation=org.organisation, barometer_id=barometer.id, number=1, now=DRAW)
        # Tests run in a transaction that never commits: the outbox is handed over by hand.
        dispatch.deliver_messages(message_ids=list(OutboundMessage.objects.values_list("id", flat=True)))
    assert not Invitation.objects.exclude(status="sent").exists()
    # Marked as drawn into the sample: only their answers look for a sampled case.
    assert set(Invitation.objects.values_list("sampled", flat=True)) == {True}
    decisions = Decision.objects.filter(reason="barometer_sample")
    assert decisions.count() == SampledCase.objects.filter(wave=wave).count()
    assert {d.send_before for d in decisions} == {DRAW + timedelta(days=barometer.fieldwork_days)}
    north = WaveStratum.objects.get(wave=wave, key="north")
    cases = list(SampledCase.objects.filter(stratum=north).select_related("invitation").order_by("id"))
    # The quota fills, then a further answer is kept but not counted.
    for case in cases[: north.target_completes + 1]:
        answer(case.invitation, DRAW + timedelta(days=1))
    north.refresh_from_db()
    assert north.completes == north.target_completes
    done = SampledCase.objects.filter(stratum=north, completed_at__isnull=False)
    assert done.count() == north.target_completes + 1
    assert done.filter(counted=True).count() == north.target_completes
    # Three days on: the non-responders of the south get a reminder, the full north none.
    later = DRAW + timedelta(days=3, hours=1)
    with time_machine.travel(later, tick=False):
        written = send_due_reminders(now=later)
    south_waiting = SampledCase.objects.filter(stratum__key="south", wave=wave, completed_at__isnull=True)
    assert written == south_waiting.count()
    reminded = OutboundMessage.objects.filter(kind=MessageKind.REMINDER)
    assert set(reminded.values_list("invitation_id", flat=True)) == set(
        south_waiting.values_list("invitation_id", flat=True)
    )
    # Not again before the gap, and never past the maximum.
    with time_machine.travel(later + timedelta(days=1), tick=False):
        assert send_due_reminders(now=later + timedelta(days=1)) == 0
    for days in (7, 11):
        moment = DRAW + timedelta(days=days, hours=1)
        with time_machine.travel(moment, tick=False):
            send_due_reminders(now=moment)
    assert set(SampledCase.objects.filter(stratum__key="south").values_list("reminders_sent", flat=True)) == {
        2
    }
    end = DRAW + timedelta(days=barometer.fieldwork_days, hours=1)
    with time_machine.travel(end, tick=False):
        closed = close_wave(organisation=org.organisation, barometer_id=barometer.id, number=1, now=end)
    assert closed.status == WaveStatus.CLOSED
    dispositions = dict(
        SampledCase.objects.filter(wave=wave).values_list("disposition").annotate(n=Count("id"))
    )
    assert dispositions["I"] == north.target_completes + 1
    assert sum(dispositions.values()) == SampledCase.objects.filter(wave=wave).count()
    assert not Decision.objects.filter(reason="barometer_sample", send_before__gt=end).exists()


def test_a_wave_cannot_be_drawn_before_its_date(org) -> None:
    open_all_day(org.organisation)
    region_base(org.organisation, {"north": 30})
    barometer = make_barometer(org.organisation, now=DRAW, margin=30.0)
    plan_wave(organisation=org.organisation, barometer_id=barometer.id, frame_date=date(2026, 4, 1))
    with pytest.raises(ValidationFailed, match="2026-04-01"):
        draw_wave(organisation=org.organisation, barometer_id=barometer.id, number=1, now=DRAW)


def test_the_periodic_pass_closes_a_wave_past_its_fieldwork_and_lifts_the_hold(org) -> None:
    wave = drawn(org)
    barometer = wave.barometer
    start_fieldwork(organisation=org.organisation, barometer_id=barometer.id, number=1, now=DRAW)
    during = DRAW + timedelta(days=2)
    assert tend_waves(now=during) == {"reminders": 0, "closed": 0}
    after = DRAW + timedelta(days=barometer.fieldwork_days, minutes=5)
    assert tend_waves(now=after)["closed"] == 1
    wave.refresh_from_db()
    assert wave.status == WaveStatus.CLOSED
    assert not SampledCase.objects.filter(wave=wave, disposition="").exists()
    assert not Decision.objects.filter(reason="barometer_sample", send_before__gt=after).exists()


def test_upgrading_marks_the_invitations_of_waves_already_in_fieldwork_as_sampled(org, api) -> None:
    """barometers.0003 on a database whose wave went out before ``Invitation.sampled`` existed:
    its invitations are marked, so their answers still complete their cases; the flow's are not."""
    wave = drawn(org, margin=20.0)
    with time_machine.travel(DRAW, tick=False):
        start_fieldwork(organisation=org.organisation, barometer_id=wave.barometer.id, number=1, now=DRAW)
    with time_machine.travel(DRAW, tick=False):
        flow = post_interaction(api, "evt-flow", customer="FLOW-1")
    assert flow.status_code == 200, flow.content
    Invitation.objects.update(sampled=False)  # as the column's default left them
    upgrade = importlib.import_module("avis.barometers.migrations.0003_sampled_invitations")
    upgrade.mark_sampled(apps, None)
    drawn_ids = set(SampledCase.objects.filter(wave=wave).values_list("invitation_id", flat=True))
    assert set(Invitation.objects.filter(sampled=True).values_list("id", flat=True)) == drawn_ids
    assert Invitation.objects.filter(sampled=False).count() == 1  # the flow's
    case = SampledCase.objects.filter(wave=wave).select_related("invitation").first()
    answer(case.invitation, DRAW + timedelta(days=1))
    case.refresh_from_db()
    assert case.completed_at is not None
