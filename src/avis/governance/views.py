"""The simulation page: try one or two contact policies on past interactions before switching them on.

A run is kept as JSON under ``var/simulations/<organisation id>/``: the result
page reads only from the signed-in user's organisation, so another
organisation's link answers 404.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
from collections.abc import Iterator
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
from avis.errors import AvisError, ValidationFailed
from avis.governance.history import HistoryRow, history_from_database, read_history
from avis.governance.models import ContactPolicy, Outcome
from avis.governance.simulation import Goal
from avis.governance.simulation_assumptions import Assumptions, default_sms_cost, observed_assumptions
from avis.governance.simulation_run import run_simulation
from avis.governance.simulation_wording import goal_verdict, reason_label, strategy_label, stratum_periods

EDITED = "edited"


def _policy_choices(organisation: Organisation, *, optional: bool) -> list[tuple[str, str]]:
    versions = ContactPolicy.objects.filter(organisation=organisation).order_by("-version")
    choices = [("", _("— none —"))] if optional else []
    choices += [("current", _("Current version"))]
    choices += [(f"v{p.version}", _("Version %(version)s") % {"version": p.version}) for p in versions]
    return [*choices, (EDITED, _("Edited JSON below"))]


STRATEGY_CHOICES = [
    ("", gettext_lazy("As the policy says (its goals, else its rates)")),
    ("goals", gettext_lazy("Precision goals")),
    ("rates", gettext_lazy("The policy's fixed rates")),
    ("everyone", gettext_lazy("Everyone the policy allows")),
    ("fixed", gettext_lazy("One fixed rate (below)")),
]


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
    strategy = forms.ChoiceField(label=gettext_lazy("Sampling"), choices=STRATEGY_CHOICES, required=False)
    rate = forms.FloatField(
        label=gettext_lazy("Fixed rate (%)"), required=False, min_value=0.1, max_value=100
    )
    compare = forms.ChoiceField(label=gettext_lazy("Compare with"), required=False)
    compare_json = forms.CharField(
        label=gettext_lazy("Second policy as JSON"), required=False, widget=forms.Textarea(attrs={"rows": 5})
    )
    compare_strategy = forms.ChoiceField(
        label=gettext_lazy("Its sampling"), choices=STRATEGY_CHOICES, required=False
    )
    compare_rate = forms.FloatField(
        label=gettext_lazy("Its fixed rate (%)"), required=False, min_value=0.1, max_value=100
    )
    goals = forms.CharField(
        label=gettext_lazy("Precision goals to report (JSON list)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    cheapest = forms.BooleanField(
        label=gettext_lazy("Add the cheapest fixed rates (per touchpoint) that meet the goals as often"),
        required=False,
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
        elif data.get("history") and data["history"].size > settings.AVIS_SIMULATION_MAX_MB * 1024 * 1024:
            self.add_error(
                "history",
                _("The history file is larger than %(size)s MB.") % {"size": settings.AVIS_SIMULATION_MAX_MB},
            )
        for choice, text in (("policy", "policy_json"), ("compare", "compare_json")):
            if data.get(choice) != EDITED:
                continue
            try:
                data[text] = json.loads(data.get(text) or "")
            except json.JSONDecodeError as exc:
                self.add_error(text, _("This is not valid JSON: %(problem)s") % {"problem": exc})
        for strategy, rate in (("strategy", "rate"), ("compare_strategy", "compare_rate")):
            if data.get(strategy) == "fixed" and not data.get(rate):
                self.add_error(rate, _("Give the fixed rate, in percent."))
        try:
            data["goals"] = json.loads(data.get("goals") or "[]")
        except json.JSONDecodeError as exc:
            self.add_error("goals", _("This is not valid JSON: %(problem)s") % {"problem": exc})
        else:
            if not isinstance(data["goals"], list):
                self.add_error("goals", _("Goals are a JSON list, such as the example below."))
        return data

    def sides(self) -> list[Any]:
        """Each side as the simulator reads it: a policy and, if chosen, its sampling strategy."""
        data = self.cleaned_data

        def side(choice: str, text: str, strategy: str, rate: str) -> dict[str, Any]:
            policy = data[text] if data[choice] == EDITED else data[choice]
            chosen = data.get(strategy) or None
            if chosen == "fixed":
                chosen = f"{data[rate] / 100:g}"
            return {"policy": policy, "strategy": chosen}

        chosen = [side("policy", "policy_json", "strategy", "rate")]
        if data.get("compare"):
            chosen.append(side("compare", "compare_json", "compare_strategy", "compare_rate"))
        if data.get("cheapest"):
            chosen.append({"policy": chosen[0]["policy"], "strategy": "cheapest"})
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

                def history() -> Iterator[HistoryRow]:  # read again for each replay
                    upload.file.seek(0)
                    text = io.TextIOWrapper(upload.file, encoding="utf-8-sig", newline="")
                    try:
                        yield from read_history(
                            text,
                            default_time_zone=organisation.default_time_zone,
                            default_country=organisation.default_region,
                        )
                    except (UnicodeDecodeError, csv.Error) as exc:
                        raise ValidationFailed(
                            _("The history file is not a CSV file in UTF-8 (%(problem)s).")
                            % {"problem": exc},
                            field="history",
                        ) from None
                    finally:
                        text.detach()  # the upload stays open for the next replay
            else:
                now = timezone.now()

                def history() -> Iterator[HistoryRow]:
                    return history_from_database(
                        organisation=organisation, since=now - timedelta(days=365), until=now
                    )

            report = run_simulation(
                history=history,
                policies=form.sides(),
                organisation=organisation,
                assumptions=assumptions,
                goals=form.cleaned_data["goals"],
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
    policies = report["policies"]
    goals = []
    for number, goal in enumerate(policies[0]["goals"]):
        terms = Goal(**goal["goal"])
        periods = len(goal["strata"])
        goals.append(
            {
                "description": terms.describe(),  # in the reader's language
                "periods": stratum_periods(terms, periods),
                "per_policy": [
                    {
                        "name": policy["name"],
                        "verdict": goal_verdict(terms, policy["goals"][number]["met"], periods),
                        "outcome": policy["goals"][number],
                    }
                    for policy in policies
                ],
                "reach": _reach_of(report, number, terms),
                "chart": _half_width_chart(report, number, language),
            }
        )
    reasons = sorted({reason for policy in policies for reason in policy["outcomes"]})
    return render(
        request,
        "governance/simulation_result.html",
        {
            "report": report,
            "policies": policies,
            "strategies": [strategy_label(policy["strategy"]) for policy in policies],
            "savings": any(policy.get("saving") for policy in policies),
            "reasons": [(_outcome_words(r), [p["outcomes"].get(r, 0) for p in policies]) for r in reasons],
            "goals": goals,
            "histogram": _histogram_chart(report, language),
        },
    )


def _outcome_words(key: str) -> str:
    """``skip/cap_reached`` in words: "skip · a window's cap"."""
    outcome, _slash, reason = key.partition("/")
    return f"{Outcome(outcome).label} · {reason_label(reason)}"


def _reach_of(report: dict[str, Any], number: int, goal: Goal) -> dict[str, Any] | None:
    """A goal's stretch beyond what the policy allows, in the reader's language; None when within reach."""
    reach = report["reach"][number] if number < len(report.get("reach", [])) else None
    if not reach or not reach["unreachable"]:
        return None
    return reach | {
        "periods_label": stratum_periods(goal, reach["periods"]),
        "lost": [(reason_label(reason), share) for reason, share in reach["lost"].items() if share >= 0.005],
        "relaxations": [
            change
            | {
                "met_of": ", ".join(
                    f"{m} / {n}" for m, n in zip(change["met"], change["periods"], strict=True)
                )
            }
            for change in reach["relaxations"]
        ],
    }


def _histogram_chart(report: dict[str, Any], language: str) -> SafeString:
    rows = [
        {"policy": policy["name"], "surveys": int(count), "customers": customers}
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
    """Each complete stratum-period's half-width against the invitations it took, per strategy."""
    margin = report["policies"][0]["goals"][number]["goal"]["margin"]
    rows = [
        {
            "strategy": policy["name"],
            "stratum": f"{s['stratum']} · {s['period']}",
            "invitations": s["invitations"],
            "half_width": s["half_width"],
        }
        for policy in report["policies"]
        for s in policy["goals"][number]["strata"]
        if s["half_width"] is not None and s["invitations"] > 0
    ]
    points = (
        alt.Chart(alt.Data(values=rows))
        .mark_point(filled=True, opacity=0.7)
        .encode(
            x=alt.X(
                "invitations:Q",
                title=_("Invitations in the stratum and period"),
                scale=alt.Scale(type="log"),
            ),
            y=alt.Y("half_width:Q", title=_("Expected half-width of the interval (points)")),
            color=alt.Color("strategy:N", title=_("Strategy")),
            shape=alt.Shape("strategy:N", legend=None),
            tooltip=["strategy:N", "stratum:N", "invitations:Q", "half_width:Q"],
        )
    )
    goal = alt.Chart(alt.Data(values=[{"margin": margin}])).mark_rule(color="#b3261e").encode(y="margin:Q")
    chart = (points + goal).properties(
        width=520,
        height=260,
        description=_(
            "Each point is one stratum and complete period: its half-width against the invitations it "
            "took, per strategy; the red line is the goal of ±%(margin)s points"
        )
        % {"margin": margin},
    )
    return render_svg(chart, language=language)
