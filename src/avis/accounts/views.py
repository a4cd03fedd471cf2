from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from avis.accounts.decorators import member_required
from avis.accounts.models import Role
from avis.accounts.queries import api_keys_of
from avis.accounts.services import create_api_key, revoke_api_key


@login_required
@member_required(Role.ADMIN)
def api_keys(request: HttpRequest) -> HttpResponse:
    organisation = request.organisation  # type: ignore[attr-defined]
    plaintext = None
    if request.method == "POST":
        name = request.POST.get("name", "").strip() or "API key"
        _, plaintext = create_api_key(organisation=organisation, name=name[:100], created_by=request.user)
    return render(
        request,
        "accounts/api_keys.html",
        {"keys": api_keys_of(organisation=organisation), "plaintext": plaintext},
    )


@login_required
@member_required(Role.ADMIN)
@require_POST
def revoke_key(request: HttpRequest, key_id: int) -> HttpResponse:
    revoke_api_key(organisation=request.organisation, key_id=key_id)  # type: ignore[attr-defined]
    return redirect("api_keys")
