"""Typed shapes of what senders give us; shared by the API, imports and the demo."""

from __future__ import annotations

from typing import Any

from ninja import Schema
from pydantic import Field

from avis.fields import Instant


class CustomerIn(Schema):
    external_id: str = Field(min_length=1, max_length=128)
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=254)
    locale: str | None = Field(default=None, max_length=16, examples=["fr", "en-GB"])
    time_zone: str | None = Field(default=None, max_length=64, examples=["Europe/Paris"])
    attributes: dict[str, Any] = Field(default_factory=dict)


class InteractionIn(Schema):
    external_id: str = Field(min_length=1, max_length=128, description="The sender's own event id")
    touchpoint: str = Field(min_length=1, max_length=64, examples=["call_center.call"])
    occurred_at: Instant
    customer: CustomerIn
    agent: str | None = Field(default=None, max_length=128, description="The agent's external id")
    agent_name: str | None = Field(default=None, max_length=200)
    team: str | None = Field(default=None, max_length=64, description="Team or site code")
    team_name: str | None = Field(default=None, max_length=200)
    attributes: dict[str, Any] = Field(default_factory=dict)
    contact_only: bool = Field(
        default=False,
        description="Another solicitation (a campaign, another tool's survey): it counts toward the "
        "customer's contact pressure and never triggers a survey",
    )
