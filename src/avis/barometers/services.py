"""What changes a barometer's state: set-up, waves, the draw, fieldwork, reminders, quotas, closing.

Sampled customers are invited through the transactional pipeline: an interaction on the
barometer's touchpoint, a governance decision (``barometer_sample``, counted toward contact
pressure, holding the flow's surveys until the fieldwork ends), an invitation, an outbox row.
See docs/barometers.md.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from avis.accounts.models import Organisation
from avis.audit.services import record, snapshot
from avis.barometers.design import plan_design
from avis.barometers.dispositions import assign_dispositions
from avis.barometers.frame import Frame, build_frame
from avis.barometers.models import (
    Allocation,
    Barometer,
    BarometerMetric,
    Mode,
    Recurrence,
    SampledCase,
    Wave,
    WaveStatus,
    WaveStratum,
)
from avis.bulk import insert_rows, new_row
from avis.customers.models import Channel, Customer, EmailStatus, OptOut, PhoneStatus
from avis.customers.queries import opted_out_channels
from avis.errors import Conflict, FieldsInvalid, NotFound, ValidationFailed
from avis.governance.engine import OPERATORS
from avis.governance.services import (
    current_policy,
    customer_country,
    next_sending_time,
    record_study_contacts,
    release_study_hold,
    valid_margin,
)
from avis.interactions.services import record_study_interactions
from avis.messaging.models import Conversation, MessageKind, MessageStatus, OutboundMessage
from avis.messaging.outbox import INVITATION_PRIORITY, enqueue_on_commit, insert_once, queue_invitations
from avis.surveys.models import Invitation, InvitationStatus, Survey
from avis.surveys.services import create_invitations, drop_reminders

# Who may set up a barometer and draw its waves (the role matrix names the same roles).
BAROMETER_EDITORS = ("admin", "analyst")


# --- set-up ------------------------------------------------------------------------------------


def _rules_problems(rules: object, field: str) -> dict[str, str]:
    if not isinstance(rules, list):
        return {field: _('Rules are a list such as [{"attribute": "contract", "operator": "is_true"}].')}
    problems = {}
    for index, rule in enumerate(rules):
        where = f"{field}.{index}"
        if not isinstance(rule, dict) or not str(rule.get("attribute", "")).strip():
            problems[where] = _("Each rule names an attribute.")
        elif rule.get("operator") not in OPERATORS:
            problems[f"{where}.operator"] = _("The operator must be one of %(operators)s.") % {
                "operators": ", ".join(OPERATORS)
            }
        elif rule["operator"] in {"less_than", "greater_than"} and (
            isinstance(rule.get("value"), bool) or not isinstance(rule.get("value"), int | float)
        ):
            problems[f"{where}.value"] = _("A comparison needs a number.")
        elif rule["operator"] == "in" and not isinstance(rule.get("value"), list):
            problems[f"{where}.value"] = _("'in' needs a list of values.")
    return problems


def _strata_problems(strata: object) -> dict[str, str]:
    if not isinstance(strata, list) or not strata:
        return {"strata": _("Name at least one stratum attribute, such as region.")}
    problems = {}
    seen = set()
    for index, spec in enumerate(strata):
        where = f"strata.{index}"
        if not isinstance(spec, dict) or not str(spec.get("attribute", "")).strip():
            problems[where] = _("Each stratum names an attribute.")
            continue
        if spec["attribute"] in seen:
            problems[where] = _("The attribute %(attribute)s is named twice.") % spec
        seen.add(spec["attribute"])
        bands = spec.get("bands")
        if bands is not None and (
            not isinstance(bands, list)
            or not bands
            or any(isinstance(b, bool) or not isinstance(b, int | float) for b in bands)
            or sorted(bands) != bands
            or len(set(bands)) != len(bands)
        ):
            problems[f"{where}.bands"] = _("Bands are increasing numbers, such as [2, 5, 10].")
    return problems


def _targets_problems(targets: object, attributes: Sequence[str]) -> dict[str, str]:
    if not isinstance(targets, dict):
        return {"population_targets": _("Targets are given per attribute, then per value.")}
    problems: dict[str, str] = {}
    totals = {}
    for attribute, counts in targets.items():
        where = f"population_targets.{attribute}"
        if attribute not in attributes:
            problems[where] = _("%(attribute)s is not one of the strata's attributes.") % {
                "attribute": attribute
            }
        elif (
            not isinstance(counts, dict)
            or not counts
            or any(isinstance(v, bool) or not isinstance(v, int | float) or v <= 0 for v in counts.values())
        ):
            problems[where] = _("Give a positive count of customers for each value.")
        else:
            totals[attribute] = sum(counts.values())
    if not problems and len(set(totals.values())) > 1:
        problems["population_targets"] = _(
            "Each attribute's targets must add up to the same total (%(totals)s)."
        ) % {"totals": ", ".join(f"{a}: {t:,.0f}" for a, t in totals.items())}
    return problems


def build_barometer(
    *,
    organisation: Organisation,
    barometer_id: int | None = None,
    name_fr: str = "",
    name_en: str = "",
    survey_id: int,
    strata: list[dict[str, Any]],
    margin: float,
    scope: list[dict[str, Any]] | None = None,
    mode: str = Mode.BOTH,
    metric: str = BarometerMetric.NPS,
    domain: str = "",
    domain_margin: float | None = None,
    confidence: float = 0.95,
    allocation: str = Allocation.PROPORTIONAL,
    minimum_per_stratum: int = 0,
    expected_response_rate: float = 0.3,
    recurrence: str = Recurrence.QUARTERLY,
    fieldwork_days: int = 14,
    reminder_gap_days: int = 3,
    reminder_max: int = 2,
    population_targets: dict[str, dict[str, float]] | None = None,
    created_by: AbstractBaseUser | None = None,
    now: datetime | None = None,
) -> Barometer:
    """The barometer these fields describe, not saved (``barometer_id``: the one they would change);
    every wrong field is reported at once. The set-up page previews its design from it."""
    scope = scope if scope is not None else []
    population_targets = population_targets or {}
    problems: dict[str, str] = {}
    names = {language: text.strip() for language, text in (("fr", name_fr), ("en", name_en)) if text.strip()}
    if not names:
        problems["name.fr"] = _("Give the barometer a name, in French or English or both.")
    survey = (
        Survey.objects.filter(organisation=organisation, id=survey_id if isinstance(survey_id, int) else 0)
        .select_related("current_version")
        .first()
    )
    if survey is None:
        problems["survey_id"] = _("No such survey.")
    elif survey.current_version_id is None:
        problems["survey_id"] = _("Publish the survey before using it in a barometer.")
    elif (
        Barometer.objects.filter(organisation=organisation, survey=survey, archived_at__isnull=True)
        .exclude(id=barometer_id)
        .exists()
    ):
        problems["survey_id"] = _("This survey already belongs to another barometer.")
    problems |= _rules_problems(scope, "scope") | _strata_problems(strata)
    attributes = (
        [str(s.get("attribute")) for s in strata if isinstance(s, dict)] if isinstance(strata, list) else []
    )
    if mode not in Mode.values:
        problems["mode"] = _("The mode is one of %(values)s.") % {"values": ", ".join(Mode.values)}
    if metric not in BarometerMetric.values:
        problems["metric"] = _("The metric is one of %(values)s.") % {
            "values": ", ".join(BarometerMetric.values)
        }
    if allocation not in Allocation.values:
        problems["allocation"] = _("The allocation is one of %(values)s.") % {
            "values": ", ".join(Allocation.values)
        }
    if recurrence not in Recurrence.values:
        problems["recurrence"] = _("The recurrence is one of %(values)s.") % {
            "values": ", ".join(Recurrence.values)
        }
    if not valid_margin(margin):
        problems["margin"] = _("The margin is a number of points between 0.5 and 100, such as 3.")
    if domain and domain not in attributes:
        problems["domain"] = _("The domain must be one of the strata's attributes.")
    if domain and (domain_margin is None or not valid_margin(domain_margin)):
        problems["domain_margin"] = _("Give the margin wanted for each %(domain)s, in points, such as 8.") % {
            "domain": domain
        }
    if not isinstance(confidence, int | float) or not 0.5 <= confidence < 1:
        problems["confidence"] = _("The confidence level is between 0.5 and 1, such as 0.95.")
    if not isinstance(expected_response_rate, int | float) or not 0.01 <= expected_response_rate <= 1:
        problems["expected_response_rate"] = _("The expected response rate is between 0.01 and 1.")
    for name, value, low, high in (
        ("fieldwork_days", fieldwork_days, 1, 366),
        ("reminder_gap_days", reminder_gap_days, 1, 366),
        ("reminder_max", reminder_max, 0, 10),
        ("minimum_per_stratum", minimum_per_stratum, 0, 1_000_000),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            problems[name] = _("A whole number from %(low)s to %(high)s.") % {"low": low, "high": high}
    if allocation == Allocation.MINIMUM and not minimum_per_stratum:
        problems["minimum_per_stratum"] = _(
            "A minimum allocation needs the minimum of completes per stratum."
        )
    problems |= _targets_problems(population_targets, attributes)
    if problems:
        raise FieldsInvalid(problems)
    return Barometer(
        id=barometer_id,
        organisation=organisation,
        name=names,
        survey=survey,
        scope=scope,
        strata=strata,
        mode=mode,
        metric=metric,
        margin=margin,
        domain=domain,
        domain_margin=domain_margin if domain else None,
        confidence=confidence,
        allocation=allocation,
        minimum_per_stratum=minimum_per_stratum,
        expected_response_rate=expected_response_rate,
        recurrence=recurrence,
        fieldwork_days=fieldwork_days,
        reminder_gap_days=reminder_gap_days,
        reminder_max=reminder_max,
        population_targets=population_targets,
        created_by=created_by,
        created_at=now or timezone.now(),
    )


@transaction.atomic
def create_barometer(*, organisation: Organisation, **fields: Any) -> Barometer:
    """A new barometer (the fields of ``build_barometer``); every wrong field is reported at once and
    nothing is saved."""
    barometer = build_barometer(organisation=organisation, **fields)
    barometer.save(force_insert=True)
    record(organisation=organisation, action="barometer.created", target=barometer, after=snapshot(barometer))
    return barometer


# What a change of set-up may touch; waves already drawn keep the design they recorded.
EDITABLE = (
    "name",
    "survey",
    "scope",
    "strata",
    "mode",
    "metric",
    "margin",
    "domain",
    "domain_margin",
    "confidence",
    "allocation",
    "minimum_per_stratum",
    "expected_response_rate",
    "recurrence",
    "fieldwork_days",
    "reminder_gap_days",
    "reminder_max",
    "population_targets",
)


@transaction.atomic
def update_barometer(*, organisation: Organisation, barometer_id: int, **fields: Any) -> Barometer:
    """Change a barometer's set-up (every field given again, as the set-up page sends them); the next
    waves follow it, the waves already drawn keep theirs. Every wrong field is reported at once."""
    barometer = (
        Barometer.objects.select_for_update().filter(organisation=organisation, id=barometer_id).first()
    )
    if barometer is None:
        raise NotFound(_("No such barometer."))
    changed = build_barometer(organisation=organisation, barometer_id=barometer_id, **fields)
    before = snapshot(barometer, fields=EDITABLE)
    for name in EDITABLE:
        setattr(barometer, name, getattr(changed, name))
    barometer.save(update_fields=[*(f if f != "survey" else "survey_id" for f in EDITABLE)])
    record(
        organisation=organisation,
        action="barometer.changed",
        target=barometer,
        before=before,
        after=snapshot(barometer, fields=EDITABLE),
    )
    return barometer


@transaction.atomic
def plan_wave(*, organisation: Organisation, barometer_id: int, frame_date: date | None = None) -> Wave:
    """The barometer's next wave: on ``frame_date``, else one recurrence after the last wave's."""
    barometer = (
        Barometer.objects.select_for_update().filter(organisation=organisation, id=barometer_id).first()
    )
    if barometer is None:
        raise NotFound(_("No such barometer."))
    last = barometer.waves.order_by("-number").first()
    if frame_date is None:
        if last is None:
            raise ValidationFailed(_("Give the date of the first wave."), field="frame_date")
        frame_date = barometer.next_frame_date(last.frame_date)
    if last is not None and frame_date <= last.frame_date:
        raise ValidationFailed(
            _("A new wave comes after the last one (%(day)s).") % {"day": last.frame_date.isoformat()},
            field="frame_date",
        )
    wave = Wave.objects.create(
        organisation=organisation,
        barometer=barometer,
        number=(last.number if last else 0) + 1,
        frame_date=frame_date,
    )
    record(organisation=organisation, action="barometer.wave_planned", target=wave, after=snapshot(wave))
    return wave


def _locked_wave(organisation: Organisation, barometer_id: int, number: int) -> Wave:
    # Locked: two draws (or two starts) of the same wave queue here, the second finds it moved on.
    wave = (
        Wave.objects.select_for_update()
        .select_related("barometer", "barometer__survey")
        .filter(organisation=organisation, barometer_id=barometer_id, number=number)
        .first()
    )
    if wave is None:
        raise NotFound(_("No such wave."))
    return wave


def _check_targets(barometer: Barometer, in_scope: int, values: Mapping[str, set[str]]) -> None:
    for attribute, counts in barometer.population_targets.items():
        total = sum(counts.values())
        # Uploaded counts are rounded; half a percent apart is the same population.
        if abs(total - in_scope) > 0.005 * in_scope:
            raise ValidationFailed(
                _(
                    "The population targets for %(attribute)s add up to %(total)s customers, the frame has "
                    "%(frame)s: they must describe the same population."
                )
                % {"attribute": attribute, "total": f"{total:,.0f}", "frame": f"{in_scope:,}"},
                field=f"population_targets.{attribute}",
            )
        missing = sorted(values.get(attribute, set()) - set(counts))
        if missing:
            raise ValidationFailed(
                _("The population targets for %(attribute)s have no count for %(values)s.")
                % {"attribute": attribute, "values": ", ".join(missing)},
                field=f"population_targets.{attribute}",
            )


def frame_to_draw(*, barometer: Barometer, on: date, now: datetime) -> Frame:
    """The barometer's frame on ``on`` as a draw would take it; refused (ValidationFailed) when there is
    nobody in scope, a stratum is left empty by governance's exclusions or the targets do not
    describe it."""
    policy = current_policy(organisation=barometer.organisation)
    frame = build_frame(barometer=barometer, policy=policy, on=on, at=now)
    if not frame.strata:
        raise ValidationFailed(_("No customer is in the barometer's scope: there is nothing to draw from."))
    empty = [s.key for s in frame.strata if s.eligible == 0]
    if empty:
        raise ValidationFailed(
            _("The stratum %(stratum)s has no customer left to draw once governance's exclusions apply.")
            % {"stratum": empty[0]}
        )
    values = {a: {s.values[a] for s in frame.strata} for a in barometer.stratum_attributes}
    _check_targets(barometer, frame.in_scope - frame.exclusions.get("no_stratum", 0), values)
    return frame


def draw_wave(
    *,
    organisation: Organisation,
    barometer_id: int,
    number: int,
    seed: int | None = None,
    drawn_by: AbstractBaseUser | None = None,
    now: datetime | None = None,
) -> Wave:
    """Take the frame at the wave's date, size the sample for the precision goal, draw it.

    Refused, with nothing stored, for a wave drawn before, a stratum left empty, a goal the
    frame cannot meet, targets that do not describe the frame. Nothing is sent: fieldwork
    starts with ``start_fieldwork``.
    """
    now = now or timezone.now()
    with transaction.atomic():
        wave = _locked_wave(organisation, barometer_id, number)
        if wave.status != WaveStatus.PLANNED:
            raise Conflict(
                _("Wave %(number)s was already drawn on %(day)s; a wave is drawn once.")
                % {
                    "number": wave.number,
                    "day": timezone.localdate(wave.drawn_at).isoformat() if wave.drawn_at else "—",
                }
            )
        if timezone.localdate(now) < wave.frame_date:
            raise ValidationFailed(
                _("Wave %(number)s takes its frame on %(day)s; it can be drawn from that day.")
                % {"number": wave.number, "day": wave.frame_date.isoformat()}
            )
        barometer = wave.barometer
        frame = frame_to_draw(barometer=barometer, on=wave.frame_date, now=now)
        seed = seed if seed is not None else secrets.randbits(62)
        design = plan_design(barometer=barometer, frame=frame, seed=seed, before=wave)
        strata = [
            new_row(
                WaveStratum,
                organisation_id=organisation.id,
                wave_id=wave.id,
                key=stratum.key[:255],
                values=stratum.values,
                population=stratum.eligible,
                frame_population=stratum.in_scope,
                sample_size=plan.sample_size,
                target_completes=plan.target_completes,
            )
            for stratum, plan in zip(frame.strata, design.strata, strict=True)
        ]
        insert_rows(strata)
        cases = [
            new_row(
                SampledCase,
                organisation_id=organisation.id,
                wave_id=wave.id,
                stratum_id=row.id,
                customer_id=int(customer_id),
                inclusion_probability=plan.inclusion_probability,
            )
            for row, plan in zip(strata, design.strata, strict=True)
            for customer_id in plan.sampled_ids
        ]
        insert_rows(cases)
        wave.status = WaveStatus.DRAWN
        wave.seed = seed
        wave.version_id = barometer.survey.current_version_id
        wave.frame_size = frame.eligible
        wave.exclusions = frame.exclusions
        wave.design = design.summary
        wave.drawn_at = now
        wave.drawn_by = drawn_by
        wave.save()
        record(
            organisation=organisation,
            action="barometer.wave_drawn",
            target=wave,
            after={
                "seed": seed,
                "frame_size": frame.eligible,
                "sample": len(cases),
                "exclusions": frame.exclusions,
            },
        )
    return wave


# --- fieldwork ---------------------------------------------------------------------------------


def _channel_for(customer: Customer, mode: str, refused: set[str]) -> tuple[str, str]:
    """The channel a sampled customer is invited on, or ("", why not)."""
    if Channel.ALL in refused:
        return "", "opted_out"
    email = bool(customer.email) and customer.email_status not in (
        EmailStatus.INVALID,
        EmailStatus.COMPLAINED,
    )
    phone = bool(customer.phone) and customer.phone_status != PhoneStatus.INVALID
    wanted = [Channel.EMAIL, Channel.SMS] if mode == Mode.BOTH else [mode]
    usable = [c for c in wanted if (email if c == Channel.EMAIL else phone)]
    if not usable:
        return "", "no_channel"
    open_channels = [c for c in usable if c not in refused]
    if not open_channels:
        return "", "opted_out"
    return str(open_channels[0]), ""


def start_fieldwork(
    *, organisation: Organisation, barometer_id: int, number: int, now: datetime | None = None
) -> Wave:
    """Invite every sampled customer, each within the sending hours of the channel and time zone.

    A wave starts once: a second start is refused and nothing is sent twice.
    """
    now = now or timezone.now()
    with transaction.atomic():
        wave = _locked_wave(organisation, barometer_id, number)
        if wave.status != WaveStatus.DRAWN:
            if wave.status == WaveStatus.PLANNED:
                raise Conflict(
                    _("Draw wave %(number)s before starting its fieldwork.") % {"number": wave.number}
                )
            raise Conflict(
                _("The fieldwork of wave %(number)s has already started; a wave starts once.")
                % {"number": wave.number}
            )
        barometer = wave.barometer
        ends = now + timedelta(days=barometer.fieldwork_days)
        cases = list(SampledCase.objects.filter(wave=wave).select_related("customer").order_by("id"))
        refused = opted_out_channels(organisation=organisation, customer_ids=[c.customer_id for c in cases])
        policy = current_policy(organisation=organisation)
        reachable: list[SampledCase] = []
        unreachable: dict[str, list[int]] = {}
        for case in cases:
            channel, why = _channel_for(case.customer, barometer.mode, refused.get(case.customer_id, set()))
            case.channel = channel
            if channel:
                reachable.append(case)
            else:
                unreachable.setdefault(why, []).append(case.id)
        planned = {}
        for case in reachable:
            planned[case.customer_id] = next_sending_time(
                policy=policy,
                at=now,
                time_zone=case.customer.time_zone,
                country=customer_country(case.customer, default=organisation.default_region),
                channel=case.channel,
            )
        interactions = record_study_interactions(
            organisation=organisation,
            touchpoint=barometer.survey.touchpoint,
            customer_ids=[case.customer_id for case in reachable],
            key=f"barometer-{barometer.id}-wave-{wave.number}",
            at=now,
        )
        by_customer = {case.customer_id: case for case in reachable}
        decisions = record_study_contacts(
            organisation=organisation,
            interactions=interactions,
            channels={i.id: by_customer[i.customer_id].channel for i in interactions},
            planned={i.id: planned[i.customer_id] for i in interactions},
            probabilities={i.id: by_customer[i.customer_id].inclusion_probability for i in interactions},
            fieldwork_ends_at=ends,
            now=now,
            context={"barometer": barometer.id, "wave": wave.number},
        )
        customers = {case.customer_id: case.customer for case in reachable}
        for decision in decisions:
            decision.customer = customers[decision.customer_id]
        invitations = create_invitations(
            organisation=organisation, decisions=decisions, expires_at=ends, sampled=True
        )
        for invitation in invitations:
            invitation.customer = customers[invitation.customer_id]
        queue_invitations(organisation=organisation, invitations=invitations)
        by_interaction = {i.id: i.customer_id for i in interactions}
        links = {
            by_interaction[invitation.interaction_id]: (invitation.interaction_id, invitation.id)
            for invitation in invitations
        }
        for case in reachable:
            interaction_id, invitation_id = links[case.customer_id]
            SampledCase.objects.filter(id=case.id).update(
                interaction_id=interaction_id, invitation_id=invitation_id, channel=case.channel
            )
        for why, ids in unreachable.items():
            SampledCase.objects.filter(id__in=ids).update(not_sent_reason=why)
        wave.status = WaveStatus.FIELDWORK
        wave.fieldwork_starts_at = now
        wave.fieldwork_ends_at = ends
        wave.save(update_fields=["status", "fieldwork_starts_at", "fieldwork_ends_at"])
        record(
            organisation=organisation,
            action="barometer.fieldwork_started",
            target=wave,
            after={"invited": len(invitations), "not_invited": {k: len(v) for k, v in unreachable.items()}},
        )
    return wave


def record_completion(*, invitation_id: int, at: datetime) -> SampledCase | None:
    """A sampled customer answered: the case is complete, and takes a place in its stratum's quota
    if one is left (completes past the quota are kept and weighted, not counted: docs/barometers.md)."""
    # Every answer of the flow passes here: one indexed read, no ORDER BY, for the many that are not
    # a barometer's.
    case = next(iter(SampledCase.objects.filter(invitation_id=invitation_id)[:1]), None)
    if case is None or case.completed_at is not None:
        return case
    with transaction.atomic():
        # One conditional UPDATE: two answers arriving together cannot both take the last place.
        counted = WaveStratum.objects.filter(id=case.stratum_id, completes__lt=F("target_completes")).update(
            completes=F("completes") + 1
        )
        SampledCase.objects.filter(id=case.id, completed_at__isnull=True).update(
            completed_at=at, counted=bool(counted)
        )
    case.completed_at, case.counted = at, bool(counted)
    return case


def refresh_case_facts(*, wave: Wave, now: datetime) -> None:
    """Bring the raw facts of each case up to date from the messages, opt-outs and SMS conversations."""
    cases = SampledCase.objects.filter(wave=wave, invitation__isnull=False)
    delivered = OutboundMessage.objects.filter(
        invitation__barometer_case__wave=wave, delivery_status="delivered"
    ).values("invitation_id")
    cases.filter(delivered_at__isnull=True, invitation_id__in=delivered).update(delivered_at=now)
    bounced = OutboundMessage.objects.filter(
        Q(status=MessageStatus.FAILED) | Q(delivery_status__in=["undelivered", "failed"]),
        invitation__barometer_case__wave=wave,
        kind=MessageKind.INVITATION,
    ).values("invitation_id")
    cases.filter(bounced_at__isnull=True, invitation_id__in=bounced).update(bounced_at=now)
    invalid = Q(channel=Channel.EMAIL, customer__email_status__in=[EmailStatus.INVALID]) | Q(
        channel=Channel.SMS, customer__phone_status=PhoneStatus.INVALID
    )
    cases.filter(invalid, bounced_at__isnull=True, completed_at__isnull=True).update(bounced_at=now)
    stopped = OptOut.objects.filter(
        organisation=wave.organisation,
        created_at__gte=wave.fieldwork_starts_at or now,
        customer__in=cases.values("customer_id"),
    ).values("customer_id")
    cases.filter(refused_at__isnull=True, completed_at__isnull=True, customer_id__in=stopped).update(
        refused_at=now
    )
    started = (
        Conversation.objects.filter(invitation__barometer_case__wave=wave)
        .exclude(answers={})
        .values("invitation_id")
    )
    cases.filter(partial_at__isnull=True, completed_at__isnull=True, invitation_id__in=started).update(
        partial_at=now
    )


def send_due_reminders(*, now: datetime | None = None) -> int:
    """Remind the non-responders of every wave in fieldwork whose gap has passed, up to the barometer's
    maximum, within the sending hours; a stratum whose quota is full is not reminded."""
    now = now or timezone.now()
    waves = Wave.objects.filter(status=WaveStatus.FIELDWORK, fieldwork_ends_at__gt=now).select_related(
        "barometer", "organisation"
    )
    written = 0
    for wave in waves:
        barometer = wave.barometer
        invitation_ids = SampledCase.objects.filter(wave=wave, invitation__isnull=False).values_list(
            "invitation_id", flat=True
        )
        # The flow's single reminder is not for barometer invitations: they follow the barometer's rules.
        drop_reminders(invitation_ids=list(invitation_ids))
        if not barometer.reminder_max:
            continue
        due = list(
            SampledCase.objects.filter(
                wave=wave,
                invitation__status=InvitationStatus.SENT,
                completed_at__isnull=True,
                refused_at__isnull=True,
                bounced_at__isnull=True,
                partial_at__isnull=True,
                reminders_sent__lt=barometer.reminder_max,
                stratum__completes__lt=F("stratum__target_completes"),
            )
            .filter(
                Q(last_contact_at__lte=now - timedelta(days=barometer.reminder_gap_days))
                | Q(
                    last_contact_at__isnull=True,
                    invitation__sent_at__lte=now - timedelta(days=barometer.reminder_gap_days),
                )
            )
            .select_related("invitation", "customer")
        )
        if not due:
            continue
        first = {
            invitation_id: (channel, provider, recipient)
            for invitation_id, channel, provider, recipient in OutboundMessage.objects.filter(
                invitation_id__in=[c.invitation_id for c in due],
                kind=MessageKind.INVITATION,
                status=MessageStatus.SENT,
            ).values_list("invitation_id", "channel", "provider", "recipient")
        }
        policy = current_policy(organisation=wave.organisation)
        rows, moved = [], []
        for case in due:
            if case.invitation_id not in first:
                continue
            channel, provider, recipient = first[case.invitation_id]
            not_before = next_sending_time(
                policy=policy,
                at=now,
                time_zone=case.customer.time_zone,
                country=customer_country(case.customer, default=wave.organisation.default_region),
                channel=channel,
            )
            if not_before >= wave.fieldwork_ends_at:  # type: ignore[operator]
                continue
            rows.append(
                new_row(
                    OutboundMessage,
                    organisation_id=wave.organisation_id,
                    kind=MessageKind.REMINDER,
                    channel=channel,
                    provider=provider,
                    recipient=recipient,
                    invitation_id=case.invitation_id,
                    idempotency_key=f"barometer-reminder-{case.id}-{case.reminders_sent + 1}",
                    priority=INVITATION_PRIORITY,
                    not_before=not_before,
                )
            )
            moved.append((case, not_before))
        with transaction.atomic():
            insert_once(rows)
            for case, at in moved:
                # Conditional: a pass run twice at once counts each reminder once.
                SampledCase.objects.filter(id=case.id, reminders_sent=case.reminders_sent).update(
                    reminders_sent=case.reminders_sent + 1, last_contact_at=at
                )
            enqueue_on_commit([row for row in rows if row.id is not None])
        written += len(rows)
    return written


def close_wave(
    *, organisation: Organisation, barometer_id: int, number: int, now: datetime | None = None
) -> Wave:
    """End the fieldwork: every case gets its final disposition, the flow's surveys resume."""
    now = now or timezone.now()
    with transaction.atomic():
        wave = _locked_wave(organisation, barometer_id, number)
        if wave.status != WaveStatus.FIELDWORK:
            raise Conflict(_("Wave %(number)s is not in fieldwork.") % {"number": wave.number})
        refresh_case_facts(wave=wave, now=now)
        counts = assign_dispositions(wave=wave, now=now)
        Invitation.objects.filter(barometer_case__wave=wave, status=InvitationStatus.SCHEDULED).update(
            status=InvitationStatus.CANCELLED
        )
        decision_ids = [
            d
            for d in SampledCase.objects.filter(wave=wave, interaction__isnull=False).values_list(
                "interaction__decision__id", flat=True
            )
            if d
        ]
        release_study_hold(organisation=organisation, decision_ids=decision_ids, at=now)
        wave.status = WaveStatus.CLOSED
        wave.closed_at = now
        wave.save(update_fields=["status", "closed_at"])
        record(
            organisation=organisation,
            action="barometer.wave_closed",
            target=wave,
            after=counts.as_dict(),
        )
    return wave


def tend_waves(*, now: datetime | None = None) -> dict[str, int]:
    """The periodic pass: facts brought up to date, reminders written, waves past their end closed."""
    now = now or timezone.now()
    for wave in Wave.objects.filter(status=WaveStatus.FIELDWORK, fieldwork_ends_at__gt=now):
        refresh_case_facts(wave=wave, now=now)
    reminded = send_due_reminders(now=now)
    closed = 0
    for wave in Wave.objects.filter(status=WaveStatus.FIELDWORK, fieldwork_ends_at__lte=now).select_related(
        "organisation"
    ):
        close_wave(
            organisation=wave.organisation, barometer_id=wave.barometer_id, number=wave.number, now=now
        )
        closed += 1
    return {"reminders": reminded, "closed": closed}
