"""Words, not codes: the one place that turns each kind of code into words in the reader's language.

Pages, e-mails, charts, exports and the PDF all print codes through these functions (in Python)
or the template filters of the same names (registered as template builtins in settings, so no
``{% load %}`` is needed): ``touchpoint_name``, ``team_name``, ``reason_label``,
``case_reason_label``, ``outcome_label``, ``operator_label``, ``metric_label``, ``dimension_label``,
``question_label``, ``answer_label``.
A code nobody has a word for comes back as it is, so a new code shows up instead of vanishing.
Dates follow the reader's language (``avis/formats``: day first in English too) in the
organisation's time zone (``OrganisationMiddleware``); ``month_label`` names a month.
Adding a language string: wrap it in ``gettext_lazy`` here and translate it in
``src/avis/locale/fr/LC_MESSAGES/django.po`` (see docs/architecture.md, "Words, not codes").

Touchpoint names are the organisation's own (``Touchpoint.name``, ``{"fr": …, "en": …}``) and
team names too; they are read once per organisation and request (a minute at most elsewhere).
"""

from __future__ import annotations

import time
from datetime import date, datetime
from typing import Any

from django import template
from django.core.signals import request_started
from django.template.defaultfilters import floatformat
from django.utils import formats, timezone, translation
from django.utils.translation import gettext_lazy as _

# Why governance did not ask (Decision.reason), in words.
REASONS = {
    "opted_out": _("opted out"),
    "excluded": _("excluded by a rule"),
    "no_survey": _("no active survey"),
    "no_channel": _("no usable channel"),
    "cap_reached": _("a window's cap"),
    "quarantine": _("the quarantine"),
    "touchpoint_gap": _("a touchpoint's gap"),
    "stale": _("too late to send"),
    "outranked": _("outranked by a higher priority"),
    "not_sampled": _("not drawn"),
    "contact_only": _("contact only"),
    "eligible": _("eligible"),
    "quiet_hours": _("waiting for sending hours"),
    "sampled": _("drawn in the sample"),
    "invited": _("surveyed"),
    "barometer_sample": _("drawn for a barometer"),
    "barometer_fieldwork": _("in a barometer's fieldwork"),
    # Left out of a barometer's frame (avis.barometers.frame.REASONS).
    "no_stratum": _("no value for a stratum"),
    "in_study": _("already in a study's fieldwork"),
}

# Why a case was opened (Case.reasons, the alert rule's condition), as a short tag.
CASE_REASONS = {
    "detractor": _("low score"),
    "low_csat": _("low satisfaction"),
    "low_agent_score": _("low agent score"),
    "not_resolved": _("not resolved"),
    "callback_requested": _("asks a call-back"),
    "comment_words": _("words"),
    "negative_sentiment": _("negative comment"),
    "repeat_contact": _("again"),
}

# A contact policy's exclusion rule: "never survey a customer whose attribute …".
OPERATORS = {
    "equals": _("equals"),
    "not_equals": _("differs from"),
    "in": _("is one of"),
    "is_true": _("is true"),
    "is_set": _("is filled in"),
    "less_than": _("is less than"),
    "greater_than": _("is greater than"),
}

# What each metric is called on the pages, in the exports and in the report.
METRICS = {
    "nps": _("NPS"),
    "resolution_rate": _("Resolution rate"),
    "csat": _("CSAT top-2-box"),
    "csat_mean": _("CSAT mean (1–5)"),
    "agent_score": _("Agent score, top-2-box"),
    "agent_mean": _("Agent score, mean (1–5)"),
    "ces": _("Customer effort, mean (CES 1–7)"),
    "response_rate": _("Response rate"),
}

# What a figure is broken down by (analytics' dimensions, the weighting's margins).
DIMENSIONS = {
    "touchpoint": _("touchpoint"),
    "team": _("team or site"),
    "agent": _("agent"),
    "channel": _("channel"),
}

# Answer values of the standard questions, when the question itself has no label for them.
ANSWER_VALUES = {
    "yes": _("yes"),
    "no": _("no"),
    "partly": _("partly"),
}

# The standard questions, by code, when a survey's own prompt is not at hand (lists, e-mails).
QUESTIONS = {
    "nps": _("recommendation (0–10)"),
    "resolved": _("resolved"),
    "agent": _("agent"),
    "effort": _("effort"),
    "comment": _("comment"),
    "callback": _("call-back"),
    "callback_channel": _("call-back channel"),
    "callback_time": _("call-back time"),
    "csat": _("satisfaction (1–5)"),
    "choice": _("choice"),
}


# The columns of the answers and metrics exports, as the people's downloads head them (the API's
# exports keep the codes: programs read them).
COLUMNS = {
    "answer_id": _("Answer"),
    "response_id": _("Response"),
    "answered_at": _("Answered at (UTC)"),
    "touchpoint": _("Touchpoint"),
    "team": _("Team or site"),
    "agent": _("Agent"),
    "channel": _("Channel"),
    "question": _("Question"),
    "kind": _("Kind of question"),
    "attribution": _("What it judges"),
    "number": _("Score"),
    "choice": _("Choice"),
    "not_applicable": _("Not applicable"),
    "text": _("Comment"),
    "metric": _("Metric"),
    "period": _("Period"),
    "period_start": _("Period start"),
    "n": _("Answers (n)"),
    "value": _("Value"),
    "ci_low": _("95 % interval, low"),
    "ci_high": _("95 % interval, high"),
    "method": _("Interval method"),
    "reliable": _("Enough answers"),
}


def _language(language: str | None = None) -> str:
    return (language or translation.get_language() or "en").split("-")[0]


def column_label(column: str) -> str:
    return str(COLUMNS.get(column, column))


def reason_label(reason: str) -> str:
    """Why an interaction was not asked, in words."""
    return str(REASONS.get(reason, reason))


def case_reason_label(reason: str) -> str:
    return str(CASE_REASONS.get(reason, reason))


def operator_label(operator: str) -> str:
    return str(OPERATORS.get(operator, operator))


def metric_label(metric: str) -> str:
    return str(METRICS.get(metric, metric))


def dimension_label(dimension: Any) -> str:
    """A dimension in words; a list of them joined by commas."""
    if isinstance(dimension, list | tuple):
        return ", ".join(dimension_label(d) for d in dimension)
    return str(DIMENSIONS.get(dimension, dimension))


def outcome_label(outcome: str) -> str:
    """A case's outcome (solved, compensated, left…), in words."""
    from avis.cases.models import CaseOutcome  # the cases app sits above most users of this module

    return str(CaseOutcome(outcome).label) if outcome in CaseOutcome.values else outcome


def question_label(code: str, question: Any = None, language: str | None = None) -> str:
    """A question in a few words: the standard wording of its code, else its own prompt."""
    with translation.override(language or translation.get_language()):
        if code in QUESTIONS:
            return str(QUESTIONS[code])
    # A question, or an exported answer ({"question": code, "prompt": {...}}) read back by a page.
    prompt = (
        question.get("prompt") if isinstance(question, dict) else getattr(question, "prompt", None)
    ) or {}
    return prompt.get(_language(language)) or prompt.get("en") or prompt.get("fr") or code


def answer_label(value: Any, question: Any = None, language: str | None = None) -> str:
    """A choice answer (``yes``, ``partly``, a choice's value) as the respondent read it."""
    if value in (None, ""):
        return ""
    for choice in getattr(question, "choices", None) or []:
        if choice.get("value") == value:
            label = choice.get("label") or {}
            found = label.get(_language(language)) or label.get("en") or label.get("fr")
            if found:
                return found
    with translation.override(language or translation.get_language()):
        return str(ANSWER_VALUES.get(value, value))


# --- The organisation's own names, read once per request ---------------------------------------

_NAMES: dict[tuple[str, int], tuple[float, dict[str, Any]]] = {}
_NAMES_SECONDS = 60.0


def forget_names(**_kwargs: Any) -> None:
    """Each request (and each saved touchpoint or team) reads the names afresh."""
    _NAMES.clear()


request_started.connect(forget_names, dispatch_uid="avis.words.forget_names")


def _names(kind: str, organisation_id: int) -> dict[str, Any]:
    key = (kind, organisation_id)
    cached = _NAMES.get(key)
    if cached and time.monotonic() - cached[0] < _NAMES_SECONDS:
        return cached[1]
    from avis.interactions.models import Agent, Team, Touchpoint

    if kind == "touchpoint":
        names = dict(Touchpoint.objects.filter(organisation_id=organisation_id).values_list("code", "name"))
    elif kind == "team":
        names = dict(Team.objects.filter(organisation_id=organisation_id).values_list("code", "name"))
    else:
        names = dict(Agent.objects.filter(organisation_id=organisation_id).values_list("external_id", "name"))
    _NAMES[key] = (time.monotonic(), names)
    return names


def _organisation_id(organisation: Any) -> int | None:
    return getattr(organisation, "pk", organisation) if organisation is not None else None


def touchpoint_name(touchpoint: Any, organisation: Any = None, language: str | None = None) -> str:
    """A touchpoint (object or code) by its name in the reader's language, its code as the last resort."""
    if touchpoint is None or touchpoint == "":
        return ""
    if hasattr(touchpoint, "label"):
        return touchpoint.label(_language(language))
    organisation_id = _organisation_id(organisation)
    if organisation_id is None:
        return str(touchpoint)
    name = _names("touchpoint", organisation_id).get(str(touchpoint)) or {}
    return name.get(_language(language)) or name.get("en") or name.get("fr") or str(touchpoint)


def team_name(team: Any, organisation: Any = None) -> str:
    """A team or site (object or code) by its name, its code as the last resort."""
    if team is None or team == "":
        return ""
    if hasattr(team, "code"):
        return team.name or team.code
    organisation_id = _organisation_id(organisation)
    if organisation_id is None:
        return str(team)
    return _names("team", organisation_id).get(str(team)) or str(team)


def agent_name(agent: Any, organisation: Any = None) -> str:
    """An agent (object or external id) by their name, the id as the last resort."""
    if agent is None or agent == "":
        return ""
    if hasattr(agent, "external_id"):
        return agent.name or agent.external_id
    organisation_id = _organisation_id(organisation)
    if organisation_id is None:
        return str(agent)
    return _names("agent", organisation_id).get(str(agent)) or str(agent)


def dimension_value(dimension: str, code: Any, organisation: Any = None, language: str | None = None) -> str:
    """One group of a breakdown (a touchpoint, a team, an agent, a channel) by its name."""
    if dimension == "touchpoint":
        return touchpoint_name(code, organisation, language)
    if dimension == "team":
        return team_name(code, organisation)
    if dimension == "agent":
        return agent_name(code, organisation)
    return "" if code is None else str(code)


def decision_label(outcome: str) -> str:
    """Governance's decision (invite, skip, defer), in words."""
    from avis.governance.models import Outcome

    return str(Outcome(outcome).label) if outcome in Outcome.values else outcome


def case_status_label(status: str) -> str:
    from avis.cases.models import CaseStatus

    return str(CaseStatus(status).label) if status in CaseStatus.values else status


def case_event_label(kind: str) -> str:
    from avis.cases.models import EventKind

    return str(EventKind(kind).label) if kind in EventKind.values else kind


def moment_label(moment: Any) -> str:
    """A moment (a datetime or its ISO text, as an export holds it) as the page writes its dates:
    day first, 24-hour clock, in the current (the organisation's) time zone."""
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment)
        except ValueError:
            return moment
    if not moment:
        return ""
    if isinstance(moment, datetime):
        if timezone.is_aware(moment):
            moment = timezone.localtime(moment)
        return formats.date_format(moment, "SHORT_DATETIME_FORMAT")
    return formats.date_format(moment, "SHORT_DATE_FORMAT")


def percent_label(share: float, digits: int = 0) -> str:
    """A share (0…1) as the pages write percentages: "35 %", "12,5 %" in French, "12.5 %" in English."""
    return f"{formats.number_format(share * 100, digits)} %"


def bound_label(value: float, digits: int = 0) -> str:
    """An interval's bound, with more decimals where rounding would put a bound that is not zero on
    zero: "[0 ; 34]" beside "significant rise" would read as contradicting it ("[0.3 ; 34]" does not)."""
    shown = digits
    while shown < 3 and value != 0 and round(value, shown) == 0:
        shown += 1
    return floatformat(value, shown)


def month_label(month: Any) -> str:
    """A month (a date or its ISO text, as the API gives it) as the reader says it: "December 2026"."""
    if isinstance(month, str):
        try:
            month = date.fromisoformat(month[:10])
        except ValueError:
            return month
    return formats.date_format(month, "YEAR_MONTH_FORMAT") if month else ""


# --- The same functions as template filters ----------------------------------------------------

register = template.Library()
register.filter("touchpoint_name", touchpoint_name)
register.filter("team_name", team_name)
register.filter("agent_name", agent_name)
register.filter("reason_label", reason_label)
register.filter("case_reason_label", case_reason_label)
register.filter("outcome_label", outcome_label)
register.filter("operator_label", operator_label)
register.filter("metric_label", metric_label)
register.filter("dimension_label", dimension_label)
register.filter("month_label", month_label)
register.filter("moment_label", moment_label)
register.filter("percent_label", percent_label)
register.filter("bound_label", bound_label)
register.filter("decision_label", decision_label)
register.filter("case_status_label", case_status_label)
register.filter("case_event_label", case_event_label)


@register.filter("answer_label")
def _answer_label(value: Any, question: Any = None) -> str:
    return answer_label(value, question)


@register.filter("question_label")
def _question_label(code: str, question: Any = None) -> str:
    return question_label(code, question)
