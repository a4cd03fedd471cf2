"""Messaging pages: the SMS simulator, the SMS length checker, costs, the unsubscribe link, and the
channels page (an organisation's own SMS and email settings; secrets never sent back to the browser)."""

from __future__ import annotations

import uuid
from dataclasses import fields
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from avis.accounts.decorators import member_required
from avis.accounts.models import Role
from avis.errors import ValidationFailed
from avis.messaging import queries
from avis.messaging.billing import price_per_segment
from avis.messaging.channel_settings import SECRETS, ChannelForm, save_channel_settings, send_test_messages
from avis.messaging.conversations import receive_sms
from avis.messaging.email import unsubscribe_by_token
from avis.messaging.models import ChannelSettings, MessageStatus
from avis.messaging.queries import channel_settings_of, sent_test_messages
from avis.messaging.sms_encoding import gsm7_alternative
from avis.surveys.queries import invitation_for_token


@login_required
@member_required()
def simulator(request: HttpRequest) -> HttpResponse:
    organisation = request.organisation  # type: ignore[attr-defined]
    phones = queries.simulated_phones(organisation=organisation)
    phone = request.GET.get("phone") or (phones[0]["recipient"] if phones else "")
    if phone and not queries.is_simulated_phone(organisation=organisation, phone=phone):
        raise Http404
    context = {"phones": phones, "phone": phone, "thread": _thread(request, phone)}
    return render(request, "messaging/simulator.html", context)


def _thread(request: HttpRequest, phone: str) -> list[queries.ThreadLine]:
    if not phone:
        return []
    return queries.sms_thread(organisation=request.organisation, phone=phone)  # type: ignore[attr-defined]


@login_required
@member_required()
def simulator_thread(request: HttpRequest) -> HttpResponse:
    """One phone's conversation alone, for htmx to refresh in place."""
    phone = request.GET.get("phone", "")
    if not queries.is_simulated_phone(organisation=request.organisation, phone=phone):  # type: ignore[attr-defined]
        raise Http404
    return render(request, "messaging/_thread.html", {"phone": phone, "thread": _thread(request, phone)})


@login_required
@member_required()
@require_POST
def simulator_reply(request: HttpRequest) -> HttpResponse:
    """A person types the customer's reply: it enters exactly as a provider's inbound webhook would."""
    phone = request.POST.get("phone", "")
    text = request.POST.get("text", "").strip()
    if not queries.is_simulated_phone(organisation=request.organisation, phone=phone):  # type: ignore[attr-defined]
        raise Http404
    if text:
        receive_sms(
            provider=queries.SIMULATOR,
            provider_message_id=f"sim-in-{uuid.uuid4().hex}",
            sender=phone,
            recipient=queries.SIMULATOR,
            text=text,
        )
    if request.headers.get("HX-Request"):
        return render(request, "messaging/_thread.html", {"phone": phone, "thread": _thread(request, phone)})
    return redirect(reverse("messaging:simulator") + "?" + urlencode({"phone": phone}))


@login_required
@member_required()
def sms_length(request: HttpRequest) -> HttpResponse:
    """Type an SMS text, see its encoding, segments and price; htmx asks for the fragment alone.

    ``gsm7=1`` (the "use the GSM-7 version" button) sends the checker back with the text replaced.
    """
    text = request.GET.get("text", "")
    gsm7 = request.GET.get("gsm7") == "1"
    measured = queries.sms_length(
        gsm7_alternative(text) if gsm7 else text, price_per_segment=price_per_segment()
    )
    template = "messaging/sms_length.html"
    if request.headers.get("HX-Request"):
        template = "messaging/_sms_checker.html" if gsm7 else "messaging/_sms_length.html"
    context = {
        "sms": measured,
        "gsm7_url": reverse("messaging:sms-length"),
        "gsm7_target": "#sms-checker",
        "gsm7_include": "#sms-text",
    }
    return render(request, template, context)


@login_required
@member_required()
def costs(request: HttpRequest) -> HttpResponse:
    figures = queries.messaging_costs(organisation=request.organisation)  # type: ignore[attr-defined]
    return render(request, "messaging/costs.html", figures | {"price": price_per_segment()})


# Mail clients POST the RFC 8058 one-click request without cookies or a CSRF
# token; the token in the URL (unguessable, per invitation) is the credential.
@csrf_exempt
@never_cache
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    invitation = invitation_for_token(token)
    if invitation is None:
        raise Http404
    translation.activate(invitation.locale)
    context = {"company": invitation.organisation.name, "token": token, "done": False}
    if request.method == "POST":
        unsubscribe_by_token(token=token)
        context["done"] = True
    return render(request, "messaging/unsubscribe.html", context)


# --- The channels page ---------------------------------------------------------------------

_FIELDS = [field.name for field in fields(ChannelForm)]


def _shown(own: ChannelSettings) -> ChannelForm:
    """The stored settings as the form shows them: every secret blank."""
    return ChannelForm(**{name: getattr(own, name) for name in _FIELDS if name not in SECRETS})


def _hooks(own: ChannelSettings) -> list[tuple[str, str]]:
    """The webhook addresses to give the provider, when the organisation has an account of its own."""
    names = {
        "twilio": [
            (_("Status callbacks"), "org-twilio-status"),
            (_("Incoming messages"), "org-twilio-inbound"),
        ],
        "http": [(_("Delivery receipts"), "org-http-receipt"), (_("Incoming messages"), "org-http-inbound")],
    }.get(own.sms_provider, [])
    slug = own.organisation.slug
    return [(label, settings.AVIS_BASE_URL + reverse(f"hooks:{name}", args=[slug])) for label, name in names]


@login_required
@member_required(Role.ADMIN)
@sensitive_post_parameters(*SECRETS)
def channels(request: HttpRequest) -> HttpResponse:
    organisation = request.organisation  # type: ignore[attr-defined]
    own = channel_settings_of(organisation=organisation)
    form, errors = _shown(own), {}
    if request.method == "POST":
        form = ChannelForm(**{name: request.POST.get(name, "") for name in _FIELDS})
        try:
            save_channel_settings(organisation=organisation, form=form, clear=request.POST.getlist("clear"))
        except ValidationFailed as exc:
            errors[exc.field or "sms_provider"] = exc.message
        else:
            messages.success(request, _("Channel settings saved."))
            return redirect("channels:settings")
    context = {
        "own": own,
        "form": form,
        "errors": errors,
        "secrets_retyped": bool(errors) and any(request.POST.get(name) for name in SECRETS),
        "hooks": _hooks(own),
        "providers": ChannelSettings._meta.get_field("sms_provider").choices,
    }
    return render(request, "messaging/channels.html", context)


@login_required
@member_required(Role.ADMIN)
@require_POST
def send_test(request: HttpRequest) -> HttpResponse:
    """Send the test messages; answers the fragment that follows how they leave."""
    try:
        membership = request.membership  # type: ignore[attr-defined]
        sent = send_test_messages(
            organisation=request.organisation,  # type: ignore[attr-defined]
            phone=membership.mobile_phone,
            email=membership.user.email,
        )
    except ValidationFailed as exc:
        return render(request, "messaging/_test_messages.html", {"error": exc.message})
    return _test_fragment(request, [message.id for message in sent])


@login_required
@member_required(Role.ADMIN)
def test_status(request: HttpRequest) -> HttpResponse:
    ids = [int(part) for part in request.GET.get("ids", "").split(",") if part.isdigit()]
    return _test_fragment(request, ids)


def _test_fragment(request: HttpRequest, ids: list[int]) -> HttpResponse:
    sent = sent_test_messages(organisation=request.organisation, ids=ids)  # type: ignore[attr-defined]
    waiting = any(message.status in (MessageStatus.PENDING, MessageStatus.SENDING) for message in sent)
    context = {
        "sent": sent,
        "waiting": waiting,
        "ids": ",".join(str(message.id) for message in sent),
        "has_phone": bool(request.membership.mobile_phone),  # type: ignore[attr-defined]
    }
    return render(request, "messaging/_test_messages.html", context)
