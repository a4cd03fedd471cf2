"""What the closed loop changes, measured (read-only).

Definitions (docs/cases.md says the same in words):
- a case is *handled in time* when the customer was first contacted before its deadline
  and it was never escalated (an escalation moves the deadline, so the event is the proof);
- *recovered*: among customers whose case was resolved or closed after being handled in
  time, those who answered a survey after the case opened, and what they said (the NPS of
  the first such answer with a score); compared with customers whose case was not handled
  in time, counted from the same moment (the case's opening) up to the end of the window,
  so neither group is given more time to answer or to leave by definition;
- *left*: the customer's case (that one or a later one) closed with the outcome "customer
  left", or a ``customer.left`` interaction recorded after the case opened — what the
  closed-loop page counts as outcomes is what this page counts as departures.

The groups are observed, not assigned: ``Effect.caveats`` says when they are too small or
differ in what else drives later answers and departures (time followed, severity).

Intervals come from avis.analytics.stats (a pure module of formulas, no tables), so every
figure carries its n and its 95 % interval. Computed per customer on their first case of
the period, so a customer with three cases weighs as much as one with one.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Exists, OuterRef

from avis.accounts.models import Organisation
from avis.analytics.queries import analytics_settings
from avis.analytics.stats import Estimate, nps, wilson
from avis.cases.models import Case, CaseEvent, CaseOutcome, CaseStatus, EventKind, Severity
from avis.interactions.models import Interaction
from avis.surveys.models import Answer, QuestionKind, Response

CHURN_TOUCHPOINT = "customer.left"
CLOSED = (CaseStatus.RESOLVED, CaseStatus.CLOSED)


@dataclass(frozen=True)
class TeamFigures:
    team: str
    cases: int
    contacted: int
    median_hours_to_first_contact: float | None
    sla_attainment: Estimate


@dataclass(frozen=True)
class GroupFigures:
    """Customers of one group (handled in time / not) and what they did next."""

    customers: int
    answered_later: Estimate
    later_nps: Estimate
    churned: Estimate
    followed_days: float | None = None  # median days from the case's opening to the window's end
    severe: Estimate | None = None  # share of high or critical cases

    @property
    def severe_percent(self) -> int | None:
        return None if self.severe is None or self.severe.value is None else round(100 * self.severe.value)


@dataclass(frozen=True)
class RootCauseFigures:
    """The outer loop: one root cause, where in the journey and which teams it shows up, and
    how often in the period before, so a process fix can be aimed and then checked."""

    label: str
    cases: int
    previous_period_cases: int
    touchpoints: list[tuple[str, int]]
    teams: list[tuple[str, int]]
    customers_left: int


@dataclass(frozen=True)
class Effect:
    cases: int
    resolved: Estimate
    sla_attainment: Estimate
    by_team: list[TeamFigures]
    recovered: GroupFigures
    not_in_time: GroupFigures
    root_causes: list[tuple[str, int]] = field(default_factory=list)
    outer_loop: list[RootCauseFigures] = field(default_factory=list)
    # Why the two groups may not be comparable: "too_few", "followed", "severity" (docs/cases.md).
    caveats: list[str] = field(default_factory=list)
    min_n: int = 0


def _in_time(case: Case) -> bool:
    return (
        case.first_contact_at is not None and case.first_contact_at <= case.due_at and not case.was_escalated  # type: ignore[attr-defined]
    )


def _late(case: Case, until: datetime) -> bool:
    """Escalated, contacted late, or still waiting past the deadline; a case whose deadline
    has not come yet is neither in time nor late, and counts in no SLA figure."""
    return not _in_time(case) and bool(
        case.was_escalated or case.first_contact_at or case.due_at < until  # type: ignore[attr-defined]
    )


def _sla(cases: list[Case], until: datetime) -> Estimate:
    met = sum(_in_time(c) for c in cases)
    return wilson(met, met + sum(_late(c, until) for c in cases))


def _group(
    cases: list[Case],
    later: dict[int, list[tuple[datetime, int | None]]],
    departures: dict[int, list[datetime]],
    until: datetime,
) -> GroupFigures:
    """Each customer from their case's opening to the window's end: a later answer, its NPS, a departure."""
    answered = promoters = passives = detractors = churned = 0
    for case in cases:
        after = sorted(
            (at, score) for at, score in later.get(case.customer_id, []) if case.opened_at < at < until
        )
        answered += bool(after)
        scored = [score for _at, score in after if score is not None]
        if scored:
            promoters += scored[0] >= 9
            passives += 7 <= scored[0] <= 8
            detractors += scored[0] <= 6
        churned += _left_after(departures, case)
    n = len(cases)
    followed = [(until - c.opened_at).total_seconds() / 86400 for c in cases]
    severe = sum(c.severity >= Severity.HIGH for c in cases)
    return GroupFigures(
        n,
        wilson(answered, n),
        nps(promoters, passives, detractors),
        wilson(churned, n),
        statistics.median(followed) if followed else None,
        wilson(severe, n),
    )


def _left_after(departures: dict[int, list[datetime]], case: Case) -> bool:
    return any(at >= case.opened_at for at in departures.get(case.customer_id, []))


def _caveats(recovered: GroupFigures, late: GroupFigures, min_n: int) -> list[str]:
    """Why the groups may not be comparable, so the page says it rather than let the reader infer."""
    caveats = []
    if min(recovered.customers, late.customers) < min_n:
        caveats.append("too_few")
    if recovered.followed_days is not None and late.followed_days is not None:
        shorter, longer = sorted((recovered.followed_days, late.followed_days))
        if longer - shorter > max(7.0, 0.25 * longer):
            caveats.append("followed")
    if recovered.severe and late.severe and recovered.severe.n and late.severe.n:
        if abs((recovered.severe.value or 0) - (late.severe.value or 0)) > 0.10:
            caveats.append("severity")
    return caveats


def closed_loop_effect(*, organisation: Organisation, since: datetime, until: datetime) -> Effect:
    cases = list(
        Case.objects.filter(organisation=organisation, opened_at__gte=since, opened_at__lt=until)
        .select_related("team", "root_cause", "touchpoint")
        .annotate(
            was_escalated=Exists(CaseEvent.objects.filter(case=OuterRef("pk"), kind=EventKind.ESCALATED))
        )
        .order_by("opened_at", "id")
    )
    first_case: dict[int, Case] = {}
    for case in cases:
        first_case.setdefault(case.customer_id, case)
    customers = list(first_case)

    later: dict[int, list[tuple[datetime, int | None]]] = defaultdict(list)
    responses = Response.objects.filter(
        organisation=organisation, customer_id__in=customers, completed_at__gt=since
    ).values_list("id", "customer_id", "completed_at")
    scores = dict(
        Answer.objects.filter(
            organisation=organisation,
            kind=QuestionKind.NPS,
            response__customer_id__in=customers,
            response__completed_at__gt=since,
        ).values_list("response_id", "number")
    )
    for response_id, customer_id, completed_at in responses:
        later[customer_id].append((completed_at, scores.get(response_id)))
    # A departure: a customer.left interaction, or a case closed with the outcome "customer left".
    departures: dict[int, list[datetime]] = defaultdict(list)
    for customer_id, occurred_at in Interaction.objects.filter(
        organisation=organisation,
        customer_id__in=customers,
        touchpoint__code=CHURN_TOUCHPOINT,
        occurred_at__lt=until,
    ).values_list("customer_id", "occurred_at"):
        departures[customer_id].append(occurred_at)
    for customer_id, opened_at in Case.objects.filter(
        organisation=organisation, customer_id__in=customers, outcome=CaseOutcome.LEFT, opened_at__lt=until
    ).values_list("customer_id", "opened_at"):
        departures[customer_id].append(opened_at)

    handled = [c for c in first_case.values() if c.status in CLOSED and c.closed_at and _in_time(c)]
    late = [c for c in first_case.values() if _late(c, until)]
    recovered, not_in_time = _group(handled, later, departures, until), _group(late, later, departures, until)
    min_n = analytics_settings(organisation=organisation).min_n

    by_team: dict[str, list[Case]] = defaultdict(list)
    for case in cases:
        by_team[case.team.code if case.team else "—"].append(case)
    teams = []
    for team, team_cases in sorted(by_team.items()):
        hours = [
            (c.first_contact_at - c.opened_at).total_seconds() / 3600
            for c in team_cases
            if c.first_contact_at
        ]
        teams.append(
            TeamFigures(
                team=team,
                cases=len(team_cases),
                contacted=len(hours),
                median_hours_to_first_contact=statistics.median(hours) if hours else None,
                sla_attainment=_sla(team_cases, until),
            )
        )
    causes = Counter(c.root_cause.label for c in cases if c.root_cause)
    return Effect(
        cases=len(cases),
        resolved=wilson(sum(c.status in CLOSED for c in cases), len(cases)),
        sla_attainment=_sla(cases, until),
        by_team=teams,
        recovered=recovered,
        not_in_time=not_in_time,
        root_causes=causes.most_common(),
        outer_loop=_outer_loop(organisation, cases, causes, departures, since=since, until=until),
        caveats=_caveats(recovered, not_in_time, min_n),
        min_n=min_n,
    )


def _outer_loop(
    organisation: Organisation,
    cases: list[Case],
    causes: Counter[str],
    left: dict[int, list[datetime]],
    *,
    since: datetime,
    until: datetime,
) -> list[RootCauseFigures]:
    """Each root cause of the period with its touchpoints, teams, customers who then left, and
    its count over the same length of time just before (did last quarter's fix hold?)."""
    previous = Counter(
        Case.objects.filter(
            organisation=organisation,
            opened_at__gte=since - (until - since),
            opened_at__lt=since,
            root_cause__isnull=False,
        ).values_list("root_cause__label", flat=True)
    )
    where: dict[str, Counter[str]] = defaultdict(Counter)
    teams: dict[str, Counter[str]] = defaultdict(Counter)
    gone: Counter[str] = Counter()
    for case in cases:
        if case.root_cause is None:
            continue
        label = case.root_cause.label
        where[label][case.touchpoint.code] += 1
        teams[label][case.team.code if case.team else "—"] += 1
        gone[label] += _left_after(left, case)
    return [
        RootCauseFigures(
            label=label,
            cases=n,
            previous_period_cases=previous.get(label, 0),
            touchpoints=where[label].most_common(3),
            teams=teams[label].most_common(3),
            customers_left=gone[label],
        )
        for label, n in causes.most_common()
    ]
