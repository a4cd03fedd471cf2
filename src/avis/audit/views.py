from __future__ import annotations

import csv
from collections.abc import Iterator

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from avis.accounts.decorators import member_required
from avis.accounts.models import Role
from avis.audit.models import ACTIONS
from avis.audit.queries import AuditFilters, csv_rows, events_of
from avis.audit.services import record


class FilterForm(forms.Form):
    actor = forms.CharField(required=False, max_length=200, label=_("Who"))
    action = forms.ChoiceField(required=False, label=_("Action"))
    since = forms.DateField(required=False, label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label=_("To"), widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["action"].choices = [("", _("All actions")), *ACTIONS.items()]  # type: ignore[attr-defined]

    def filters(self) -> AuditFilters:
        """What was typed and valid; a wrong field filters nothing and says so."""
        data = self.cleaned_data if self.is_valid() else getattr(self, "cleaned_data", {})
        return AuditFilters(
            actor=data.get("actor") or "",
            action=data.get("action") or "",
            since=data.get("since"),
            until=data.get("until"),
        )


@login_required
@member_required(Role.ADMIN)
def trail(request: HttpRequest) -> HttpResponse:
    """Who changed what and who signed in, newest first, for administrators of this organisation."""
    form = FilterForm(request.GET or None)
    events = events_of(
        organisation=request.organisation, filters=form.filters() if form.is_bound else AuditFilters()
    )  # type: ignore[attr-defined]
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "audit/trail.html",
        {"form": form, "page": page, "query": query.urlencode(), "actions": ACTIONS},
        status=422 if form.is_bound and not form.is_valid() else 200,
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


def _lines(rows: Iterator[tuple[object, ...]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff"  # Excel reads UTF-8 only with its byte-order mark
    for row in rows:
        yield writer.writerow(row)


@login_required
@member_required(Role.ADMIN)
def export(request: HttpRequest) -> HttpResponse:
    """The filtered trail as CSV (the same filters as the page)."""
    form = FilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return HttpResponse(form.errors.as_text(), status=422, content_type="text/plain; charset=utf-8")
    filters = form.filters() if form.is_bound else AuditFilters()
    organisation = request.organisation  # type: ignore[attr-defined]
    events = events_of(organisation=organisation, filters=filters)
    record(
        organisation=organisation,
        action="export.downloaded",
        object_type="audit",
        object_label="audit trail",
        after={
            "actor": filters.actor,
            "action": filters.action,
            "since": filters.since,
            "until": filters.until,
        },
    )
    response = StreamingHttpResponse(_lines(csv_rows(events)), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    return response
