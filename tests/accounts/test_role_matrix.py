"""Every page and every API operation, called as every role and as a key of every scope, answers
as the role matrix (accounts/permissions.py, docs/security.md) says; a route it misses fails."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from avis.accounts.models import Role, Scope
from avis.accounts.permissions import OPERATIONS, PAGES, matrix_markdown, page_access
from avis.accounts.services import add_member, create_api_key
from avis.api import api
from tests.factories import PASSWORD, OrganisationSetup

pytestmark = [pytest.mark.django_db, pytest.mark.engine_independent]

ROLES = list(Role.values)
SCOPES = list(Scope.values)
ANY_ID = "999999"  # no such row: an allowed caller then meets a 404, a refused one a 403 first


@dataclass(frozen=True)
class Route:
    name: str
    path: str


def _pages() -> list[Route]:
    """Every Django URL pattern but the API's operations (tested below) and Django's admin."""
    found: list[Route] = []

    def walk(patterns: list, prefix: str, namespace: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = ":".join(n for n in (namespace, pattern.namespace or "") if n)
                walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
            elif isinstance(pattern, URLPattern) and pattern.name:
                name = f"{namespace}:{pattern.name}" if namespace else pattern.name
                found.append(Route(name, "/" + prefix + str(pattern.pattern)))

    walk(get_resolver().url_patterns, "", "")
    return [r for r in found if not (r.name.startswith("api:") and r.name not in PAGES)]


def _filled(route: str) -> str:
    route = re.sub(r"<int:[^>]+>", ANY_ID, route)
    return re.sub(r"<[^>]+>", "x", route)


PAGE_ROUTES = [r for r in _pages() if not r.name.startswith("admin:")]


def _operations() -> list[tuple[str, str, str]]:
    """(method, path under /api/v1, URL to call) for every operation of the OpenAPI."""
    schema = api.get_openapi_schema()
    found = []
    for path, methods in schema["paths"].items():
        for method, details in methods.items():
            url = path
            for parameter in details.get("parameters", []):
                if parameter["in"] == "path":
                    sample = ANY_ID if parameter["schema"].get("type") == "integer" else "x"
                    url = url.replace("{" + parameter["name"] + "}", sample)
            found.append((method.upper(), path.removeprefix("/api/v1"), url))
    return found


OPERATION_ROUTES = _operations()


@pytest.fixture
def callers(org: OrganisationSetup) -> dict[str, Client]:
    """A client per role (signed in), per key scope (bearer), and an anonymous one."""
    clients: dict[str, Client] = {"anonymous": Client(raise_request_exception=False)}
    for role in ROLES:
        email = f"{role}@matrix.example"
        user = add_member(organisation=org.organisation, email=email, role=role, password=PASSWORD).user
        client = Client(raise_request_exception=False)
        client.force_login(user)
        clients[f"role:{role}"] = client
    for scope in SCOPES:
        _, plaintext = create_api_key(organisation=org.organisation, name=scope, scope=scope)
        clients[f"key:{scope}"] = Client(
            raise_request_exception=False, headers={"Authorization": f"Bearer {plaintext}"}
        )
    return clients


def test_every_page_and_operation_is_in_the_matrix_and_nothing_else_is() -> None:
    names = {r.name for r in _pages()}
    assert sorted(names - set(PAGES) - {n for n in names if n.startswith("admin:")}) == []
    assert sorted(set(PAGES) - names - {"admin:*"}) == []
    keys = {f"{method} {path}" for method, path, _ in OPERATION_ROUTES}
    assert sorted(keys - set(OPERATIONS)) == []
    assert sorted(set(OPERATIONS) - keys) == []


def _refused_page(reply) -> bool:  # noqa: ANN001
    return reply.status_code == 403


@pytest.mark.parametrize("route", PAGE_ROUTES, ids=[r.name for r in PAGE_ROUTES])
def test_each_page_answers_each_role_as_the_matrix_says(
    route: Route, callers: dict[str, Client], org: OrganisationSetup
) -> None:
    page = page_access(route.name)
    url = _filled(route.path)
    for method in ("get", "post"):
        replies = {
            who: getattr(client, method)(url) for who, client in callers.items() if who.startswith("role:")
        }
        anonymous = getattr(Client(raise_request_exception=False), method)(url)
        if page.public:
            # Anyone: no role changes the answer, and none is told its role is not enough.
            for who, reply in replies.items():
                assert reply.status_code != 403 or anonymous.status_code == 403, (route.name, method, who)
            continue
        assert anonymous.status_code == 302 and "/login/" in anonymous["Location"], (route.name, method)
        for role in ROLES:
            reply = replies[f"role:{role}"]
            if page.allows(role, method.upper()):
                assert reply.status_code != 403, (route.name, method, role)
                assert not (reply.status_code == 302 and "/login/" in reply["Location"]), (route.name, role)
            elif role == Role.ADVISOR and route.name == "dashboard:home":
                assert reply.status_code == 302 and reply["Location"] == "/cases/my-feedback"
            else:
                assert _refused_page(reply), (route.name, method, role, reply.status_code)


def test_django_admin_lets_no_member_in_by_role(callers: dict[str, Client]) -> None:
    for role in ROLES:
        reply = callers[f"role:{role}"].get("/admin/")
        assert reply.status_code == 302 and "/admin/login/" in reply["Location"], role


@pytest.mark.parametrize(
    ("method", "path", "url"), OPERATION_ROUTES, ids=[f"{m} {p}" for m, p, _ in OPERATION_ROUTES]
)
def test_each_operation_answers_each_role_and_key_as_the_matrix_says(
    method: str, path: str, url: str, callers: dict[str, Client]
) -> None:
    operation = OPERATIONS[f"{method} {path}"]
    for who, client in callers.items():
        reply = client.generic(method, url, "{}", content_type="application/json")
        kind, _, name = who.partition(":")
        if operation.public:
            assert reply.status_code not in (401, 403), (method, path, who)
            continue
        if operation.signed or kind == "anonymous":
            # Neither a session nor a key stands in for the organisation's webhook signature.
            assert reply.status_code == 401, (method, path, who, reply.status_code)
            continue
        allowed = operation.allows_role(name) if kind == "role" else operation.allows_scope(name)
        if allowed:
            assert reply.status_code not in (401, 403), (method, path, who, reply.content[:200])
        else:
            assert reply.status_code == 403, (method, path, who, reply.status_code)
            assert reply["Content-Type"].startswith("application/json")
            assert reply.json()["code"] == "forbidden"


def test_docs_security_shows_the_matrix_the_code_applies() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text()
    shown = text.split("<!-- matrix:start -->\n", 1)[1].split("\n<!-- matrix:end -->", 1)[0]
    assert shown == matrix_markdown(), "regenerate the tables of docs/security.md from matrix_markdown()"
