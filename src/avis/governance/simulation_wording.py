"""The simulation's words: strategies, "met in 2 of 28 team-months", why an interaction was not asked."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from avis.governance.simulation import Goal
from avis.words import reason_label


def strategy_label(strategy: str) -> str:
    if strategy == "goals":
        return _("precision goals")
    if strategy == "rates":
        return _("the policy's fixed rates")
    if strategy == "everyone":
        return _("everyone the policy allows")
    if strategy == "cheapest":
        return _("cheapest fixed rates meeting the goals")
    return _("fixed rate of %(rate)s %%") % {"rate": f"{float(strategy) * 100:g}"}


def stratum_periods(goal: Goal, count: int) -> str:
    """ "team-months", "agent-weeks"… in the reader's language, for ``count`` of them."""
    forms = {
        ("touchpoint", "week"): ngettext("touchpoint-week", "touchpoint-weeks", count),
        ("touchpoint", "month"): ngettext("touchpoint-month", "touchpoint-months", count),
        ("touchpoint", "quarter"): ngettext("touchpoint-quarter", "touchpoint-quarters", count),
        ("team", "week"): ngettext("team-week", "team-weeks", count),
        ("team", "month"): ngettext("team-month", "team-months", count),
        ("team", "quarter"): ngettext("team-quarter", "team-quarters", count),
        ("agent", "week"): ngettext("agent-week", "agent-weeks", count),
        ("agent", "month"): ngettext("agent-month", "agent-months", count),
        ("agent", "quarter"): ngettext("agent-quarter", "agent-quarters", count),
    }
    return forms[goal.dimension, goal.period]


def goal_verdict(goal: Goal, met: int, total: int) -> str:
    """ "met in 2 of 28 team-months": how often, never a bare "not met"."""
    if not total:
        return _("no complete %(periods)s in the history") % {"periods": stratum_periods(goal, 1)}
    return _("met in %(met)s of %(total)s %(periods)s") % {
        "met": met,
        "total": total,
        "periods": stratum_periods(goal, total),
    }


def outcome_words(outcome: str, reason: str) -> str:
    """What happened to one interaction, in words: "not surveyed: the quarantine", never a bare code."""
    if outcome == "invite":
        return _("surveyed")
    if outcome == "defer":
        return _("deferred: %(reason)s") % {"reason": reason_label(reason)}
    return _("not surveyed: %(reason)s") % {"reason": reason_label(reason)}
