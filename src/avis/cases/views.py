from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from avis.accounts.decorators import member_required
from avis.cases import services
from avis.cases.effect import closed_loop_effect
from avis.cases.models import CaseOutcome, CaseStatus, Condition, OwnerRole, Severity, Strategy
from avis.cases.queries import (
    agent_links_of,
    agent_of,
    alert_rules_of,
    assignment_ladder_of,
    callback_preference,
    case_detail,
    case_timeline,
    feedback_about,
    live_case_rows,
    root_causes_of,
    team_owners_of,
    users_of,
    webhook_endpoints_of,
    webhook_log,
)
from avis.errors import AvisError, NotFound, ValidationFailed
from avis.surveys.queries import readable_answers

WEEKDAYS = [
    gettext_lazy("Monday"),
    gettext_lazy("Tuesday"),
    gettext_lazy("Wednesday"),
    gettext_lazy("Thursday"),
    gettext_lazy("Friday"),
    gettext_lazy("Saturday"),
    gettext_lazy("Sunday"),
]


def _listing(request: HttpRequest) -> dict[str, object]:
    status = request.GET.get("status") or None
    raw_severity = request.GET.get("severity", "")
    severity = int(raw_severity) if raw_severity in {str(v) for v in Severity.values} else None
    overdue = request.GET.get("overdue") == "1"
    rows = live_case_rows(
        organisation=request.organisation,  # type: ignore[attr-defined]
        status=status,
        now=timezone.now(),
        severity=severity,
        overdue=overdue,
    )
    narrowed = {"severity": severity or "", "overdue": "1" if overdue else ""}
    return {
        "rows": rows,
        "status": status or "",
        "statuses": CaseStatus.choices,
        "severity": Severity(severity).label if severity else "",
        "overdue": overdue,
        "narrowed": {k: v for k, v in narrowed.items() if v},
        "query": urlencode({"status": status or "", **{k: v for k, v in narrowed.items() if v}}),
    }


@login_required
@member_required()
def case_list(request: HttpRequest) -> HttpResponse:
    return render(request, "cases/list.html", _listing(request))


@login_required
@member_required()
def case_rows(request: HttpRequest) -> HttpResponse:
    """The table body alone, polled by htmx so a new case shows up without a reload."""
    return render(request, "cases/_rows.html", _listing(request))


@login_required
@member_required()
def case_page(request: HttpRequest, case_id: int) -> HttpResponse:
    case = case_detail(organisation=request.organisation, case_id=case_id)  # type: ignore[attr-defined]
    answers = readable_answers(
        list(case.response.answers.all()),
        get_language(),
        company=request.organisation.name,  # type: ignore[attr-defined]
    )
    organisation = request.organisation  # type: ignore[attr-defined]
    return render(
        request,
        "cases/detail.html",
        {
            "case": case,
            "answers": answers,
            "outcomes": CaseOutcome.choices,
            "root_causes": root_causes_of(organisation=organisation),
            "callback": callback_preference(case=case, language=get_language()),
            "timeline": case_timeline(case=case),
            "joined": [
                (
                    event,
                    readable_answers(
                        list(event.response.answers.all()), get_language(), company=organisation.name
                    ),
                )
                for event in case.events.all()
                if event.response_id and event.kind == "joined"
            ],
        },
    )


def _act(request: HttpRequest, case_id: int, action, **extra: object) -> HttpResponse:  # noqa: ANN001
    try:
        action(organisation=request.organisation, case_id=case_id, user=request.user, **extra)  # type: ignore[attr-defined]
    except ValidationFailed as exc:
        messages.error(request, exc.message)
    if request.headers.get("HX-Request"):  # the one-click button in the list: redraw its row
        return case_rows(request)
    return redirect("cases:detail", case_id=case_id)


def _root_cause_id(request: HttpRequest) -> int | None:
    raw = request.POST.get("root_cause_id", "")
    return int(raw) if raw.isdigit() else None


@login_required
@member_required()
@require_POST
def take(request: HttpRequest, case_id: int) -> HttpResponse:
    return _act(request, case_id, services.take_case)


@login_required
@member_required()
@require_POST
def contacted(request: HttpRequest, case_id: int) -> HttpResponse:
    return _act(
        request,
        case_id,
        services.mark_customer_contacted,
        note=request.POST.get("note", ""),
        channel=request.POST.get("channel", "phone"),
    )


@login_required
@member_required()
@require_POST
def resolve(request: HttpRequest, case_id: int) -> HttpResponse:
    return _act(
        request,
        case_id,
        services.resolve_case,
        outcome=request.POST.get("outcome", ""),
        note=request.POST.get("note", ""),
        root_cause_id=_root_cause_id(request),
    )


@login_required
@member_required()
@require_POST
def close(request: HttpRequest, case_id: int) -> HttpResponse:
    return _act(request, case_id, services.close_case, note=request.POST.get("note", ""))


@login_required
@member_required()
@require_POST
def reopen(request: HttpRequest, case_id: int) -> HttpResponse:
    return _act(request, case_id, services.reopen_case, note=request.POST.get("note", ""))


@login_required
@member_required()
@require_POST
def note(request: HttpRequest, case_id: int) -> HttpResponse:
    return _act(request, case_id, services.add_case_note, note=request.POST.get("note", ""))


@login_required
@member_required()
@require_POST
def root_cause(request: HttpRequest, case_id: int) -> HttpResponse:
    return _act(request, case_id, services.set_root_cause, root_cause_id=_root_cause_id(request) or 0)


# ---------------------------------------------------------------- settings (admins)


def _settings_context(request: HttpRequest) -> dict[str, object]:
    from avis.interactions.models import Team, Touchpoint
    from avis.surveys.models import Survey

    organisation = request.organisation  # type: ignore[attr-defined]
    services.ensure_alert_rules(organisation=organisation)
    calendar = services.calendar_of(organisation=organisation)
    return {
        "rules": alert_rules_of(organisation=organisation),
        "conditions": Condition.choices,
        "severities": Severity.choices,
        "touchpoints": Touchpoint.objects.filter(organisation=organisation).order_by("code"),
        "surveys": Survey.objects.filter(organisation=organisation, is_active=True).order_by("name"),
        "root_causes": root_causes_of(organisation=organisation, active_only=False),
        "calendar": calendar,
        "weekdays": [(str(day), name, calendar.hours.get(str(day))) for day, name in enumerate(WEEKDAYS)],
        "ladder": assignment_ladder_of(organisation=organisation),
        "strategies": Strategy.choices,
        "teams": Team.objects.filter(organisation=organisation).order_by("code"),
        "owners": team_owners_of(organisation=organisation),
        "owner_roles": OwnerRole.choices,
        "users": users_of(organisation=organisation),
        "endpoints": webhook_endpoints_of(organisation=organisation),
        "agent_links": agent_links_of(organisation=organisation),
        "deliveries": webhook_log(organisation=organisation)[:50],
    }


@login_required
@member_required("admin")
def settings_page(request: HttpRequest) -> HttpResponse:
    return render(request, "cases/settings.html", _settings_context(request))


def _rule_form(post: QueryDict) -> dict[str, object]:
    changes: dict[str, object] = {}
    for name in ("name", "condition", "words"):
        if name in post:
            changes[name] = post[name]
    for name in ("threshold", "window_days", "severity", "touchpoint_id", "survey_id"):
        if name in post:
            raw = post[name].strip()
            # Digits only, and small enough for any database column (a 30-digit number once gave a 500).
            if raw and (not raw.lstrip("-").isdigit() or len(raw) > 9):
                raise ValidationFailed(_("Give a whole number."), field=name)
            changes[name] = int(raw) if raw else None
    if "window_days" in changes and changes["window_days"] is None:
        changes.pop("window_days")
    changes["is_active"] = post.get("is_active") == "on"
    return changes


@login_required
@member_required("admin")
@require_POST
def save_settings(request: HttpRequest, section: str) -> HttpResponse:
    """Every settings form posts here; each section calls one service."""
    organisation = request.organisation  # type: ignore[attr-defined]
    post = request.POST
    try:
        if section == "rule":
            raw_id = post.get("rule_id", "")
            if raw_id and not raw_id.isdecimal():
                raise NotFound(_("No such rule."))
            rule_id = int(raw_id) if raw_id else None
            changes = services.rule_changes(organisation=organisation, raw=_rule_form(post))
            services.save_alert_rule(organisation=organisation, changes=changes, rule_id=rule_id)
        elif section == "root-cause":
            services.save_root_cause(organisation=organisation, label=post.get("label", ""))
        elif section == "calendar":
            hours = {
                str(day): [post[f"open_{day}"], post[f"close_{day}"]]
                for day in range(7)
                if post.get(f"open_{day}") and post.get(f"close_{day}")
            }
            sla = post.get("sla_hours", "")
            if not sla.isdigit():
                raise ValidationFailed(_("Give a whole number."), field="sla_hours")
            services.save_calendar(organisation=organisation, hours=hours, sla_hours=int(sla))
        elif section == "ladder":
            steps = [
                {"strategy": strategy, "team_id": team or None, "user_id": user or None}
                for strategy, team, user in zip(
                    post.getlist("strategy"), post.getlist("team_id"), post.getlist("user_id"), strict=False
                )
                if strategy
            ]
            services.save_assignment_rules(organisation=organisation, steps=steps)
        elif section == "owner":
            user = next(
                (u for u in users_of(organisation=organisation) if str(u.pk) == post.get("user_id")), None
            )
            if user is None or not post.get("team_id", "").isdigit():
                raise ValidationFailed(_("Choose a team and a person."))
            services.add_team_owner(
                organisation=organisation, team_id=int(post["team_id"]), user=user, role=post.get("role", "")
            )
        elif section == "agent-link":
            user = next(
                (u for u in users_of(organisation=organisation) if str(u.pk) == post.get("user_id")), None
            )
            if user is None:
                raise ValidationFailed(_("Choose a person."))
            services.link_agent(
                organisation=organisation, user=user, agent_external_id=post.get("agent", "").strip()
            )
        elif section == "webhook":
            services.add_webhook_endpoint(organisation=organisation, url=post.get("url", "").strip())
        else:
            raise NotFound(_("No such settings."))
        messages.success(request, _("Saved."))
    except AvisError as exc:
        messages.error(request, exc.message)
    return redirect("cases:settings")


@login_required
@member_required()
def my_feedback(request: HttpRequest) -> HttpResponse:
    """What customers said about the interactions I handled: to learn from, not to rank."""
    organisation = request.organisation  # type: ignore[attr-defined]
    agent = agent_of(organisation=organisation, user=request.user)
    responses = []
    if agent is not None:
        responses = [
            (
                response,
                readable_answers(list(response.answers.all()), get_language(), company=organisation.name),
            )
            for response in feedback_about(organisation=organisation, agent=agent)
        ]
    return render(request, "cases/my_feedback.html", {"agent": agent, "responses": responses})


@login_required
@member_required()
def effect_page(request: HttpRequest) -> HttpResponse:
    days = request.GET.get("days", "90")
    days_n = max(1, min(int(days), 730)) if days.isdigit() else 90
    now = timezone.now()
    effect = closed_loop_effect(
        organisation=request.organisation,  # type: ignore[attr-defined]
        since=now - timedelta(days=days_n),
        until=now,
    )
    groups = [
        (_("Case handled in time and closed"), effect.recovered),
        (_("Case not handled in time"), effect.not_in_time),
    ]
    return render(request, "cases/effect.html", {"effect": effect, "days": days_n, "groups": groups})
