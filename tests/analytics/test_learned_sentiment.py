"""Sentiment learned from an organisation's own scored comments, read where a manager reads it.

The realistic organisation is the demo's Mutuelle Horizon (a small one: 1,500 interactions),
whose comments are written from what each simulated customer lived; its loader trains the
model as the nightly task would.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from avis.analytics import tasks
from avis.analytics.models import SentimentModel
from avis.analytics.sentiment import (
    MIN_LABELLED,
    LearnedSentiment,
    _pipeline,
    learned_sentiment,
    scored_comments,
    train_sentiment_model,
)
from avis.analytics.verbatims import comment_sentiment, sentiment_label
from avis.dashboard.demo.company import MANAGER_EMAIL
from avis.dashboard.demo.generator import DEMO_PASSWORD, LoadReport, drop_demo, load_demo
from avis.surveys.models import Answer, QuestionKind
from tests.analytics.answering import survey_and_answer
from tests.factories import PASSWORD, OrganisationSetup

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")
LOADED_AT = datetime(2026, 12, 2, 9, 30, tzinfo=PARIS)
# The finding: a typical French complaint that the word lists read as positive.
COMPLAINT = "j'attends toujours mon remboursement depuis 3 semaines"


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker) -> Iterator[LoadReport]:  # noqa: ANN001
    with time_machine.travel(LOADED_AT, tick=True), django_db_blocker.unblock():
        report = load_demo(customers=600, interactions=5000, seed=11, barometer=False)
        yield report
        drop_demo(report.organisation)


def manager(client: Client, email: str, password: str) -> Client:
    assert client.login(username=email, password=password)
    return client


def page_text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_demo_learns_and_reads_the_complaint_as_negative_where_the_word_lists_read_it_positive(
    demo: LoadReport,
) -> None:
    model = SentimentModel.objects.get(organisation=demo.organisation)
    assert model.is_learned and model.labelled >= MIN_LABELLED
    assert sentiment_label(comment_sentiment(COMPLAINT, "fr")) == "positive"  # the finding: word lists
    (score,) = learned_sentiment(demo.organisation).scores([COMPLAINT])
    assert score <= -0.05, score
    # And the comments customers really wrote read right: the learned model beats the word lists.
    # (On this small demo, about 115 labelled comments: 0.76 against 0.71 since its sampling draws
    # stopped depending on the organisation's database key; before, as that key changed with the
    # tests run first, it was above 0.8 in some orders and 0.79 against 0.69 in others.)
    assert model.accuracy > 0.7 and model.accuracy > model.lexicon_accuracy + 0.03, (
        model.accuracy,
        model.lexicon_accuracy,
    )


def test_the_stored_model_scores_as_the_fitted_one(demo: LoadReport) -> None:
    """Plain numbers in the database, no pickle: rebuilt, the model gives the fitted model's probabilities."""
    comments = scored_comments(organisation=demo.organisation)
    texts = [c.text for c in comments]
    fitted = _pipeline().fit(texts, [int(c.negative) for c in comments])
    stored = LearnedSentiment(SentimentModel.objects.get(organisation=demo.organisation))
    probe = [*texts[:50], COMPLAINT, "Conseillère adorable, dossier réglé 👍", "rien compris"]
    assert np.allclose(stored.negative_probability(probe), fitted.predict_proba(probe)[:, 1], atol=1e-4)


def test_the_comments_page_reports_the_accuracy_and_finds_the_complaint_among_negative_comments(
    demo: LoadReport, client: Client
) -> None:
    model = SentimentModel.objects.get(organisation=demo.organisation)
    # A customer writes the finding's sentence.
    written = (
        Answer.objects.filter(organisation=demo.organisation, kind=QuestionKind.TEXT)
        .exclude(text="")
        .latest("answered_at")
    )
    before = written.text
    Answer.objects.filter(id=written.id).update(text=COMPLAINT)
    try:
        manager(client, MANAGER_EMAIL, DEMO_PASSWORD)
        shown = page_text(client.get("/analytics/comments/", HTTP_ACCEPT_LANGUAGE="en").content.decode())
        accuracy = round(100 * model.accuracy)
        assert f"Cross-validated accuracy: {accuracy} % ({model.folds} folds, n = {model.labelled})" in shown
        assert f"the word lists on the same comments: {round(100 * model.lexicon_accuracy)} %" in shown
        assert f"Sentiment learned from {model.labelled} of your comments" in shown
        french = page_text(client.get("/analytics/comments/", HTTP_ACCEPT_LANGUAGE="fr").content.decode())
        assert (
            f"Exactitude en validation croisée : {accuracy} % ({model.folds} plis, n = {model.labelled})"
        ) in french
        assert f"Sentiment appris sur {model.labelled} de vos commentaires" in french
        negative = client.get("/analytics/comments/", {"sentiment": "negative", "q": "remboursement"})
        assert COMPLAINT.replace("'", "&#x27;") in negative.content.decode()
        positive = client.get("/analytics/comments/", {"sentiment": "positive", "q": "remboursement"})
        assert COMPLAINT.replace("'", "&#x27;") not in positive.content.decode()
    finally:
        Answer.objects.filter(id=written.id).update(text=before)


def _few_scored(org: OrganisationSetup, count: int) -> None:
    at = timezone.now() - timedelta(days=1)
    comments = [COMPLAINT if i % 2 else "Parfait, merci beaucoup" for i in range(count)]
    survey_and_answer(org, at, [3 if i % 2 else 10 for i in range(count)], comments=comments)


def test_below_the_minimum_the_word_lists_stay_and_the_page_says_why(
    org: OrganisationSetup, client: Client
) -> None:
    _few_scored(org, 12)
    model = train_sentiment_model(organisation=org.organisation)
    assert (model.labelled, model.negatives, model.is_learned) == (12, 6, False)
    assert learned_sentiment(org.organisation) is None
    manager(client, org.manager_email, PASSWORD)
    shown = page_text(client.get("/analytics/comments/", HTTP_ACCEPT_LANGUAGE="en").content.decode())
    assert (
        f"Sentiment read with word lists: 12 of your comments came with a clear score; {MIN_LABELLED}"
    ) in shown
    assert "Cross-validated" not in shown
    # The complaint is scored by the word lists, as before: positive.
    assert f"{comment_sentiment(COMPLAINT, 'fr'):.2f}" in shown


def test_one_organisations_model_never_scores_another_organisations_comments(
    demo: LoadReport, org: OrganisationSetup, client: Client
) -> None:
    """The demo's model reads the complaint negative; the same words in another organisation,
    which has no model of its own, keep the word lists' score, even right after the demo's page."""
    _few_scored(org, 4)
    train_sentiment_model(organisation=org.organisation)
    demo_page = Client()
    manager(demo_page, MANAGER_EMAIL, DEMO_PASSWORD)
    learned = learned_sentiment(demo.organisation)
    (learned_score,) = learned.scores([COMPLAINT])
    demo_page.get("/analytics/comments/", {"q": "remboursement", "sentiment": "negative"})

    manager(client, org.manager_email, PASSWORD)
    other = client.get("/analytics/comments/", {"sentiment": "negative"}).content.decode()
    assert "attends toujours" not in other
    shown = page_text(client.get("/analytics/comments/").content.decode())
    assert f"{comment_sentiment(COMPLAINT, 'fr'):.2f}" in shown
    assert f"{learned_score:.2f}" not in shown


def test_the_command_and_the_nightly_task_train_every_organisation(
    org: OrganisationSetup, other_org: OrganisationSetup
) -> None:
    _few_scored(org, 4)
    out = StringIO()
    call_command("sentiment", "--train", "--organisation", org.organisation.slug, stdout=out)
    assert f"{org.organisation.slug}: 4 scored comments, fewer than {MIN_LABELLED}" in out.getvalue()
    assert not SentimentModel.objects.filter(organisation=other_org.organisation).exists()
    with time_machine.travel(datetime(2026, 12, 3, 2, 41, tzinfo=PARIS), tick=False):
        tasks.train_sentiment_models.call_local()
    trained = dict(SentimentModel.objects.values_list("organisation__slug", "trained_at"))
    assert set(trained) >= {org.organisation.slug, other_org.organisation.slug}
    assert trained[other_org.organisation.slug] == datetime(2026, 12, 3, 2, 41, tzinfo=PARIS)
