from __future__ import annotations

from typing import Any

from avis.errors import AvisError


class OperationsError(AvisError):
    """A message in English for the log and the command line, kept with its template and values
    so that a page can show it in the reader's language."""

    def __init__(self, template: str, **params: Any) -> None:
        super().__init__(template % params if params else template)
        self.template, self.params = template, {key: str(value) for key, value in params.items()}


class BackupFailed(OperationsError):
    """No archive was made (no space, a tool missing, another backup running); nothing left half-written."""

    status_code = 503
    code = "backup_failed"


class RestoreRefused(OperationsError):
    """The archive or the target is not fit for a restore; nothing was changed."""

    status_code = 409
    code = "restore_refused"
