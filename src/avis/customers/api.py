from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import get_language
from ninja import Router, Schema
from pydantic import Field

from avis.accounts.authentication import organisation_of
from avis.customers.queries import customer_by_external_id, customer_opt_outs
from avis.customers.services import opt_out_customer
from avis.governance.queries import contact_history, contact_pressure, explainer
from avis.privacy import services as privacy

# A customer's id is the organisation's own and may hold any character, "/" included
# ("AGENCE/LYON/42"): the routes take it with Django's path converter.
router = Router(tags=["customers"])


class OptOutIn(Schema):
    channel: str = Field(default="all", description="all | email | sms")
    source: str = Field(default="api", max_length=64)


class OptOutOut(Schema):
    customer: str
    channel: str
    source: str
    created_at: datetime
    withdrawn_at: datetime | None = None


class ContactDecisionOut(Schema):
    interaction: str
    touchpoint: str
    occurred_at: datetime
    outcome: str
    reason: str
    explanation: str
    policy_version: int
    decided_at: datetime
    planned_at: datetime | None
    channel: str | None


class ContactHistoryOut(Schema):
    customer: str
    pressure: dict[str, int] = Field(
        description="Surveys and other recorded contacts in the last 30, 90 and 365 days",
        examples=[{"30": 1}],
    )
    opt_outs: list[OptOutOut]
    decisions: list[ContactDecisionOut]


@router.get("/{path:external_id}/contact-history", response=ContactHistoryOut)
def get_contact_history(request: HttpRequest, external_id: str) -> ContactHistoryOut:
    """Every decision about this customer, newest first, with the reason in plain words."""
    organisation = organisation_of(request)
    customer = customer_by_external_id(organisation=organisation, external_id=external_id)
    explain = explainer(get_language())  # one query for touchpoint names, one rendering per distinct sentence
    pressure = contact_pressure(organisation=organisation, customer=customer, now=timezone.now())
    return ContactHistoryOut(
        customer=customer.external_id,
        pressure={str(days): count for days, count in pressure.items()},
        opt_outs=[
            OptOutOut(
                customer=customer.external_id,
                channel=o.channel,
                source=o.source,
                created_at=o.created_at,
                withdrawn_at=o.withdrawn_at,
            )
            for o in customer_opt_outs(organisation=organisation, customer=customer)
        ],
        decisions=[
            ContactDecisionOut(
                interaction=d.interaction.external_id,
                touchpoint=d.touchpoint.code,
                occurred_at=d.interaction.occurred_at,
                outcome=d.outcome,
                reason=d.reason,
                explanation=explain(d),
                policy_version=d.policy.version,
                decided_at=d.decided_at,
                planned_at=d.planned_at,
                channel=d.channel or None,
            )
            for d in contact_history(organisation=organisation, customer=customer)
        ],
    )


@router.post("/{path:external_id}/opt-out", response=OptOutOut)
def post_opt_out(request: HttpRequest, external_id: str, payload: OptOutIn) -> OptOutOut:
    """Stop surveys to this customer, on one channel or all; messages already queued are stopped too."""
    opt_out = opt_out_customer(
        organisation=organisation_of(request),
        external_id=external_id,
        channel=payload.channel,
        source=payload.source,
    )
    return OptOutOut(
        customer=external_id, channel=opt_out.channel, source=opt_out.source, created_at=opt_out.created_at
    )


class CustomerExportOut(Schema):
    """Everything held on one customer; docs/gdpr.md describes each section."""

    format: int = Field(description="Version of this layout")
    organisation: str
    exported_at: datetime
    customer: dict[str, Any] = Field(description="Identity: ids, phone, e-mail, language, attributes")
    opt_outs: list[dict[str, Any]]
    interactions: list[dict[str, Any]]
    decisions: list[dict[str, Any]] = Field(description="Every contact decision, with its reason")
    invitations: list[dict[str, Any]]
    messages: dict[str, list[dict[str, Any]]] = Field(description="sent, received, sms_conversations")
    responses: list[dict[str, Any]] = Field(description="Every survey answered, with its answers")
    comments: list[dict[str, Any]] = Field(description="The customer's own words")
    cases: list[dict[str, Any]] = Field(description="Follow-ups, with their timeline and notes")


@router.get("/{path:external_id}/export", response=CustomerExportOut)
def get_customer_export(request: HttpRequest, external_id: str) -> dict[str, Any]:
    """Everything held on this customer (GDPR right of access and portability), as one JSON document."""
    return privacy.export_customer(
        organisation=organisation_of(request), external_id=external_id, actor=request.user, via="api"
    )


class ErasureOut(Schema):
    customer: str = Field(description="The external id the customer had; it is not kept")
    erased: bool


# Last: its path (any id, slashes included) would otherwise take the other routes' paths.
@router.delete("/{path:external_id}", response=ErasureOut)
def delete_customer(request: HttpRequest, external_id: str) -> ErasureOut:
    """Erase this customer's personal data everywhere (GDPR); the figures their answers made stay.

    The erasure is also journaled beside the backups, so restoring an older backup erases them again.
    """
    privacy.erase_customer(
        organisation=organisation_of(request), external_id=external_id, actor=request.user, via="api"
    )
    return ErasureOut(customer=external_id, erased=True)
