"""The simulation page: try one or two contact policies on past interactions before switching them on.

A run is kept as JSON under ``var/simulations/<organisation id>/``: the result
page reads only from the signed-in user's organisation, so another
organisation's link answers 404.
"""

from __future__ import annotations

import io
import json
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import altair as alt
from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.safestring import SafeString
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from avis.accounts.decorators import member_required
from avis.accounts.models import Organisation
from avis.charts import render_svg
from avis.errors import AvisError
from avis.governance.models import ContactPolicy
from avis.governance.simulation import Goal, history_from_database, read_history
from avis.governance.simulation_report import (
    Assumptions,
    default_sms_cost,
    observed_assumptions,
    run_simulation,
)

EDITED = "edited"


def _policy_choices(organisation: Organisation, *, optional: bool) -> list[tuple[str, str]]:
    versions = ContactPolicy.objects.filter(organisation=organisation).order_by("-version")
    choices = [("", _("— none —"))] if optional else []
    choices += [("current", _("Current version"))]
    choices += [(f"v{p.version}", _("Version %(version)s") % {"version": p.version}) for p in versions]
    return [*choices, (EDITED, _("Edited JSON below"))]


class SimulationForm(forms.Form):
    source = forms.ChoiceField(
        label=gettext_lazy("Interactions"),
        choices=[
            ("database", gettext_lazy("This organisation's last 12 months")),
            ("upload", gettext_lazy("A CSV file")),
        ],
        widget=forms.RadioSelect,
        initial="database",
    )
    history = forms.FileField(label=gettext_lazy("History (CSV)"), required=False)
    policy = forms.ChoiceField(label=gettext_lazy("Policy"))
    policy_json = forms.CharField(
        label=gettext_lazy("Policy as JSON"), required=False, widget=forms.Textarea(attrs={"rows": 5})
    )
    compare = forms.ChoiceField(label=gettext_lazy("Compare with"), required=False)
    compare_json = forms.CharField(
        label=gettext_lazy("Second policy as JSON"), required=False, widget=forms.Textarea(attrs={"rows": 5})
    )
    response_rate = forms.FloatField(
        label=gettext_lazy("Response rate (blank: observed)"), required=False, min_value=0.01, max_value=1
    )

    def __init__(self, *args: Any, organisation: Organisation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["policy"].choices = _policy_choices(organisation, optional=False)
        self.fields["compare"].choices = _policy_choices(organisation, optional=True)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("source") == "upload" and not data.get("history"):
            self.add_error("history", _("Choose the CSV file to replay."))
        for choice, text in (("policy", "policy_json"), ("compare", "compare_json")):
            if data.get(choice) != EDITED:
                continue
            try:
                data[text] = json.loads(data.get(text) or "")
            except json.JSONDecodeError as exc:
                self.add_error(text, _("This is not valid JSON: %(problem)s") % {"problem": exc})
        return data

    def policies(self) -> list[Any]:
        data = self.cleaned_data
        chosen = [data["policy_json"] if data["policy"] == EDITED else data["policy"]]
        if data.get("compare"):
            chosen.append(data["compare_json"] if data["compare"] == EDITED else data["compare"])
        return chosen


def _runs(organisation: Organisation) -> Path:
    return Path(settings.VAR_DIR) / "simulations" / str(organisation.id)


@login_required
@member_required()
def simulation(request: HttpRequest) -> HttpResponse:
    organisation: Organisation = request.organisation  # type: ignore[attr-defined]
    form = SimulationForm(request.POST or None, request.FILES or None, organisation=organisation)
    if request.method == "POST" and form.is_valid():
        defaults = Assumptions(sms_cost=default_sms_cost())
        rate = form.cleaned_data.get("response_rate")
        if rate:
            defaults.response_rate = rate
            assumptions = defaults
        else:
            assumptions = observed_assumptions(organisation=organisation, defaults=defaults)
        try:
            if form.cleaned_data["source"] == "upload":
                upload = form.cleaned_data["history"]
                history = read_history(
                    io.TextIOWrapper(upload.file, encoding="utf-8-sig", newline=""),
                    default_time_zone=organisation.default_time_zone,
                    default_country=organisation.default_region,
                )
            else:
                now = timezone.now()
                history = history_from_database(
                    organisation=organisation, since=now - timedelta(days=365), until=now
                )
            report = run_simulation(
                history=history, policies=form.policies(), organisation=organisation, assumptions=assumptions
            )
        except AvisError as exc:
            form.add_error(None, exc.message)
        else:
            token = secrets.token_urlsafe(12)
            folder = _runs(organisation)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{token}.json").write_text(json.dumps(report.as_dict()), encoding="utf-8")
            return redirect("governance:simulation_result", token=token)
    return render(request, "governance/simulation.html", {"form": form}, status=400 if form.errors else 200)


@login_required
@member_required()
def simulation_result(request: HttpRequest, token: str) -> HttpResponse:
    organisation: Organisation = request.organisation  # type: ignore[attr-defined]
    path = _runs(organisation) / f"{token}.json"
    if not token.replace("-", "").replace("_", "").isalnum() or not path.is_file():
        raise Http404(_("No such simulation."))
    report = json.loads(path.read_text(encoding="utf-8"))
    language = get_language()
    goals = []
    for number, goal in enumerate(report["policies"][0]["goals"]):
        per_policy = [(policy["label"], policy["goals"][number]) for policy in report["policies"]]
        goals.append(
            {
                "description": Goal(**goal["goal"]).describe(),  # in the reader's language
                "margin": goal["goal"]["margin"],
                "per_policy": per_policy,
                "chart": _half_width_chart(report, number, language),
            }
        )
    reasons = sorted({reason for policy in report["policies"] for reason in policy["outcomes"]})
    return render(
        request,
        "governance/simulation_result.html",
        {
            "report": report,
            "policies": report["policies"],
            "reasons": [(r, [p["outcomes"].get(r, 0) for p in report["policies"]]) for r in reasons],
            "goals": goals,
            "histogram": _histogram_chart(report, language),
        },
    )


def _histogram_chart(report: dict[str, Any], language: str) -> SafeString:
    rows = [
        {"policy": policy["label"], "surveys": int(count), "customers": customers}
        for policy in report["policies"]
        for count, customers in policy["histogram"].items()
    ]
    chart = (
        alt.Chart(alt.Data(values=rows))
        .mark_bar()
        .encode(
            x=alt.X(
                "surveys:O", title=_("Surveys per customer over the period"), axis=alt.Axis(labelAngle=0)
            ),
            xOffset="policy:N",
            y=alt.Y("customers:Q", title=_("Customers")),
            color=alt.Color("policy:N", title=_("Policy")),
            tooltip=["policy:N", "surveys:O", "customers:Q"],
        )
        .properties(
            width=520,
            height=220,
            description=_("Bar chart: how many customers each policy would survey 0, 1, 2… times"),
        )
    )
    return render_svg(chart, language=language)


def _half_width_chart(report: dict[str, Any], number: int, language: str) -> SafeString:
    margin = report["policies"][0]["goals"][number]["goal"]["margin"]
    rows = [
        {
            "policy": policy["label"],
            "stratum": f"{s['stratum']} · {s['period']}",
            "half_width": s["half_width"],
        }
        for policy in report["policies"]
        for s in policy["goals"][number]["strata"]
        if s["half_width"] is not None
    ]
    ticks = (
        alt.Chart(alt.Data(values=rows))
        .mark_tick(thickness=2, size=18)
        .encode(
            x=alt.X("half_width:Q", title=_("Expected half-width of the interval (points)")),
            y=alt.Y("policy:N", title=None),
            color=alt.Color("policy:N", legend=None),
            tooltip=["stratum:N", "half_width:Q"],
        )
    )
    goal = alt.Chart(alt.Data(values=[{"margin": margin}])).mark_rule(color="#b3261e").encode(x="margin:Q")
    chart = (ticks + goal).properties(
        width=520,
        height=40 + 30 * len(report["policies"]),
        description=_("Each tick is one stratum and period; the red line is the goal of ±%(margin)s points")
        % {"margin": margin},
    )
    return render_svg(chart, language=language)
