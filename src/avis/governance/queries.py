from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import formats, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from avis.accounts.models import Organisation
from avis.customers.models import Customer
from avis.governance.models import ContactPolicy, Decision, SamplingGoal, StratumRate
from avis.interactions.models import Touchpoint
from avis.words import operator_label, percent_label, touchpoint_name


def contact_history(*, organisation: Organisation, customer: Customer) -> QuerySet[Decision]:
    return (
        Decision.objects.filter(organisation=organisation, customer=customer)
        .select_related("interaction", "touchpoint", "policy")
        .order_by("-decided_at", "-id")
    )


def decisions_for_interactions(
    *, organisation: Organisation, interaction_ids: list[int]
) -> dict[int, Decision]:
    found: dict[int, Decision] = {}
    for start in range(0, len(interaction_ids), 2000):
        rows = Decision.objects.filter(
            organisation=organisation, interaction_id__in=interaction_ids[start : start + 2000]
        ).select_related("policy")
        found |= {row.interaction_id: row for row in rows}
    return found


def _day(moment: str, time_zone: str | None = None) -> str:
    value = datetime.fromisoformat(moment)
    if time_zone:
        value = value.astimezone(ZoneInfo(time_zone))
    return formats.date_format(value, "SHORT_DATE_FORMAT")


def _moment(moment: str, time_zone: str) -> str:
    value = datetime.fromisoformat(moment).astimezone(ZoneInfo(time_zone))
    return formats.date_format(value, "SHORT_DATETIME_FORMAT")


def _touchpoint_names(organisation_id: int, language: str) -> dict[str, str]:
    return {tp.code: tp.label(language) for tp in Touchpoint.objects.filter(organisation_id=organisation_id)}


def _windows(windows: list[dict[str, int]]) -> str:
    return _(" and ").join(
        ngettext("%(max)s survey per %(days)s days", "%(max)s surveys per %(days)s days", w["max"]) % w
        for w in windows
    )


def explain(decision: Decision, language: str | None = None, names: dict[str, str] | None = None) -> str:
    """One plain sentence saying why this customer was or was not asked."""
    language = language or translation.get_language()
    with translation.override(language):
        c = decision.context
        reason = decision.reason
        if names is None and any(key in c for key in ("touchpoint", "last_touchpoint")):
            names = _touchpoint_names(decision.organisation_id, language)
        name = (names or {}).get(str(c.get("touchpoint", "")), c.get("touchpoint", ""))
        last_name = (names or {}).get(str(c.get("last_touchpoint", "")), c.get("last_touchpoint", ""))
        if reason == "eligible" or reason == "quiet_hours":
            if "windows" in c:
                used = _(", ").join(
                    _("%(count)s of %(max)s in %(days)s days") % {"count": count, **window}
                    for count, window in zip(c["counts"], c["windows"], strict=True)
                )
            else:  # decisions made before several windows existed
                used = _("%(count)s of %(max)s in %(days)s days") % c
            drawn = _("drawn with probability %(rate)s") % {"rate": percent_label(float(c["rate"]))}
            if c.get("stratum"):
                drawn = _("drawn with probability %(rate)s set for %(stratum)s by a precision goal") % {
                    "rate": percent_label(float(c["rate"])),
                    "stratum": c["stratum"],
                }
            if reason == "eligible":
                sentence = _("Surveyed: %(used)s surveys used; %(drawn)s.") % {"used": used, "drawn": drawn}
            else:
                sentence = _(
                    "Deferred to %(when)s (%(time_zone)s): outside the sending hours in the customer's "
                    "time zone; %(drawn)s."
                ) % {
                    "when": _moment(str(c["planned_at"]), str(c["time_zone"])),
                    "time_zone": c["time_zone"],
                    "drawn": drawn,
                }
            if c.get("outranked"):
                sentence += " " + _("It replaces a survey about %(touchpoints)s that had not left yet.") % {
                    "touchpoints": _(", ").join((names or {}).get(code, code) for code in c["outranked"])
                }
            return sentence
        if reason == "opted_out":
            return _("Not surveyed: the customer opted out of surveys.")
        if reason == "barometer_sample":
            return _(
                "Surveyed for a barometer: drawn in its sample with probability %(rate)s; "
                "other surveys wait until its fieldwork ends on %(until)s."
            ) % {
                "rate": percent_label(float(c.get("rate", decision.inclusion_probability))),
                "until": _day(decision.send_before.isoformat()) if decision.send_before else "—",
            }
        if reason == "barometer_fieldwork":
            return _(
                "Not surveyed: the customer was drawn for a barometer whose fieldwork runs until "
                "%(until)s; surveys after an interaction wait until then."
            ) % {"until": _day(str(c["until"]))}
        if reason == "contact_only":
            return _("Not a survey: a contact about %(touchpoint)s recorded for contact pressure.") % {
                "touchpoint": name
            }
        if reason == "excluded":
            value = "" if c["operator"] in {"is_true", "is_set"} else f" {c['value']}"
            return _("Not surveyed: excluded by the rule “%(rule)s”.") % {
                "rule": f"{c['attribute']} {operator_label(c['operator'])}{value}"
            }
        if reason == "no_survey":
            return _("Not surveyed: the touchpoint %(touchpoint)s has no active survey.") % {
                "touchpoint": name
            }
        if reason == "no_channel":
            return _("Not surveyed: no phone number or email address the customer accepts surveys on.")
        if reason == "cap_reached":
            return _(
                "Not surveyed: already surveyed on %(last)s about %(about)s, "
                "%(count)s times in %(days)s days; the policy allows %(max)s."
            ) % {**c, "last": _day(str(c["last"])), "about": last_name or _("another touchpoint")}
        if reason == "quarantine":
            return _(
                "Not surveyed: already surveyed on %(last)s about %(about)s; "
                "the policy waits %(days)s days after any survey."
            ) % {**c, "last": _day(str(c["last"])), "about": last_name or _("another touchpoint")}
        if reason == "touchpoint_gap":
            return _(
                "Not surveyed: already surveyed about %(touchpoint)s on %(last)s; "
                "the policy waits %(days)s days between two surveys about it."
            ) % {**c, "touchpoint": name, "last": _day(str(c["last"]))}
        if reason == "stale":
            return _(
                "Not surveyed: the survey could not leave before %(earliest)s, more than %(hours)s hours "
                "after the interaction; a late survey is dropped rather than sent."
            ) % {**c, "earliest": _moment(str(c["earliest"]), str(c["time_zone"]))}
        if reason == "outranked":
            return (
                _(
                    "Not surveyed: a survey about a higher-priority interaction (%(by)s) "
                    "took this one's place before it left."
                )
                % c
            )
        if reason == "not_sampled":
            if c.get("stratum"):
                return _(
                    "Not surveyed: not drawn in the sample (%(rate)s of %(stratum)s's interactions are "
                    "surveyed, enough for the precision goal)."
                ) % {**c, "rate": percent_label(float(c["rate"]))}
            return _(
                "Not surveyed: not drawn in the sample "
                "(%(rate)s of %(touchpoint)s interactions are surveyed)."
            ) % {**c, "rate": percent_label(float(c["rate"])), "touchpoint": name}
        return reason


def describe_policy(policy: ContactPolicy, language: str | None = None) -> list[str]:
    """The policy in a few plain sentences, for the pages that show which rules are in force."""
    with translation.override(language or translation.get_language()):
        lines = [
            _("At most %(windows)s, across all touchpoints and channels.")
            % {"windows": _windows(policy.windows)}
        ]
        if policy.quarantine_days:
            lines.append(
                _("%(days)s days of quarantine after any survey.") % {"days": policy.quarantine_days}
            )
        for code, days in policy.touchpoint_gaps.items():
            lines.append(
                _("%(days)s days between two surveys about %(touchpoint)s.")
                % {"days": days, "touchpoint": touchpoint_name(code, policy.organisation_id)}
            )
        if policy.priorities:
            ranked = sorted(policy.priorities.items(), key=lambda item: -item[1])
            lines.append(
                _("Priority: %(order)s.")
                % {
                    "order": " > ".join(
                        f"{touchpoint_name(code, policy.organisation_id)} ({value})" for code, value in ranked
                    )
                }
            )
        for rule in policy.exclusions:
            value = "" if rule["operator"] in {"is_true", "is_set"} else f" {rule.get('value')}"
            lines.append(
                _("Never surveyed: %(rule)s.")
                % {"rule": f"{rule['attribute']} {operator_label(rule['operator'])}{value}".strip()}
            )
        if policy.freshness_hours:
            lines.append(
                _("A survey that cannot leave within %(hours)s hours of the interaction is dropped.")
                % {"hours": policy.freshness_hours}
            )
        lines.append(
            _("Sending from %(opens)s to %(closes)s in the customer's time zone%(sunday)s%(holidays)s.")
            % {
                "opens": f"{policy.send_from:%H:%M}",
                "closes": f"{policy.send_until:%H:%M}",
                "sunday": "" if policy.send_on_sunday else _(", never on Sunday"),
                "holidays": "" if policy.send_on_holidays else _(", never on a public holiday"),
            }
        )
        return lines


def explainer(language: str | None = None) -> Callable[[Decision], str]:
    """``explain`` for many decisions in one language, each distinct sentence rendered once.

    The decisions of one batch share a few reasons and contexts (one policy, one
    moment, one sending window), so 10,000 of them make a handful of sentences;
    rendering each (translation, localised dates) 10,000 times would cost more
    than deciding them.
    """
    language = language or translation.get_language()
    sentences: dict[tuple[str, str], str] = {}
    labels: dict[int, dict[str, str]] = {}

    def explain_one(decision: Decision) -> str:
        # repr tells 1, 1.0 and True apart, as the sentence does; two contexts
        # equal but for the order of their keys only cost one more rendering.
        key = (decision.reason, repr(decision.context))
        sentence = sentences.get(key)
        if sentence is None:
            names = labels.get(decision.organisation_id)
            if names is None:
                names = labels[decision.organisation_id] = _touchpoint_names(
                    decision.organisation_id, language
                )
            sentence = sentences[key] = explain(decision, language, names)
        return sentence

    return explain_one


def recent_decisions(*, organisation: Organisation, limit: int = 200) -> list[Decision]:
    return list(filtered_decisions(organisation=organisation, filters=DecisionFilters())[:limit])


@dataclass(frozen=True)
class DecisionFilters:
    """What the decisions page narrows to; days are the organisation's calendar days, both included."""

    since: date | None = None
    until: date | None = None
    touchpoint: str = ""
    outcome: str = ""
    reason: str = ""
    customer: str = ""


def filtered_decisions(*, organisation: Organisation, filters: DecisionFilters) -> QuerySet[Decision]:
    """The organisation's decisions, newest first, narrowed to what the filters ask."""
    rows = Decision.objects.filter(organisation=organisation)
    zone = ZoneInfo(organisation.default_time_zone)
    if filters.since:
        rows = rows.filter(decided_at__gte=datetime.combine(filters.since, time(0), zone))
    if filters.until:
        rows = rows.filter(decided_at__lt=datetime.combine(filters.until + timedelta(days=1), time(0), zone))
    if filters.touchpoint:
        rows = rows.filter(touchpoint__code=filters.touchpoint)
    if filters.outcome:
        rows = rows.filter(outcome=filters.outcome)
    if filters.reason:
        rows = rows.filter(reason=filters.reason)
    if filters.customer:
        rows = rows.filter(customer__external_id=filters.customer)
    return rows.select_related("interaction", "touchpoint", "policy", "customer").order_by(
        "-decided_at", "-id"
    )


def decision_reasons(*, organisation: Organisation) -> list[str]:
    """The reasons this organisation's decisions carry, for the page's filter."""
    return sorted(
        Decision.objects.filter(organisation=organisation).values_list("reason", flat=True).distinct()
    )


def policy_versions(*, organisation: Organisation) -> QuerySet[ContactPolicy]:
    return (
        ContactPolicy.objects.filter(organisation=organisation)
        .select_related("created_by")
        .order_by("-version")
    )


def sampling_goals(*, organisation: Organisation) -> QuerySet[SamplingGoal]:
    return (
        SamplingGoal.objects.filter(organisation=organisation, is_active=True)
        .select_related("touchpoint")
        .prefetch_related(Prefetch("rates", queryset=StratumRate.objects.order_by("-probability", "stratum")))
        .order_by("id")
    )


PRESSURE_DAYS = (30, 90, 365)


def contact_pressure(*, organisation: Organisation, customer: Customer, now: datetime) -> dict[int, int]:
    """Solicitations (surveys and other recorded contacts) in the last 30, 90 and 365 days."""
    since = {days: now - timedelta(days=days) for days in PRESSURE_DAYS}
    counts = Decision.objects.filter(
        organisation=organisation,
        customer=customer,
        solicited_at__gt=since[max(PRESSURE_DAYS)],
        solicited_at__lte=now,
    ).aggregate(**{str(days): Count("id", filter=Q(solicited_at__gt=since[days])) for days in PRESSURE_DAYS})
    return {days: counts[str(days)] for days in PRESSURE_DAYS}


@dataclass(frozen=True)
class Breach:
    """A survey that the policy version it was decided under should have prevented."""

    decision_id: int
    customer_id: int
    rule: str  # window | quarantine | touchpoint_gap
    detail: str


def contact_rule_breaches(
    *, organisation: Organisation, customer_ids: list[int] | None = None
) -> list[Breach]:
    """Audit the recorded history: each survey against every solicitation decided before it.

    The engine guarantees this at decision time; this reads the rows back, so a
    bug, a race or a hand-edited row shows up here (tests, and operators who
    want to prove the promise held).
    """
    rows = Decision.objects.filter(organisation=organisation, solicited_at__isnull=False)
    if customer_ids is not None:
        rows = rows.filter(customer_id__in=customer_ids)
    history: dict[int, list[Decision]] = {}
    for decision in rows.select_related("policy", "touchpoint").order_by("customer_id", "decided_at", "id"):
        history.setdefault(decision.customer_id, []).append(decision)
    breaches = []
    for customer_id, decisions in history.items():
        for index, decision in enumerate(decisions):
            if decision.reason == "contact_only":
                continue  # recorded, not decided: another tool made that contact
            policy, at = decision.policy, decision.decided_at
            before = decisions[:index]
            for window in policy.windows:
                count = sum(1 for d in before if d.solicited_at > at - timedelta(days=window["days"]))
                if count >= window["max"]:
                    breaches.append(
                        Breach(
                            decision.id, customer_id, "window", f"{count} earlier in {window['days']} days"
                        )
                    )
            if policy.quarantine_days and any(
                d.solicited_at > at - timedelta(days=policy.quarantine_days) for d in before
            ):
                breaches.append(
                    Breach(decision.id, customer_id, "quarantine", f"{policy.quarantine_days} days")
                )
            gap = policy.touchpoint_gaps.get(decision.touchpoint.code, 0)
            if gap and any(
                d.touchpoint_id == decision.touchpoint_id and d.solicited_at > at - timedelta(days=gap)
                for d in before
            ):
                breaches.append(Breach(decision.id, customer_id, "touchpoint_gap", f"{gap} days"))
    return breaches
