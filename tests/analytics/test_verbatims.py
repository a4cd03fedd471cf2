"""What a manager reads about each comment: language, sentiment, topics, and no personal data."""

from __future__ import annotations

import json
from importlib.resources import files

import pytest

from avis.analytics.verbatims import (
    TOPICS,
    analyse_comment,
    analyse_comments,
    comment_sentiment,
    comment_topics,
    detect_language,
    mask_personal_data,
    sentiment_label,
)

FRENCH = [
    "Une heure d'attente au téléphone, personne ne rappelle, c'est scandaleux !",
    "Conseillère très aimable et efficace, merci 😀",
    "pas content du tout, le conseiller était nul",
    "jai attendu 45 min pr rien, conseiler incompetent",  # typos, no accents
    "Tres bien merci",
    "le site ne marche jamais, appli qui plante",
    "Service au top 👍",
    "Rien à dire, parfait.",
    "trop d'attente, les frais sont abusifs",
]
ENGLISH = [
    "Waited an hour on hold, nobody called back. Unacceptable!",
    "Very polite and helpful agent, thanks 😀",
    "The app keeps crashing",
    "they charged me twice and no refund yet",
    "Problem fixed quickly, great service",
    "rude and useless, never again",
]


@pytest.mark.parametrize("text", FRENCH)
def test_french_comments_are_read_as_french(text) -> None:
    assert detect_language(text) == "fr"
    assert detect_language(text, hint="en") == "fr"  # the words outweigh the respondent's locale


@pytest.mark.parametrize("text", ENGLISH)
def test_english_comments_are_read_as_english(text) -> None:
    assert detect_language(text) == "en"
    assert detect_language(text, hint="fr") == "en"


def test_a_comment_without_words_takes_the_respondents_language() -> None:
    assert detect_language("👍", hint="en") == "en"
    assert detect_language("OK", hint="fr-FR") == "fr"


@pytest.mark.parametrize(
    "text",
    [
        "Une heure d'attente au téléphone, personne ne rappelle, c'est scandaleux !",
        "pas content du tout, le conseiller était nul",
        "jai attendu 45 min pr rien, conseiler incompetent",
        "Je ne suis pas satisfait",
        "trop d'attente, les frais sont abusifs",
        "le site ne marche jamais, appli qui plante",
        "On m'a promis de me rappeler et personne ne l'a fait",
        "Très déçue, dossier perdu 2 fois 😡",
        "😡😡",
    ],
)
def test_clearly_unhappy_french_comments_are_negative(text) -> None:
    assert sentiment_label(comment_sentiment(text)) == "negative"
    assert comment_sentiment(text, "fr") <= -0.05


@pytest.mark.parametrize(
    "text",
    [
        "Conseillère très aimable et efficace, merci 😀",
        "Service impeccable, problème réglé rapidement",
        "Rien à dire, parfait.",
        "Tres bien merci",
        "Service au top 👍",
        "Peu d'attente et une réponse précise.",
    ],
)
def test_happy_french_comments_are_positive(text) -> None:
    assert analyse_comment(text).sentiment_label == "positive"


def test_english_comments_are_scored_with_the_english_lexicon() -> None:
    assert comment_sentiment("Waited an hour on hold, nobody called back. Unacceptable!") < -0.3
    assert comment_sentiment("rude and useless, never again", "en") < -0.3
    assert comment_sentiment("The app keeps crashing") < 0
    assert comment_sentiment("Very polite and helpful agent, thanks 😀") > 0.5
    assert comment_sentiment("👍", "en") > 0


def test_sentiment_is_a_compound_score_between_minus_one_and_one() -> None:
    for text in FRENCH + ENGLISH + ["", "   ", "NUL NUL NUL !!!!!"]:
        assert -1.0 <= comment_sentiment(text) <= 1.0
    assert comment_sentiment("") == 0.0


def test_topics_name_what_the_customer_talks_about() -> None:
    assert comment_topics("Une heure d'attente, et personne ne répond au téléphone") == (
        "waiting_time",
        "reachability",
    )
    assert set(comment_topics("Conseillère très aimable mais incompétente")) == {"politeness", "competence"}
    assert comment_topics("On m'avait promis un rappel sous 48h") == ("callback",)
    assert comment_topics("Les frais de dossier sont trop chers") == ("price_fees", "paperwork")
    assert comment_topics("l'appli plante à chaque connexion") == ("digital",)
    assert comment_topics("Probleme regle en 5 minutes") == ("waiting_time", "resolution")  # no accents
    assert comment_topics("They charged me twice and nobody called me back", "en") == (
        "price_fees",
        "callback",
    )
    assert comment_topics("Nobody called back, I was on hold for ages", "en") == ("waiting_time", "callback")
    assert comment_topics("The website login never works", "en") == ("digital",)
    assert comment_topics("Merci 😀") == ()


def test_topics_are_data_with_a_label_and_keywords_in_each_language() -> None:
    lexicons = json.loads(files("avis.analytics").joinpath("verbatims_lexicons.json").read_text())
    assert set(TOPICS) >= {
        "waiting_time",
        "politeness",
        "competence",
        "resolution",
        "price_fees",
        "reachability",
        "digital",
        "paperwork",
        "callback",
    }
    for spec in lexicons["topics"].values():
        assert spec["label"]["fr"] and spec["label"]["en"]
        assert spec["fr"] and spec["en"]
    for word in lexicons["sentiment"]["fr"]:
        assert word.isascii(), "vaderSentiment_fr looks words up without accents"


@pytest.mark.parametrize(
    "text, secret",
    [
        ("Rappelez-moi au 06 12 34 56 78 svp", "56 78"),
        ("mon numéro : 0612345678", "0612345678"),
        ("joignable au 06.12.34.56.78 le matin", "34.56"),
        ("tel 06-12-34-56-78", "34-56"),
        ("+33 6 12 34 56 78", "12 34"),
        ("+33 (0)6 12 34 56 78", "12 34"),
        ("0033612345678", "612345678"),
        ("fixe 01 42 68 53 00", "68 53"),
        ("call me on +44 7911 123456", "123456"),
        ("my cell is (415) 555-2671", "555-2671"),
        ("+1 415-555-2671 after 6pm", "555-2671"),
        ("numéro belge +32 470 12 34 56", "470 12"),
        ("écrivez à marie.dupont+avis@example.fr merci", "marie.dupont"),
        ("JEAN_Martin@Mail.Example.COM", "Example"),
        ("ma carte 4970 1012 3456 7890 a été débitée deux fois", "3456"),
        ("carte 4111-1111-1111-1111", "1111"),
        ("card 4111111111111111 charged twice", "4111111111111111"),
        ("amex 378282246310005", "378282246310005"),
    ],
)
def test_phone_numbers_emails_and_card_numbers_never_show(text, secret) -> None:
    masked = mask_personal_data(text)
    assert secret not in masked
    assert "hidden" in masked


def test_masking_keeps_the_rest_of_the_comment_readable() -> None:
    masked = mask_personal_data(
        "Appelez le 06 12 34 56 78 ou écrivez à paul@example.com, dossier du 12/03/2026"
    )
    assert masked == "Appelez le [phone number hidden] ou écrivez à [email hidden], dossier du 12/03/2026"
    for harmless in [
        "J'ai attendu 45 minutes, 3 appels en 2 jours",
        "facture de 1250,00 € du 12/03/2026 à 14h30",
        "contrat n° 12345678901234",  # 14 digits, no grouping, fails Luhn: a reference, not a card
    ]:
        assert mask_personal_data(harmless) == harmless


def test_many_comments_are_analysed_once_and_then_read_from_the_cache(settings) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    comments = [(1, FRENCH[0], "fr"), (2, ENGLISH[0], "en")]
    first = analyse_comments(comments)
    again = analyse_comments(comments)
    assert first == again
    assert first[1].language == "fr"
    assert first[1].sentiment_label == "negative"
    assert "waiting_time" in first[2].topics
