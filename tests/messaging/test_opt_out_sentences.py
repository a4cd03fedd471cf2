"""An opt-out written as a sentence that names no keyword is an opt-out, never an unclear answer.

A missed opt-out is a breach (CPCE art. L34-5: a free and simple way to object), a
missed answer only a re-ask: the parser leans towards the opt-out. Each phrasing is
read as a reply to every kind of question, since a customer writes it whatever was asked.
"""

from __future__ import annotations

import uuid

import pytest

from avis.customers.models import OptOut
from avis.messaging.conversations import receive_sms
from avis.messaging.models import InboundMessage, OutboundMessage
from avis.messaging.sms_replies import parse_reply
from avis.surveys.models import Answer, Invitation
from tests.helpers import open_all_day, post_interaction

KINDS = ("nps", "csat", "choice", "text")

OPT_OUTS = [
    # French: the four sentences of the finding, then what customers write.
    "arrêtez de m'écrire, merci",
    "ne plus me contacter",
    "Arrêtez de m’écrire svp",  # typographic apostrophe
    "ARRETEZ DE M ECRIRE",
    "arretez de m ecrire",  # no accents, no apostrophe
    "je ne veux plus recevoir vos sms",
    "Je ne veux plus être contacté",
    "je ne souhaite plus recevoir de messages",
    "Ne m'écrivez plus",
    "ne me textez plus",
    "Ne me recontactez plus",
    "Ne m'envoyez plus rien",
    "Merci de ne plus m'envoyer de SMS",
    "merci de me retirer de vos listes",
    "Retirez mon numéro",
    "supprimez mon numéro svp",
    "laissez-moi tranquille",
    "Foutez-moi la paix avec vos sms",
    "plus de sms svp",
    "Plus de messages merci",
    "pas de sms merci",
    "j'en ai marre de vos sms",
    "ça suffit les SMS !",
    "arrêtez vos sms",
    "arrêtez d'envoyer des messages",
    "cessez de m'envoyer des sms",
    "Je veux plus de sms",
    "je veux plus recevoir de texto",
    "Je ne veux plus être sollicité",
    "Arrêtez de me harceler",
    "Stop aux sms",
    "stop aux messages svp",
    # English
    "please don't text me again",
    "stop the messages",
    "Stop the texts",
    "stop these messages please",
    "Please stop messaging me",
    "Stop sending me messages",
    "don't text me again",
    "do not contact me again",
    "Don’t send me anything else",
    "no more texts please",
    "No more SMS",
    "I don't want these texts anymore",
    "I do not want to receive messages",
    "I no longer wish to receive texts",
    "leave me alone",
    "take me off your list",
    "remove my number",
    "Please remove me from your list",
    "Quit texting me",
    "stop spamming me",
    "Cease all messages",
    "enough texts",
    "Stop msg",
    # Decided: a "stop" set off by punctuation at either end is the keyword, even in lower case and
    # with a score beside it. It could be "stop, say no more"; read as an answer it would keep texting
    # someone who may have objected, and an opt-out records no answer (the 10 stays in its comment).
    "stop, c'est parfait, 10/10",
    "Parfait. stop",
]

ANSWERS = [
    # A lowercase "stop" inside a sentence is an opinion; a past tense tells, it asks for nothing.
    ("Stop aux attentes interminables", "text"),
    ("9, le conseiller m'a contacté rapidement", "nps"),
    ("Oui, il m'a écrit hier", "choice"),
    ("Non, personne ne m'a recontacté", "choice"),
    ("Personne ne m'a plus contacté, 3", "nps"),
    ("Ils ne m'ont plus rappelé, 2", "nps"),
    ("Je ne veux plus attendre 40 minutes, 2", "nps"),
    ("Le message était clair, 8", "nps"),
    ("Le SMS de rappel m'a bien aidé, 9", "nps"),
    ("J'aimerais plus de messages de suivi, 7", "nps"),
    ("Plus de 20 minutes d'attente, 3", "nps"),
    ("Pas de SMS de confirmation reçu, 4", "nps"),
    ("Je ne veux pas que ça s'arrête", "text"),
    ("les sms de rappel sont pratiques, 9", "nps"),
    ("j'ai arrêté de compter les appels, 2", "nps"),
    ("Il a arrêté de m'envoyer des relances, 8", "nps"),
    ("arrêt de bus mal indiqué, 6", "nps"),
    ("10 ne changez rien", "nps"),
    ("Please don't stop, 10", "nps"),
    ("Great service. Never stop the good work, 9", "nps"),
    ("The messages were helpful, 9", "nps"),
    ("yes the agent texted me back", "choice"),
    ("I stopped by the branch, 8", "nps"),
    ("The texts stopped coming after a week, 6", "nps"),
    ("no, nobody contacted me again", "choice"),
    ("I don't want to wait that long, 5", "nps"),
    ("Assez satisfait, 7", "nps"),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("text", OPT_OUTS)
def test_a_sentence_asking_to_stop_is_an_opt_out(text: str, kind: str) -> None:
    reply = parse_reply(text, question_kind=kind)  # type: ignore[arg-type]
    assert reply.kind == "opt_out"
    assert reply.value is None  # an opt-out records no answer


@pytest.mark.parametrize(("text", "kind"), ANSWERS)
def test_a_sentence_that_only_mentions_messages_or_stopping_is_no_opt_out(text: str, kind: str) -> None:
    assert parse_reply(text, question_kind=kind).kind != "opt_out"  # type: ignore[arg-type]


def test_the_undecided_case_keeps_what_was_written_as_the_comment() -> None:
    reply = parse_reply("stop, c'est parfait, 10/10", question_kind="nps")
    assert (reply.kind, reply.value, reply.comment) == ("opt_out", None, "c'est parfait, 10/10")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("text", ["arrêtez de m'écrire, merci", "please don't text me again"])
def test_a_sentence_opt_out_by_sms_stops_every_message_and_is_never_asked_again(
    org, api, settings, text
) -> None:
    """End to end: the reply is filed as an opt-out, the customer is opted out, nothing re-asks."""
    settings.AVIS_SMS_PROVIDER = "simulator"
    open_all_day(org.organisation)
    assert post_interaction(api, "evt-1", email=None, phone="06 12 34 56 78").status_code == 200
    invitation = Invitation.objects.get()
    phone = "+33612345678"
    before = OutboundMessage.objects.filter(recipient=phone).count()
    inbound = receive_sms(
        provider="simulator", provider_message_id=uuid.uuid4().hex, sender=phone, recipient="AVIS", text=text
    )
    assert InboundMessage.objects.get(id=inbound.id).interpretation == "opt_out"
    opt_out = OptOut.objects.get(customer_id=invitation.customer_id)
    assert opt_out.withdrawn_at is None
    assert not Answer.objects.filter(response__invitation=invitation).exists()
    sent_since = list(
        OutboundMessage.objects.filter(recipient=phone)
        .order_by("id")
        .values_list("body_text", flat=True)[before:]
    )
    assert len(sent_since) <= 1  # at most the one confirmation, never a clarification
