"""The HTTP API under /api/v1/: one NinjaAPI, one router per domain, one error shape."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.signals import got_request_exception
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from avis.accounts.authentication import BearerKey, SessionOrganisation
from avis.errors import AvisError

logger = logging.getLogger(__name__)

# Every error the API can answer, each in the one documented shape (``Error`` in the OpenAPI).
ERROR_STATUSES = {
    400: "The request cannot be carried out as sent",
    401: "No valid API key or session",
    403: "The key or the signed-in role may not do this",
    404: "No such object in this organisation",
    409: "Conflicts with what is already recorded",
    413: "The request body is too large",
    422: "A field is invalid: `errors` names each one",
    429: "Too many requests; retry later",
    500: "A fault in avis (logged); nothing was changed",
    503: "Something avis needs is unavailable; nothing was changed",
}
ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["code", "message"],
    "properties": {
        "code": {"type": "string", "description": "Stable, machine-readable: validation_error, not_found…"},
        "message": {"type": "string", "description": "For a person"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}


def _resolve_x_refs(node: Any) -> None:
    """``{"x-ref": "Name"}`` (a field typed loosely so it is parsed later, see BatchItemIn) documents the
    component it is parsed as."""
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
    for child in children:
        if isinstance(child, dict) and "x-ref" in child:
            name = child.pop("x-ref")
            child.clear()
            child["$ref"] = f"#/components/schemas/{name}"
        _resolve_x_refs(child)


class AvisAPI(NinjaAPI):
    """Documents the error answers every operation can give, so clients (and schemathesis) know them."""

    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        schema = super().get_openapi_schema(*args, **kwargs)
        schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
        _resolve_x_refs(schema["components"]["schemas"])
        reference = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for status, description in ERROR_STATUSES.items():
                    declared = responses.pop(status, None) or responses.pop(str(status), None)
                    responses[status] = {
                        "description": (declared or {}).get("description") or description,
                        "content": reference,
                    }
                    if declared and declared.get("description") in {None, "", "OK"}:
                        responses[status]["description"] = description
        return schema


api = AvisAPI(
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


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return api.create_response(request, {"code": "not_found", "message": "Not found."}, status=404)


@api.exception_handler(DjangoPermissionDenied)
def on_forbidden(request: HttpRequest, exc: DjangoPermissionDenied) -> HttpResponse:
    return api.create_response(
        request, {"code": "forbidden", "message": str(exc) or "Not allowed."}, status=403
    )


@api.exception_handler(Exception)
def on_fault(request: HttpRequest, exc: Exception) -> HttpResponse:
    """A bug: logged with its traceback (Django's test client re-raises it); the same JSON shape."""
    logger.error("Internal error on %s %s", request.method, request.path, exc_info=exc)
    got_request_exception.send(sender=None, request=request)
    return api.create_response(
        request, {"code": "server_error", "message": "Internal error; it has been logged."}, status=500
    )


def json_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's 404 for paths under /api/ that match no operation: the API's JSON, not a page."""
    return JsonResponse({"code": "not_found", "message": "Not found."}, status=404)


def json_server_error(request: HttpRequest) -> HttpResponse:
    return JsonResponse(
        {"code": "server_error", "message": "Internal error; it has been logged."}, status=500
    )


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

    from avis.barometers.api import router as barometers_router

    api.add_router("/barometers", barometers_router)


_register_routers()
