"""Contact pressure and the closed loop, measured: read from governance's decisions and the cases."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
from django.db.models import Count, F
from django.db.models.functions import TruncMonth

from avis.accounts.models import Organisation
from avis.analytics.stats import Estimate, wilson
from avis.cases.models import Case, CaseOutcome
from avis.governance.models import Decision, Outcome

# A case is recovered when the customer stayed or the problem was fixed.
RECOVERED = (CaseOutcome.SOLVED, CaseOutcome.COMPENSATED, CaseOutcome.RETAINED)


@dataclass(frozen=True)
class ContactPressure:
    customers_solicited: int
    surveys_per_customer: list[tuple[str, int]]  # ("1", customers), ("2", …), … "5+"
    by_month: list[dict[str, object]]  # month, invite, skip, defer
    skip_reasons: list[tuple[str, int]]
    deferred: int
    inclusion_probability_mean: float | None


def _window(rows, field: str, since: datetime | None, until: datetime | None):  # noqa: ANN001, ANN202
    if since:
        rows = rows.filter(**{f"{field}__gte": since})
    if until:
        rows = rows.filter(**{f"{field}__lt": until})
    return rows


def contact_pressure(
    *, organisation: Organisation, since: datetime | None = None, until: datetime | None = None
) -> ContactPressure:
    """How often customers were asked over the window, why others were not, and what was put off."""
    zone = ZoneInfo(organisation.default_time_zone)
    decisions = _window(Decision.objects.filter(organisation=organisation), "decided_at", since, until)
    solicited = _window(
        Decision.objects.filter(organisation=organisation, solicited_at__isnull=False),
        "solicited_at",
        since,
        until,
    )
    per_customer = Counter(
        min(count, 5)
        for count in solicited.values("customer_id").annotate(c=Count("id")).values_list("c", flat=True)
    )
    distribution = [(f"{k}+" if k == 5 else str(k), per_customer.get(k, 0)) for k in range(1, 6)]
    months: dict[str, dict[str, object]] = {}
    for row in (
        decisions.annotate(month=TruncMonth("decided_at", tzinfo=zone))
        .values("month", "outcome")
        .annotate(c=Count("id"))
        .order_by("month")
    ):
        key = row["month"].date().isoformat()
        months.setdefault(key, {"month": key, "invite": 0, "skip": 0, "defer": 0})[row["outcome"]] = row["c"]
    reasons = list(
        decisions.filter(outcome=Outcome.SKIP)
        .values_list("reason")
        .annotate(c=Count("id"))
        .order_by("-c", "reason")
    )
    invited = decisions.exclude(outcome=Outcome.SKIP).values_list("inclusion_probability", flat=True)
    probabilities = [p for p in invited if p]
    return ContactPressure(
        customers_solicited=sum(per_customer.values()),
        surveys_per_customer=distribution,
        by_month=list(months.values()),
        skip_reasons=[(reason, count) for reason, count in reasons],
        deferred=decisions.filter(outcome=Outcome.DEFER).count(),
        inclusion_probability_mean=float(np.mean(probabilities)) if probabilities else None,
    )


@dataclass(frozen=True)
class ClosedLoop:
    opened: int
    open_now: int
    contacted: int
    hours_to_first_contact: dict[str, float | None]  # median, p75, p90
    contacted_in_time: Estimate  # share of contacted cases reached before their due time
    recovered: Estimate  # share of cases with an outcome that ended well
    outcomes: list[tuple[str, int]]
    by_status: list[tuple[str, int]]


def closed_loop(
    *, organisation: Organisation, since: datetime | None = None, until: datetime | None = None
) -> ClosedLoop:
    """Cases opened over the window: how fast someone called back, and how it ended."""
    cases = _window(Case.objects.filter(organisation=organisation), "opened_at", since, until)
    contacted = cases.filter(first_contact_at__isnull=False)
    delays = np.array(
        [
            (first - opened).total_seconds() / 3600
            for opened, first in contacted.values_list("opened_at", "first_contact_at")
        ]
    )
    quantiles = {
        name: (float(np.quantile(delays, q)) if delays.size else None)
        for name, q in (("median", 0.5), ("p75", 0.75), ("p90", 0.9))
    }
    in_time = contacted.filter(first_contact_at__lte=F("due_at")).count()
    outcomes = dict(cases.exclude(outcome="").values_list("outcome").annotate(c=Count("id")))
    ended = sum(outcomes.values())
    return ClosedLoop(
        opened=cases.count(),
        open_now=cases.exclude(status__in=["resolved", "closed"]).count(),
        contacted=int(delays.size),
        hours_to_first_contact=quantiles,
        contacted_in_time=wilson(in_time, int(delays.size)),
        recovered=wilson(sum(outcomes.get(o, 0) for o in RECOVERED), ended),
        outcomes=sorted(outcomes.items()),
        by_status=sorted(cases.values_list("status").annotate(c=Count("id"))),
    )
