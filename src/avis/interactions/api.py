from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse
from django.utils.translation import get_language
from ninja import Router, Schema, Status
from ninja.decorators import decorate_view
from ninja.responses import NinjaJSONEncoder
from ninja.security import APIKeyHeader
from pydantic import Field, WithJsonSchema
from pydantic import ValidationError as PydanticValidationError

from avis.accounts.authentication import organisation_of
from avis.accounts.models import Organisation
from avis.bulk import collector_paused
from avis.errors import ValidationFailed
from avis.governance.models import Decision
from avis.governance.queries import explainer
from avis.interactions.flow import IngestResult, ingest_interactions
from avis.interactions.models import Touchpoint
from avis.interactions.queries import touchpoint_of, touchpoints
from avis.interactions.schemas import InteractionIn
from avis.interactions.services import (
    FieldError,
    create_touchpoint,
    receive_signed_request,
    update_touchpoint,
)
from avis.surveys.models import Invitation

router = Router(tags=["interactions"])

MAX_BATCH = 10_000


class ErrorItem(Schema):
    field: str
    message: str


class DecisionOut(Schema):
    outcome: str = Field(description="invite | skip | defer")
    reason: str
    explanation: str
    policy_version: int
    inclusion_probability: float
    channel: str | None
    decided_at: datetime
    planned_at: datetime | None

    @staticmethod
    def values(decision: Decision, explain: Callable[[Decision], str]) -> dict[str, Any]:
        return {
            "outcome": str(decision.outcome),
            "reason": decision.reason,
            "explanation": explain(decision),
            "policy_version": decision.policy.version,
            "inclusion_probability": decision.inclusion_probability,
            "channel": decision.channel or None,
            "decided_at": decision.decided_at,
            "planned_at": decision.planned_at,
        }


class InvitationOut(Schema):
    id: int
    channel: str
    status: str
    planned_at: datetime
    expires_at: datetime

    @staticmethod
    def values(invitation: Invitation) -> dict[str, Any]:
        return {
            "id": invitation.id,
            "channel": invitation.channel,
            "status": invitation.status,
            "planned_at": invitation.planned_at,
            "expires_at": invitation.expires_at,
        }


class IngestOut(Schema):
    external_id: str
    decision: DecisionOut | None
    invitation: InvitationOut | None

    @staticmethod
    def of(result: IngestResult) -> IngestOut:
        return IngestOut(
            external_id=result.external_id,
            decision=DecisionOut.values(result.decision, explainer()) if result.decision else None,
            invitation=InvitationOut.values(result.invitation) if result.invitation else None,
        )


# Each item is read on its own (see _read_items): one malformed item is reported, never the whole batch.
BatchItemIn = Annotated[Any, WithJsonSchema({"type": "object", "x-ref": "InteractionIn"})]


class BatchIn(Schema):
    items: list[BatchItemIn] = Field(min_length=1, max_length=MAX_BATCH)


def _read_items(raw: list[Any]) -> tuple[list[InteractionIn], dict[int, IngestResult]]:
    """The items that parse, and for each one that does not, its result listing every bad field."""
    parsed: list[InteractionIn] = []
    refused: dict[int, IngestResult] = {}
    for index, item in enumerate(raw):
        try:
            parsed.append(InteractionIn.model_validate(item))
        except PydanticValidationError as error:
            external_id = item.get("external_id") if isinstance(item, dict) else None
            refused[index] = IngestResult(
                external_id=external_id if isinstance(external_id, str) else "",
                errors=[
                    FieldError(".".join(str(part) for part in e["loc"]) or "item", e["msg"])
                    for e in error.errors()
                ],
            )
    return parsed, refused


class BatchItemOut(IngestOut):
    index: int
    status: str = Field(description="accepted | invalid")
    replayed: bool
    errors: list[ErrorItem]


class BatchOut(Schema):
    accepted: int
    invalid: int
    results: list[BatchItemOut]


@router.post("", response={200: IngestOut, 422: dict}, summary="Record one interaction")
def post_interaction(request: HttpRequest, response: HttpResponse, payload: InteractionIn) -> IngestOut:
    """Record an interaction and return the governance decision (and the invitation, if any).

    Idempotent on `external_id`: a retry returns the same answer (with the header
    `Idempotent-Replayed: true`) and creates nothing.
    """
    (result,) = ingest_interactions(organisation=organisation_of(request), items=[payload])
    if result.errors:
        first = result.errors[0]
        raise ValidationFailed(first.message, field=first.field)
    if result.replayed:
        response["Idempotent-Replayed"] = "true"
    return IngestOut.of(result)


@router.post("/batch", response={200: BatchOut, 422: dict}, summary="Record up to 10,000 interactions")
# Around the whole request, parsing and reply included, so that the collector
# resumes once the batch's objects are gone rather than walking them all.
@decorate_view(collector_paused())
def post_batch(request: HttpRequest, payload: BatchIn) -> HttpResponse:
    """Each item is judged on its own: invalid items are reported with their field paths, the others kept."""
    parsed, refused = _read_items(payload.items)
    ingested = iter(
        ingest_interactions(organisation=organisation_of(request), items=parsed) if parsed else []
    )
    results = [refused[index] if index in refused else next(ingested) for index in range(len(payload.items))]
    # Rendered here from plain values, as ninja would render BatchOut: building
    # and dumping 10,000 pydantic items, and the encoder's call back for every
    # datetime, cost more than all the rest of the reply.
    body = json.dumps(_batch_reply(results), cls=NinjaJSONEncoder)
    return HttpResponse(body, content_type="application/json; charset=utf-8")


class SignedWebhook(APIKeyHeader):
    """``X-Avis-Signature: sha256=<hex>``, the HMAC-SHA256 of ``<X-Avis-Timestamp>.<body>`` with the
    organisation's webhook secret; the address's token names the organisation."""

    param_name = "X-Avis-Signature"

    def authenticate(self, request: HttpRequest, key: str | None) -> Organisation:
        return receive_signed_request(
            token=request.resolver_match.kwargs.get("token", "") if request.resolver_match else "",
            timestamp=request.headers.get("X-Avis-Timestamp", ""),
            signature=key or "",
            body=request.body,
        )


@router.post(
    "/webhook/{token}",
    auth=SignedWebhook(),
    response={200: IngestOut, 401: dict, 409: dict, 422: dict},
    summary="Record one interaction sent by a CRM or contact-centre platform, signed",
)
def post_signed_interaction(
    request: HttpRequest, response: HttpResponse, token: str, payload: InteractionIn
) -> IngestOut:
    """`POST /interactions` for senders that sign instead of holding an API key.

    Sign `<X-Avis-Timestamp>.<body>` (Unix seconds, a dot, the raw body) with
    HMAC-SHA256 and the webhook's secret, and send `X-Avis-Signature:
    sha256=<hex>`. A timestamp more than five minutes away is refused, and so is
    the same signed request twice; the reply and the idempotency on
    `external_id` are those of `POST /interactions`.
    """
    return post_interaction(request, response, payload)


@router.post(
    "/webhook/{token}/batch",
    auth=SignedWebhook(),
    response={200: BatchOut, 401: dict, 409: dict, 422: dict},
    summary="Record up to 10,000 interactions sent by a CRM or contact-centre platform, signed",
)
@decorate_view(collector_paused())
def post_signed_batch(request: HttpRequest, token: str, payload: BatchIn) -> HttpResponse:
    """`POST /interactions/batch`, signed like `POST /interactions/webhook/{token}`."""
    return post_batch(request, payload)


def _batch_reply(results: list[IngestResult]) -> dict[str, Any]:
    explain = explainer(get_language())
    items = [
        {  # BatchItemOut's fields, in its order
            "external_id": result.external_id,
            "decision": _as_json(DecisionOut.values(result.decision, explain)) if result.decision else None,
            "invitation": _as_json(InvitationOut.values(result.invitation)) if result.invitation else None,
            "index": index,
            "status": "invalid" if result.errors else "accepted",
            "replayed": result.replayed,
            "errors": [{"field": e.field, "message": e.message} for e in result.errors],
        }
        for index, result in enumerate(results)
    ]
    invalid = sum(1 for item in items if item["status"] == "invalid")
    return {"accepted": len(items) - invalid, "invalid": invalid, "results": items}


_encoder = DjangoJSONEncoder()


def _as_json(values: dict[str, Any]) -> dict[str, Any]:
    """Datetimes written as ninja's renderer (Django's JSON encoder) writes them."""
    return {name: _encoder.default(v) if isinstance(v, datetime) else v for name, v in values.items()}


# ---------------------------------------------------------------- touchpoints

touchpoints_router = Router(tags=["touchpoints"])


class TouchpointNames(Schema):
    fr: str = Field(default="", max_length=200, examples=["Appel au service client"])
    en: str = Field(default="", max_length=200, examples=["Call to customer service"])


class TouchpointIn(Schema):
    code: str = Field(
        max_length=64,
        description="What senders put in each interaction: lowercase letters and digits joined by dots, "
        "dashes or underscores; unique in the organisation, fixed once created",
        examples=["call_center.call"],
    )
    name: TouchpointNames


class TouchpointPatch(Schema):
    name: dict[str, str] | None = Field(
        default=None, description='Only the languages given change: {"fr": "…"} keeps the English name'
    )
    archived: bool | None = Field(
        default=None, description="true: no new interactions (history and figures stay); false: restore"
    )


class TouchpointOut(Schema):
    code: str
    name: dict[str, str]
    archived: bool
    archived_at: datetime | None
    created_at: datetime

    @staticmethod
    def of(touchpoint: Touchpoint) -> TouchpointOut:
        return TouchpointOut(
            code=touchpoint.code,
            name=touchpoint.name,
            archived=touchpoint.is_archived,
            archived_at=touchpoint.archived_at,
            created_at=touchpoint.created_at,
        )


@touchpoints_router.get("", response=list[TouchpointOut], summary="Every touchpoint, archived ones last")
def list_touchpoints(request: HttpRequest) -> list[TouchpointOut]:
    return [TouchpointOut.of(tp) for tp in touchpoints(organisation=organisation_of(request))]


@touchpoints_router.post("", response={201: TouchpointOut, 422: dict}, summary="Create a touchpoint")
def post_touchpoint(request: HttpRequest, payload: TouchpointIn) -> Status:
    """A wrong code or name is refused with every field's reason, and nothing is saved."""
    touchpoint = create_touchpoint(
        organisation=organisation_of(request),
        code=payload.code,
        name_fr=payload.name.fr,
        name_en=payload.name.en,
    )
    return Status(201, TouchpointOut.of(touchpoint))


@touchpoints_router.get("/{code}", response={200: TouchpointOut, 404: dict}, summary="One touchpoint")
def get_touchpoint(request: HttpRequest, code: str) -> TouchpointOut:
    return TouchpointOut.of(touchpoint_of(organisation=organisation_of(request), code=code))


@touchpoints_router.patch(
    "/{code}", response={200: TouchpointOut, 404: dict, 422: dict}, summary="Rename, archive or restore"
)
def patch_touchpoint(request: HttpRequest, code: str, payload: TouchpointPatch) -> TouchpointOut:
    """Only what the body names changes; the code never does."""
    touchpoint = update_touchpoint(
        organisation=organisation_of(request), code=code, names=payload.name, archived=payload.archived
    )
    return TouchpointOut.of(touchpoint)
