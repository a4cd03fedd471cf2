"""What the set-up checklist reads: each step's state, for one organisation, in one statement.

The dashboard sits above every app, so it may read them all: touchpoints
(interactions), surveys, channel settings (messaging), the contact policy
(governance) and the team (accounts).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.db.models import Count, Exists, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from avis.accounts.models import Membership, Organisation
from avis.accounts.queries import pending_invitations
from avis.analytics.changes import Change, period_changes, previous_start
from avis.analytics.operations import contact_pressure as contact_pressure_over
from avis.analytics.queries import (
    METRIC_LABELS,
    PERCENT_METRICS,
    Metric,
    MetricValue,
    Period,
    analytics_settings,
    metric_values,
)
from avis.analytics.stats import Estimate
from avis.cases.queries import OpenCases, open_cases_summary
from avis.governance.models import ContactPolicy
from avis.interactions.models import Interaction, Touchpoint
from avis.messaging.models import ChannelSettings
from avis.surveys.models import Survey
from avis.words import touchpoint_name


@dataclass(frozen=True)
class SetupStep:
    key: str
    title: str
    done: bool
    # What is there when done; what is missing, and what to do about it, when not.
    detail: str
    url: str
    action: str


@dataclass(frozen=True)
class SetupChecklist:
    steps: list[SetupStep]

    @property
    def complete(self) -> bool:
        return all(step.done for step in self.steps)

    @property
    def done_count(self) -> int:
        return sum(step.done for step in self.steps)


def _count(rows: QuerySet[Any]) -> Coalesce:
    """A correlated COUNT(*) of ``rows`` (a queryset filtered on OuterRef("pk")), 0 when none."""
    counted = rows.order_by().values("organisation").annotate(n=Count("*")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def _states(organisation: Organisation, now: datetime) -> dict[str, Any]:
    """Every step's facts in one SELECT of correlated subqueries on the organisation's row."""
    in_use = Touchpoint.objects.filter(organisation=OuterRef("pk"), archived_at__isnull=True)
    # A survey counts once published: a draft sends nothing.
    has_survey = Survey.objects.filter(
        touchpoint=OuterRef("pk"), is_active=True, current_version__isnull=False
    )
    without_survey = Touchpoint.objects.filter(organisation=OuterRef("pk"), archived_at__isnull=True).exclude(
        Exists(has_survey)
    )
    return (
        Organisation.objects.filter(pk=organisation.pk)
        .annotate(
            touchpoints=_count(in_use),
            first_touchpoint=Subquery(in_use.order_by("code").values("code")[:1]),
            without_survey=_count(without_survey),
            channels=Exists(ChannelSettings.objects.filter(organisation=OuterRef("pk"))),
            # Version 1 is the default avis writes by itself; a later one was published by someone.
            policy_version=Coalesce(
                Subquery(
                    ContactPolicy.objects.filter(organisation=OuterRef("pk"))
                    .order_by("-version")
                    .values("version")[:1]
                ),
                0,
            ),
            members=_count(Membership.objects.filter(organisation=OuterRef("pk"), user__is_active=True)),
            invited=_count(pending_invitations(organisation=OuterRef("pk"), now=now)),
            # Live interactions, those that can be surveyed: imported history alone is not a start.
            interactions=Exists(Interaction.objects.filter(organisation=OuterRef("pk"), contact_only=False)),
        )
        .values(
            "touchpoints",
            "first_touchpoint",
            "without_survey",
            "channels",
            "policy_version",
            "members",
            "invited",
            "interactions",
        )
        .get()
    )


def _codes_without_survey(organisation: Organisation) -> list[str]:
    return list(
        Touchpoint.objects.filter(organisation=organisation, archived_at__isnull=True)
        .exclude(
            Exists(
                Survey.objects.filter(
                    touchpoint=OuterRef("pk"), is_active=True, current_version__isnull=False
                )
            )
        )
        .order_by("code")
        .values_list("code", flat=True)[:5]
    )


def setup_checklist(*, organisation: Organisation, now: datetime | None = None) -> SetupChecklist:
    """The six steps from nothing to the first governed survey, each done or not, with a link."""
    s = _states(organisation, now or timezone.now())
    touchpoints, without = int(s["touchpoints"]), int(s["without_survey"])
    members, invited, version = int(s["members"]), int(s["invited"]), int(s["policy_version"])
    states: dict[str, tuple[bool, str]] = {
        "touchpoints": (
            touchpoints > 0,
            ngettext("%(n)d touchpoint in use.", "%(n)d touchpoints in use.", touchpoints)
            % {"n": touchpoints}
            if touchpoints
            else _("No touchpoint yet: create the steps of your customers' journey that lead to a survey."),
        ),
        "surveys": (touchpoints > 0 and without == 0, _surveys_detail(organisation, touchpoints, without)),
        "channels": (
            bool(s["channels"]),
            _("Your SMS and email senders are set.")
            if s["channels"]
            else _("Choose your SMS sender and provider and your email sender, then send yourself a test."),
        ),
        "policy": (
            version > 1,
            _("Version %(version)d of the contact policy is in force.") % {"version": version}
            if version > 1
            else _("The default rules apply: review who may be asked, how often and when, then publish."),
        ),
        "team": (members > 1 or invited > 0, _team_detail(members, invited)),
        "interactions": (
            bool(s["interactions"]),
            _("Interactions are coming in.")
            if s["interactions"]
            else _(
                "No interaction yet: send the first from your systems (API) or a CRM (signed webhook), "
                "or import past ones from a file."
            ),
        ),
    }
    urls = {key: reverse(url_name) for key, _title, url_name, _action in _STEP_PAGES}
    if s["first_touchpoint"]:  # where a touchpoint's page shows the ways in, ready to copy
        page = reverse("touchpoints:detail", kwargs={"code": s["first_touchpoint"]})
        urls["interactions"] = f"{page}#getting-interactions-in"
    return SetupChecklist(
        [
            SetupStep(key, str(title), *states[key], urls[key], str(action))
            for key, title, _url_name, action in _STEP_PAGES
        ]
    )


def _surveys_detail(organisation: Organisation, touchpoints: int, without: int) -> str:
    if not touchpoints:
        return _("Create a touchpoint first, then its survey.")
    if not without:
        return _("Every touchpoint in use has its survey.")
    return ngettext(
        "%(n)d touchpoint has no survey yet: %(codes)s.",
        "%(n)d touchpoints have no survey yet: %(codes)s.",
        without,
    ) % {"n": without, "codes": ", ".join(_codes_without_survey(organisation))}


def _team_detail(members: int, invited: int) -> str:
    if members < 2 and not invited:
        return _("You are alone: invite your colleagues (analysts, managers, advisors).")
    detail = ngettext("%(n)d person in the organisation.", "%(n)d people in the organisation.", members) % {
        "n": members
    }
    if invited:
        detail += " " + ngettext(
            "%(n)d invitation waiting for an answer.", "%(n)d invitations waiting for an answer.", invited
        ) % {"n": invited}
    return detail


# Each step's title, the page where it is done, and the link's words.
_STEP_PAGES = (
    ("touchpoints", gettext_lazy("Touchpoints"), "touchpoints:list", gettext_lazy("Touchpoints")),
    ("surveys", gettext_lazy("Surveys"), "survey_editor:list", gettext_lazy("Surveys")),
    ("channels", gettext_lazy("Channels"), "channels:settings", gettext_lazy("Channels")),
    ("policy", gettext_lazy("Contact policy"), "dashboard:policy", gettext_lazy("Contact policy")),
    ("team", gettext_lazy("Team"), "people", gettext_lazy("People")),
    (
        "interactions",
        gettext_lazy("First interactions"),
        "touchpoints:list",
        gettext_lazy("Getting interactions in"),
    ),
)


# ---------------------------------------------------------------- the overview a manager lands on

# The figures of the overview's table, each judged by its change since the month before.
OVERVIEW_METRICS: tuple[Metric, ...] = ("nps", "resolution_rate", "response_rate")
TREND_METRIC: Metric = "nps"
TREND_MONTHS = 12


@dataclass(frozen=True)
class Month:
    """A calendar month in the organisation's time zone; ``until`` is the last day it covers."""

    start: date
    until: date
    complete: bool


@dataclass(frozen=True)
class FigureLine:
    """One touchpoint (or all of them, code ""), one metric: last month, this month so far, the change."""

    code: str
    name: str
    last: Estimate | None
    current: Estimate | None
    change: Change | None
    # "rise", "fall", "steady" (no significant change), "too_few" (a side below min n), "none" (no pair)
    verdict: str
    last_url: str
    current_url: str
    change_url: str
    percent: bool = False
    level: float = 95.0  # the confidence (%) of the change's interval, adjusted across the touchpoints

    @property
    def points(self) -> tuple[float, float | None, float | None] | None:
        """The change and its interval in points (percentage points for a rate), for display."""
        if self.change is None or self.change.difference.value is None:
            return None
        scale = 100 if self.percent else 1
        d = self.change.difference
        return (
            d.value * scale,
            d.ci_low * scale if d.ci_low is not None else None,
            d.ci_high * scale if d.ci_high is not None else None,
        )


@dataclass(frozen=True)
class MetricLines:
    metric: str
    label: str
    percent: bool
    lines: list[FigureLine]


@dataclass(frozen=True)
class PressureFigures:
    """Contact pressure over one month: who was asked, how often, who was spared and why."""

    solicited: int
    asked_twice_or_more: int
    skipped: int
    deferred: int
    url: str


@dataclass(frozen=True)
class Overview:
    today: date
    last: Month
    current: Month
    before: Month
    min_n: int
    hide: bool  # figures below min n hidden rather than greyed (the organisation's choice)
    metrics: list[MetricLines]
    trend: list[MetricValue]  # TREND_METRIC per touchpoint (its code) and month
    trend_label: str
    trend_since: date
    cases: OpenCases
    cases_url: str
    pressure: list[tuple[Month, PressureFigures]]  # the last complete month, then this one so far

    @property
    def headlines(self) -> list[tuple[MetricLines, FigureLine]]:
        return [(lines, line) for lines in self.metrics for line in lines.lines if not line.code]

    @property
    def worse(self) -> list[tuple[MetricLines, FigureLine]]:
        """Where it got significantly worse last month: what to look into first."""
        return [(lines, line) for lines in self.metrics for line in lines.lines if line.verdict == "fall"]


def _month_of(start: date, today: date) -> Month:
    following = _next_month(start)
    complete = following <= today
    return Month(start, (following - timedelta(days=1)) if complete else today, complete)


def _next_month(start: date) -> date:
    return date(start.year + start.month // 12, start.month % 12 + 1, 1)


def _figures_url(*, metric: str, code: str, month: Month, period: str | None = None) -> str:
    """The Figures page filtered to this metric, touchpoint and month: where a figure is detailed."""
    query = {"metric": metric, "since": month.start.isoformat(), "until": month.until.isoformat()}
    if code:
        query["touchpoint"] = code
    if period:
        query["period"] = period
    return f"{reverse('analytics:overview')}?{urlencode(query)}"


def _verdict(change: Change | None) -> str:
    """The analytics' own verdict in the overview's words: no verdict below the minimum n."""
    if change is None or change.difference.value is None:
        return "none"
    if not change.reliable:
        return "too_few"
    return {"up": "rise", "down": "fall"}.get(change.direction or "", "steady")


def _metric_lines(
    *,
    organisation: Organisation,
    metric: Metric,
    names: dict[str, str],
    last: Month,
    current: Month,
    since: datetime,
) -> MetricLines:
    lines: list[FigureLine] = []
    for group_by, all_together in ((("touchpoint",), False), ((), True)):
        values = metric_values(organisation=organisation, metric=metric, group_by=group_by, since=since)
        by_code: dict[str, dict[date | None, Estimate]] = {}
        for value in values:
            by_code.setdefault(value.touchpoint, {})[value.period_start] = value.estimate
        changes = period_changes(
            organisation=organisation, metric=metric, period="month", group_by=group_by, current=last.start
        )
        change_of = {("" if all_together else c.label): c for c in changes.changes}
        codes = [""] if all_together else [code for code in names if code in by_code]
        for code in codes:
            months = by_code.get(code, {})
            # A change is labelled by its group's code, or by its name once labels are words.
            change = change_of.get(code) or change_of.get(names.get(code, code))
            lines.append(
                FigureLine(
                    code=code,
                    name=names.get(code, code) if code else str(_("All touchpoints")),
                    last=months.get(last.start),
                    current=months.get(current.start),
                    change=change,
                    verdict=_verdict(change),
                    last_url=_figures_url(metric=metric, code=code, month=last),
                    current_url=_figures_url(metric=metric, code=code, month=current),
                    change_url=_figures_url(
                        metric=metric,
                        code=code,
                        month=Month(previous_start("month", last.start), last.until, True),
                        period="month",
                    ),
                    percent=metric in PERCENT_METRICS,
                    level=changes.level_percent,
                )
            )
    lines.sort(key=lambda line: line.code == "")  # touchpoints first, all together last
    return MetricLines(metric, str(METRIC_LABELS[metric]), metric in PERCENT_METRICS, lines)


def _pressure(*, organisation: Organisation, month: Month, zone: ZoneInfo) -> PressureFigures:
    since = datetime.combine(month.start, time(0), tzinfo=zone)
    until = datetime.combine(month.until + timedelta(days=1), time(0), tzinfo=zone)
    found = contact_pressure_over(organisation=organisation, since=since, until=until)
    query = urlencode({"since": month.start.isoformat(), "until": month.until.isoformat()})
    return PressureFigures(
        solicited=found.customers_solicited,
        asked_twice_or_more=sum(count for surveys, count in found.surveys_per_customer if surveys != "1"),
        skipped=sum(count for _reason, count in found.skip_reasons),
        deferred=found.deferred,
        url=f"{reverse('analytics:pressure')}?{query}",
    )


def overview(*, organisation: Organisation, now: datetime, language: str) -> Overview:
    """How are we doing, where is it getting worse, what needs me now: the manager's landing page.

    The last complete month is the one judged (against the month before it); the current month
    is shown as what it is so far, never compared while it is partial.
    """
    zone = ZoneInfo(organisation.default_time_zone)
    settings = analytics_settings(organisation=organisation)
    today = now.astimezone(zone).date()
    current = _month_of(today.replace(day=1), today)
    last = _month_of(previous_start("month", current.start), today)
    before = _month_of(previous_start("month", last.start), today)
    trend_since = current.start
    for _month in range(TREND_MONTHS - 1):
        trend_since = previous_start("month", trend_since)
    since = datetime.combine(trend_since, time(0), tzinfo=zone)
    touchpoints = Touchpoint.objects.filter(organisation=organisation).order_by("code")
    names = {tp.code: touchpoint_name(tp, language=language) for tp in touchpoints}
    trend = metric_values(organisation=organisation, metric=TREND_METRIC, since=since)
    return Overview(
        today=today,
        last=last,
        current=current,
        before=before,
        min_n=settings.min_n,
        hide=settings.hide_below_min_n,
        metrics=[
            _metric_lines(
                organisation=organisation, metric=metric, names=names, last=last, current=current, since=since
            )
            for metric in OVERVIEW_METRICS
        ],
        trend=trend,
        trend_label=str(METRIC_LABELS[TREND_METRIC]),
        trend_since=trend_since,
        cases=open_cases_summary(organisation=organisation, now=now),
        cases_url=reverse("cases:list"),
        pressure=[
            (month, _pressure(organisation=organisation, month=month, zone=zone)) for month in (last, current)
        ],
    )


# How each interval is computed, in words (``Estimate.method`` holds the code).
METHOD_NAMES = {
    "wilson": gettext_lazy("Wilson score interval"),
    "adjusted-wald": gettext_lazy("adjusted Wald interval"),
    "t": gettext_lazy("Student's t interval"),
}


@dataclass(frozen=True)
class PeriodRow:
    start: date
    partial: bool  # the period under way: its figures are so far
    figures: list[Estimate | None]  # one per column, None where the touchpoint had no answer


@dataclass(frozen=True)
class PeriodTable:
    """A metric period by period (newest first), one column per touchpoint, named in words."""

    metric: str
    label: str
    period: str
    percent: bool
    columns: list[str]
    rows: list[PeriodRow]
    method: str  # the interval's method, in words


def period_table(
    *, organisation: Organisation, metric: Metric, period: Period, language: str, now: datetime
) -> PeriodTable:
    """What "All periods" shows: every period with answers, touchpoints side by side."""
    touchpoints = Touchpoint.objects.filter(organisation=organisation).order_by("code")
    names = {tp.code: touchpoint_name(tp, language=language) for tp in touchpoints}
    values = metric_values(organisation=organisation, metric=metric, period=period)
    codes = sorted({v.touchpoint for v in values}, key=lambda code: names.get(code, code))
    cells: dict[date, dict[str, Estimate]] = {}
    for value in values:
        if value.period_start:
            cells.setdefault(value.period_start, {})[value.touchpoint] = value.estimate
    today = now.astimezone(ZoneInfo(organisation.default_time_zone)).date()
    under_way = today.replace(day=1) if period == "month" else today - timedelta(days=today.weekday())
    return PeriodTable(
        metric=metric,
        label=str(METRIC_LABELS[metric]),
        period=period,
        percent=metric in PERCENT_METRICS,
        columns=[names.get(code, code) for code in codes],
        rows=[
            PeriodRow(start, start >= under_way, [cells[start].get(code) for code in codes])
            for start in sorted(cells, reverse=True)
        ],
        method=", ".join(
            sorted({str(METHOD_NAMES.get(v.estimate.method, v.estimate.method)) for v in values})
        ),
    )
