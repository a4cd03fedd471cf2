from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from django.utils import formats, translation
from django.utils.translation import gettext as _

from avis.accounts.models import Organisation
from avis.customers.models import Customer
from avis.governance.models import Decision


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
    return formats.date_format(value, "DATE_FORMAT")


def _moment(moment: str, time_zone: str) -> str:
    value = datetime.fromisoformat(moment).astimezone(ZoneInfo(time_zone))
    return f"{formats.date_format(value, 'DATE_FORMAT')} {value:%H:%M}"


def explain(decision: Decision, language: str | None = None) -> str:
    """One plain sentence saying why this customer was or was not asked."""
    with translation.override(language or translation.get_language()):
        c = decision.context
        reason = decision.reason
        if reason == "eligible":
            return _(
                "Surveyed: %(count)s of %(max)s surveys used in the last %(days)s days, "
                "drawn with probability %(rate)s."
            ) % {**c, "rate": f"{float(c['rate']):.0%}"}
        if reason == "quiet_hours":
            return _(
                "Deferred to %(when)s (%(time_zone)s): outside the sending hours in the customer's time zone."
            ) % {"when": _moment(str(c["planned_at"]), str(c["time_zone"])), "time_zone": c["time_zone"]}
        if reason == "opted_out":
            return _("Not surveyed: the customer opted out of surveys.")
        if reason == "no_survey":
            return _("Not surveyed: the touchpoint %(touchpoint)s has no active survey.") % c
        if reason == "no_channel":
            return _("Not surveyed: no phone number or email address the customer accepts surveys on.")
        if reason == "cap_reached":
            return _(
                "Not surveyed: already surveyed %(count)s times in the last %(days)s days "
                "(last on %(last)s); the policy allows %(max)s."
            ) % {**c, "last": _day(str(c["last"]))}
        if reason == "quarantine":
            return _(
                "Not surveyed: already surveyed on %(last)s; the policy waits %(days)s days after any survey."
            ) % {**c, "last": _day(str(c["last"]))}
        if reason == "not_sampled":
            return _(
                "Not surveyed: not drawn in the sample "
                "(%(rate)s of %(touchpoint)s interactions are surveyed)."
            ) % {**c, "rate": f"{float(c['rate']):.0%}"}
        return reason


def explainer(language: str | None = None) -> Callable[[Decision], str]:
    """``explain`` for many decisions in one language, each distinct sentence rendered once.

    The decisions of one batch share a few reasons and contexts (one policy, one
    moment, one sending window), so 10,000 of them make a handful of sentences;
    rendering each (translation, localised dates) 10,000 times would cost more
    than deciding them.
    """
    language = language or translation.get_language()
    sentences: dict[tuple[str, str], str] = {}

    def explain_one(decision: Decision) -> str:
        # repr tells 1, 1.0 and True apart, as the sentence does; two contexts
        # equal but for the order of their keys only cost one more rendering.
        key = (decision.reason, repr(decision.context))
        sentence = sentences.get(key)
        if sentence is None:
            sentence = sentences[key] = explain(decision, language)
        return sentence

    return explain_one


def recent_decisions(*, organisation: Organisation, limit: int = 200) -> list[Decision]:
    return list(
        Decision.objects.filter(organisation=organisation)
        .select_related("interaction", "touchpoint", "policy", "customer")
        .order_by("-decided_at", "-id")[:limit]
    )
