"""The HTTP API under /api/v1/: one NinjaAPI, one router per domain, one error shape."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from avis.accounts.authentication import BearerKey, SessionOrganisation
from avis.errors import AvisError

api = NinjaAPI(
    title="avis API",
    version="1",
    urls_namespace="api",
    auth=[BearerKey(), SessionOrganisation()],
    description="Interactions in, governance decisions, surveys, cases and metrics out. "
    "Authenticate with `Authorization: Bearer <api key>`.",
)


def _field_path(loc: list[Any]) -> str:
    parts = [str(part) for part in loc]
    while parts and parts[0] in {"body", "query", "path", "payload", "items"} and len(parts) > 1:
        if parts[0] == "items" and len(parts) > 1 and parts[1].isdigit():
            break
        parts = parts[1:]
    return ".".join(parts)


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = [{"field": _field_path(list(e.get("loc", []))), "message": e.get("msg", "")} for e in exc.errors]
    message = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "Invalid request"
    return api.create_response(
        request, {"code": "validation_error", "message": message, "errors": errors}, status=422
    )


@api.exception_handler(AvisError)
def on_avis_error(request: HttpRequest, exc: AvisError) -> HttpResponse:
    body: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if exc.field:
        body["errors"] = [{"field": exc.field, "message": exc.message}]
    # Errors that carry one problem per field (survey texts, answers) report every one of them.
    problems = getattr(exc, "problems", None)
    if problems:
        body["errors"] = [{"field": field, "message": message} for field, message in problems.items()]
    return api.create_response(request, body, status=exc.status_code)


@api.exception_handler(AuthenticationError)
def on_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return api.create_response(
        request, {"code": "unauthorized", "message": "A valid API key is required."}, status=401
    )


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if exc.status_code == 400 and exc.message.startswith("Cannot parse request body"):
        # Invalid JSON is invalid input like any other: 422, in the same shape.
        return api.create_response(
            request,
            {
                "code": "validation_error",
                "message": "The request body is not valid JSON.",
                "errors": [{"field": "body", "message": "not valid JSON"}],
            },
            status=422,
        )
    return api.create_response(request, {"code": "error", "message": exc.message}, status=exc.status_code)


def _register_routers() -> None:
    from avis.analytics.api import router as analytics_router
    from avis.cases.api import router as cases_router
    from avis.customers.api import router as customers_router
    from avis.governance.api import router as governance_router
    from avis.interactions.api import router as interactions_router
    from avis.interactions.api import touchpoints_router
    from avis.surveys.api import router as surveys_router

    api.add_router("/interactions", interactions_router)
    api.add_router("/touchpoints", touchpoints_router)
    api.add_router("/customers", customers_router)
    api.add_router("/policy", governance_router)
    api.add_router("/cases", cases_router)
    api.add_router("/metrics", analytics_router)
    api.add_router("/surveys", surveys_router)

    from avis.analytics.api import comments_router, drivers_router

    api.add_router("/comments", comments_router)
    api.add_router("/drivers", drivers_router)

    from avis.analytics.api import exports_router

    api.add_router("/exports", exports_router)

    from avis.accounts.api import router as team_router
    from avis.messaging.api import router as channels_router

    api.add_router("/team", team_router)
    api.add_router("/channels", channels_router)


_register_routers()
