"""A disaster, rehearsed: backed up while customers answer, crashed in the next backup, restored elsewhere.

avis serves (web and worker) with interactions arriving through the batch API,
invitations leaving by email to a real SMTP server and customers answering on
the respondent page. `avis backup` runs in the middle of it; a customer is
erased afterwards; a second backup is SIGKILLed half-way, with avis itself.
The first archive is restored into a fresh directory (on PostgreSQL, a fresh
database, through pg_dump/pg_restore) and avis is started there.

The mail server refuses for a moment (451, try later) just before the first
backup, so that the backup holds invitations waiting for their retry: they
leave after it, and the restore must find them in the journal, not send them
again. The load stops shortly before the crash so that no message is on the wire
when avis dies: a message a provider took in the very millisecond of a crash
is the one case the outbox leaves to the idempotency key it carries (see
docs/architecture.md). Every other message the first avis sent after the
backup is in the journal beside the backups, and the restored avis must not
send it again.
"""

from __future__ import annotations

import re
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller

from tests.conftest import Mailbox, _Collector
from tests.factories import interaction_payload
from tests.messaging.conftest import wait_for
from tests.operations.conftest import free_port, kill_group

# Not `worker`: each installation runs its own embedded queue, whatever the suite's queue is.
pytestmark = [pytest.mark.slow]

TOKEN = re.compile(r"/s/([A-Za-z0-9_-]{20,})")


class Load:
    """Interactions in by the batch API, answers back through the links the emails carry."""

    def __init__(self, base_url: str, key: str, mailbox: Mailbox) -> None:
        self.base_url, self.key, self.mailbox = base_url, key, mailbox
        self.acknowledged: list[tuple[str, float]] = []  # (interaction external id, when the 200 came)
        self.answered: list[tuple[str, float]] = []  # (token, when the thanks page came)
        self.stopped = threading.Event()
        self.threads = [threading.Thread(target=self._interactions), threading.Thread(target=self._answers)]

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join()

    def _interactions(self) -> None:
        client = httpx.Client(
            base_url=self.base_url, headers={"Authorization": f"Bearer {self.key}"}, timeout=60
        )
        serial = 0
        while not self.stopped.is_set():
            occurred = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
            items = [
                interaction_payload(
                    f"rt-{n}", customer=f"RT-{n}", email=f"rt{n}@example.fr", phone=None, occurred_at=occurred
                )
                for n in range(serial, serial + 10)
            ]
            serial += 10
            reply = client.post("/api/v1/interactions/batch", json={"items": items})
            at = time.monotonic()
            if reply.status_code == 200:
                self.acknowledged += [
                    (r["external_id"], at) for r in reply.json()["results"] if r["status"] == "accepted"
                ]
            time.sleep(0.3)

    def _answers(self) -> None:
        client = httpx.Client(base_url=self.base_url, timeout=60)
        read = 0
        while not self.stopped.is_set():
            mails = self.mailbox.messages[read:]
            read += len(mails)
            for mail in mails:
                found = TOKEN.search(_text(mail))
                if found is None or "invitation" not in (mail["Message-ID"] or ""):
                    continue
                score = str(len(self.answered) % 11)
                reply = client.post(
                    f"/s/{found.group(1)}",
                    data={"nps": score, "resolved": "yes", "agent": "na", "comment": "ok"},
                )
                if reply.status_code == 200:
                    self.answered.append((found.group(1), time.monotonic()))
            time.sleep(0.05)


class _SometimesRefusing(_Collector):
    """A mail server that answers 451 (try later) to invitations while `refusing` is set, and
    remembers what it refused."""

    def __init__(self, box: Mailbox) -> None:
        super().__init__(box)
        self.refusing = threading.Event()
        self.refused: set[str] = set()

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802
        mail = message_from_bytes(envelope.original_content or envelope.content)
        if not self.refusing.is_set() or "invitation" not in (mail["Message-ID"] or ""):
            return await super().handle_DATA(server, session, envelope)
        self.refused.add(re.search(r"<([^@]+)@", mail["Message-ID"]).group(1))
        return "451 4.3.0 Try again later"


def _text(mail) -> str:  # noqa: ANN001
    parts = mail.walk() if mail.is_multipart() else [mail]
    return "".join(p.get_payload(decode=True).decode() for p in parts if p.get_content_type() == "text/plain")


def _keys(mailbox: Mailbox, since: int = 0) -> list[str]:
    """The outbox rows' idempotency keys, which avis puts in each email's Message-ID."""
    return [re.search(r"<([^@]+)@", m["Message-ID"]).group(1) for m in mailbox.messages[since:]]


def _rollups(installation) -> list[tuple]:  # noqa: ANN001
    columns = [c for c in installation.columns("analytics_dailyrollup") if c != "id"]
    return sorted(installation.query(f"SELECT {', '.join(columns)} FROM analytics_dailyrollup"))


def _rollups_equal_a_recomputation(installation) -> None:  # noqa: ANN001
    incremental = _rollups(installation)
    installation.avis("rollups", "--rebuild")
    assert _rollups(installation) == incremental
    assert incremental, "the answers made roll-ups"


def test_restore_after_a_crash_loses_nothing_committed_and_sends_nothing_twice(
    installations, engine_name: str, tmp_path: Path
) -> None:
    mailbox = Mailbox("127.0.0.1", free_port())
    collector = _SometimesRefusing(mailbox)
    smtp = Controller(collector, hostname=mailbox.host, port=mailbox.port)
    smtp.start()
    mail = {
        "AVIS_EMAIL_PROVIDER": "smtp",
        "AVIS_EMAIL_HOST": mailbox.host,
        "AVIS_EMAIL_PORT": str(mailbox.port),
        "AVIS_EMAIL_RATE_LIMIT": "0",
        "AVIS_OUTBOX_STALE_SECONDS": "2",
    }
    source = installations("source")
    source.env_extra.update(mail)
    key = source.set_up()
    port = free_port()
    server = source.start("serve", "--port", str(port), AVIS_BASE_URL=f"http://127.0.0.1:{port}")
    try:
        assert wait_for(lambda: _listening(port), timeout=120), source.log("serve").read_text()[-3000:]
        with Load(f"http://127.0.0.1:{port}", key, mailbox) as load:
            assert wait_for(lambda: len(load.answered) >= 20, timeout=180), (
                len(load.acknowledged),
                len(mailbox.messages),
            )
            # Invitations waiting for their retry when the backup begins (they leave after it).
            collector.refusing.set()
            assert wait_for(lambda: len(collector.refused) >= 3, timeout=120), "nothing was refused"
            time.sleep(1)  # the worker books the refusals
            waiting = set(collector.refused)  # in the outbox, unsent, when the backup begins
            began = time.monotonic()
            done = source.avis("backup")
            ended = time.monotonic()
            collector.refusing.clear()
            assert done.stdout.startswith(str(source.backups)), done.stdout
            # Erased after the backup: the restore must erase the customer again.
            erased = next(external_id for external_id, at in load.acknowledged if at < began)
            erased_customer = "RT-" + erased.removeprefix("rt-")
            reply = httpx.delete(
                f"http://127.0.0.1:{port}/api/v1/customers/{erased_customer}",
                headers={"Authorization": f"Bearer {key}"},
            )
            assert reply.status_code == 200, reply.text
            time.sleep(2)
        # Nothing on the wire any more: the outbox has sent what it had, the refused included.
        assert wait_for(lambda: collector.refused <= set(_keys(mailbox)), timeout=300), (
            collector.refused - set(_keys(mailbox))
        )
        assert wait_for(lambda: _quiet(mailbox), timeout=300)
        second = source.start("backup")
        work = source.backups
        assert wait_for(lambda: any(work.glob(".work-*")), timeout=120, step=0.001), (
            "the second backup never began"
        )
        second.send_signal(signal.SIGKILL)
        kill_group(server)
        second.wait()
    finally:
        kill_group(server)
    assert any(began < at < ended for _, at in load.acknowledged), (
        "interactions kept coming during the backup"
    )

    archives = sorted(source.backups.glob("avis-*.tar.zst"))
    assert len(archives) == 1, archives  # the killed backup left no archive, only its leftovers
    acknowledged_before = {external_id for external_id, at in load.acknowledged if at < began}
    answered_before = {token for token, at in load.answered if at < began}
    sent_before_crash = _keys(mailbox)
    assert len(sent_before_crash) == len(set(sent_before_crash))

    restored = installations("restored")
    restored.env_extra.update(mail)
    done = restored.avis("restore", str(archives[0]))
    reapplied = re.search(r"(\d+) erasures, (\d+) messages already sent", done.stdout)
    assert reapplied, done.stdout
    # The customer erased after the backup, and the invitations sent after it (the journal's work):
    # at least those the mail server had refused until the backup was taken.
    assert int(reapplied.group(1)) == 1
    assert int(reapplied.group(2)) >= len(waiting), done.stdout

    if engine_name == "sqlite":
        assert restored.query("PRAGMA integrity_check") == [("ok",)]
    interactions = {row[0] for row in restored.query("SELECT external_id FROM interactions_interaction")}
    assert acknowledged_before <= interactions
    responded = {
        row[0] for row in restored.query("SELECT token FROM surveys_invitation WHERE status = 'responded'")
    }
    assert answered_before <= responded
    assert not restored.query("SELECT id FROM customers_customer WHERE external_id = ?", (erased_customer,))
    assert restored.query("SELECT email FROM customers_customer WHERE external_id LIKE 'erased-%'") == [("",)]
    _rollups_equal_a_recomputation(restored)

    # avis starts again on the restored data: what left before the crash does not leave again.
    heard = len(mailbox.messages)
    port = free_port()
    server = restored.start("serve", "--port", str(port), AVIS_BASE_URL=f"http://127.0.0.1:{port}")
    try:
        assert wait_for(lambda: _listening(port), timeout=120)
        restored.avis(
            "shell",
            "-c",
            "import time; time.sleep(2.5); from avis.messaging.dispatch import sweep_outbox; sweep_outbox()",
        )
        assert wait_for(
            lambda: (
                not restored.query(
                    "SELECT id FROM messaging_outboundmessage WHERE status IN ('pending', 'sending')"
                )
            ),
            timeout=120,
        ), restored.query(
            "SELECT status, last_error FROM messaging_outboundmessage WHERE status IN ('pending', 'sending')"
        )
        time.sleep(1)  # a duplicate would arrive now
    finally:
        kill_group(server)
        smtp.stop()
    sent_after_restart = _keys(mailbox, since=heard)
    twice = set(sent_after_restart) & set(sent_before_crash)
    journal = "".join(p.read_text() for p in sorted((source.backups / "journal").glob("*.jsonl")))
    assert not twice, (
        sorted(twice),
        archives[0].name,
        [line for line in journal.splitlines() if any(f'"{k}"' in line for k in twice)],
    )
    _rollups_equal_a_recomputation(restored)


def _listening(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/login/", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _quiet(mailbox: Mailbox, seconds: float = 1.5) -> bool:
    heard = len(mailbox.messages)
    time.sleep(seconds)
    return len(mailbox.messages) == heard
