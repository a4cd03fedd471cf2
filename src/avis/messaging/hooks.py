"""Provider webhooks under /hooks/: delivery receipts and inbound texts.

Each view checks the provider's signature, reads the provider's fields and
calls one service. The installation's provider account posts to
``/hooks/<provider>/…``; an organisation with an account of its own, to
``/hooks/org/<slug>/<provider>/…``, signed with its own secret. A request
that fails the signature check gets 403 and changes nothing: anyone on the
internet can post to these addresses.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.twiml.messaging_response import MessagingResponse

from avis.messaging.conversations import receive_sms
from avis.messaging.email import record_email_bounce
from avis.messaging.providers import http_gateway, twilio
from avis.messaging.queries import own_provider_config
from avis.messaging.receipts import record_delivery_receipt

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Account:
    """Whose provider account a webhook is about: the installation's, or one organisation's own.

    An organisation's own account signs with its own secret and speaks only
    for that organisation's messages and customers.
    """

    organisation_id: int | None = None
    twilio_token: str | None = None  # None: the installation's (AVIS_TWILIO_AUTH_TOKEN)
    gateway_secret: str | None = None  # None: the installation's (AVIS_SMS_HTTP_SECRET)


_INSTALLATION = _Account()

AccountView = Callable[[HttpRequest, _Account], HttpResponse]


def _installation(view: AccountView) -> Callable[[HttpRequest], HttpResponse]:
    """The webhook at the installation's address (``/hooks/<provider>/…``)."""

    @csrf_exempt
    @require_POST
    @wraps(view)
    def hook(request: HttpRequest) -> HttpResponse:
        return view(request, _INSTALLATION)

    return hook


def _organisation(provider: str) -> Callable[[AccountView], Callable[..., HttpResponse]]:
    """The webhook at an organisation's own address (``/hooks/org/<slug>/<provider>/…``); 404 when the
    organisation has no account of its own with that provider."""

    def decorate(view: AccountView) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @require_POST
        @wraps(view)
        def hook(request: HttpRequest, slug: str) -> HttpResponse:
            found = own_provider_config(slug=slug, provider=provider)
            if found is None:
                raise Http404
            organisation_id, config = found
            account = _Account(organisation_id, config.twilio_auth_token, config.http_webhook_secret)
            return view(request, account)

        return hook

    return decorate


def _twilio_signed(request: HttpRequest, account: _Account) -> bool:
    # Twilio signs the URL it called, which is our public address, not the
    # one the request reached behind a proxy.
    url = settings.AVIS_BASE_URL + request.get_full_path_info()
    signature = request.headers.get("X-Twilio-Signature", "")
    return twilio.signature_is_valid(
        url=url, params=request.POST, signature=signature, token=account.twilio_token
    )


def _twilio_status(request: HttpRequest, account: _Account) -> HttpResponse:
    if not _twilio_signed(request, account):
        return HttpResponseForbidden("bad signature")
    status = twilio.delivery_status(request.POST.get("MessageStatus", ""))
    if status:
        record_delivery_receipt(
            provider=twilio.TwilioProvider.name,
            provider_message_id=request.POST.get("MessageSid", ""),
            status=status,
            error_code=request.POST.get("ErrorCode") or None,
            organisation_id=account.organisation_id,
        )
    return HttpResponse()


def _twilio_inbound(request: HttpRequest, account: _Account) -> HttpResponse:
    if not _twilio_signed(request, account):
        return HttpResponseForbidden("bad signature")
    receive_sms(
        provider=twilio.TwilioProvider.name,
        provider_message_id=request.POST.get("MessageSid", ""),
        sender=request.POST.get("From", ""),
        recipient=request.POST.get("To", ""),
        text=request.POST.get("Body", ""),
        organisation_id=account.organisation_id,
    )
    # An empty TwiML answer: Twilio sends no automatic reply.
    return HttpResponse(str(MessagingResponse()), content_type="text/xml")


def _gateway_signed(request: HttpRequest, account: _Account) -> bool:
    signature = request.headers.get(settings.AVIS_SMS_HTTP_SIGNATURE_HEADER, "")
    if account.gateway_secret is None:
        return http_gateway.signature_is_valid(request.body, signature)
    return http_gateway.signature_matches(request.body, signature, secret=account.gateway_secret)


def _http_receipt(request: HttpRequest, account: _Account) -> HttpResponse:
    if not _gateway_signed(request, account):
        return HttpResponseForbidden("bad signature")
    try:
        receipts = http_gateway.read_receipts(request.body, request.content_type or "")
    except ValueError as exc:
        return HttpResponseBadRequest(str(exc))
    for receipt in receipts:
        status = http_gateway.delivery_status(receipt.status)
        if not status:
            logger.info(
                "gateway status %r of %s means nothing to avis", receipt.status, receipt.provider_message_id
            )
            continue
        record_delivery_receipt(
            provider=http_gateway.HttpGatewayProvider.name,
            provider_message_id=receipt.provider_message_id,
            status=status,
            error_code=receipt.error_code or None,
            organisation_id=account.organisation_id,
        )
    return HttpResponse()


def _http_inbound(request: HttpRequest, account: _Account) -> HttpResponse:
    if not _gateway_signed(request, account):
        return HttpResponseForbidden("bad signature")
    try:
        messages = http_gateway.read_inbound(request.body, request.content_type or "")
    except ValueError as exc:
        return HttpResponseBadRequest(str(exc))
    for message in messages:
        receive_sms(
            provider=http_gateway.HttpGatewayProvider.name,
            provider_message_id=message.provider_message_id,
            sender=message.sender,
            recipient=message.recipient,
            text=message.text,
            organisation_id=account.organisation_id,
        )
    return HttpResponse()


twilio_status = _installation(_twilio_status)
twilio_inbound = _installation(_twilio_inbound)
http_receipt = _installation(_http_receipt)
http_inbound = _installation(_http_inbound)
org_twilio_status = _organisation("twilio")(_twilio_status)
org_twilio_inbound = _organisation("twilio")(_twilio_inbound)
org_http_receipt = _organisation("http")(_http_receipt)
org_http_inbound = _organisation("http")(_http_inbound)


@csrf_exempt
@require_POST
def email_events(request: HttpRequest) -> HttpResponse:
    """Bounces and complaints, as a mail service reports them (one JSON object or a list).

    ``{"type": "bounce" | "complaint", "email": "…", "message_id": "<…>", "permanent": true}``;
    a temporary bounce (``"permanent": false``) changes nothing: the next try may pass.
    """
    signature = request.headers.get("X-Signature", "")
    if not http_gateway.signature_matches(request.body, signature, secret=settings.AVIS_EMAIL_WEBHOOK_SECRET):
        return HttpResponseForbidden("bad signature")
    try:
        data = json.loads(request.body)
    except ValueError:
        return HttpResponseBadRequest("expected JSON")
    events = data if isinstance(data, list) else [data]
    if not all(isinstance(event, dict) and event.get("email") for event in events):
        return HttpResponseBadRequest("each event needs an email")
    for event in events:
        kind = str(event.get("type", "bounce")).lower()
        if kind == "bounce" and event.get("permanent") is False:
            continue
        record_email_bounce(
            recipient=str(event["email"]),
            complaint=kind == "complaint",
            message_id=str(event.get("message_id") or ""),
        )
    return HttpResponse()
