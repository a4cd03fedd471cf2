"""An import from the web page: upload, map the columns, dry run in the background, confirm, import.

Each step is a state of the ``DataImport`` row; the dry run and the import run
in a worker (they can take minutes for a million rows) and write their
progress on the row, which the page polls. The uploaded file waits under
``AVIS_IMPORT_DIR`` until the import is done, then is deleted.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from avis.accounts.models import Organisation
from avis.customers.imports import (
    Tally,
    check_columns,
    importer_for,
    remember_columns,
    run_sheet,
)
from avis.customers.models import DataImport, ImportStatus
from avis.errors import Conflict, NotFound
from avis.tabular import UnreadableFile, file_format, open_sheet

log = logging.getLogger(__name__)
SAMPLE_ROWS = 5


def _stored(data_import: DataImport) -> Path:
    return Path(settings.IMPORT_DIR) / data_import.stored_as


def start_import(
    *,
    organisation: Organisation,
    kind: str,
    upload: Path,
    name: str,
    user: AbstractBaseUser | None = None,
) -> DataImport:
    """Keep an uploaded file for import once its kind, size and header are known good."""
    importer_for(kind)
    size = upload.stat().st_size
    suffix = Path(name).suffix.lower()
    file_format(name, size)
    stored_as = f"{organisation.id}/{uuid.uuid4().hex}{suffix}"
    target = Path(settings.IMPORT_DIR) / stored_as
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(upload, target)
    try:
        with open_sheet(target, name=name) as sheet:
            header = sheet.header
    except UnreadableFile:
        target.unlink(missing_ok=True)
        raise
    return DataImport.objects.create(
        organisation=organisation,
        kind=kind,
        file_name=name[:255],
        stored_as=stored_as,
        size=size,
        header=header,
        created_by=user if user is not None and user.is_authenticated else None,
    )


def sample_rows(*, data_import: DataImport) -> list[list[Any]]:
    """The first rows of the file, shown beside the mapping."""
    with open_sheet(_stored(data_import), name=data_import.file_name) as sheet:
        rows = []
        for _line, cells in sheet.rows:
            rows.append(list(cells) + [""] * (len(sheet.header) - len(cells)))
            if len(rows) == SAMPLE_ROWS:
                break
    return rows


@transaction.atomic
def map_columns(*, organisation: Organisation, import_id: int, columns: dict[str, str]) -> DataImport:
    """Confirm the mapping, remember it for the next file, and start the dry run."""
    data_import = (
        DataImport.objects.select_for_update().filter(organisation=organisation, id=import_id).first()
    )
    if data_import is None:
        raise NotFound(_("No such import."))
    if data_import.status not in {ImportStatus.UPLOADED, ImportStatus.CHECKED}:
        raise Conflict(_("This import has already started."))
    check_columns(importer_for(data_import.kind), data_import.header, columns)
    remember_columns(organisation=organisation, kind=data_import.kind, columns=columns)
    data_import.columns = columns
    data_import.status = ImportStatus.CHECKING
    data_import.progress = 0.0
    data_import.report = {}
    data_import.save(update_fields=["columns", "status", "progress", "report"])
    transaction.on_commit(lambda: _enqueue("check", data_import.id))
    return data_import


def confirm_import(*, organisation: Organisation, import_id: int) -> DataImport:
    """Write the good rows the dry run found; a second click changes nothing."""
    # Claimed by a conditional update: two clicks (or two tabs) start one import.
    claimed = DataImport.objects.filter(
        organisation=organisation, id=import_id, status=ImportStatus.CHECKED
    ).update(status=ImportStatus.IMPORTING, progress=0.0)
    data_import = DataImport.objects.filter(organisation=organisation, id=import_id).first()
    if data_import is None:
        raise NotFound(_("No such import."))
    if claimed:
        transaction.on_commit(lambda: _enqueue("import", data_import.id))
    return data_import


def _enqueue(step: str, import_id: int) -> None:
    from avis.customers import tasks

    (tasks.check_import if step == "check" else tasks.run_import)(import_id)


def check_import(*, import_id: int, now: datetime | None = None) -> DataImport:
    """The dry run: read every row, count what would change, report the bad rows; write nothing."""
    return _run(import_id, ImportStatus.CHECKING, ImportStatus.CHECKED, write=False, now=now)


def run_import(*, import_id: int, now: datetime | None = None) -> DataImport:
    """The import itself, after confirmation; the file is deleted once it is in."""
    data_import = _run(import_id, ImportStatus.IMPORTING, ImportStatus.DONE, write=True, now=now)
    if data_import.status == ImportStatus.DONE:
        _stored(data_import).unlink(missing_ok=True)
    return data_import


def _run(import_id: int, during: str, after: str, *, write: bool, now: datetime | None) -> DataImport:
    data_import = DataImport.objects.select_related("organisation").get(id=import_id)
    if data_import.status != during:  # a task delivered twice, or a step already done
        return data_import
    try:
        with open_sheet(_stored(data_import), name=data_import.file_name) as sheet:
            tally = run_sheet(
                organisation=data_import.organisation,
                kind=data_import.kind,
                sheet=sheet,
                columns=data_import.columns,
                write=write,
                now=now,
                progress=_progress_of(data_import.id),
            )
    except (UnreadableFile, FileNotFoundError) as exc:
        problem = (
            exc.message if isinstance(exc, UnreadableFile) else _("The uploaded file is no longer there.")
        )
        DataImport.objects.filter(id=import_id).update(
            status=ImportStatus.FAILED, problem=problem, finished_at=timezone.now()
        )
        _stored(data_import).unlink(missing_ok=True)
    except Exception:
        log.exception("import %s stopped", import_id)
        DataImport.objects.filter(id=import_id).update(
            status=ImportStatus.FAILED,
            problem=_(
                "The import stopped on an unexpected error. The rows written so far are kept; "
                "importing the file again continues without duplicates."
            ),
            finished_at=timezone.now(),
        )
        raise
    else:
        DataImport.objects.filter(id=import_id).update(
            status=after,
            progress=1.0,
            report=tally.as_report(),
            finished_at=timezone.now() if write else None,
        )
    data_import.refresh_from_db()
    return data_import


def _progress_of(import_id: int) -> Callable[[float, Tally], None]:
    def record(share: float, tally: Tally) -> None:
        DataImport.objects.filter(id=import_id).update(progress=share, report=tally.as_report())

    return record
