"""Texts parked for review: an installation admin decides whose they are (docs/security.md)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from avis.accounts.models import Organisation
from avis.errors import AvisError
from avis.messaging.conversations import file_parked_text
from avis.messaging.models import InboundMessage


class ParkedTextForm(forms.ModelForm):
    """One choice: which of the organisations that could own the text it belongs to."""

    owner = forms.ModelChoiceField(
        queryset=Organisation.objects.none(), required=False, label=gettext_lazy("File under")
    )

    class Meta:
        model = InboundMessage
        fields: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = Organisation.objects.filter(id__in=self.instance.parked_among or [])


@admin.register(InboundMessage)
class ParkedTextAdmin(admin.ModelAdmin):
    """Only parked texts: sent to a number several organisations share, more than one could own them.
    Filed under none and answered by none until an admin chooses their organisation here."""

    form = ParkedTextForm
    list_display = ("received_at", "sender", "recipient", "text", "candidates")
    readonly_fields = ("received_at", "sender", "recipient", "text", "candidates")
    fields = ("received_at", "sender", "recipient", "text", "candidates", "owner")

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).filter(interpretation="parked").order_by("-received_at")

    @admin.display(description=gettext_lazy("could be the text of"))
    def candidates(self, obj: InboundMessage) -> str:
        names = Organisation.objects.filter(id__in=obj.parked_among).values_list("name", flat=True)
        return ", ".join(names)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: InboundMessage, form: Any, change: bool) -> None:
        owner = form.cleaned_data.get("owner")
        if owner is None:
            return
        try:
            outcome = file_parked_text(inbound_id=obj.id, organisation_id=owner.id)
        except AvisError as exc:
            messages.error(request, exc.message)
            return
        messages.info(
            request,
            _("Filed under %(name)s: read as %(outcome)s.") % {"name": owner.name, "outcome": outcome},
        )
