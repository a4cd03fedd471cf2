"""The journal beside the backups: what it gives back to a restore, and the command that re-applies it
after a recovery made with PostgreSQL's own tools."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from avis import journal
from avis.customers.models import Customer
from avis.messaging.dispatch import sweep_outbox
from avis.messaging.models import OutboundMessage
from tests.helpers import open_all_day, post_interaction

T = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)  # a year's end: the journal's files are per UTC day


@pytest.fixture
def folder(settings, tmp_path):  # noqa: ANN001, ANN201
    settings.AVIS_JOURNAL_DIR = tmp_path / "journal"
    return settings.AVIS_JOURNAL_DIR


def test_a_restore_starts_a_new_history(folder) -> None:
    journal.record_sent(keys=["old-world"], at=T - timedelta(hours=3))
    journal.record_restore(archive="avis-a.tar.zst", at=T - timedelta(hours=2), directory=folder)
    journal.record_sent(keys=["before-backup"], at=T - timedelta(minutes=5))
    journal.record_sent(keys=["after-backup"], at=T + timedelta(hours=1))
    journal.record_restore(archive="avis-b.tar.zst", at=T + timedelta(hours=2), directory=folder)
    journal.record_sent(keys=["restored-world"], at=T + timedelta(hours=3))
    (folder / f"{(T + timedelta(hours=3)).date()}.jsonl").open("a").write('{"kind": "sent", "at"')  # torn

    keys = [entry["key"] for entry in journal.entries_since(T, directory=folder)]
    # What a backup begun at T needs: its own history, from a day before it (a send dated before the
    # backup may have been committed after it) up to the next restore.
    assert keys == ["before-backup", "after-backup"]


@pytest.mark.django_db
def test_after_a_recovery_the_journal_erases_again_and_nothing_is_sent_twice(
    org, api, folder, settings
) -> None:
    open_all_day(org.organisation)
    post_interaction(api, "evt-1", customer="C-1")
    message = OutboundMessage.objects.get(kind="invitation")
    customer = Customer.objects.get(external_id="C-1")
    # The database was recovered to 10:00; after that, the customer was erased and the invitation sent.
    recovered_to = timezone.now() - timedelta(hours=1)
    OutboundMessage.objects.filter(id=message.id).update(status="pending", sent_at=None)
    journal.record_erasure(organisation_id=org.organisation.id, customer_id=customer.id, at=timezone.now())
    journal.record_sent(keys=[message.idempotency_key], at=timezone.now() - timedelta(minutes=30))

    call_command("journal", "reapply", "--since", recovered_to.isoformat())

    customer.refresh_from_db()
    assert (customer.external_id, customer.email) == (f"erased-{customer.id}", "")
    settings.AVIS_OUTBOX_STALE_SECONDS = 0
    sweep_outbox()  # books what the journal says left, never posts it
    message.refresh_from_db()
    assert (message.status, message.recipient, message.provider_message_id) == ("sent", "", "")
    assert message.invitation.status == "sent"
