"""The respondent's submit path does only what the thank-you page and the closed loop need.

Statement counts (SQLite and PostgreSQL): the page is one read; a happy answer is that read,
the claim of the invitation, the response, its answers, the roll-up ledgers and one roll-up
upsert (on PostgreSQL one statement, with no transaction); an unhappy one adds its case.
Before issue 20: 3 for the page, 30 and 45 for the answers.
"""

from __future__ import annotations

import gzip
from datetime import timedelta
from email.utils import parsedate_to_datetime

import pytest
from django.db import DataError, connection, transaction
from django.test import Client
from django.utils import timezone

from avis.analytics.models import DailyRollup
from avis.cases.models import Case
from avis.messaging.models import MessageKind, OutboundMessage
from avis.surveys.models import Answer, Invitation, InvitationStatus, Response
from avis.surveys.queries import invitation_for_token, version_questions
from avis.surveys.services import _claim_and_store, _unsaved_answer
from tests.helpers import open_all_day, post_interaction

pytestmark = pytest.mark.django_db(transaction=True)

HAPPY = {"nps": "9", "resolved": "yes", "agent": "5"}
UNHAPPY = {"nps": "2", "resolved": "no", "agent": "3", "comment": "Toujours en panne."}


def _tokens(org, api, n: int) -> list[str]:  # noqa: ANN001
    open_all_day(org.organisation, quarantine_days=0)
    for i in range(n):
        post_interaction(api, f"evt-{i}", customer=f"C-{i}")
    return list(Invitation.objects.order_by("id").values_list("token", flat=True))


def test_a_happy_answer_costs_one_read_and_one_write(org, api, django_assert_max_num_queries) -> None:
    first, token = _tokens(org, api, 2)
    client = Client()
    client.post(f"/s/{first}", HAPPY)  # the version's questions and the rules are now cached
    with django_assert_max_num_queries(1):
        assert client.get(f"/s/{token}").status_code == 200
    # 8: BEGIN, the claim, the response, its answers, the two roll-up ledgers, the roll-up upsert,
    # COMMIT — the answer takes the row its page read (ShownInvitations). On PostgreSQL 1: the
    # claim, the response, its answers, the ledgers and the upsert are one statement, with no
    # transaction around it (5 before: the read, the roll-ups a statement of their own, in a
    # transaction). An invitation no barometer wave drew (not ``sampled``) looks no sampled case up.
    with django_assert_max_num_queries(8 if connection.vendor == "sqlite" else 1):
        page = client.post(f"/s/{token}", HAPPY)
    assert page.status_code == 200
    assert Invitation.objects.get(token=token).status == InvitationStatus.RESPONDED
    assert Response.objects.count() == 2
    assert not Case.objects.exists()
    assert sum(DailyRollup.objects.values_list("nps_promoters", flat=True)) == 2


@pytest.mark.django_db  # in the test's transaction: what runs once the answer commits never runs
def test_an_unhappy_answer_opens_its_case_before_the_thank_you_page(
    org, api, django_assert_max_num_queries
) -> None:
    first, token = _tokens(org, api, 2)
    client = Client()
    client.post(f"/s/{first}", UNHAPPY)  # another customer's case: the calendar and the ladder read
    # No page shown first (an answer sent from an e-mail's form, or from another process): the
    # answer reads its invitation.
    # 13: the happy answer's 9, and its case: the customer lock, the customer's open case, the
    # case (assigned before it is written), its events. The rules, the calendar and the ladder
    # are kept per process (avis/kept.py); the customer's last unhappy answer is read only for a
    # repeat-contact rule. 28 before the case's announcements (managers' e-mails, webhooks) went
    # to the worker, once the answer is committed; 17 before this. On PostgreSQL 6 (in the test's
    # transaction, BEGIN and COMMIT are a savepoint and its release): the read, the happy answer's
    # one statement, the customer's lock, and one statement that looks the customer's open case up
    # and, finding none, writes the case and its events (8 before, the last three apart).
    with django_assert_max_num_queries(13 if connection.vendor == "sqlite" else 6):
        page = client.post(f"/s/{token}", UNHAPPY)
    assert page.status_code == 200
    case = Case.objects.get(response__invitation__token=token)
    assert sum(DailyRollup.objects.values_list("nps_detractors", flat=True)) == 2
    assert not OutboundMessage.objects.filter(kind=MessageKind.NOTIFICATION).exists()
    assert case.events.get(kind="opened").to_announce


def test_an_answer_after_its_page_refuses_an_invitation_answered_cancelled_or_expired_meanwhile(
    org, api
) -> None:
    """The answer takes the row its page read (queries.ShownInvitations), but whether the
    invitation can still be answered is the claim's to say, at the moment of the answer."""
    answered, cancelled, expired, fine = _tokens(org, api, 4)
    respondent = Client(headers={"Accept-Language": "fr"})
    for token in (answered, cancelled, expired, fine):
        assert respondent.get(f"/s/{token}").status_code == 200  # each page shown, its row kept
    assert Client().post(f"/s/{answered}", HAPPY).status_code == 200  # answered in another tab
    Invitation.objects.filter(token=cancelled).update(status=InvitationStatus.CANCELLED)
    Invitation.objects.filter(token=expired).update(expires_at=timezone.now() - timedelta(minutes=1))

    used = respondent.post(f"/s/{answered}", UNHAPPY)
    assert used.status_code == 410
    assert "Vous avez déjà répondu" in used.content.decode()
    for token in (cancelled, expired):
        closed = respondent.post(f"/s/{token}", UNHAPPY)
        assert closed.status_code == 410
        assert "Cette enquête est close" in closed.content.decode()
    assert respondent.post(f"/s/{fine}", UNHAPPY).status_code == 200
    assert respondent.post(f"/s/{fine}", UNHAPPY).status_code == 410  # taken once: read again, used

    assert sorted(Response.objects.values_list("invitation__token", flat=True)) == sorted([answered, fine])
    assert Answer.objects.filter(response__invitation__token=answered, question__code="nps").get().number == 9
    assert Case.objects.get().response.invitation.token == fine


def test_the_page_comes_compressed_to_a_browser_that_accepts_gzip(org, api) -> None:
    """Both pages a respondent sees, the questions (as sent, or with the e-mail's score chosen) and
    the thank-you page; the kept pages' copies were compressed once (respondent_page.page_response)."""
    first, token = _tokens(org, api, 2)
    gzipping = Client(headers={"Accept-Encoding": "gzip, deflate, br"})
    for path in (f"/s/{first}", f"/s/{token}", f"/s/{token}?nps=9"):
        plain = Client().get(path)
        packed = gzipping.get(path)
        assert "Content-Encoding" not in plain
        assert packed["Content-Encoding"] == "gzip"
        assert "Accept-Encoding" in packed["Vary"]
        assert gzip.decompress(packed.content) == plain.content
        assert len(packed.content) < len(plain.content) / 2
    assert 'value="9" checked' in plain.content.decode()
    thanks = gzipping.post(f"/s/{first}", HAPPY)
    assert thanks["Content-Encoding"] == "gzip"
    assert gzip.decompress(thanks.content) == Client().post(f"/s/{token}", HAPPY).content


def test_no_respondent_page_is_kept_by_a_browser_or_a_proxy(org, api) -> None:
    """The page, the thank-you page and the pages that refuse an answer carry what Django's
    ``never_cache`` writes (avis.http.never_cached writes it without parsing)."""
    (token,) = _tokens(org, api, 1)
    client = Client(headers={"Accept-Encoding": "gzip"})
    before = timezone.now().replace(microsecond=0)
    pages = [client.get(f"/s/{token}"), client.post(f"/s/{token}", HAPPY), client.post(f"/s/{token}", HAPPY)]
    pages.append(client.get("/s/unknown-token"))
    assert [page.status_code for page in pages] == [200, 200, 410, 404]
    for page in pages:
        assert page["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"
        assert parsedate_to_datetime(page["Expires"]) >= before


def test_bad_input_gets_a_clear_page_in_the_respondents_language_and_nothing_is_stored_twice(
    org, api
) -> None:
    """Out of range, replayed, expired, unknown and malformed tokens; the double submit of a double
    click is test_single_response's."""
    used, expired, token = _tokens(org, api, 3)
    client = Client()

    out_of_range = client.post(f"/s/{token}", {"nps": "11", "resolved": "yes"})
    assert out_of_range.status_code == 422
    assert "Merci de choisir un nombre de 0 à 10." in out_of_range.content.decode()
    assert not Response.objects.exists()
    assert Invitation.objects.get(token=token).status != InvitationStatus.RESPONDED  # still open

    assert client.post(f"/s/{used}", HAPPY).status_code == 200
    replayed = client.post(f"/s/{used}", UNHAPPY)
    assert replayed.status_code == 410
    assert "Vous avez déjà répondu" in replayed.content.decode()

    Invitation.objects.filter(token=expired).update(expires_at=timezone.now() - timedelta(minutes=1))
    for method in (client.get, client.post):
        closed = method(f"/s/{expired}", HAPPY) if method == client.post else method(f"/s/{expired}")
        assert closed.status_code == 410
        assert "Cette enquête est close" in closed.content.decode()

    # No invitation, so no customer's language: the browser's.
    french_browser = Client(headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    for wrong in (token[:-1] + ("A" if token[-1] != "A" else "B"), "x", "%00'; DROP TABLE", "é" * 40):
        unknown = french_browser.post(f"/s/{wrong}", HAPPY)
        assert unknown.status_code == 404
        assert "Lien non reconnu" in unknown.content.decode()

    assert Response.objects.count() == 1
    assert not Case.objects.exists()


def test_the_invitation_read_from_sql_built_once_is_the_one_the_orm_reads(
    org, api, django_assert_num_queries
) -> None:
    """avis/compiled.py: the page's read, its SQL built once per process, gives the same rows."""
    (token,) = _tokens(org, api, 1)
    related = ("version", "organisation", "touchpoint", "interaction")
    expected = Invitation.objects.select_related(*related).get(token=token)
    for _ in range(2):  # built, then reused
        found = invitation_for_token(token)
        with django_assert_num_queries(0):  # what it read, it read: no column loaded afterwards
            for instance, orm in [(found, expected)] + [
                (getattr(found, r), getattr(expected, r)) for r in related
            ]:
                assert type(instance) is type(orm)
                read = [
                    f.attname
                    for f in orm._meta.concrete_fields
                    if f.attname not in instance.get_deferred_fields()
                ]
                assert [getattr(instance, f) for f in read] == [getattr(orm, f) for f in read]
    # Only the columns the page and its answer use (RESPONDENT_COLUMNS): not, say, the interaction's
    # attributes, a JSON document of the caller's that the page never shows.
    assert "attributes" in found.interaction.get_deferred_fields()
    assert invitation_for_token(token[::-1]) is None


@pytest.mark.skipif(connection.vendor == "sqlite", reason="SQLite keeps any length in a varchar column")
def test_a_value_too_long_for_its_column_is_refused_not_cut(org, api) -> None:
    """The one statement that stores an answer on PostgreSQL casts its values to their columns'
    types; a cast to varchar(40) would cut a longer choice silently, where an INSERT refuses it."""
    (token,) = _tokens(org, api, 1)
    invitation = invitation_for_token(token)
    question = next(q for q in version_questions(invitation.version) if q.code == "resolved")
    now = timezone.now()
    response, (long_choice,) = _unsaved_answer(invitation, [(question, {"choice": "x" * 41})], now=now)
    with pytest.raises(DataError), transaction.atomic():
        _claim_and_store(invitation.pk, response, [long_choice], now=now)
    assert not Answer.objects.exists()
