"""What the set-up checklist reads: each step's state, for one organisation, in one statement.

The dashboard sits above every app, so it may read them all: touchpoints
(interactions), surveys, channel settings (messaging), the contact policy
(governance) and the team (accounts).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Exists, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from avis.accounts.models import Membership, Organisation
from avis.accounts.queries import pending_invitations
from avis.governance.models import ContactPolicy
from avis.interactions.models import Interaction, Touchpoint
from avis.messaging.models import ChannelSettings
from avis.surveys.models import Survey


@dataclass(frozen=True)
class SetupStep:
    key: str
    title: str
    done: bool
    # What is there when done; what is missing, and what to do about it, when not.
    detail: str
    url: str
    action: str


@dataclass(frozen=True)
class SetupChecklist:
    steps: list[SetupStep]

    @property
    def complete(self) -> bool:
        return all(step.done for step in self.steps)

    @property
    def done_count(self) -> int:
        return sum(step.done for step in self.steps)


def _count(rows: QuerySet[Any]) -> Coalesce:
    """A correlated COUNT(*) of ``rows`` (a queryset filtered on OuterRef("pk")), 0 when none."""
    counted = rows.order_by().values("organisation").annotate(n=Count("*")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def _states(organisation: Organisation, now: datetime) -> dict[str, Any]:
    """Every step's facts in one SELECT of correlated subqueries on the organisation's row."""
    in_use = Touchpoint.objects.filter(organisation=OuterRef("pk"), archived_at__isnull=True)
    # A survey counts once published: a draft sends nothing.
    has_survey = Survey.objects.filter(
        touchpoint=OuterRef("pk"), is_active=True, current_version__isnull=False
    )
    without_survey = Touchpoint.objects.filter(organisation=OuterRef("pk"), archived_at__isnull=True).exclude(
        Exists(has_survey)
    )
    return (
        Organisation.objects.filter(pk=organisation.pk)
        .annotate(
            touchpoints=_count(in_use),
            first_touchpoint=Subquery(in_use.order_by("code").values("code")[:1]),
            without_survey=_count(without_survey),
            channels=Exists(ChannelSettings.objects.filter(organisation=OuterRef("pk"))),
            # Version 1 is the default avis writes by itself; a later one was published by someone.
            policy_version=Coalesce(
                Subquery(
                    ContactPolicy.objects.filter(organisation=OuterRef("pk"))
                    .order_by("-version")
                    .values("version")[:1]
                ),
                0,
            ),
            members=_count(Membership.objects.filter(organisation=OuterRef("pk"), user__is_active=True)),
            invited=_count(pending_invitations(organisation=OuterRef("pk"), now=now)),
            # Live interactions, those that can be surveyed: imported history alone is not a start.
            interactions=Exists(Interaction.objects.filter(organisation=OuterRef("pk"), contact_only=False)),
        )
        .values(
            "touchpoints",
            "first_touchpoint",
            "without_survey",
            "channels",
            "policy_version",
            "members",
            "invited",
            "interactions",
        )
        .get()
    )


def _codes_without_survey(organisation: Organisation) -> list[str]:
    return list(
        Touchpoint.objects.filter(organisation=organisation, archived_at__isnull=True)
        .exclude(
            Exists(
                Survey.objects.filter(
                    touchpoint=OuterRef("pk"), is_active=True, current_version__isnull=False
                )
            )
        )
        .order_by("code")
        .values_list("code", flat=True)[:5]
    )


def setup_checklist(*, organisation: Organisation, now: datetime | None = None) -> SetupChecklist:
    """The six steps from nothing to the first governed survey, each done or not, with a link."""
    s = _states(organisation, now or timezone.now())
    touchpoints, without = int(s["touchpoints"]), int(s["without_survey"])
    members, invited, version = int(s["members"]), int(s["invited"]), int(s["policy_version"])
    states: dict[str, tuple[bool, str]] = {
        "touchpoints": (
            touchpoints > 0,
            ngettext("%(n)d touchpoint in use.", "%(n)d touchpoints in use.", touchpoints)
            % {"n": touchpoints}
            if touchpoints
            else _("No touchpoint yet: create the steps of your customers' journey that lead to a survey."),
        ),
        "surveys": (touchpoints > 0 and without == 0, _surveys_detail(organisation, touchpoints, without)),
        "channels": (
            bool(s["channels"]),
            _("Your SMS and email senders are set.")
            if s["channels"]
            else _("Choose your SMS sender and provider and your email sender, then send yourself a test."),
        ),
        "policy": (
            version > 1,
            _("Version %(version)d of the contact policy is in force.") % {"version": version}
            if version > 1
            else _("The default rules apply: review who may be asked, how often and when, then publish."),
        ),
        "team": (members > 1 or invited > 0, _team_detail(members, invited)),
        "interactions": (
            bool(s["interactions"]),
            _("Interactions are coming in.")
            if s["interactions"]
            else _(
                "No interaction yet: send the first from your systems (API) or a CRM (signed webhook), "
                "or import past ones from a file."
            ),
        ),
    }
    urls = {key: reverse(url_name) for key, _title, url_name, _action in _STEP_PAGES}
    if s["first_touchpoint"]:  # where a touchpoint's page shows the ways in, ready to copy
        page = reverse("touchpoints:detail", kwargs={"code": s["first_touchpoint"]})
        urls["interactions"] = f"{page}#getting-interactions-in"
    return SetupChecklist(
        [
            SetupStep(key, str(title), *states[key], urls[key], str(action))
            for key, title, _url_name, action in _STEP_PAGES
        ]
    )


def _surveys_detail(organisation: Organisation, touchpoints: int, without: int) -> str:
    if not touchpoints:
        return _("Create a touchpoint first, then its survey.")
    if not without:
        return _("Every touchpoint in use has its survey.")
    return ngettext(
        "%(n)d touchpoint has no survey yet: %(codes)s.",
        "%(n)d touchpoints have no survey yet: %(codes)s.",
        without,
    ) % {"n": without, "codes": ", ".join(_codes_without_survey(organisation))}


def _team_detail(members: int, invited: int) -> str:
    if members < 2 and not invited:
        return _("You are alone: invite your colleagues (analysts, managers, advisors).")
    detail = ngettext("%(n)d person in the organisation.", "%(n)d people in the organisation.", members) % {
        "n": members
    }
    if invited:
        detail += " " + ngettext(
            "%(n)d invitation waiting for an answer.", "%(n)d invitations waiting for an answer.", invited
        ) % {"n": invited}
    return detail


# Each step's title, the page where it is done, and the link's words.
_STEP_PAGES = (
    ("touchpoints", gettext_lazy("Touchpoints"), "touchpoints:list", gettext_lazy("Touchpoints")),
    ("surveys", gettext_lazy("Surveys"), "survey_editor:list", gettext_lazy("Surveys")),
    ("channels", gettext_lazy("Channels"), "channels:settings", gettext_lazy("Channels")),
    ("policy", gettext_lazy("Contact policy"), "dashboard:policy", gettext_lazy("Contact policy")),
    ("team", gettext_lazy("Team"), "people", gettext_lazy("People")),
    (
        "interactions",
        gettext_lazy("First interactions"),
        "touchpoints:list",
        gettext_lazy("Getting interactions in"),
    ),
)
