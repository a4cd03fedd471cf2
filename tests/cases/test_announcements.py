"""A burst of unhappy answers wakes the worker twice, not once per answer, and every case is
announced (cases.services._announce_later, queue.Coalescing)."""

from __future__ import annotations

import pytest

from avis.cases.models import Case, CaseEvent
from avis.cases.services import announcement_wakes
from avis.messaging.models import MessageKind, OutboundMessage
from avis.queue import Coalescing
from avis.surveys.models import Invitation
from tests.helpers import answer, open_all_day, post_interaction


class Clock:
    """The coalescing's own clock, set by the test: the burst's timing does not hang on the machine."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_first_wake_up_of_a_quiet_spell_goes_at_once_the_rest_of_the_window_once_at_its_end() -> None:
    clock = Clock()
    wakes = Coalescing(window=1.0, clock=clock)
    asked: list[float] = []
    for at in (0.0, 0.25, 0.5, 0.99, 1.0, 1.2, 3.0):
        clock.now = 1000.0 + at
        wakes.wake(asked.append, what="a test")
    # 0: at once; 0.25: the run at the window's end (0.75 s later); 0.5, 0.99: nothing more;
    # 1.0: a new window, at once; 1.2: its end; 3.0: at once.
    assert asked == [0.0, pytest.approx(0.75), 0.0, pytest.approx(0.8), 0.0]
    # Tasks run inline (tests, AVIS_HUEY_IMMEDIATE): nothing would run later, so each goes at once.
    inline: list[float] = []
    for _ in range(3):
        wakes.wake(inline.append, what="a test", inline=True)
    assert inline == [0.0, 0.0, 0.0]


@pytest.mark.django_db(transaction=True)
def test_a_burst_of_unhappy_answers_wakes_the_worker_twice_and_every_case_is_announced(
    org, api, real_queue, monkeypatch
) -> None:
    open_all_day(org.organisation, quarantine_days=0)
    real_queue.immediate = True  # the invitations' own tasks inline
    for i in range(4):
        post_interaction(api, f"burst-{i}", customer=f"B-{i}")
    real_queue.immediate = False
    real_queue.flush()
    clock = Clock()
    monkeypatch.setattr(announcement_wakes, "clock", clock)
    announcement_wakes.forget()
    tokens = list(Invitation.objects.order_by("id").values_list("token", flat=True))

    for token in tokens[:3]:  # three customers unhappy within half a second
        assert answer(token, nps="2", comment="Toujours en panne.").status_code == 200
        clock.now += 0.15
    assert Case.objects.count() == 3
    # The first answer's wake-up at once; the next two share one run, due at the window's end
    # (Huey queues it with its time; the worker keeps it until then).
    first, later = sorted(real_queue.pending(), key=lambda task: task.eta is not None)
    assert first.eta is None
    assert later.eta is not None and real_queue.pending_count() == 2
    notifications = OutboundMessage.objects.filter(kind=MessageKind.NOTIFICATION)
    assert not notifications.exists()  # the respondents did not wait for the e-mails

    # The worker runs the first: it finds all three (each committed before it ran).
    assert real_queue.execute(first) == 3
    assert not CaseEvent.objects.filter(to_announce=True).exists()
    assert notifications.count() >= 3
    # The one due at the window's end finds nothing left, and announces nothing twice.
    assert real_queue.execute(later, timestamp=later.eta) == 0

    # A second later the spell is quiet again: the next unhappy answer wakes the worker at once.
    clock.now += 1.0
    real_queue.flush()
    assert answer(tokens[3], nps="1", comment="Rien ne marche.").status_code == 200
    (alone,) = real_queue.pending()
    assert alone.eta is None
    assert real_queue.execute(alone) == 1
