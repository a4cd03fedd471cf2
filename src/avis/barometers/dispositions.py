"""Final AAPOR dispositions of a wave's sampled cases, and its outcome rates per wave and stratum.

The facts come from the contact ledger the transactional surveys share: the invitation, its
messages and their delivery receipts, the response and its answers, the SMS conversation, the
opt-outs recorded during the fieldwork, the customer's address status. The fieldwork facts the
barometer records on ``SampledCase`` (``delivered_at``, ``bounced_at``, ``refused_at``,
``partial_at``, ``completed_at``, ``not_sent_reason``) count too. How facts become one
disposition is ``avis.analytics.aapor.disposition_of``; docs/barometers.md, "Dispositions and
response rates", lists every rule.

While the fieldwork runs, dispositions are provisional and computed on each read; closing the
wave stores each case's final one (``assign_dispositions``), which every later read uses.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from avis.analytics.aapor import (
    CaseFacts,
    Counts,
    Disposition,
    Eligibility,
    OutcomeRates,
    disposition_of,
    outcome_rates,
)
from avis.barometers.models import SampledCase, Wave, WaveStratum
from avis.customers.models import Channel, EmailStatus, OptOut, PhoneStatus
from avis.messaging.models import (
    Conversation,
    ConversationEnd,
    DeliveryStatus,
    MessageStatus,
    OutboundMessage,
)
from avis.surveys.conditions import applicable_questions
from avis.surveys.models import Answer, SurveyVersion
from avis.surveys.queries import version_questions

# ``SampledCase.not_sent_reason`` values that say something about eligibility.
OUT_OF_SCOPE_REASONS = frozenset({"out_of_scope", "deceased"})
QUOTA_FULL_REASON = "quota_full"
_BOUNCES = (DeliveryStatus.UNDELIVERED, DeliveryStatus.FAILED)


@dataclass(frozen=True)
class CaseDisposition:
    case_id: int
    stratum_id: int
    disposition: Disposition
    reason: str
    final: bool  # stored when the wave closed; otherwise provisional


@dataclass(frozen=True)
class StratumRates:
    stratum: WaveStratum
    rates: OutcomeRates


@dataclass(frozen=True)
class WaveRates:
    wave: Wave
    overall: OutcomeRates
    strata: list[StratumRates]
    final: bool  # every disposition is final (the wave closed)


def case_dispositions(*, wave: Wave, now: datetime | None = None) -> list[CaseDisposition]:
    """Each sampled case of the wave with its disposition: the stored one if final, else from the facts."""
    now = now or timezone.now()
    cases = list(
        SampledCase.objects.filter(organisation_id=wave.organisation_id, wave=wave)
        .select_related("customer", "invitation")
        .order_by("id")
    )
    pending = [case for case in cases if not case.disposition]
    facts = _facts(wave, pending, now=now) if pending else {}
    found = []
    for case in cases:
        if case.disposition:
            found.append(
                CaseDisposition(
                    case.pk, case.stratum_id, Disposition(case.disposition), case.disposition_reason, True
                )
            )
        else:
            disposition, reason = disposition_of(facts[case.pk])
            found.append(CaseDisposition(case.pk, case.stratum_id, disposition, reason, False))
    return found


def wave_rates(*, wave: Wave, now: datetime | None = None) -> WaveRates:
    """The outcome rates of the wave, and of each stratum with the wave's ``e``."""
    dispositions = case_dispositions(wave=wave, now=now)
    by_stratum: dict[int, list[Disposition]] = defaultdict(list)
    for found in dispositions:
        by_stratum[found.stratum_id].append(found.disposition)
    overall = outcome_rates(Counts.of(found.disposition for found in dispositions))
    shared = Eligibility(overall.eligibility.e, "wave_share")
    strata = [
        StratumRates(stratum, outcome_rates(Counts.of(by_stratum[stratum.pk]), eligibility=shared))
        for stratum in WaveStratum.objects.filter(organisation_id=wave.organisation_id, wave=wave).order_by(
            "key"
        )
    ]
    return WaveRates(
        wave=wave,
        overall=overall,
        strata=strata,
        final=bool(dispositions) and all(found.final for found in dispositions),
    )


def assign_dispositions(*, wave: Wave, now: datetime | None = None) -> Counts:
    """Store each case's final disposition (the wave's fieldwork is over); run again, it changes nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        # The wave's row is the lock: two closings at once would otherwise both write.
        Wave.objects.select_for_update().filter(pk=wave.pk).first()
        dispositions = case_dispositions(wave=wave, now=now)
        # One statement per (disposition, rule) — a dozen at most — whatever the size of the sample.
        fresh: dict[tuple[str, str], list[int]] = defaultdict(list)
        for found in dispositions:
            if not found.final:
                fresh[(str(found.disposition), found.reason)].append(found.case_id)
        for (disposition, reason), case_ids in fresh.items():
            for start in range(0, len(case_ids), 2000):
                SampledCase.objects.filter(pk__in=case_ids[start : start + 2000]).update(
                    disposition=disposition, disposition_reason=reason, disposed_at=now
                )
    return Counts.of(found.disposition for found in dispositions)


def _facts(wave: Wave, cases: list[SampledCase], *, now: datetime) -> dict[int, CaseFacts]:
    """What the ledger says about each case, read in a handful of queries for the whole wave."""
    organisation_id = wave.organisation_id
    in_wave = Q(invitation__barometer_case__wave=wave)
    messages: dict[int, list[dict]] = defaultdict(list)
    for row in OutboundMessage.objects.filter(in_wave, organisation_id=organisation_id).values(
        "invitation_id", "channel", "status", "delivery_status"
    ):
        messages[row["invitation_id"]].append(row)
    answers: dict[int, dict[str, str]] = defaultdict(dict)
    for row in Answer.objects.filter(
        organisation_id=organisation_id, response__invitation__barometer_case__wave=wave
    ).values("response__invitation_id", "question__code", "number", "choice", "text", "not_applicable"):
        answers[row["response__invitation_id"]][row["question__code"]] = _raw(row)
    conversations = {
        row["invitation_id"]: row
        for row in Conversation.objects.filter(in_wave, organisation_id=organisation_id).values(
            "invitation_id", "answers", "end_reason"
        )
    }
    start = wave.fieldwork_starts_at or wave.drawn_at
    end = min(wave.fieldwork_ends_at, now) if wave.fieldwork_ends_at else now
    opted_out: dict[int, set[str]] = defaultdict(set)
    if start is not None:
        for row in OptOut.objects.filter(
            organisation_id=organisation_id,
            customer_id__in=SampledCase.objects.filter(wave=wave).values("customer_id"),
            created_at__gte=start,
            created_at__lt=end,
        ).values("customer_id", "channel"):
            opted_out[row["customer_id"]].add(row["channel"])
    versions = {
        version.pk: version_questions(version)
        for version in SurveyVersion.objects.filter(
            pk__in={case.invitation.version_id for case in cases if case.invitation}
        )
    }
    full = set(
        WaveStratum.objects.filter(organisation_id=organisation_id, wave=wave)
        .filter(completes__gte=F("target_completes"))
        .values_list("pk", flat=True)
    )
    return {
        case.pk: _case_facts(
            case,
            messages=messages.get(case.invitation_id or 0, []),
            answered=answers.get(case.invitation_id or 0),
            conversation=conversations.get(case.invitation_id or 0),
            opted_out=opted_out.get(case.customer_id, set()),
            questions=versions.get(case.invitation.version_id) if case.invitation else None,
            stratum_full=case.stratum_id in full,
        )
        for case in cases
    }


def _raw(row: dict) -> str:
    """An answer as the respondent's form posted it: what the survey's conditions read."""
    if row["not_applicable"]:
        return "na"
    if row["number"] is not None:
        return str(row["number"])
    return row["choice"] or row["text"] or ""


def _case_facts(
    case: SampledCase,
    *,
    messages: list[dict],
    answered: dict[str, str] | None,
    conversation: dict | None,
    opted_out: set[str],
    questions: list | None,
    stratum_full: bool,
) -> CaseFacts:
    customer = case.customer
    given = answered if answered is not None else dict((conversation or {}).get("answers") or {})
    given = {code: value for code, value in given.items() if str(value).strip()}
    asked = applicable_questions(questions, given) if questions else []
    # AAPOR lets a study count completeness on its essential questions: here the required ones
    # (a respondent who submits has answered them all), or every question when none is required.
    essential = [q for q in asked if q.required] or asked
    applicable = len(essential)
    started = bool(given) or case.completed_at is not None or case.partial_at is not None
    if case.completed_at and not given:  # recorded by the barometer without answers at hand
        answered_count, applicable = 1, 1
    elif case.partial_at and not given:
        answered_count, applicable = 1, 2
    else:
        answered_count = sum(1 for q in essential if q.code in given)
    sent = [m for m in messages if m["status"] == MessageStatus.SENT]
    channel = case.channel or (case.invitation.channel if case.invitation else "")
    invalid = {
        "email": customer.email_status == EmailStatus.INVALID,
        "sms": customer.phone_status == PhoneStatus.INVALID,
    }
    # A hard bounce is a message the provider refused or could not deliver to an address it has
    # since declared invalid (a phone switched off for days is undelivered, not invalid).
    bounced = sum(
        1
        for m in messages
        if invalid.get(m["channel"], False)
        and (m["delivery_status"] in _BOUNCES or m["status"] == MessageStatus.FAILED)
    )
    if case.bounced_at and not messages:
        # Recorded without its messages at hand (imported fieldwork): the case's own fact. With
        # messages, the ledger decides: ``bounced_at`` also marks soft failures (a phone off for
        # days), which stop reminders but do not make a customer ineligible.
        bounced = 1
    refused = (
        case.refused_at is not None
        or bool(opted_out & {Channel.ALL, channel})
        or (conversation or {}).get("end_reason") == ConversationEnd.OPTED_OUT
    )
    return CaseFacts(
        applicable=applicable,
        answered=answered_count,
        started=started,
        refused=refused,
        out_of_scope=case.not_sent_reason in OUT_OF_SCOPE_REASONS,
        quota_full=case.not_sent_reason == QUOTA_FULL_REASON or (stratum_full and not sent),
        erased=customer.external_id == f"erased-{customer.pk}",
        sent=max(len(sent), bounced),
        delivered=case.delivered_at is not None
        or any(m["delivery_status"] == DeliveryStatus.DELIVERED for m in messages),
        bounced=bounced,
    )
