"""The role matrix: who may open each page and call each API operation, in one table.

Pages are named by their URL name; API operations by ``"METHOD /path"`` as the OpenAPI
lists them under /api/v1. ``OrganisationMiddleware`` applies ``PAGES``; the API's
authentication (``BearerKey``, ``SessionOrganisation``) applies ``OPERATIONS``. Nothing else
decides; a page or an operation missing from the table is refused to everyone, and
``tests/accounts/test_role_matrix.py`` fails until it is added. docs/security.md shows it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from avis.accounts.models import Role, Scope

ADMIN = frozenset({Role.ADMIN})
EDITORS = frozenset({Role.ADMIN, Role.ANALYST})
# Everyone but advisors, who see the feedback about their own interactions only.
TEAM = frozenset({Role.ADMIN, Role.ANALYST, Role.MANAGER})
EVERYONE = frozenset(Role.values)
NOBODY: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Page:
    """Roles that may open a page (GET, HEAD) and that may send it a form (POST and the rest).

    ``public``: anyone, signed in or not (the respondent's survey, providers' webhooks, login).
    ``django_admin``: Django's own admin, which lets in staff accounts only.
    """

    read: frozenset[str] = NOBODY
    write: frozenset[str] | None = None  # None: the same roles as ``read``
    public: bool = False
    django_admin: bool = False
    # What a form sent to this page does, in words ("change the contact policy"): the refusal says it.
    change: str | Promise = ""

    def allows(self, role: str, method: str) -> bool:
        return role in self.roles_for(method)

    def roles_for(self, method: str) -> frozenset[str]:
        if method in ("GET", "HEAD", "OPTIONS"):
            return self.read
        return self.read if self.write is None else self.write


@dataclass(frozen=True)
class Operation:
    """Roles whose signed-in session, and key scopes, that may call one API operation.

    ``signed``: the caller proves itself with the organisation's webhook signature instead
    (no session, no key); ``public``: no authentication at all.
    """

    roles: frozenset[str] = NOBODY
    scopes: frozenset[str] = NOBODY
    signed: bool = False
    public: bool = False

    def allows_role(self, role: str) -> bool:
        return role in self.roles

    def allows_scope(self, scope: str) -> bool:
        # An admin key may do everything a key may do.
        return scope == Scope.ADMIN or scope in self.scopes


PUBLIC_PAGE = Page(public=True)
CHANGE_POLICY = gettext_lazy("change the contact policy")
CHANGE_GOALS = gettext_lazy("change the precision goals")
CHANGE_SURVEYS = gettext_lazy("change or publish a survey")
CHANGE_TOUCHPOINTS = gettext_lazy("create or change touchpoints")
CHANGE_BAROMETERS = gettext_lazy("set up or change a barometer")

PAGES: dict[str, Page] = {
    # Anyone: signing in and out, joining from an invitation, the customer's own pages.
    "login": PUBLIC_PAGE,
    "login_code": PUBLIC_PAGE,
    "password_reset": PUBLIC_PAGE,
    "password_reset_done": PUBLIC_PAGE,
    "password_reset_confirm": PUBLIC_PAGE,
    "password_reset_complete": PUBLIC_PAGE,
    "logout": PUBLIC_PAGE,
    "join": PUBLIC_PAGE,
    "set_language": PUBLIC_PAGE,
    "surveys:respond": PUBLIC_PAGE,
    "messaging:unsubscribe": PUBLIC_PAGE,
    "api:openapi-json": PUBLIC_PAGE,
    "api:openapi-view": PUBLIC_PAGE,
    "api:api-root": PUBLIC_PAGE,
    # Providers call these; each checks its own signature.
    "hooks:twilio-status": PUBLIC_PAGE,
    "hooks:twilio-inbound": PUBLIC_PAGE,
    "hooks:http-receipt": PUBLIC_PAGE,
    "hooks:http-inbound": PUBLIC_PAGE,
    "hooks:email-events": PUBLIC_PAGE,
    "hooks:org-twilio-status": PUBLIC_PAGE,
    "hooks:org-twilio-inbound": PUBLIC_PAGE,
    "hooks:org-http-receipt": PUBLIC_PAGE,
    "hooks:org-http-inbound": PUBLIC_PAGE,
    "admin:*": Page(django_admin=True),
    # Every member.
    "profile": Page(read=EVERYONE),
    "password_change": Page(read=EVERYONE),
    "password_change_done": Page(read=EVERYONE),
    "cases:my_feedback": Page(read=EVERYONE),
    # The team's pages: figures, feedback, cases.
    "dashboard:home": Page(read=TEAM),
    "dashboard:setup": Page(read=TEAM),
    "dashboard:metrics": Page(read=TEAM),
    "dashboard:decisions": Page(read=TEAM),
    "dashboard:customer": Page(read=TEAM),
    "dashboard:policy": Page(read=TEAM, write=EDITORS, change=CHANGE_POLICY),
    "dashboard:sampling": Page(read=TEAM, write=EDITORS, change=CHANGE_GOALS),
    "analytics:overview": Page(read=TEAM),
    "analytics:comments": Page(read=TEAM),
    "analytics:drivers": Page(read=TEAM),
    "analytics:people": Page(read=TEAM),
    "analytics:weighting": Page(read=TEAM),
    "analytics:pressure": Page(read=TEAM),
    "analytics:loop": Page(read=TEAM),
    "analytics:export": Page(read=TEAM),
    "analytics:report_choice": Page(read=TEAM),
    "analytics:report": Page(read=TEAM),
    "analytics:settings": Page(read=ADMIN),
    "barometers:list": Page(read=TEAM),
    "barometers:fieldwork": Page(read=TEAM),
    "barometers:new": Page(read=EDITORS, change=CHANGE_BAROMETERS),
    "barometers:edit": Page(read=EDITORS, change=CHANGE_BAROMETERS),
    "barometers:preview": Page(read=EDITORS),
    "barometers:wave": Page(read=TEAM),
    "barometers:wave_report": Page(read=TEAM),
    "barometers:wave_answers": Page(read=TEAM),
    "barometers:vs_flow": Page(read=TEAM),
    "cases:list": Page(read=TEAM),
    "cases:rows": Page(read=TEAM),
    "cases:detail": Page(read=TEAM),
    "cases:effect": Page(read=TEAM),
    "cases:take": Page(read=TEAM),
    "cases:contacted": Page(read=TEAM),
    "cases:resolve": Page(read=TEAM),
    "cases:close": Page(read=TEAM),
    "cases:reopen": Page(read=TEAM),
    "cases:note": Page(read=TEAM),
    "cases:root_cause": Page(read=TEAM),
    "cases:settings": Page(read=ADMIN),
    "cases:save_settings": Page(read=ADMIN),
    "governance:simulation": Page(read=TEAM),
    "governance:simulation_result": Page(read=TEAM),
    "messaging:simulator": Page(read=TEAM),
    "messaging:simulator-thread": Page(read=TEAM),
    "messaging:simulator-reply": Page(read=TEAM),
    "messaging:sms-length": Page(read=TEAM),
    "messaging:costs": Page(read=TEAM),
    # Settings.
    "survey_editor:list": Page(read=TEAM, write=EDITORS, change=CHANGE_SURVEYS),
    "survey_editor:edit": Page(read=TEAM, write=EDITORS, change=CHANGE_SURVEYS),
    "survey_editor:preview": Page(read=TEAM),
    "survey_editor:sms-preview": Page(read=TEAM),
    "touchpoints:list": Page(read=TEAM, write=ADMIN, change=CHANGE_TOUCHPOINTS),
    "touchpoints:detail": Page(read=TEAM, write=ADMIN, change=CHANGE_TOUCHPOINTS),
    "touchpoints:template": Page(read=TEAM),
    "touchpoints:rotate-secret": Page(read=ADMIN),
    "channels:settings": Page(read=ADMIN),
    "channels:send-test": Page(read=ADMIN),
    "channels:test-status": Page(read=ADMIN),
    "customers:imports": Page(read=ADMIN),
    "customers:import": Page(read=ADMIN),
    "customers:confirm_import": Page(read=ADMIN),
    "customers:import_progress": Page(read=ADMIN),
    "operations:backups": Page(read=ADMIN),
    "audit:trail": Page(read=ADMIN),
    "privacy:settings": Page(read=ADMIN),
    "privacy:customer": Page(read=ADMIN),
    "privacy:erase": Page(read=ADMIN),
    "audit:export": Page(read=ADMIN),
    "two_factor": Page(read=ADMIN),
    "api_keys": Page(read=ADMIN),
    "revoke_api_key": Page(read=ADMIN),
    "people": Page(read=ADMIN),
    "person": Page(read=ADMIN),
    "invite": Page(read=ADMIN),
    "withdraw": Page(read=ADMIN),
    "change_role": Page(read=ADMIN),
}

INGEST = frozenset({Scope.INGEST})
READ = frozenset({Scope.READ})
ONLY_ADMIN_KEYS: frozenset[str] = frozenset({Scope.ADMIN})
SIGNED = Operation(signed=True)


def _reading(roles: frozenset[str] = TEAM) -> Operation:
    return Operation(roles=roles, scopes=READ)


def _admin_setting() -> Operation:
    return Operation(roles=ADMIN, scopes=ONLY_ADMIN_KEYS)


OPERATIONS: dict[str, Operation] = {
    # Interactions come in from a CRM (an ingest key) or an administrator.
    "POST /interactions": Operation(roles=ADMIN, scopes=INGEST),
    "POST /interactions/batch": Operation(roles=ADMIN, scopes=INGEST),
    "POST /interactions/webhook/{token}": SIGNED,
    "POST /interactions/webhook/{token}/batch": SIGNED,
    "GET /touchpoints": Operation(roles=TEAM, scopes=INGEST | READ),
    "GET /touchpoints/{code}": Operation(roles=TEAM, scopes=INGEST | READ),
    "POST /touchpoints": _admin_setting(),
    "PATCH /touchpoints/{code}": _admin_setting(),
    "GET /customers/{external_id}/contact-history": _reading(),
    "POST /customers/{external_id}/opt-out": Operation(roles=ADMIN, scopes=INGEST),
    "DELETE /customers/{external_id}": _admin_setting(),
    "GET /customers/{external_id}/export": _admin_setting(),
    "GET /policy": _reading(),
    "GET /policy/versions": _reading(),
    "GET /policy/versions/{version}": _reading(),
    "GET /policy/sampling-goals": _reading(),
    "PUT /policy": Operation(roles=EDITORS, scopes=ONLY_ADMIN_KEYS),
    "POST /policy/sampling-goals": Operation(roles=EDITORS, scopes=ONLY_ADMIN_KEYS),
    "DELETE /policy/sampling-goals/{goal_id}": Operation(roles=EDITORS, scopes=ONLY_ADMIN_KEYS),
    # The closed loop: the team works the cases; its settings are the administrators'.
    "GET /cases": _reading(),
    "GET /cases/{case_id}": _reading(),
    "PATCH /cases/{case_id}": Operation(roles=TEAM, scopes=ONLY_ADMIN_KEYS),
    "GET /cases/effect": _reading(),
    "GET /cases/root-causes": _reading(),
    "POST /cases/root-causes": _admin_setting(),
    "GET /cases/rules": _reading(ADMIN),
    "POST /cases/rules": _admin_setting(),
    "PATCH /cases/rules/{rule_id}": _admin_setting(),
    "POST /cases/webhooks": _admin_setting(),
    "GET /cases/webhooks/deliveries": _admin_setting(),
    "GET /cases/calendar": _reading(ADMIN),
    "PUT /cases/calendar": _admin_setting(),
    "PUT /cases/assignment": _admin_setting(),
    "GET /metrics": _reading(),
    "GET /metrics/weighted": _reading(),
    "GET /comments": _reading(),
    "GET /drivers": _reading(),
    "GET /exports/answers": _reading(),
    "GET /exports/metrics": _reading(),
    "GET /exports/report": _reading(),
    "GET /surveys": _reading(),
    "GET /surveys/{survey_id}": _reading(),
    "GET /surveys/{survey_id}/versions": _reading(),
    "POST /surveys": Operation(roles=EDITORS, scopes=ONLY_ADMIN_KEYS),
    "PATCH /surveys/{survey_id}": Operation(roles=EDITORS, scopes=ONLY_ADMIN_KEYS),
    "POST /surveys/{survey_id}/publish": Operation(roles=EDITORS, scopes=ONLY_ADMIN_KEYS),
    # Barometers: the team follows them; administrators and analysts set them up and draw their waves.
    "GET /barometers": _reading(),
    "GET /barometers/{barometer_id}": _reading(),
    "GET /barometers/{barometer_id}/series": _reading(),
    "GET /barometers/{barometer_id}/waves": _reading(),
    "GET /barometers/{barometer_id}/waves/{number}": _reading(),
    "GET /barometers/{barometer_id}/waves/{number}/report": _reading(),
    "GET /barometers/{barometer_id}/waves/{number}/answers": _reading(),
    "GET /barometers/{barometer_id}/waves/{number}/estimates": _reading(),
    "POST /barometers": Operation(roles=EDITORS, scopes=ONLY_ADMIN_KEYS),
    "POST /barometers/{barometer_id}/waves": Operation(roles=EDITORS, scopes=ONLY_ADMIN_KEYS),
    "POST /barometers/{barometer_id}/waves/{number}/draw": Operation(roles=EDITORS, scopes=ONLY_ADMIN_KEYS),
    "POST /barometers/{barometer_id}/waves/{number}/start": Operation(roles=EDITORS, scopes=ONLY_ADMIN_KEYS),
    "POST /barometers/{barometer_id}/waves/{number}/close": Operation(roles=EDITORS, scopes=ONLY_ADMIN_KEYS),
    "GET /team": _admin_setting(),
    "POST /team/invitations": _admin_setting(),
    "DELETE /team/invitations/{invitation_id}": _admin_setting(),
    "PATCH /team/members/{membership_id}": _admin_setting(),
    "GET /channels": _admin_setting(),
    "PUT /channels": _admin_setting(),
    "POST /channels/test": _admin_setting(),
    "GET /channels/test/{message_id}": _admin_setting(),
}

REFUSED = Operation()
API_ROOT = "api/v1/"


def page_access(view_name: str) -> Page:
    """The page's row; a page missing from the matrix is refused to every role."""
    if view_name.startswith("admin:"):
        return PAGES["admin:*"]
    return PAGES.get(view_name, Page())


def operation_key(method: str, route: str) -> str:
    """``"PATCH /cases/{case_id}"`` from Django's route ``api/v1/cases/<int:case_id>``."""
    path = route.removeprefix(API_ROOT).rstrip("/")
    path = re.sub(r"<(?:[^>:]+:)?([^>]+)>", r"{\1}", path)
    return f"{method.upper()} /{path}"


def operation_access(method: str, route: str) -> Operation:
    """The operation's row; one missing from the matrix is refused to every role and key."""
    return OPERATIONS.get(operation_key(method, route), REFUSED)


ROLES_IN_WORDS = {
    Role.ADMIN: gettext_lazy("administrators"),
    Role.ANALYST: gettext_lazy("analysts"),
    Role.MANAGER: gettext_lazy("managers"),
    Role.ADVISOR: gettext_lazy("advisors"),
}


def roles_in_words(roles: Iterable[str]) -> str:
    """ "administrators and analysts", in the order of the role list, in the reader's language."""
    names = [str(ROLES_IN_WORDS[role]) for role in Role.values if role in roles]
    if len(names) <= 1:
        return "".join(names)
    return _("%(first)s and %(last)s") % {"first": _(", ").join(names[:-1]), "last": names[-1]}


def refusal(view_name: str, method: str) -> str:
    """Why the matrix refuses this page (or its form), and who it lets: the 403 page and a greyed form
    say it, so a refused member knows whom to ask."""
    page = page_access(view_name)
    roles = page.roles_for(method)
    reading = method in ("GET", "HEAD", "OPTIONS")
    if not roles:
        return _("No one can open this page.") if reading else _("No one can send this form.")
    if reading:
        return _("Only %(roles)s can open this page.") % {"roles": roles_in_words(roles)}
    return _("Only %(roles)s can %(change)s.") % {
        "roles": roles_in_words(roles),
        "change": page.change or _("send this form"),
    }


def _cells(allowed: frozenset[str], everyone: list[str]) -> str:
    return " | ".join("✓" if who in allowed else "—" for who in everyone)


def matrix_markdown() -> str:
    """The two tables of docs/security.md, written from the matrix so the document cannot drift
    (tests/accounts/test_role_matrix.py compares them)."""
    roles = list(Role.values)
    scopes = list(Scope.values)
    lines = [
        "| Page (URL name) | " + " | ".join(roles) + " | forms (POST) |",
        "|---|" + "---|" * (len(roles) + 1),
    ]
    for name, page in sorted(PAGES.items()):
        if page.public or page.django_admin:
            who = "anyone" if page.public else "Django staff accounts only"
            lines.append(f"| `{name}` | " + " | ".join([who] + [""] * (len(roles) - 1)) + " | |")
            continue
        write = "same" if page.write is None else ", ".join(r for r in roles if r in page.write)
        lines.append(f"| `{name}` | {_cells(page.read, roles)} | {write} |")
    lines += [
        "",
        "| Operation | " + " | ".join(roles) + " | " + " | ".join(f"key: {s}" for s in scopes) + " |",
        "|---|" + "---|" * (len(roles) + len(scopes)),
    ]
    for key, operation in sorted(OPERATIONS.items(), key=lambda item: (item[0].split()[1], item[0])):
        if operation.signed or operation.public:
            who = "signed webhook only" if operation.signed else "anyone"
            lines.append(f"| `{key}` | " + " | ".join([who] + [""] * (len(roles) + len(scopes) - 1)) + " |")
            continue
        granted = frozenset(s for s in scopes if operation.allows_scope(s))
        lines.append(f"| `{key}` | {_cells(operation.roles, roles)} | {_cells(granted, scopes)} |")
    return "\n".join(lines)
