"""Everything avis holds about one customer, as plain data (GDPR art. 15 access, art. 20 portability).

One function gathers it; the API, the command line and the page all serialise its result, so they
can never disagree. Sections follow the flow of an interaction: who the customer is, what they
refused, what happened to them, what we decided, what we sent, what they answered, what we did next.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.translation import get_language

from avis.accounts.models import Organisation
from avis.cases.models import Case, CaseEvent
from avis.customers.models import Customer, OptOut
from avis.errors import NotFound
from avis.governance.models import Decision
from avis.governance.queries import explainer
from avis.interactions.models import Interaction
from avis.messaging.models import Conversation, InboundMessage, OutboundMessage
from avis.surveys.models import Answer, Invitation, Response

FORMAT_VERSION = 1


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def customer_data(
    *, organisation: Organisation, external_id: str, now: datetime | None = None
) -> dict[str, Any]:
    """The export of one customer; ``NotFound`` if this organisation has no such customer."""
    customer = Customer.objects.filter(organisation=organisation, external_id=external_id).first()
    if customer is None:
        raise NotFound("No such customer.")
    return {
        "format": FORMAT_VERSION,
        "organisation": organisation.slug,
        "exported_at": (now or timezone.now()).isoformat(),
        "customer": _identity(customer),
        "opt_outs": _opt_outs(customer),
        "interactions": _interactions(customer),
        "decisions": _decisions(customer),
        "invitations": _invitations(customer),
        "messages": _messages(customer),
        "responses": _responses(customer),
        "comments": _comments(customer),
        "cases": _cases(customer),
    }


def _identity(customer: Customer) -> dict[str, Any]:
    return {
        "external_id": customer.external_id,
        "phone": customer.phone,
        "phone_status": customer.phone_status,
        "email": customer.email,
        "email_status": customer.email_status,
        "locale": customer.locale,
        "time_zone": customer.time_zone,
        "attributes": customer.attributes,
        "created_at": _when(customer.created_at),
        "updated_at": _when(customer.updated_at),
    }


def _opt_outs(customer: Customer) -> list[dict[str, Any]]:
    return [
        {
            "channel": o.channel,
            "source": o.source,
            "created_at": _when(o.created_at),
            "withdrawn_at": _when(o.withdrawn_at),
            "withdrawn_source": o.withdrawn_source,
        }
        for o in OptOut.objects.filter(organisation_id=customer.organisation_id, customer=customer).order_by(
            "created_at", "id"
        )
    ]


def _interactions(customer: Customer) -> list[dict[str, Any]]:
    rows = (
        Interaction.objects.filter(organisation_id=customer.organisation_id, customer=customer)
        .select_related("touchpoint", "agent", "team")
        .order_by("occurred_at", "id")
    )
    return [
        {
            "external_id": i.external_id,
            "touchpoint": i.touchpoint.code,
            "occurred_at": _when(i.occurred_at),
            "received_at": _when(i.received_at),
            "agent": i.agent.external_id if i.agent else None,
            "team": i.team.code if i.team else None,
            "attributes": i.attributes,
            "contact_only": i.contact_only,
        }
        for i in rows
    ]


def _decisions(customer: Customer) -> list[dict[str, Any]]:
    explain = explainer(get_language())
    rows = (
        Decision.objects.filter(organisation_id=customer.organisation_id, customer=customer)
        .select_related("interaction", "touchpoint", "policy")
        .order_by("decided_at", "id")
    )
    return [
        {
            "interaction": d.interaction.external_id,
            "touchpoint": d.touchpoint.code,
            "outcome": d.outcome,
            "reason": d.reason,
            "explanation": explain(d),
            "policy_version": d.policy.version,
            "decided_at": _when(d.decided_at),
            "planned_at": _when(d.planned_at),
            "channel": d.channel or None,
        }
        for d in rows
    ]


def _invitations(customer: Customer) -> list[dict[str, Any]]:
    rows = (
        Invitation.objects.filter(organisation_id=customer.organisation_id, customer=customer)
        .select_related("interaction", "survey")
        .order_by("planned_at", "id")
    )
    return [
        {
            "interaction": i.interaction.external_id,
            "survey": i.survey.name,
            "channel": i.channel,
            "locale": i.locale,
            "status": i.status,
            "planned_at": _when(i.planned_at),
            "sent_at": _when(i.sent_at),
            "expires_at": _when(i.expires_at),
            "responded_at": _when(i.responded_at),
        }
        for i in rows
    ]


def _messages(customer: Customer) -> dict[str, list[dict[str, Any]]]:
    organisation_id = customer.organisation_id
    outbound = (
        (
            OutboundMessage.objects.filter(organisation_id=organisation_id, invitation__customer=customer)
            | OutboundMessage.objects.filter(organisation_id=organisation_id, conversation__customer=customer)
        )
        .distinct()
        .order_by("created_at", "id")
    )
    inbound = InboundMessage.objects.filter(organisation_id=organisation_id, customer=customer).order_by(
        "received_at", "id"
    )
    conversations = Conversation.objects.filter(organisation_id=organisation_id, customer=customer).order_by(
        "started_at", "id"
    )
    return {
        "sent": [
            {
                "kind": m.kind,
                "channel": m.channel,
                "recipient": m.recipient,
                "subject": m.subject,
                "text": m.body_text,
                "status": m.status,
                "created_at": _when(m.created_at),
                "sent_at": _when(m.sent_at),
                "delivery_status": m.delivery_status,
                "delivered_at": _when(m.delivered_at),
            }
            for m in outbound
        ],
        "received": [
            {
                "channel": m.channel,
                "sender": m.sender,
                "text": m.text,
                "received_at": _when(m.received_at),
                "read_as": m.interpretation,
            }
            for m in inbound
        ],
        "sms_conversations": [
            {
                "phone": c.phone,
                "state": c.state,
                "end_reason": c.end_reason,
                "answers": c.answers,
                "comments": c.comments,
                "started_at": _when(c.started_at),
                "closed_at": _when(c.closed_at),
            }
            for c in conversations
        ],
    }


def _answer(a: Answer) -> dict[str, Any]:
    return {
        "question": a.question.code,
        # The question as worded to the customer ({"fr": …, "en": …}): what they were asked.
        "prompt": a.question.prompt,
        "kind": a.kind,
        "number": a.number,
        "choice": a.choice or None,
        "text": a.text or None,
        "not_applicable": a.not_applicable,
    }


def _responses(customer: Customer) -> list[dict[str, Any]]:
    rows = (
        Response.objects.filter(organisation_id=customer.organisation_id, customer=customer)
        .select_related("interaction", "touchpoint", "survey")
        .prefetch_related("answers__question")
        .order_by("completed_at", "id")
    )
    return [
        {
            "interaction": r.interaction.external_id,
            "touchpoint": r.touchpoint.code,
            "survey": r.survey.name,
            "channel": r.channel,
            "locale": r.locale,
            "completed_at": _when(r.completed_at),
            "answers": [_answer(a) for a in r.answers.all()],
        }
        for r in rows
    ]


def _comments(customer: Customer) -> list[dict[str, Any]]:
    """The customer's own words, apart: what a person asking "what did I write?" wants first."""
    rows = (
        Answer.objects.filter(organisation_id=customer.organisation_id, response__customer=customer)
        .exclude(text="")
        .select_related("question", "response__interaction")
        .order_by("answered_at", "id")
    )
    return [
        {
            "interaction": a.response.interaction.external_id,
            "question": a.question.code,
            "text": a.text,
            "answered_at": _when(a.answered_at),
        }
        for a in rows
    ]


def _cases(customer: Customer) -> list[dict[str, Any]]:
    organisation_id = customer.organisation_id
    cases = list(
        Case.objects.filter(organisation_id=organisation_id, customer=customer)
        .select_related("interaction", "root_cause", "assigned_to")
        .order_by("opened_at", "id")
    )
    events: dict[int, list[dict[str, Any]]] = {}
    for e in (
        CaseEvent.objects.filter(organisation_id=organisation_id, case__in=cases)
        .select_related("actor")
        .order_by("at", "id")
    ):
        events.setdefault(e.case_id, []).append(
            {
                "at": _when(e.at),
                "kind": e.kind,
                "by": e.actor.get_username() if e.actor else None,
                "note": e.note or None,
            }
        )
    return [
        {
            "id": c.id,
            "interaction": c.interaction.external_id,
            "status": c.status,
            "outcome": c.outcome or None,
            "severity": c.severity,
            "reasons": c.reasons,
            "root_cause": c.root_cause.label if c.root_cause else None,
            "do_not_call": c.do_not_call,
            "assigned_to": c.assigned_to.get_username() if c.assigned_to else None,
            "opened_at": _when(c.opened_at),
            "first_contact_at": _when(c.first_contact_at),
            "closed_at": _when(c.closed_at),
            "timeline": events.get(c.id, []),
        }
        for c in cases
    ]
