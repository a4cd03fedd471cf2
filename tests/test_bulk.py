"""The bulk insert every ingest goes through: keys set, duplicates refused as Django's IntegrityError."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from avis.bulk import insert_rows
from avis.interactions.models import Team

pytestmark = pytest.mark.django_db


def test_rows_get_their_keys_and_a_duplicate_is_an_integrity_error(org) -> None:
    teams = [
        Team(organisation=org.organisation, code=f"T-{i}", name=f"Équipe {i} — « test »") for i in range(3)
    ]
    insert_rows(teams)
    assert [t.pk for t in teams] == list(
        Team.objects.filter(code__startswith="T-").order_by("id").values_list("id", flat=True)
    )
    assert Team.objects.get(pk=teams[2].pk).name == "Équipe 2 — « test »"
    again = [Team(organisation=org.organisation, code="T-1")]
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_rows(again)
    assert again[0].pk is None
    assert Team.objects.filter(code__startswith="T-").count() == 3


def test_tuples_are_stored_with_the_defaults_of_the_columns_not_given(org) -> None:
    from datetime import UTC, datetime

    from avis.bulk import insert_values
    from avis.customers.models import Customer
    from avis.interactions.models import Interaction

    customer = Customer.objects.create(organisation=org.organisation, external_id="C-1")
    touchpoint = next(iter(org.touchpoints.values()))
    moment = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    rows = [
        (org.organisation.id, f"E-{i}", touchpoint.id, customer.id, moment, {"durée": str(i)})
        for i in range(3)
    ]
    keys = insert_values(
        Interaction,
        ("organisation_id", "external_id", "touchpoint_id", "customer_id", "occurred_at", "attributes"),
        rows,
    )
    stored = list(Interaction.objects.filter(pk__in=keys).order_by("id"))
    assert [i.external_id for i in stored] == ["E-0", "E-1", "E-2"]
    assert [i.attributes for i in stored] == [{"durée": "0"}, {"durée": "1"}, {"durée": "2"}]
    assert all(i.occurred_at == moment and i.agent_id is None and i.contact_only is False for i in stored)
    with pytest.raises(ValueError, match="no column colour"):
        insert_values(Interaction, ("organisation_id", "colour"), [(1, "red")])
