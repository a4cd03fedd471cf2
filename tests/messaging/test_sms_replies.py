"""Inbound SMS replies read the way customers type them (the rules are in sms_replies' docstring).

Rows marked "naive" are the ones a substring search, an int() on the message, or a "starts
with a digit" rule gets wrong.
"""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from avis.messaging.sms_replies import SCALES, QuestionKind, parse_reply


def row(
    text: str,
    question: QuestionKind,
    kind: str,
    value: int | str | None = None,
    comment: str = "",
    *,
    na: bool = False,
) -> object:
    return pytest.param(
        text, question, na, (kind, value, comment), id=f"{question}{'+na' if na else ''}:{text}"
    )


REPLIES = [
    # --- Keywords, whatever the question -----------------------------------------------------
    row("STOP", "nps", "opt_out"),
    row("STOP!!", "nps", "opt_out"),
    row("Stop.", "choice", "opt_out"),
    row(" arrêt ", "csat", "opt_out"),
    row("ARRET", "nps", "opt_out"),
    row("Arrête", "nps", "opt_out"),
    row("STOP SMS", "nps", "opt_out"),
    row("stop sms merci", "nps", "opt_out"),
    row("STOPALL", "nps", "opt_out"),
    row("UNSUBSCRIBE", "text", "opt_out"),
    row("Désabonner", "nps", "opt_out"),
    row("DESABONNER", "nps", "opt_out"),
    row("desinscrire", "choice", "opt_out"),
    row("Stooop", "nps", "opt_out"),
    row("S.T.O.P", "nps", "opt_out"),
    row("Stop svp", "nps", "opt_out"),  # polite words around STOP: still an opt-out
    row("STOP merci", "choice", "opt_out"),
    row("Stop s'il vous plaît", "nps", "opt_out"),
    row("Stop les SMS svp", "nps", "opt_out"),
    row("Non merci, stop", "choice", "opt_out"),  # naive: reads "non" as the answer
    row("Please stop, thanks", "nps", "opt_out"),
    row("Très bien. STOP", "nps", "opt_out", comment="Très bien"),  # naive: whole-message match misses it
    row("9 STOP", "nps", "opt_out", comment="9"),  # naive: records a 9 and keeps texting
    row("STOP je ne veux plus de messages", "nps", "opt_out", comment="je ne veux plus de messages"),
    row("Merci de ne plus m'envoyer de SMS", "nps", "opt_out", comment="Merci de ne plus m'envoyer de SMS"),
    row(
        "Arrêtez de m'envoyer des messages", "choice", "opt_out", comment="Arrêtez de m'envoyer des messages"
    ),
    row("Please stop texting me", "nps", "opt_out", comment="Please stop texting me"),
    row("Cancel", "nps", "opt_out"),
    row("START", "nps", "opt_in"),
    row("unstop", "nps", "opt_in"),
    row("HELP", "nps", "help"),
    row("Aide", "choice", "help"),
    row("aide svp", "nps", "help"),
    row("INFO", "nps", "help"),
    row("?", "nps", "help"),
    row("STOP HELP", "nps", "opt_out"),  # opt-out wins
    # naive: "arret" is a substring of "arrête", "stop" of "stopper"
    row("je ne veux pas que ça s'arrête", "text", "answer", "je ne veux pas que ça s'arrête"),
    row("Je ne veux pas que ça s'arrête", "nps", "unclear", comment="Je ne veux pas que ça s'arrête"),
    row("Il faut stopper les retards", "text", "answer", "Il faut stopper les retards"),
    # a lowercase "stop" inside a sentence is an opinion, not a keyword
    row("Stop aux attentes interminables", "text", "answer", "Stop aux attentes interminables"),
    row("Merci pour votre aide", "text", "answer", "Merci pour votre aide"),
    row("Yes", "nps", "unclear", comment="Yes"),  # not an opt-in: it answers questions
    # --- NPS, 0 to 10 --------------------------------------------------------------------------
    row("9", "nps", "answer", 9),
    row("9/10", "nps", "answer", 9),
    row(" 9 !", "nps", "answer", 9),
    row("09", "nps", "answer", 9),
    row("0", "nps", "answer", 0),
    row("10", "nps", "answer", 10),
    row("10/10 !!!", "nps", "answer", 10),
    row("10 merci", "nps", "answer", 10),  # thanks alone are not a comment
    row("neuf", "nps", "answer", 9),
    row("Dix", "nps", "answer", 10),
    row("zéro", "nps", "answer", 0),
    row("sept sur dix", "nps", "answer", 7),
    row("nine", "nps", "answer", 9),
    row("ten out of 10", "nps", "answer", 10),
    row("Nine out of ten", "nps", "answer", 9),
    row("9 - très bien mais long", "nps", "answer", 9, "très bien mais long"),
    row("9/10 très bien", "nps", "answer", 9, "très bien"),
    row("Très bien, 9/10", "nps", "answer", 9, "Très bien"),  # naive: looks only at the start
    row("Très bien 9/10 merci", "nps", "answer", 9, "Très bien"),
    row("Bonjour, 8", "nps", "answer", 8),
    row("Neuf, rapide et efficace", "nps", "answer", 9, "rapide et efficace"),
    row("Dix sur dix, parfait", "nps", "answer", 10, "parfait"),
    row("Je mets 9 car rapide", "nps", "answer", 9, "car rapide"),
    row("I'd give it 8", "nps", "answer", 8),
    row("Je dirais 7 sur 10", "nps", "answer", 7),
    row("7/10 - too long on hold", "nps", "answer", 7, "too long on hold"),
    # naive: the first number is not the score
    row("Client depuis 10 ans, je mets 9", "nps", "answer", 9, "Client depuis 10 ans"),
    row("J'ai attendu 20 minutes, 7", "nps", "answer", 7, "J'ai attendu 20 minutes"),
    # a score mid-sentence: the whole text is kept as the comment, so that it still reads
    row(
        "Rapide, 10/10 le conseiller était top", "nps", "answer", 10, "Rapide, 10/10 le conseiller était top"
    ),
    row("Merci, 10/10 le conseiller était top", "nps", "answer", 10, "le conseiller était top"),
    row("3 fois que j'appelle", "nps", "unclear", comment="3 fois que j'appelle"),  # naive: 3
    row("J'ai attendu 2 heures", "nps", "unclear", comment="J'ai attendu 2 heures"),  # naive: 2
    row("10h30", "nps", "unclear", comment="10h30"),  # naive: 10
    row("12/03", "nps", "unclear", comment="12/03"),  # a date
    row("Rappelez-moi au 06 12 34 56 78", "nps", "unclear", comment="Rappelez-moi au 06 12 34 56 78"),
    row("Un peu long", "nps", "unclear", comment="Un peu long"),  # naive: "un" = 1
    row("8.5", "nps", "unclear", comment="8.5"),  # decimals: ask, never round
    row("8,5/10", "nps", "unclear", comment="8,5/10"),
    row("8 ou 9", "nps", "unclear", comment="8 ou 9"),
    row("8-9", "nps", "unclear", comment="8-9"),  # naive: -9 or 89
    row("entre 8 et 9", "nps", "unclear", comment="entre 8 et 9"),
    row("11", "nps", "unclear", comment="11"),
    row("-1", "nps", "unclear", comment="-1"),
    row("onze", "nps", "unclear", comment="onze"),
    row("4/5", "nps", "unclear", comment="4/5"),  # the other scale
    row("5 étoiles", "nps", "unclear", comment="5 étoiles"),
    row("Le conseiller était super", "nps", "unclear", comment="Le conseiller était super"),
    row("Oui", "nps", "unclear", comment="Oui"),
    row("😀", "nps", "unclear", comment="😀"),  # a lone emoji is no score
    row("👍", "nps", "unclear", comment="👍"),
    row("9 👍", "nps", "answer", 9, "👍"),
    row("pas concerné", "nps", "unclear", comment="pas concerné"),  # NA not allowed here
    # --- CSAT, 1 to 5 --------------------------------------------------------------------------
    row("5", "csat", "answer", 5),
    row("4/5", "csat", "answer", 4),
    row("4 étoiles", "csat", "answer", 4),
    row("cinq étoiles", "csat", "answer", 5),
    row("⭐⭐⭐⭐", "csat", "answer", 4),
    row("Quatre.", "csat", "answer", 4),
    row("un", "csat", "answer", 1),
    row("0", "csat", "unclear", comment="0"),
    row("6", "csat", "unclear", comment="6"),
    row("8/10", "csat", "unclear", comment="8/10"),  # the other scale
    row("pas concerné", "csat", "answer", "na", na=True),
    row("N/A", "csat", "answer", "na", na=True),
    row("Sans objet, je n'ai parlé à personne", "csat", "answer", "na", "je n'ai parlé à personne", na=True),
    # --- Yes / partly / no ---------------------------------------------------------------------
    row("oui", "choice", "answer", "yes"),
    row("Oui.", "choice", "answer", "yes"),
    row("OUI !!!", "choice", "answer", "yes"),
    row("ouais", "choice", "answer", "yes"),
    row("Ouiiii", "choice", "answer", "yes"),
    row("oiu", "choice", "answer", "yes"),  # the one typo forgiven: a transposition, no other word
    row("yes", "choice", "answer", "yes"),
    row("Yep", "choice", "answer", "yes"),
    row("ok", "choice", "answer", "yes"),
    row("d'accord", "choice", "answer", "yes"),
    row("D’accord", "choice", "answer", "yes"),
    row("👍", "choice", "answer", "yes"),
    row("👍🏽", "choice", "answer", "yes"),
    row("✅", "choice", "answer", "yes"),
    row("Nickel merci", "choice", "answer", "yes"),
    row("Bonjour, oui merci", "choice", "answer", "yes"),
    row("Franchement, oui", "choice", "answer", "yes"),
    row("Oui mais il a fallu rappeler", "choice", "answer", "yes", "mais il a fallu rappeler"),
    row("Yes, no problem", "choice", "answer", "yes"),  # naive: sees "no"
    row("Pas de souci", "choice", "answer", "yes"),  # naive: "pas" reads as a no
    row("non", "choice", "answer", "no"),
    row("NON!!!", "choice", "answer", "no"),
    row("nn", "choice", "answer", "no"),
    row("non pas du tout", "choice", "answer", "no"),
    row("Non, toujours en attente", "choice", "answer", "no", "toujours en attente"),
    row("no", "choice", "answer", "no"),
    row("Nope", "choice", "answer", "no"),
    row("Absolutely not", "choice", "answer", "no"),  # naive: "absolutely" is a yes
    row("Bien sûr que non", "choice", "answer", "no"),  # naive: "bien sûr" is a yes
    row("👎", "choice", "answer", "no"),
    row("😡", "choice", "answer", "no"),
    row("pas vraiment", "choice", "answer", "no"),  # the polite no
    row("not really", "choice", "answer", "no"),
    row("en partie", "choice", "answer", "partly"),
    row("partiellement", "choice", "answer", "partly"),
    row("partly", "choice", "answer", "partly"),
    row("sort of", "choice", "answer", "partly"),
    row("Oui en partie", "choice", "answer", "partly"),  # naive: "oui"
    row("Pas tout à fait", "choice", "answer", "partly"),  # naive: "tout à fait" is a yes
    row("Ouais bof", "choice", "answer", "partly"),
    row("oui et non", "choice", "answer", "partly"),
    row("oui non", "choice", "unclear", comment="oui non"),
    row("Oui, enfin non", "choice", "unclear", comment="Oui, enfin non"),  # naive: "oui"
    row("😐", "choice", "unclear", comment="😐"),
    row("Je ne sais pas", "choice", "unclear", comment="Je ne sais pas"),
    row("9", "choice", "unclear", comment="9"),
    row("sans objet", "choice", "answer", "na", na=True),
    row("Non concerné", "choice", "answer", "na", na=True),  # naive: "non"
    row("Non concerné", "choice", "unclear", comment="Non concerné"),  # NA not allowed: never a "no"
    row("not applicable", "choice", "answer", "na", na=True),
    row("n/a", "choice", "answer", "na", na=True),
    row("N'a pas été résolu", "choice", "unclear", comment="N'a pas été résolu"),  # naive: "n/a" or "n"
    # --- Free text -----------------------------------------------------------------------------
    row("Très bien", "text", "answer", "Très bien"),
    row("  RAS  ", "text", "answer", "RAS"),
    row("Sans objet", "text", "answer", "na", na=True),
    row("", "text", "unclear"),
    row("   ", "choice", "unclear"),
    row("...", "nps", "unclear", comment="..."),
]


def test_the_table_is_large_enough_to_mean_something() -> None:
    assert len(REPLIES) >= 80


@pytest.mark.parametrize(("text", "question", "na", "expected"), REPLIES)
def test_reply_is_read_as_a_person_would(
    text: str, question: QuestionKind, na: bool, expected: tuple[object, ...]
) -> None:
    reply = parse_reply(text, question_kind=question, allows_not_applicable=na)
    assert (reply.kind, reply.value, reply.comment) == expected


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Oui merci", "fr"),
        ("neuf", "fr"),
        ("Très bien, 9/10", "fr"),
        ("ARRÊT", "fr"),
        ("Yes thanks", "en"),
        ("ten out of 10", "en"),
        ("9", None),
        ("STOP", None),
        ("ok", None),
    ],
)
def test_language_hint_is_given_only_when_the_words_tell(text: str, language: str | None) -> None:
    assert parse_reply(text, question_kind="nps").language_hint == language


def test_an_unknown_question_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown question kind"):
        parse_reply("9", question_kind="stars")  # type: ignore[arg-type]


@pytest.mark.parametrize("question", ["nps", "csat"])
def test_every_score_in_range_is_read_alone_and_out_of_ten(question: QuestionKind) -> None:
    low, high = SCALES[question]
    for score in range(low, high + 1):
        assert parse_reply(str(score), question_kind=question).value == score
        assert parse_reply(f"{score}/{high}", question_kind=question).value == score


@given(
    keyword=st.sampled_from(["STOP", "stop", "Stop", "ARRÊT", "arret", "STOP SMS", "Désabonner", "STOPALL"]),
    before=st.text(alphabet=" .!,-", max_size=3),
    after=st.text(alphabet=" .!,-?", max_size=4),
    question=st.sampled_from(["nps", "csat", "choice", "text"]),
)
def test_an_opt_out_keyword_with_any_punctuation_is_always_honoured(
    keyword: str, before: str, after: str, question: QuestionKind
) -> None:
    reply = parse_reply(before + keyword + after, question_kind=question)
    assert reply.kind == "opt_out"


@given(
    text=st.text(
        alphabet=st.sampled_from(
            list("oui nonOK9/10.,!-’'éêSTOPstop dix neuf sur") + ["👍", "😀", "🏽", "\u0301"]
        ),
        max_size=40,
    ),
    question=st.sampled_from(["nps", "csat", "choice", "text"]),
    na=st.booleans(),
)
def test_any_reply_gives_a_well_formed_result(text: str, question: QuestionKind, na: bool) -> None:
    reply = parse_reply(text, question_kind=question, allows_not_applicable=na)
    written = unicodedata.normalize("NFC", text).strip()
    assert reply.comment == reply.comment.strip()
    assert reply.comment in written
    if reply.kind != "answer":
        assert reply.value is None
    elif reply.value == "na":
        assert na
    elif question in SCALES:
        low, high = SCALES[question]
        assert isinstance(reply.value, int) and low <= reply.value <= high
    elif question == "choice":
        assert reply.value in ("yes", "partly", "no")
    else:
        assert reply.value == written
