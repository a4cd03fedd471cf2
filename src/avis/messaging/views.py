"""Messaging pages: the SMS simulator, the SMS length checker, costs, and the unsubscribe link."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from avis.accounts.decorators import member_required
from avis.messaging import queries
from avis.messaging.billing import price_per_segment
from avis.messaging.conversations import receive_sms
from avis.messaging.email import unsubscribe_by_token
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
