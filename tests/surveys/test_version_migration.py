"""Upgrading: every survey made before versions existed becomes its version 1, with its questions,
invitations and responses."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from django.apps.registry import Apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.graph import MigrationGraph

from avis.accounts.models import Organisation
from avis.customers.models import Customer
from avis.governance.models import Decision
from avis.governance.services import current_policy
from avis.interactions.models import Interaction, Touchpoint

pytestmark = pytest.mark.django_db(transaction=True)

CREATED = datetime(2026, 1, 5, 9, tzinfo=UTC)


def _migrate(surveys_at: str | None) -> Apps:
    """Surveys at ``surveys_at`` (None: its latest), every other app at its latest migration that does
    not need a later one of surveys (the barometers need versions, so they step back before them)."""
    executor = MigrationExecutor(connection)
    graph = executor.loader.graph
    targets: list[tuple[str, str | None]] = list(graph.leaf_nodes())
    if surveys_at is not None:
        earlier = set(graph.forwards_plan(("surveys", surveys_at)))
        later = {node for node in graph.nodes if node[0] == "surveys"} - earlier
        targets = [_before(graph, leaf, later) for leaf in targets if leaf[0] != "surveys"]
        targets.append(("surveys", surveys_at))
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state([target for target in targets if target[1] is not None]).apps


def _before(
    graph: MigrationGraph, node: tuple[str, str], later: set[tuple[str, str]]
) -> tuple[str, str | None]:
    """The app's latest migration at or before ``node`` that needs none of ``later`` (None: none of its
    migrations can stay)."""
    current: tuple[str, str] | None = node
    while current is not None and later & set(graph.forwards_plan(current)):
        parents = [parent.key for parent in graph.node_map[current].parents if parent.key[0] == node[0]]
        current = parents[0] if parents else None
    return current if current is not None else (node[0], None)


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
