"""Every form of every page an administrator can post, sent hostile values, answers with the form's
errors, never a 500.

Regression: non-integers in settings forms answered 500. The forms are read from the pages
themselves (every `<form method="post">` and its fields, as a browser would submit them), so a
form added later is covered without a line here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest
from django.test import Client

from avis.accounts.models import Role
from avis.accounts.permissions import page_access
from tests.accounts.test_role_matrix import PAGE_ROUTES
from tests.factories import PASSWORD, OrganisationSetup

pytestmark = [pytest.mark.django_db, pytest.mark.engine_independent]

HOSTILE_NUMBERS = ["abc", "1e309", "99999999999999999999", "-1", "", "１２", "0x10", "NaN"]
# A form without number fields: each field gets what a number field would choke on.
HOSTILE_TEXTS = ["abc", "99999999999999999999", "", "x" * 5000]
# Pages that take ids in their path are reached from those without (their forms post there).
FORM_PAGES = [r for r in PAGE_ROUTES if "<" not in r.path and page_access(r.name).allows(Role.ADMIN, "POST")]


@dataclass
class Form:
    action: str
    fields: dict[str, str] = field(default_factory=dict)
    numbers: list[str] = field(default_factory=list)


class _Forms(HTMLParser):
    def __init__(self, page: str) -> None:
        super().__init__()
        self.page, self.forms, self._open = page, [], None  # type: ignore[var-annotated]
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method", "get").lower() == "post":
            self._open = Form(a.get("action") or self.page)
            self.forms.append(self._open)
        elif self._open is None or not a.get("name"):
            return
        elif tag == "input" and a.get("type", "text") not in (
            "submit",
            "button",
            "file",
            "checkbox",
            "radio",
        ):
            self._open.fields[a["name"]] = a.get("value", "")
            if a.get("type") == "number" or a.get("inputmode") == "numeric":
                self._open.numbers.append(a["name"])
        elif tag == "input" and a.get("type") in ("checkbox", "radio") and "checked" in a:
            self._open.fields[a["name"]] = a.get("value", "on")
        elif tag == "select":
            self._select = a["name"]
            self._open.fields.setdefault(a["name"], "")
        elif tag == "textarea":
            self._open.fields[a["name"]] = ""

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = None
        elif tag == "select":
            self._select = None


def _forms(client: Client, url: str) -> list[Form]:
    reply = client.get(url)
    if reply.status_code != 200 or "text/html" not in reply.get("Content-Type", ""):
        return []
    parser = _Forms(url)
    parser.feed(reply.content.decode())
    return [f for f in parser.forms if f.fields and not re.search(r"/(logout|login)/", f.action)]


@pytest.mark.parametrize("route", FORM_PAGES, ids=[r.name for r in FORM_PAGES])
def test_every_admin_form_answers_hostile_values_without_a_server_error(
    route,
    org: OrganisationSetup,  # noqa: ANN001
) -> None:
    client = Client()  # a 500 raises here, with its traceback
    assert client.login(username=org.admin_email, password=PASSWORD)
    for form in _forms(client, route.path):
        texts = [name for name in form.fields if name not in form.numbers and name != "csrfmiddlewaretoken"]
        for name, value in [(n, v) for n in form.numbers for v in HOSTILE_NUMBERS] + [
            (n, v) for n in texts for v in HOSTILE_TEXTS
        ]:
            reply = client.post(form.action, {**form.fields, name: value})
            assert reply.status_code < 500, (route.name, form.action, name, value)
