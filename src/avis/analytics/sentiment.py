"""Sentiment learned from an organisation's own comments and the scores given with them.

A word list reads "j'attends toujours mon remboursement depuis 3 semaines" as positive
(no negative word in it). The customers who write such comments, though, also answered
the survey: a comment given with a recommendation score of 6 or less, or with "not
resolved", is evidence of a negative comment; one given with 9 or 10 and "resolved" of a
positive one. From these, a small model (TF-IDF of words and of character n-grams, then a
logistic regression, scikit-learn) is trained offline, on the worker, per organisation,
and stored in the database as plain numbers. Below ``MIN_LABELLED`` scored comments (or
``MIN_PER_SIDE`` of either kind) the word lists of ``verbatims`` stay in use.
See docs/verbatims.md for the method and its limits.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from django.db import transaction
from django.utils import timezone

from avis.accounts.models import Organisation
from avis.analytics.models import SentimentModel
from avis.analytics.verbatims import comment_sentiment, detect_language, sentiment_label
from avis.surveys.models import Answer, Attribution, QuestionKind

# Fewer scored comments than this (or fewer than MIN_PER_SIDE negative or positive ones) and
# the word lists stay: five folds of 100 leave 20 comments to test each model on, and a
# vocabulary learned from fewer comments is mostly the names of agents.
MIN_LABELLED = 100
MIN_PER_SIDE = 20
# The most recent scored comments learned from: enough for a vocabulary, bounded for the worker.
MAX_LABELLED = 20_000
FOLDS = 5
SEED = 2026  # the folds and the solver are reproducible: a retraining on the same data gives the same model

_WORDS: dict[str, Any] = {
    "analyzer": "word",
    "ngram_range": (1, 2),
    "min_df": 2,
    "sublinear_tf": True,
    "strip_accents": "unicode",
    "lowercase": True,
}
# Character n-grams inside words: "remboursé", "remboursement", "rembourser" share "rembours",
# and typos ("toujour", "rembourcement") keep most of their n-grams.
_CHARACTERS: dict[str, Any] = {
    "analyzer": "char_wb",
    "ngram_range": (2, 5),
    "min_df": 2,
    "sublinear_tf": True,
    "strip_accents": "unicode",
    "lowercase": True,
}


@dataclass(frozen=True)
class ScoredComment:
    text: str
    locale: str
    negative: bool


def scored_comments(*, organisation: Organisation, limit: int = MAX_LABELLED) -> list[ScoredComment]:
    """The organisation's comments whose answers say how the customer felt, newest first.

    Negative: the recommendation score is 6 or less, or the problem was not resolved.
    Positive: 9 or 10, and resolved (or no resolution question asked). The others
    (7–8, "partly", no score) teach nothing reliable and are left out.
    """
    texts = list(
        Answer.objects.filter(organisation=organisation, kind=QuestionKind.TEXT)
        .exclude(text="")
        .order_by("-answered_at", "-id")
        .values_list("response_id", "text", "response__locale")[: limit * 2]
    )
    scores: dict[int, int] = {}
    resolutions: dict[int, str] = {}
    for start in range(0, len(texts), 5000):
        batch = [response_id for response_id, _t, _l in texts[start : start + 5000]]
        scores.update(
            Answer.objects.filter(
                organisation=organisation,
                response_id__in=batch,
                kind=QuestionKind.NPS,
                attribution=Attribution.OVERALL,
                number__isnull=False,
            ).values_list("response_id", "number")
        )
        resolutions.update(
            Answer.objects.filter(
                organisation=organisation, response_id__in=batch, attribution=Attribution.RESOLUTION
            )
            .exclude(choice="")
            .values_list("response_id", "choice")
        )
    by_response: OrderedDict[int, tuple[list[str], str]] = OrderedDict()
    for response_id, text, locale in texts:
        by_response.setdefault(response_id, ([], locale))[0].append(text)
    found = []
    for response_id, (parts, locale) in by_response.items():
        score, resolved = scores.get(response_id), resolutions.get(response_id)
        if (score is not None and score <= 6) or resolved == "no":
            negative = True
        elif score is not None and score >= 9 and resolved in (None, "yes"):
            negative = False
        else:
            continue
        found.append(ScoredComment(" ".join(reversed(parts)), locale or "", negative))
        if len(found) == limit:
            break
    return found


def _pipeline() -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    return make_pipeline(
        make_union(TfidfVectorizer(**_WORDS), TfidfVectorizer(**_CHARACTERS)),
        LogisticRegression(C=4.0, class_weight="balanced", max_iter=2000, random_state=SEED),
    )


def _cross_validated(texts: list[str], negative: np.ndarray) -> tuple[float, int]:
    """Accuracy over folds that never split one wording between learning and testing.

    Many customers write the same short comment ("RAS, merci", "nickel"); were the same text
    in both, the test would reward memory. The comments are grouped by their text, lower
    case and without accents, and each group stays in one fold.
    """
    from sklearn.model_selection import StratifiedGroupKFold, cross_val_score

    from avis.analytics.verbatims import normalise

    groups = [normalise(text).strip(" .!") for text in texts]
    folds = min(FOLDS, len(set(groups)))
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=SEED)
    scores = cross_val_score(_pipeline(), texts, negative, groups=groups, cv=splitter, scoring="accuracy")
    return float(np.mean(scores)), folds


def _parameters(fitted: Any) -> dict[str, Any]:
    """The fitted model as plain numbers: each vocabulary with its IDF weights, the coefficients."""
    union, regression = fitted.steps[0][1], fitted.steps[-1][1]
    vectorisers = []
    for _name, vectoriser in union.transformer_list:
        vectorisers.append(
            {
                "vocabulary": {term: int(index) for term, index in vectoriser.vocabulary_.items()},
                "idf": [round(float(x), 6) for x in vectoriser.idf_],
            }
        )
    return {
        "words": vectorisers[0],
        "characters": vectorisers[1],
        "coefficients": [round(float(x), 6) for x in regression.coef_[0]],
        "intercept": float(regression.intercept_[0]),  # classes are [0, 1]: the logit of "negative"
    }


@transaction.atomic
def train_sentiment_model(*, organisation: Organisation, now: datetime | None = None) -> SentimentModel:
    """Learn the organisation's model from its scored comments and store it, replacing the last.

    Runs on the worker (nightly task, ``avis sentiment --train``), never in a request: a few
    seconds for thousands of comments. Below the minimum the stored model is empty, and
    the pages say comments are read with the word lists.
    """
    now = now or timezone.now()
    comments = scored_comments(organisation=organisation)
    texts = [c.text for c in comments]
    negative = np.array([int(c.negative) for c in comments])
    negatives = int(negative.sum())
    fields: dict[str, Any] = {
        "trained_at": now,
        "labelled": len(comments),
        "negatives": negatives,
        "folds": 0,
        "accuracy": None,
        "lexicon_accuracy": None,
        "version": "",
        "parameters": {},
    }
    if comments:
        lexicon_says_negative = np.array(
            [
                sentiment_label(comment_sentiment(c.text, detect_language(c.text, hint=c.locale)))
                == "negative"
                for c in comments
            ]
        )
        fields["lexicon_accuracy"] = float(np.mean(lexicon_says_negative == negative.astype(bool)))
    if len(comments) >= MIN_LABELLED and min(negatives, len(comments) - negatives) >= MIN_PER_SIDE:
        accuracy, folds = _cross_validated(texts, negative)
        parameters = _parameters(_pipeline().fit(texts, negative))
        digest = hashlib.blake2b(
            f"{organisation.id}:{now.isoformat()}:".encode() + json.dumps(parameters["intercept"]).encode(),
            digest_size=8,
        ).hexdigest()
        fields.update(accuracy=accuracy, folds=folds, parameters=parameters, version=digest)
    model, _created = SentimentModel.objects.update_or_create(organisation=organisation, defaults=fields)
    return model


def sentiment_model_of(organisation: Organisation) -> SentimentModel | None:
    return SentimentModel.objects.filter(organisation=organisation).first()


class LearnedSentiment:
    """A stored model, ready to score comments: the probability a comment is negative."""

    def __init__(self, model: SentimentModel) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        parameters = model.parameters
        self.organisation_id = model.organisation_id
        self.version = model.version
        self._vectorisers = []
        for spec, stored in ((_WORDS, parameters["words"]), (_CHARACTERS, parameters["characters"])):
            vectoriser = TfidfVectorizer(**spec)
            vectoriser.vocabulary_ = dict(stored["vocabulary"])
            vectoriser.idf_ = np.asarray(stored["idf"], dtype=float)
            self._vectorisers.append(vectoriser)
        self._coefficients = np.asarray(parameters["coefficients"], dtype=float)
        self._intercept = float(parameters["intercept"])

    def negative_probability(self, texts: list[str]) -> np.ndarray:
        from scipy.sparse import hstack

        features = hstack([vectoriser.transform(texts) for vectoriser in self._vectorisers]).tocsr()
        logits = features @ self._coefficients + self._intercept
        return 1.0 / (1.0 + np.exp(-logits))

    def scores(self, texts: list[str]) -> list[float]:
        """On the lexicon's scale, −1 (surely negative) to 1: 1 − 2·P(negative)."""
        if not texts:
            return []
        return [round(float(1.0 - 2.0 * p), 4) for p in self.negative_probability(texts)]


_LOADED: OrderedDict[str, LearnedSentiment] = OrderedDict()


def learned_sentiment(organisation: Organisation) -> LearnedSentiment | None:
    """The organisation's learned model, or None when its comments are read with the word lists.

    Kept in memory per model version (a few, most recently used), so a page does not rebuild
    the vocabularies; a new training has a new version and is read at the next request.
    """
    found = (
        SentimentModel.objects.filter(organisation=organisation)
        .exclude(version="")
        .values_list("version", flat=True)
        .first()
    )
    if not found:
        return None
    if found not in _LOADED:
        model = SentimentModel.objects.get(organisation=organisation)
        if model.version != found or model.organisation_id != organisation.id:
            return learned_sentiment(organisation)  # retrained meanwhile: read the new one
        _LOADED[found] = LearnedSentiment(model)
        while len(_LOADED) > 8:
            _LOADED.popitem(last=False)
    _LOADED.move_to_end(found)
    return _LOADED[found]
