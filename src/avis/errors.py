"""Errors a user can cause, each with a message fit for them.

One handler per face (API, HTML) turns them into 4xx answers; anything else
that escapes is a bug and becomes a 500.
"""

from __future__ import annotations


class AvisError(Exception):
    status_code = 400
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationFailed(AvisError):
    status_code = 422
    code = "validation_error"


class NotFound(AvisError):
    status_code = 404
    code = "not_found"


class Conflict(AvisError):
    status_code = 409
    code = "conflict"


class PermissionDenied(AvisError):
    status_code = 403
    code = "forbidden"


class FieldsInvalid(ValidationFailed):
    """Several fields are wrong at once; ``problems`` maps each field to what to fix, so a form or
    an API caller sees every one of them, not only the first."""

    def __init__(self, problems: dict[str, str]) -> None:
        field, message = next(iter(problems.items()))
        super().__init__(message, field=field)
        self.problems = problems


class Unauthorized(AvisError):
    status_code = 401
    code = "unauthorized"


class Unavailable(AvisError):
    """Something avis needs (a disk, a tool) is missing; nothing was changed."""

    status_code = 503
    code = "unavailable"
