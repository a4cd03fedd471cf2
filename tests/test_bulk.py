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
