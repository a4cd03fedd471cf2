from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest
from django.utils.translation import get_language
from ninja import Router, Schema
from pydantic import Field

from avis.accounts.authentication import organisation_of
from avis.errors import NotFound
from avis.fields import LocalTime
from avis.governance.models import MARGIN_MAX, MARGIN_MIN, ContactPolicy, SamplingGoal
from avis.governance.queries import describe_policy, policy_versions, sampling_goals
from avis.governance.services import (
    EDITABLE_POLICY_FIELDS,
    create_sampling_goal,
    current_policy,
    retire_sampling_goal,
    update_policy,
)
from avis.interactions.queries import touchpoint_by_code

router = Router(tags=["governance"])


def _editor(request: HttpRequest) -> Any:
    """Who publishes the change: the signed-in person, or nobody for an API key (the role matrix,
    accounts/permissions.py, decided who may)."""
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


class Window(Schema):
    max: int = Field(ge=1, description="At most this many surveys…")
    days: int = Field(ge=1, description="…in any rolling period of this many days")


class Exclusion(Schema):
    attribute: str = Field(min_length=1, max_length=64, examples=["employee"])
    operator: Literal["equals", "not_equals", "in", "is_true", "is_set", "less_than", "greater_than"]
    value: Any = None


class ChannelWindow(Schema):
    from_: LocalTime | None = Field(default=None, alias="from")
    until: LocalTime | None = None
    sunday: bool | None = None
    holidays: bool | None = None


class PolicyOut(Schema):
    version: int
    created_at: datetime
    created_by: str | None
    windows: list[Window]
    quarantine_days: int
    touchpoint_gaps: dict[str, int]
    priorities: dict[str, int]
    exclusions: list[Exclusion]
    freshness_hours: int
    default_sampling_rate: float
    sampling_rates: dict[str, float]
    send_from: LocalTime
    send_until: LocalTime
    send_on_sunday: bool
    send_on_holidays: bool
    channel_sending: dict[str, dict[str, Any]]
    summary: list[str] = Field(description="The policy in plain sentences, in the request's language")


class PolicyChangeIn(Schema):
    """Only the fields given change; the result is published as a new version."""

    windows: list[Window] | None = None
    quarantine_days: int | None = Field(default=None, ge=0)
    touchpoint_gaps: dict[str, int] | None = None
    priorities: dict[str, int] | None = None
    exclusions: list[Exclusion] | None = None
    freshness_hours: int | None = Field(default=None, ge=0)
    default_sampling_rate: float | None = Field(default=None, ge=0, le=1)
    sampling_rates: dict[str, float] | None = None
    send_from: LocalTime | None = None
    send_until: LocalTime | None = None
    send_on_sunday: bool | None = None
    send_on_holidays: bool | None = None
    channel_sending: dict[str, ChannelWindow] | None = None


def _policy_out(policy: ContactPolicy) -> PolicyOut:
    values = {name: getattr(policy, name) for name in EDITABLE_POLICY_FIELDS}
    return PolicyOut(
        version=policy.version,
        created_at=policy.created_at,
        created_by=policy.created_by.get_username() if policy.created_by else None,
        summary=describe_policy(policy, get_language()),
        **values,
    )


@router.get("", response=PolicyOut)
def get_policy(request: HttpRequest) -> PolicyOut:
    """The contact policy in force."""
    return _policy_out(current_policy(organisation=organisation_of(request)))


@router.put("", response=PolicyOut)
def put_policy(request: HttpRequest, payload: PolicyChangeIn) -> PolicyOut:
    """Publish a new version: the current rules with the fields given replaced."""
    changes = payload.dict(exclude_none=True, by_alias=True)
    if "channel_sending" in changes:
        changes["channel_sending"] = {
            channel: {key: value for key, value in window.items() if value is not None}
            for channel, window in changes["channel_sending"].items()
        }
    policy = update_policy(
        organisation=organisation_of(request), changes=changes, created_by=_editor(request)
    )
    return _policy_out(policy)


@router.get("/versions", response=list[PolicyOut])
def get_policy_versions(request: HttpRequest) -> list[PolicyOut]:
    """Every published version, newest first: each decision names the one it used."""
    return [_policy_out(policy) for policy in policy_versions(organisation=organisation_of(request))]


@router.get("/versions/{version}", response=PolicyOut)
def get_policy_version(request: HttpRequest, version: int) -> PolicyOut:
    found = policy_versions(organisation=organisation_of(request)).filter(version=version).first()
    if found is None:
        raise NotFound(f"The policy has no version {version}.")
    return _policy_out(found)


class GoalIn(Schema):
    metric: Literal["nps", "resolution", "csat"] = "nps"
    dimension: Literal["touchpoint", "team", "agent"] = "touchpoint"
    period: Literal["week", "month", "quarter"] = "month"
    margin: float = Field(
        ge=MARGIN_MIN, le=MARGIN_MAX, description="Half-width of the interval, in points", examples=[10]
    )
    confidence: float = Field(default=0.95, ge=0.5, lt=1)
    touchpoint: str | None = Field(default=None, description="Only this touchpoint's interactions")


class StratumRateOut(Schema):
    stratum: str
    probability: float
    completes_needed: int
    expected_completes: float
    response_rate: float
    interactions_per_period: float
    reachable: bool
    computed_at: datetime


class GoalOut(Schema):
    id: int
    metric: str
    dimension: str
    period: str
    margin: float
    confidence: float
    touchpoint: str | None
    strata: list[StratumRateOut]


def _goal_out(goal: SamplingGoal) -> GoalOut:
    return GoalOut(
        id=goal.id,
        metric=goal.metric,
        dimension=goal.dimension,
        period=goal.period,
        margin=goal.margin,
        confidence=goal.confidence,
        touchpoint=goal.touchpoint.code if goal.touchpoint else None,
        strata=[
            StratumRateOut(
                stratum=rate.stratum,
                probability=rate.probability,
                completes_needed=rate.inputs.get("completes", 0),
                expected_completes=rate.inputs.get("expected_completes", 0.0),
                response_rate=rate.inputs.get("response_rate", 0.0),
                interactions_per_period=rate.inputs.get("interactions_per_period", 0.0),
                reachable=rate.inputs.get("reachable", True),
                computed_at=rate.computed_at,
            )
            for rate in goal.rates.all()
        ],
    )


@router.get("/sampling-goals", response=list[GoalOut])
def get_sampling_goals(request: HttpRequest) -> list[GoalOut]:
    """Precision goals and the inclusion probability each sets per stratum."""
    return [_goal_out(goal) for goal in sampling_goals(organisation=organisation_of(request))]


@router.post("/sampling-goals", response={201: GoalOut})
def post_sampling_goal(request: HttpRequest, payload: GoalIn) -> tuple[int, GoalOut]:
    """State a precision; avis asks just enough customers per stratum to reach it."""
    from avis.surveys.services import refresh_sampling_rates

    organisation = organisation_of(request)
    touchpoint = (
        touchpoint_by_code(organisation=organisation, code=payload.touchpoint) if payload.touchpoint else None
    )
    goal = create_sampling_goal(
        organisation=organisation,
        metric=payload.metric,
        dimension=payload.dimension,
        period=payload.period,
        margin=payload.margin,
        confidence=payload.confidence,
        touchpoint=touchpoint,
    )
    refresh_sampling_rates(organisation=organisation)
    return 201, _goal_out(sampling_goals(organisation=organisation).get(id=goal.id))


@router.delete("/sampling-goals/{goal_id}", response={204: None})
def delete_sampling_goal(request: HttpRequest, goal_id: int) -> tuple[int, None]:
    """Retire a goal: its strata fall back to the policy's sampling rates."""
    retire_sampling_goal(organisation=organisation_of(request), goal_id=goal_id)
    return 204, None
