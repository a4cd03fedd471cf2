from __future__ import annotations

import re

from django.test import Client


def test_openapi_lists_the_contracted_endpoints(db) -> None:
    schema = Client().get("/api/v1/openapi.json").json()
    assert {
        "/api/v1/interactions",
        "/api/v1/interactions/batch",
        "/api/v1/customers/{external_id}/contact-history",
        "/api/v1/customers/{external_id}/opt-out",
        "/api/v1/metrics",
        "/api/v1/cases",
        "/api/v1/cases/{case_id}",
    } <= set(schema["paths"])
    assert "BearerKey" in schema["components"]["securitySchemes"]


def test_api_docs_load_nothing_from_outside(db) -> None:
    page = Client().get("/api/v1/docs").content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets, "the docs page should reference its assets"
    assert all(asset.startswith("/static/") for asset in assets), assets
    for asset in assets:
        assert Client().get(asset).status_code == 200
