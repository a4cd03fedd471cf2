"""Upgrading: every survey made before versions existed becomes its version 1, with its questions,
invitations and responses."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from django.apps.registry import Apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from avis.accounts.models import Organisation
from avis.customers.models import Customer
from avis.governance.models import Decision
from avis.governance.services import current_policy
from avis.interactions.models import Interaction, Touchpoint

pytestmark = pytest.mark.django_db(transaction=True)

CREATED = datetime(2026, 1, 5, 9, tzinfo=UTC)


def _migrate(surveys_at: str | None) -> Apps:
    """Every app at its latest migration, surveys at ``surveys_at`` (None: its latest too)."""
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    targets = [leaf for leaf in leaves if leaf[0] != "surveys" or surveys_at is None]
    if surveys_at is not None:
        targets.append(("surveys", surveys_at))
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


@pytest.fixture
def before_versions() -> Iterator[Apps]:
    try:
        yield _migrate("0003_invitation_reminder_due_at")
    finally:
        _migrate(None)  # whatever happened, the next tests find the schema they expect


def test_existing_surveys_become_version_1_with_everything_that_hangs_off_them(before_versions: Apps) -> None:
    old = before_versions
    organisation = Organisation.objects.create(name="Ancienne", slug="ancienne")
    touchpoint = Touchpoint.objects.create(
        organisation=organisation, code="call_center.call", name={"fr": "Appel"}
    )
    customer = Customer.objects.create(organisation=organisation, external_id="C-1")
    interaction = Interaction.objects.create(
        organisation=organisation,
        external_id="e-1",
        touchpoint=touchpoint,
        customer=customer,
        occurred_at=CREATED,
    )
    decision = Decision.objects.create(
        organisation=organisation,
        interaction=interaction,
        customer=customer,
        touchpoint=touchpoint,
        outcome="invite",
        reason="eligible",
        policy=current_policy(organisation=organisation),
        inclusion_probability=1.0,
        channel="email",
        decided_at=CREATED,
        planned_at=CREATED,
    )
    ids = {"organisation_id": organisation.id, "touchpoint_id": touchpoint.id}
    survey = old.get_model("surveys", "Survey").objects.create(**ids, name="Appels", created_at=CREATED)
    question = old.get_model("surveys", "Question").objects.create(
        survey=survey, position=1, code="nps", kind="nps", attribution="overall", prompt={"fr": "Note ?"}
    )
    about = ids | {
        "customer_id": customer.id,
        "interaction_id": interaction.id,
        "channel": "email",
        "locale": "fr",
    }
    invitation = old.get_model("surveys", "Invitation").objects.create(
        **about,
        decision_id=decision.id,
        survey=survey,
        token="t-1",
        status="responded",
        planned_at=CREATED,
        expires_at=CREATED + timedelta(days=7),
    )
    response = old.get_model("surveys", "Response").objects.create(
        **about, invitation=invitation, survey=survey, completed_at=CREATED
    )

    new = _migrate(None)

    survey = new.get_model("surveys", "Survey").objects.get(id=survey.id)
    version = new.get_model("surveys", "SurveyVersion").objects.get(id=survey.current_version_id)
    assert (version.number, version.published_at, version.survey_id) == (1, CREATED, survey.id)
    assert new.get_model("surveys", "Question").objects.get(id=question.id).version_id == version.id
    assert new.get_model("surveys", "Invitation").objects.get(id=invitation.id).version_id == version.id
    assert new.get_model("surveys", "Response").objects.get(id=response.id).version_id == version.id
