"""Every figure avis shows is computed here, once: screens, API, exports and reports read it from here.

Figures are sums of the daily roll-ups (``models.DailyRollup``), the response
rate included; a filter on a customer segment or on a survey version, which the
roll-ups do not keep, reads the raw answers or invitations through the same
aggregates (``rollups.answer_aggregates``, ``rollups.invitation_aggregates``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo

from django.db.models import F, QuerySet, Sum
from django.db.models.functions import TruncDay, TruncMonth, TruncQuarter, TruncWeek
from django.utils.functional import Promise

from avis.accounts.models import Organisation
from avis.analytics.models import ROLLUP_MEASURES, AnalyticsSettings, DailyRollup
from avis.analytics.rollups import SENT_INVITATIONS, answer_aggregates, invitation_aggregates
from avis.analytics.stats import Estimate, mean_from_sums, nps, wilson
from avis.errors import ValidationFailed
from avis.interactions.models import Agent, Team, Touchpoint
from avis.surveys.models import Answer, Invitation, SurveyVersion
from avis.words import METRICS as METRICS_IN_WORDS

Metric = Literal[
    "nps", "resolution_rate", "response_rate", "csat", "csat_mean", "ces", "agent_score", "agent_mean"
]
Period = Literal["day", "week", "month", "quarter", "all"]
Dimension = Literal["touchpoint", "team", "agent", "channel"]
METRICS: tuple[Metric, ...] = get_args(Metric)
PERIODS: tuple[Period, ...] = get_args(Period)
DIMENSIONS: tuple[Dimension, ...] = get_args(Dimension)
# Agent-attributed figures: what a team or an agent may fairly be judged on ("not applicable" left out).
AGENT_METRICS: tuple[Metric, ...] = ("agent_score", "agent_mean")
# Proportions (0…1, shown as percentages); NPS is in points; the others are means on their scale.
PERCENT_METRICS: frozenset[str] = frozenset({"resolution_rate", "csat", "agent_score", "response_rate"})
MEAN_METRICS: frozenset[str] = frozenset({"csat_mean", "ces", "agent_mean"})
# What each metric is called on the pages and in the report.
METRIC_LABELS: dict[str, Promise] = METRICS_IN_WORDS
MIN_RELIABLE_N = 30  # the default of AnalyticsSettings.min_n


@dataclass(frozen=True)
class Filters:
    """Which answers a figure covers; ``segment`` is a customer attribute and its value."""

    touchpoint: str | None = None
    team: str | None = None
    agent: str | None = None
    channel: str | None = None
    segment: tuple[str, str] | None = None
    since: datetime | None = None
    until: datetime | None = None
    version: int | None = None  # a survey version's id: only the answers and invitations sent with it


@dataclass(frozen=True)
class MetricValue:
    metric: str
    touchpoint: str
    period: str
    period_start: date | None
    estimate: Estimate
    team: str = ""
    agent: str = ""
    channel: str = ""
    min_n: int = MIN_RELIABLE_N

    @property
    def reliable(self) -> bool:
        """Below the minimum n a figure is shown greyed with its interval, never alone."""
        return self.estimate.n >= self.min_n


# The roll-up columns each metric reads: summing only those keeps a query over months cheap.
MEASURES_OF: dict[str, tuple[str, ...]] = {
    "nps": ("nps_promoters", "nps_passives", "nps_detractors"),
    "resolution_rate": ("resolved_yes", "resolved_partly", "resolved_no"),
    "csat": ("csat_n", "csat_top2", "agent_n", "agent_top2"),
    "csat_mean": ("csat_n", "csat_sum", "csat_sumsq", "agent_n", "agent_sum", "agent_sumsq"),
    "agent_score": ("agent_n", "agent_top2"),
    "agent_mean": ("agent_n", "agent_sum", "agent_sumsq"),
    "ces": ("ces_n", "ces_sum", "ces_sumsq"),
    "response_rate": ("invited", "responded"),
}


def analytics_settings(*, organisation: Organisation) -> AnalyticsSettings:
    """The organisation's settings, or the defaults (unsaved) when it never changed them."""
    found = AnalyticsSettings.objects.filter(organisation=organisation).first()
    return found or AnalyticsSettings(organisation=organisation)


def parse_segment(raw: str | None) -> tuple[str, str] | None:
    """``"attribute=value"`` → (attribute, value); the attribute is a customer attribute's key."""
    if not raw:
        return None
    key, sep, value = raw.partition("=")
    key = key.strip()
    # "__" would pass a Django lookup through (first_name__regex=…): an attribute's key has none.
    if not sep or not key or "__" in key or not key.replace("_", "").replace("-", "").isalnum():
        raise ValidationFailed("a segment reads attribute=value", field="segment")
    return key, value.strip()


def estimate_of(metric: Metric, stats: Mapping[str, int], *, confidence: float = 0.95) -> Estimate:
    """The metric from summed statistics, with its interval and the method named."""
    s = {name: int(stats.get(name) or 0) for name in ROLLUP_MEASURES}
    if metric == "nps":
        return nps(s["nps_promoters"], s["nps_passives"], s["nps_detractors"], confidence=confidence)
    if metric == "resolution_rate":
        n = s["resolved_yes"] + s["resolved_partly"] + s["resolved_no"]
        return wilson(s["resolved_yes"], n, confidence=confidence)
    if metric == "csat":
        return wilson(s["csat_top2"] + s["agent_top2"], s["csat_n"] + s["agent_n"], confidence=confidence)
    if metric == "csat_mean":
        return mean_from_sums(
            s["csat_n"] + s["agent_n"],
            s["csat_sum"] + s["agent_sum"],
            s["csat_sumsq"] + s["agent_sumsq"],
            confidence=confidence,
        )
    if metric == "ces":
        return mean_from_sums(s["ces_n"], s["ces_sum"], s["ces_sumsq"], confidence=confidence)
    if metric == "agent_score":
        return wilson(s["agent_top2"], s["agent_n"], confidence=confidence)
    if metric == "agent_mean":
        return mean_from_sums(s["agent_n"], s["agent_sum"], s["agent_sumsq"], confidence=confidence)
    if metric == "response_rate":
        return wilson(s["responded"], s["invited"], confidence=confidence)
    raise ValidationFailed(f"unknown metric {metric}", field="metric")


def _local_day(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def _first_day_after(until: datetime, zone: ZoneInfo) -> date:
    """Days strictly before ``until``: a day that has begun before it still counts."""
    local = until.astimezone(zone)
    return local.date() if local.time() == time(0) else local.date() + timedelta(days=1)


def _trunc(period: Period, field_name: str, zone: ZoneInfo | None) -> Any:
    kind = {"day": TruncDay, "week": TruncWeek, "month": TruncMonth, "quarter": TruncQuarter}[period]
    return kind(field_name, tzinfo=zone) if zone else kind(field_name)


def _ids(organisation: Organisation, filters: Filters) -> dict[str, int]:
    """The filters' codes as ids; an unknown code matches nothing (id 0 is never used)."""
    ids = {}
    if filters.touchpoint:
        tp = Touchpoint.objects.filter(organisation=organisation, code=filters.touchpoint).first()
        ids["touchpoint"] = tp.pk if tp else 0
    if filters.team:
        team = Team.objects.filter(organisation=organisation, code=filters.team).first()
        ids["team"] = team.pk if team else 0
    if filters.agent:
        agent = Agent.objects.filter(organisation=organisation, external_id=filters.agent).first()
        ids["agent"] = agent.pk if agent else 0
    if filters.version:
        version = SurveyVersion.objects.filter(organisation=organisation, id=filters.version).first()
        ids["version"] = version.pk if version else 0
    return ids


# Where each grouping dimension lives in each source.
_COLUMNS = {
    "rollup": {"touchpoint": "touchpoint_id", "team": "team_key", "agent": "agent_key", "channel": "channel"},
    "answer": {
        "touchpoint": "touchpoint_id",
        "team": "team_id",
        "agent": "agent_id",
        "channel": "response__channel",
        "version": "response__version_id",
    },
    "invitation": {
        "touchpoint": "touchpoint_id",
        "team": "interaction__team_id",
        "agent": "interaction__agent_id",
        "channel": "channel",
        "version": "version_id",
    },
}


def _filtered(rows: QuerySet, source: str, ids: Mapping[str, int], filters: Filters) -> QuerySet:
    columns = _COLUMNS[source]
    for dimension, value in ids.items():
        rows = rows.filter(**{columns[dimension]: value})
    if filters.channel:
        rows = rows.filter(**{columns["channel"]: filters.channel})
    if filters.segment:
        customer = "response__customer" if source == "answer" else "customer"
        key, value = filters.segment
        # The explicit __exact makes a key named like a lookup ("contains", "regex") a key, not a lookup.
        rows = rows.filter(**{f"{customer}__attributes__{key}__exact": value})
    return rows


def statistics(
    *,
    organisation: Organisation,
    period: Period = "month",
    group_by: Sequence[Dimension] = ("touchpoint",),
    filters: Filters | None = None,
    invitations: bool = False,
    measures: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Summed statistics per group and period: the roll-ups, or raw rows when a segment is asked.

    Each row has the group's ids (``touchpoint``, ``team``, ``agent``, ``channel``), ``bucket``
    (the period's first day, None for ``all``) and every measure (0 for those not summed).
    ``invitations`` asks for the response rate's ``invited``/``responded``: under a segment they
    come from the raw invitations, as the answers' measures come from the raw answers.
    ``measures`` limits the roll-up sums to those named.
    """
    filters = filters or Filters()
    zone = ZoneInfo(organisation.default_time_zone)
    ids = _ids(organisation, filters)
    raw = filters.segment or filters.version  # kept by the raw rows only
    if invitations and raw:
        source = "invitation"
        rows = Invitation.objects.filter(SENT_INVITATIONS, organisation=organisation)
        stamp = "planned_at"
    elif raw:
        source, rows, stamp = "answer", Answer.objects.filter(organisation=organisation), "answered_at"
    else:
        source, rows, stamp = "rollup", DailyRollup.objects.filter(organisation=organisation), "day"
    rows = _filtered(rows, source, ids, filters)
    if source == "rollup":
        if filters.since:
            rows = rows.filter(day__gte=_local_day(filters.since, zone))
        if filters.until:
            rows = rows.filter(day__lt=_first_day_after(filters.until, zone))
    else:
        if filters.since:
            rows = rows.filter(**{f"{stamp}__gte": filters.since})
        if filters.until:
            rows = rows.filter(**{f"{stamp}__lt": filters.until})
    columns = _COLUMNS[source]
    group = {f"g_{d}": F(columns[d]) for d in group_by}
    if period != "all":
        group["bucket"] = _trunc(period, stamp, None if source == "rollup" else zone)
    if source == "rollup":
        aggregates: dict[str, Any] = {m: Sum(m) for m in (measures or ROLLUP_MEASURES)}
    elif source == "answer":
        aggregates = answer_aggregates()
    else:
        aggregates = invitation_aggregates()
    if group:
        grouped: Iterable[dict[str, Any]] = (
            rows.annotate(**group).values(*group).annotate(**aggregates).order_by()
        )
    else:  # one figure for the whole window: .values() without fields would group by every column
        grouped = [rows.aggregate(**aggregates)]
    result = []
    for row in grouped:
        out = {d: row.get(f"g_{d}") for d in group_by}
        bucket = row.get("bucket")
        out["bucket"] = bucket.date() if isinstance(bucket, datetime) else bucket
        for measure in ROLLUP_MEASURES:
            out[measure] = int(row.get(measure) or 0)
        result.append(out)
    return result


@dataclass
class Labels:
    """Codes to show for the ids a grouping returns."""

    touchpoints: dict[int, str] = field(default_factory=dict)
    teams: dict[int, str] = field(default_factory=dict)
    agents: dict[int, str] = field(default_factory=dict)

    def of(self, dimension: str, key: Any) -> str:
        if dimension == "channel":
            return key or ""
        table = {"touchpoint": self.touchpoints, "team": self.teams, "agent": self.agents}[dimension]
        return table.get(key or 0, "")


def labels_of(*, organisation: Organisation) -> Labels:
    return Labels(
        dict(Touchpoint.objects.filter(organisation=organisation).values_list("id", "code")),
        dict(Team.objects.filter(organisation=organisation).values_list("id", "code")),
        dict(Agent.objects.filter(organisation=organisation).values_list("id", "external_id")),
    )


def metric_values(
    *,
    organisation: Organisation,
    metric: Metric,
    period: Period = "month",
    group_by: Sequence[Dimension] = ("touchpoint",),
    touchpoint: str | None = None,
    team: str | None = None,
    agent: str | None = None,
    channel: str | None = None,
    segment: tuple[str, str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    confidence: float = 0.95,
    version: int | None = None,
) -> list[MetricValue]:
    """One value per group and period, in the organisation's time zone, oldest first."""
    if metric not in METRICS:
        raise ValidationFailed(f"unknown metric {metric}", field="metric")
    filters = Filters(touchpoint, team, agent, channel, segment, since, until, version)
    rows = statistics(
        organisation=organisation,
        period=period,
        group_by=group_by,
        filters=filters,
        invitations=metric == "response_rate",
        measures=MEASURES_OF.get(metric),
    )
    labels = labels_of(organisation=organisation)
    min_n = analytics_settings(organisation=organisation).min_n
    values = []
    for row in rows:
        estimate = estimate_of(metric, row, confidence=confidence)
        if estimate.n == 0:
            continue  # a group with answers to other questions only
        names = {d: labels.of(d, row[d]) for d in group_by}
        values.append(
            MetricValue(
                metric,
                names.get("touchpoint", ""),
                period,
                row["bucket"],
                estimate,
                team=names.get("team", ""),
                agent=names.get("agent", ""),
                channel=names.get("channel", ""),
                min_n=min_n,
            )
        )
    return sorted(
        values, key=lambda v: (v.touchpoint, v.team, v.agent, v.channel, v.period_start or date.min)
    )


def latest_by_touchpoint(
    *, organisation: Organisation, period: Period = "month", metrics: Iterable[Metric] | None = None
) -> dict[str, dict[str, MetricValue]]:
    """The most recent value of each metric per touchpoint, for the dashboard's summary."""
    summary: dict[str, dict[str, MetricValue]] = {}
    for metric in metrics or ("nps", "resolution_rate", "response_rate"):
        for value in metric_values(organisation=organisation, metric=metric, period=period):
            summary.setdefault(value.touchpoint, {})[metric] = value  # sorted: the last one wins
    return summary


SUMMARY_METRICS: tuple[Metric, ...] = (
    "nps",
    "resolution_rate",
    "agent_score",
    "csat_mean",
    "ces",
    "response_rate",
)


def figure_table(
    *, organisation: Organisation, filters: Filters | None = None, confidence: float = 0.95
) -> list[tuple[str, dict[str, MetricValue]]]:
    """Per touchpoint, then all together: each summary metric over the whole window."""
    filters = filters or Filters()
    wanted = {
        "touchpoint": filters.touchpoint,
        "team": filters.team,
        "agent": filters.agent,
        "channel": filters.channel,
        "segment": filters.segment,
        "since": filters.since,
        "until": filters.until,
        "version": filters.version,
        "confidence": confidence,
    }
    table: dict[str, dict[str, MetricValue]] = {}
    for metric in SUMMARY_METRICS:
        for group_by in (("touchpoint",), ()):
            for value in metric_values(
                organisation=organisation, metric=metric, period="all", group_by=group_by, **wanted
            ):  # type: ignore[arg-type]
                table.setdefault(value.touchpoint, {})[metric] = value
    everything = table.pop("", None)
    rows = sorted(table.items())
    return [*rows, ("", everything)] if everything else rows


def team_choices(*, organisation: Organisation) -> list[tuple[str, str]]:
    return list(Team.objects.filter(organisation=organisation).order_by("code").values_list("code", "name"))


@dataclass(frozen=True)
class VersionChange:
    """A survey's wording changed: figures on either side answer different questions."""

    version_id: int
    touchpoint: str
    number: int
    published_at: datetime


def survey_version_changes(
    *, organisation: Organisation, filters: Filters | None = None
) -> list[VersionChange]:
    """Versions after the first published within the window (any time without one), oldest first:
    the analytics pages name them, so a changed wording never mixes into a figure unnoticed."""
    filters = filters or Filters()
    versions = SurveyVersion.objects.filter(organisation=organisation, number__gt=1)
    if filters.touchpoint:
        versions = versions.filter(survey__touchpoint__code=filters.touchpoint)
    if filters.since:
        versions = versions.filter(published_at__gte=filters.since)
    if filters.until:
        versions = versions.filter(published_at__lt=filters.until)
    return _version_changes(versions.order_by("published_at"))


def survey_version_choices(*, organisation: Organisation) -> list[VersionChange]:
    """Every published version, by touchpoint then number: what the version filter offers."""
    versions = SurveyVersion.objects.filter(organisation=organisation, number__isnull=False)
    return _version_changes(versions.order_by("survey__touchpoint__code", "number"))


def _version_changes(versions: QuerySet[SurveyVersion]) -> list[VersionChange]:
    rows = versions.values("id", "survey__touchpoint__code", "number", "published_at")
    return [
        VersionChange(row["id"], row["survey__touchpoint__code"], row["number"], row["published_at"])
        for row in rows
    ]
