"""The import pages: upload a file, map its columns, read the dry run, confirm, follow the progress."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.files.uploadhandler import FileUploadHandler, StopUpload, TemporaryFileUploadHandler
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from avis.accounts.decorators import member_required
from avis.accounts.models import Role
from avis.customers import import_jobs
from avis.customers.imports import IMPORTERS, importer_for, report_lines, suggested_columns
from avis.customers.models import ImportStatus
from avis.customers.queries import import_of, imports_of
from avis.errors import AvisError
from avis.tabular import UnreadableFile, file_format, max_file_bytes, too_big

# The multipart envelope around a file of the maximum size.
_ENVELOPE_BYTES = 64 * 1024


class RefuseBeforeReading(FileUploadHandler):
    """Stops an upload whose name is not .csv/.xlsx or whose size passes the limit, before storing a byte.

    The size announced by the browser is checked in the view; this also stops
    a sender that announces none (chunked) or lies, as the bytes arrive.
    """

    def __init__(self, request: HttpRequest) -> None:
        super().__init__(request)
        self.received = 0
        self.problem = ""

    def new_file(self, field_name: str, file_name: str, *args: Any, **kwargs: Any) -> None:
        try:
            file_format(file_name)
        except UnreadableFile as exc:
            self.problem = exc.message
            raise StopUpload(connection_reset=False) from None

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > max_file_bytes():
            self.problem = too_big().message
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


@login_required
@member_required(Role.ADMIN)
@csrf_exempt
def imports(request: HttpRequest) -> HttpResponse:
    """The upload form and the organisation's recent imports.

    Exempt here and protected below: the upload handlers must be in place
    before anything reads the body, and the CSRF check reads it (Django's
    documented way to change upload handlers in a view).
    """
    if request.method == "POST":
        announced = int(request.META.get("CONTENT_LENGTH") or 0)
        if announced > max_file_bytes() + _ENVELOPE_BYTES:
            return _imports_page(request, problem=too_big().message, status=413)
        refuse = RefuseBeforeReading(request)
        request.upload_handlers = [refuse, TemporaryFileUploadHandler(request)]
        return _upload(request, refuse)
    return _imports_page(request)


@csrf_protect
def _upload(request: HttpRequest, refuse: RefuseBeforeReading) -> HttpResponse:
    upload = request.FILES.get("file")
    kind = request.POST.get("kind", "")
    if refuse.problem:
        return _imports_page(request, problem=refuse.problem, kind=kind, status=422)
    if upload is None:
        return _imports_page(
            request, problem=_("Choose the CSV or XLSX file to import."), kind=kind, status=422
        )
    try:
        data_import = import_jobs.start_import(
            organisation=request.organisation,  # type: ignore[attr-defined]
            kind=kind,
            upload=Path(upload.temporary_file_path()),  # type: ignore[attr-defined]
            name=upload.name or "",
            user=request.user,
        )
    except AvisError as exc:
        return _imports_page(request, problem=exc.message, kind=kind, status=422)
    return redirect("customers:import", import_id=data_import.id)


def _imports_page(
    request: HttpRequest, *, problem: str = "", kind: str = "", status: int = 200
) -> HttpResponse:
    return render(
        request,
        "customers/imports.html",
        {
            "imports": imports_of(organisation=request.organisation),  # type: ignore[attr-defined]
            "kinds": [(importer.kind, importer.label) for importer in IMPORTERS.values()],
            "kind": kind or "customers",
            "problem": problem,
            "max_mb": max_file_bytes() // (1024 * 1024),
        },
        status=status,
    )


@login_required
@member_required(Role.ADMIN)
def data_import(request: HttpRequest, import_id: int) -> HttpResponse:
    """One import: its mapping form, then its dry run and confirm button, then its result."""
    organisation = request.organisation  # type: ignore[attr-defined]
    found = import_of(organisation=organisation, import_id=import_id)
    problem = ""
    columns = found.columns or suggested_columns(
        organisation=organisation, kind=found.kind, header=found.header
    )
    if request.method == "POST":
        columns = {name: request.POST.get(f"column-{index}", "") for index, name in enumerate(found.header)}
        try:
            import_jobs.map_columns(organisation=organisation, import_id=found.id, columns=columns)
            return redirect("customers:import", import_id=found.id)
        except AvisError as exc:
            problem = exc.message
    return render(
        request,
        "customers/import.html",
        {**_context(found), "problem": problem, "mapping": _mapping_rows(found, columns)},
        status=422 if problem else 200,
    )


@login_required
@member_required(Role.ADMIN)
@require_POST
def confirm(request: HttpRequest, import_id: int) -> HttpResponse:
    import_jobs.confirm_import(organisation=request.organisation, import_id=import_id)  # type: ignore[attr-defined]
    return redirect("customers:import", import_id=import_id)


@login_required
@member_required(Role.ADMIN)
def progress(request: HttpRequest, import_id: int) -> HttpResponse:
    """The progress bar, polled by htmx while the worker reads; the whole page reloads once it is done."""
    found = import_of(organisation=request.organisation, import_id=import_id)  # type: ignore[attr-defined]
    response = render(request, "customers/_import_progress.html", _context(found))
    if found.status not in RUNNING:
        response["HX-Refresh"] = "true"
    return response


RUNNING = {ImportStatus.CHECKING, ImportStatus.IMPORTING}


def _context(found: Any) -> dict[str, Any]:
    done = found.status == ImportStatus.DONE
    return {
        "data_import": found,
        "importer": importer_for(found.kind),
        "running": found.status in RUNNING,
        "percent": round(found.progress * 100),
        "lines": report_lines(found.report, done=done) if found.report else [],
        "bad_rows": found.report.get("bad_rows", []) if found.report else [],
        "more_bad_rows": max(0, found.report.get("bad", 0) - len(found.report.get("bad_rows", [])))
        if found.report
        else 0,
    }


def _mapping_rows(found: Any, columns: dict[str, str]) -> list[dict[str, Any]]:
    rows = []
    samples: list[list[Any]] = []
    if found.status in {ImportStatus.UPLOADED, ImportStatus.CHECKED}:
        try:
            samples = import_jobs.sample_rows(data_import=found)
        except (AvisError, FileNotFoundError):
            samples = []
    for index, name in enumerate(found.header):
        rows.append(
            {
                "index": index,
                "name": name,
                "target": columns.get(name, ""),
                "examples": [
                    str(row[index]) for row in samples if index < len(row) and row[index] not in ("", None)
                ][:3],
            }
        )
    return rows
