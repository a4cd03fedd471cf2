"""Nothing acknowledged is lost or doubled while parts of a several-machine avis fail.

nginx in front of 2 web processes, 3 workers and a scheduler, on a private PostgreSQL and Redis, with a
local SMS gateway: concurrent clients post interactions (one at a time and in batches) and customers' SMS
replies, each retried with the same ids on any error. Meanwhile one web process and one worker are
SIGKILLed (and started again, as systemd would), PostgreSQL and Redis are restarted, a second scheduler is
started. Then every promise is read back from the database and the gateway's log. The counts are printed
(docs/deployment.md, "Proven with real faults", quotes them).

AVIS_FAULTS_INTERACTIONS and AVIS_FAULTS_REPLIES scale the run down for a quick look (defaults: the
issue's 20,000 and 2,000).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import queue
import random
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from tests.cluster import SMS_SECRET, Clients, Cluster, Gateway, gateway_env, missing_servers

# It brings its own PostgreSQL and Redis, whatever DATABASE_URL the suite runs with: ./dev test runs it
# once, in its first step (engine_independent keeps it out of the PostgreSQL step's second run).
pytestmark = [pytest.mark.slow, pytest.mark.engine_independent]

INTERACTIONS = int(os.environ.get("AVIS_FAULTS_INTERACTIONS", "20000"))
REPLIES = int(os.environ.get("AVIS_FAULTS_REPLIES", "2000"))
CLIENTS = 8
BATCH = 100
SINGLES = 0.1  # the share of interactions posted one per request
GRACE = 10.0  # seconds after a fault ends during which a 5xx may still be its doing
TOUCHPOINTS = ["call_center.call", "branch.visit", "claim.settled"]
ANSWERING = 0.2
QUESTIONS = ["0 = pas du tout", "(Oui / En partie / Non)", "accueil", "dire plus"]  # the standard survey's

SET_UP = """
from django.core.management import call_command
call_command("migrate", verbosity=0)
from tests.factories import make_organisation
from tests.helpers import open_all_day
org = make_organisation("Assurances du Centre")
open_all_day(org.organisation)
print("KEY", org.api_key)
"""

# Read back through avis's own code: rule breaches, and whether each unhappy response is in one case.
CHECK = """
import json
from avis.accounts.models import Organisation
from avis.cases.models import CaseEvent, EventKind
from avis.cases.rules import matching_rules
from avis.cases.services import alert_rules_for
from avis.governance.queries import contact_rule_breaches
from avis.surveys.models import Response
org = Organisation.objects.get()
rules = alert_rules_for(organisation=org)
unhappy, in_cases, twice = 0, 0, 0
for response in Response.objects.filter(organisation=org).prefetch_related("answers__question"):
    if not matching_rules(rules, response, list(response.answers.all()), last_unhappy_at=None):
        continue
    unhappy += 1
    opened_or_joined = [EventKind.OPENED, EventKind.JOINED]
    events = CaseEvent.objects.filter(response=response, kind__in=opened_or_joined).count()
    in_cases += events == 1
    twice += events > 1
print("CHECK", json.dumps({
    "breaches": len(contact_rule_breaches(organisation=org)),
    "responses": Response.objects.filter(organisation=org).count(),
    "unhappy": unhappy, "in_one_case": in_cases, "in_several": twice,
}))
"""


def phone(number: int) -> str:
    return f"+3361{number:07d}"


def reply_to(text: str, unhappy: bool, rng: random.Random) -> str | None:
    """What a customer's phone answers to one of the standard survey's questions (None: not a question)."""
    answers = {
        QUESTIONS[0]: str(rng.randint(0, 4) if unhappy else rng.randint(8, 10)),
        QUESTIONS[1]: "Non" if unhappy else "Oui",
        QUESTIONS[2]: "2" if unhappy else "5",
        QUESTIONS[3]: "Trop long, personne ne rappelle" if unhappy else "Parfait",
    }
    return next((answer for question, answer in answers.items() if question in text), None)


def interactions_work(customers: int) -> list[tuple[str, bytes, list[str]]]:
    occurred = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    items = [
        {
            "external_id": f"I-{n}",
            "touchpoint": TOUCHPOINTS[n % len(TOUCHPOINTS)],
            "occurred_at": occurred,
            "customer": {"external_id": f"C-{n % customers}", "phone": phone(n % customers), "locale": "fr"},
            "agent": f"A-{n % 40}",
            "team": "lyon",
        }
        for n in range(INTERACTIONS)
    ]
    singles = int(INTERACTIONS * SINGLES)
    work = [
        ("/api/v1/interactions", json.dumps(item).encode(), [item["external_id"]]) for item in items[:singles]
    ]
    for start in range(singles, INTERACTIONS, BATCH):
        chunk = items[start : start + BATCH]
        work.append(
            (
                "/api/v1/interactions/batch",
                json.dumps({"items": chunk}).encode(),
                [i["external_id"] for i in chunk],
            )
        )
    random.Random(18).shuffle(work)
    return work


def test_nothing_acknowledged_is_lost_or_doubled_when_processes_and_servers_fail() -> None:
    missing = missing_servers()
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{', '.join(missing)} missing (CI=true: a missing server is a failure)")
        pytest.skip(f"{', '.join(missing)} missing")

    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise
    customers = max(1, INTERACTIONS // 5)
    texts: queue.Queue[dict] = queue.Queue()
    gateway = Gateway(on_text=texts.put)
    cluster = Cluster(
        webs=2,
        workers=3,
        env_extra={
            **gateway_env(gateway.url),
            # A message claimed by a worker that died goes back to the others after this long.
            "AVIS_OUTBOX_STALE_SECONDS": "30",
            # API rate limits on (counted in Redis, as in production), far above this load.
            "AVIS_API_RATE_PER_KEY": "1000000",
            "AVIS_API_RATE_PER_ADDRESS": "1000000",
        },
    )
    passed = False
    try:
        cluster.start_servers()
        output = cluster.avis("shell", "-c", SET_UP).stdout
        key = next(line.split()[1] for line in output.splitlines() if line.startswith("KEY "))
        cluster.start_avis()
        api = Clients(cluster.nginx.url, {"Authorization": f"Bearer {key}"})
        sms = Clients(cluster.nginx.url, {})
        work = interactions_work(customers)

        # --- the customers' phones: they answer the questions texted to them, REPLIES answers in all ---
        replies_sent = [0]
        moods: dict[str, bool | None] = {}  # each phone: answers unhappy, happy, or never (None)
        stop_phones = threading.Event()

        def phones() -> None:
            import httpx

            rng = random.Random(20)
            with httpx.Client(timeout=60) as http:
                while not stop_phones.is_set():
                    try:
                        text = texts.get(timeout=0.5)
                    except queue.Empty:
                        continue
                    with lock:
                        if text["to"] not in moods:
                            # A fifth of the customers answer (every question), a third of them unhappy:
                            # enough conversations to spend the REPLIES, most of them to the end.
                            answers = rng.random() < ANSWERING
                            moods[text["to"]] = (rng.random() < 0.3) if answers else None
                        unhappy = moods[text["to"]]
                        answer = None if unhappy is None else reply_to(text["text"], unhappy, rng)
                        if answer is None or replies_sent[0] >= REPLIES:
                            continue
                        replies_sent[0] += 1
                        number = replies_sent[0]
                    body = json.dumps(
                        {"id": f"in-{number}", "from": text["to"], "to": "AVIS", "text": answer}
                    ).encode()
                    signature = hmac.new(SMS_SECRET.encode(), body, hashlib.sha256).hexdigest()
                    sms.send(
                        http,
                        "/hooks/http/inbound",
                        body,
                        [f"in-{number}"],
                        {"Content-Type": "application/json", "X-Signature": signature},
                    )

        lock = threading.Lock()
        phone_threads = [threading.Thread(target=phones, daemon=True) for _ in range(4)]
        for thread in phone_threads:
            thread.start()

        # --- the faults, each at a share of the interactions sent; windows of allowed 5xx ---
        windows: list[tuple[str, float, float]] = []

        def fault(name: str, action) -> None:  # noqa: ANN001
            started = time.monotonic()
            action()
            windows.append((name, started, time.monotonic()))

        def kill_and_restart(role) -> None:  # noqa: ANN001
            role.kill()
            time.sleep(3)  # systemd's RestartSec
            role.start()
            if role.port:
                from tests.cluster import listening, wait_until

                wait_until(lambda: listening(role.port), timeout=60, what=f"{role.name} back")

        def second_scheduler() -> None:
            cluster.schedulers.append(cluster.role("scheduler-1", "scheduler"))
            cluster.schedulers[-1].start()

        plan = [
            (0.10, "SIGKILL web-0", lambda: kill_and_restart(cluster.webs_[0])),
            (0.25, "SIGKILL worker-0", lambda: kill_and_restart(cluster.workers_[0])),
            (0.40, "restart PostgreSQL", lambda: cluster.postgres.restart("fast")),
            (0.55, "SIGKILL Redis, down 2 s", lambda: cluster.redis.restart(down=2)),
            (0.70, "start a second scheduler", second_scheduler),
        ]
        pending = list(plan)
        faults_lock = threading.Lock()

        def progress(done: int) -> None:
            with faults_lock:
                while pending and done >= pending[0][0] * len(work):
                    _, name, action = pending.pop(0)
                    threading.Thread(target=fault, args=(name, action)).start()

        started = time.monotonic()
        api.run(work, threads=CLIENTS, progress=progress)
        load_ended = time.monotonic()
        # Every fault is over (the last ones may still be under way when the last request returns).
        while len(windows) < len(plan):
            time.sleep(0.2)
        faults_ended = max(end for _, _, end in windows)

        # --- after the faults: the replies are answered, every due message is sent ---
        deadline = time.monotonic() + 240
        while replies_sent[0] < REPLIES and time.monotonic() < deadline:
            time.sleep(0.5)
        drained_after = None
        while time.monotonic() < deadline:
            waiting = cluster.postgres.query(
                "SELECT count(*) FROM messaging_outboundmessage WHERE status IN ('pending', 'sending') "
                "AND not_before <= now()"
            )[0][0]
            unhandled = cluster.postgres.query(
                "SELECT count(*) FROM messaging_inboundmessage WHERE interpretation IN ('', '…')"
            )[0][0]
            if waiting == 0 and unhandled == 0 and texts.empty():
                drained_after = time.monotonic() - load_ended
                break
            time.sleep(1)
        stop_phones.set()
        # No new period from here: the schedulers stop, the workers finish what was enqueued.
        for scheduler in cluster.schedulers:
            scheduler.stop()
        for _ in range(60):
            if not cluster.postgres.query("SELECT 1 FROM operations_periodicrun WHERE finished_at IS NULL"):
                break
            time.sleep(0.5)

        # --- read everything back ---
        stored = Counter(
            dict(
                cluster.postgres.query(
                    "SELECT external_id, count(*) FROM interactions_interaction GROUP BY 1"
                )
            )
        )
        by_key = Counter(text["key"] for text in gateway.received)
        invitations = cluster.postgres.query(
            "SELECT m.idempotency_key, m.status FROM messaging_outboundmessage m WHERE m.kind = 'invitation'"
        )
        invitation_keys = {k for k, _ in invitations}
        per_invitation = cluster.postgres.query(
            "SELECT invitation_id, count(*) FROM messaging_outboundmessage WHERE kind = 'invitation' "
            "GROUP BY 1 HAVING count(*) > 1"
        )
        due_unsent = cluster.postgres.query(
            "SELECT count(*) FROM messaging_outboundmessage WHERE status IN ('pending', 'sending') "
            "AND not_before <= now()"
        )[0][0]
        checked = json.loads(
            next(
                line.split(" ", 1)[1]
                for line in cluster.avis("shell", "-c", CHECK).stdout.splitlines()
                if line.startswith("CHECK ")
            )
        )
        # The periodic tasks: one row per task and period (the scheduler enqueues it once, whichever
        # scheduler holds the lock); the worker that ran it wrote when it finished.
        runs = cluster.postgres.query(
            "SELECT task, period, count(*), count(finished_at), count(*) FILTER (WHERE outcome = 'done') "
            "FROM operations_periodicrun GROUP BY 1, 2 ORDER BY 2"
        )
        every_minute = [r for r in runs if r[0].endswith(("sweep_outbox", "tend_conversations"))]
        periods = sorted({r[1] for r in every_minute})
        server_errors = [a for a in api.attempts + sms.attempts if a.status >= 500 or a.status == 0]
        outside = [
            a for a in server_errors if not any(start <= a.at <= end + GRACE for _, start, end in windows)
        ]
        after = [a for a in server_errors if a.at > faults_ended + GRACE]
        counts = {
            "interactions sent": INTERACTIONS,
            "requests": len(work),
            "attempts": len(api.attempts),
            "acknowledged": len(api.acknowledged),
            "retried then acknowledged": len(api.retried),
            "stored": sum(stored.values()),
            "stored twice": sum(1 for n in stored.values() if n > 1),
            "SMS replies acknowledged": len(sms.acknowledged),
            "texts at the gateway": len(gateway.received),
            "invitations at the gateway": sum(1 for k in by_key if k in invitation_keys),
            "texts received twice": sum(1 for n in by_key.values() if n > 1),
            "texts posted again with the same key (not delivered again)": len(gateway.resent),
            "due and unsent": due_unsent,
            "drained after load (s)": None if drained_after is None else round(drained_after, 1),
            "5xx or no answer": len(server_errors),
            "5xx outside faults": len(outside),
            "5xx after faults": len(after),
            "load (s)": round(load_ended - started, 1),
            "periodic runs": len(runs),
            "minutes with the per-minute sweeps": len(periods),
            "periodic runs enqueued twice": sum(1 for r in runs if r[2] > 1),
            "periodic runs not finished": sum(1 for r in runs if r[3] < r[2]),
            "periodic runs failed": sum(1 for r in runs if r[4] < r[3]),
            **checked,
        }
        print("\nfault test counts: " + json.dumps(counts, indent=1))
        print("faults: " + ", ".join(f"{n} at {s - started:.1f}-{e - started:.1f} s" for n, s, e in windows))

        assert api.refused == [] and sms.refused == [], (api.refused[:5], sms.refused[:5])
        assert len(api.acknowledged) == INTERACTIONS
        assert set(stored) == api.acknowledged  # every acknowledged one stored, and only those
        assert max(stored.values()) == 1  # ...exactly once, retried or not
        assert len(sms.acknowledged) == REPLIES
        assert counts["texts received twice"] == 0, [k for k, n in by_key.items() if n > 1][:10]
        # A text posted again carries its first post's key: a worker died (or PostgreSQL restarted)
        # between posting it and recording the send, so the sweep gave it to another worker.
        resent_late = [
            t
            for t in gateway.resent
            if not any(start <= gateway.accepted[t["key"]]["at"] <= end + GRACE for _, start, end in windows)
        ]
        assert resent_late == [], [
            (t["key"], gateway.accepted[t["key"]]["at"] - started) for t in resent_late
        ]
        assert per_invitation == []  # one message per invitation, never a second one
        assert due_unsent == 0 and drained_after is not None, cluster.logs()
        assert checked["breaches"] == 0
        assert checked["unhappy"] > 0 and checked["in_one_case"] == checked["unhappy"], checked
        # Each per-minute sweep ran once in every minute from the first to the last, never twice.
        assert len(periods) >= 2
        minutes = int((periods[-1] - periods[0]).total_seconds() // 60) + 1
        for task in ("sweep_outbox", "tend_conversations"):
            mine = [r for r in every_minute if r[0].endswith(task)]
            assert len(mine) == minutes, (task, [r[1] for r in mine])
        assert all(r[2] == 1 and r[3] == 1 for r in runs), [r for r in runs if r[2] != 1 or r[3] != 1]
        assert outside == [] and after == [], [(a.at - started, a.status) for a in outside + after][:20]
        passed = True
    finally:
        cluster.stop(keep=not passed)
        gateway.close()
