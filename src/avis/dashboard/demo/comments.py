"""Free-text comments as customers write them: about the person, the process, or both.

Real verbatims mix the two ("the adviser was lovely but I still haven't been
paid"), vary in length and care, and are more often written by the unhappy.
Each comment is assembled from what the simulated customer lived: the agent's
score they gave, whether their request was solved, and why they came.
"""

from __future__ import annotations

import random

AGENT_GOOD = {
    "fr": (
        "{first} a été très à l'écoute, merci.",
        "Très bon accueil de {first}.",
        "{first} a pris le temps de tout m'expliquer.",
        "Interlocuteur aimable et compétent.",
        "Merci à {first} pour sa patience !",
        "Accueil chaleureux, explications claires.",
        "Personne très professionnelle et souriante.",
        "{first} connaissait parfaitement mon dossier.",
        "Conseiller au top",
    ),
    "en": (
        "{first} was very helpful, thank you.",
        "Lovely person on the phone.",
        "{first} took the time to explain everything.",
        "Friendly and knowledgeable.",
        "Many thanks to {first} for their patience!",
        "Very professional.",
    ),
}
AGENT_BAD = {
    "fr": (
        "Interlocuteur pressé, j'ai eu l'impression de déranger.",
        "{first} ne connaissait pas bien mon dossier.",
        "On m'a coupé la parole plusieurs fois.",
        "Accueil froid, réponses toutes faites.",
        "Pas très aimable.",
        "On m'a raccroché au nez.",
        "Réponses contradictoires avec ce qu'on m'avait dit la semaine dernière.",
    ),
    "en": (
        "The person seemed in a hurry and not interested.",
        "{first} did not seem to know my file.",
        "Rather rude, to be honest.",
        "I was cut off twice.",
        "I got a different answer from last week's call.",
    ),
}
# The agent did well, the process did not: the case avis's agent question protects.
NOT_THEIR_FAULT = {
    "fr": (
        "{first} a été super mais ma demande n'est toujours pas traitée, ce n'est pas de sa faute.",
        "La conseillère a fait ce qu'elle pouvait, le problème vient de vos procédures.",
        "Rien à reprocher à la personne, tout au système.",
    ),
    "en": (
        "{first} was great but my request is still not sorted, not their fault.",
        "The adviser did their best, the problem is your process.",
    ),
}
SOLVED = {
    "fr": (
        "Rapide et efficace.",
        "RAS, merci.",
        "nickel",
        "Très satisfaite.",
        "Tout est en ordre, merci beaucoup.",
        "Efficace comme d'habitude.",
        "Parfait, rien à redire",
        "Enfin une mutuelle qui répond !",
    ),
    "en": (
        "Quick and efficient.",
        "All good, thanks.",
        "Excellent service.",
        "No complaints at all.",
    ),
}
SOLVED_BY_TOUCHPOINT = {
    "fr": {
        "call_center.call": (
            "Problème réglé en un seul appel, parfait.",
            "Peu d'attente et une réponse précise.",
            "Réponse claire au téléphone, je n'ai pas eu à rappeler.",
        ),
        "web.chat": (
            "Réponse en quelques minutes sur le chat, très pratique.",
            "Le chat est bien plus rapide que le téléphone.",
        ),
        "branch.visit": (
            "Rendez-vous à l'heure, rien à redire.",
            "Contrat signé en vingt minutes, efficace.",
            "Agence accueillante, conseils utiles.",
        ),
        "claim.settled": (
            "Indemnisation reçue rapidement, merci.",
            "Virement arrivé en 48 h, bravo.",
            "Expert passé vite, dossier réglé en trois semaines.",
        ),
    },
    "en": {
        "call_center.call": ("Sorted in one call, perfect.", "Hardly any wait and a clear answer."),
        "web.chat": ("The chat answered within minutes, very handy.",),
        "branch.visit": ("Appointment on time, nothing to add.",),
        "claim.settled": ("Paid quickly, thank you.", "The money arrived within two days."),
    },
}
PARTLY = {
    "fr": (
        "C'est en cours, on verra bien.",
        "Réponse partielle, je dois encore renvoyer des documents.",
        "Il manque encore une partie du remboursement.",
        "On m'a promis un rappel pour finir le dossier.",
    ),
    "en": (
        "Partly sorted, I still have to send documents.",
        "Some of it is done, the rest is promised for next week.",
    ),
}
GENERIC_UNSOLVED = {
    "fr": (
        "Toujours pas de solution.",
        "Il a fallu que je rappelle trois fois pour la même chose.",
        "Je vais finir par changer de mutuelle.",
        "On me renvoie d'un service à l'autre.",
        "Personne ne rappelle alors qu'on me l'avait promis.",
    ),
    "en": (
        "Still no solution.",
        "Third time I have called about the same thing.",
        "I am seriously thinking of leaving.",
        "Passed from one department to another.",
    ),
}
BY_TOPIC_UNSOLVED = {
    "fr": {
        "remboursement": (
            "Toujours pas remboursée de mes lunettes après un mois.",
            "On me dit que le dossier est complet mais le remboursement n'arrive pas.",
            "Remboursement de l'ostéopathe refusé sans explication.",
        ),
        "tiers_payant": (
            "Ma carte de tiers payant n'est toujours pas arrivée, la pharmacie me fait avancer les frais.",
        ),
        "cotisation": ("Prélèvement en double ce mois-ci, et on me dit d'attendre.",),
        "resiliation": (
            "La résiliation est un parcours du combattant.",
            "On me demande un recommandé pour résilier, en 2025 !",
        ),
        "espace_adherent": (
            "L'espace adhérent plante encore au moment de télécharger l'attestation.",
            "Impossible de réinitialiser mon mot de passe, le lien ne marche pas.",
            "le chat s'est coupé deux fois",
        ),
        "suivi_remboursement": ("Aucune visibilité sur le suivi de mes remboursements.",),
        "reclamation": ("Ma réclamation date de deux mois et rien ne bouge.",),
        "degat_des_eaux": (
            "L'expert n'est passé qu'au bout de cinq semaines.",
            "Indemnisation correcte mais délais beaucoup trop longs.",
            "Il a fallu envoyer trois fois les mêmes justificatifs.",
        ),
        "accident_auto": (
            "Le montant proposé ne couvre même pas la moitié des réparations.",
            "La franchise ne m'avait jamais été expliquée.",
        ),
        "vol": ("Indemnisation ridicule par rapport à la valeur de ce qui a été volé.",),
        "catastrophe_naturelle": ("Six mois d'attente après l'arrêté de catastrophe naturelle.",),
    },
    "en": {
        "remboursement": ("Still not reimbursed for my glasses after a month.",),
        "resiliation": ("Cancelling the contract is a nightmare, a registered letter really?",),
        "espace_adherent": ("The online account keeps crashing when I download the certificate.",),
        "degat_des_eaux": (
            "The loss adjuster only came after five weeks.",
            "Fair settlement but far too slow.",
        ),
        "accident_auto": ("The amount offered does not cover half the repairs.",),
    },
}
WAITING = {
    "fr": (
        "25 minutes d'attente avant d'avoir quelqu'un, c'est beaucoup trop.",
        "Le serveur vocal est un vrai labyrinthe.",
        "Attente de 40 minutes malgré le rendez-vous.",
    ),
    "en": ("Waited 25 minutes before anyone answered.",),
}
CLAIM_SLOW = {
    "fr": (
        "Depuis votre changement de logiciel tout est plus lent.",
        "On m'a parlé d'un « problème informatique » pour justifier le retard.",
    ),
    "en": ("Apparently a new computer system is to blame for the delay.",),
}


def _pick(rng: random.Random, table: dict[str, tuple[str, ...]], language: str) -> str:
    return rng.choice(table.get(language) or table["fr"])


def _casual(rng: random.Random, text: str) -> str:
    """Some people type fast: no capital, no full stop, or a burst of exclamation marks."""
    roll = rng.random()
    if roll < 0.12:
        return text[:1].lower() + text[1:].rstrip(".")
    if roll < 0.18:
        return text.rstrip(".!") + " !!"
    return text


def write_comment(
    rng: random.Random,
    *,
    language: str,
    touchpoint: str,
    topic: str,
    resolution: str,
    agent_score: int | None,
    agent_first_name: str | None,
    slow_claims: bool = False,
) -> str:
    """One comment, or an empty string for the many who write nothing."""
    unhappy = resolution == "no" or (agent_score is not None and agent_score <= 2)
    if rng.random() > (0.6 if unhappy else 0.32):
        return ""
    parts: list[str] = []
    mentions_agent = False
    if resolution == "yes":
        specific = SOLVED_BY_TOUCHPOINT.get(language, {}).get(touchpoint)
        parts.append(
            rng.choice(specific) if specific and rng.random() < 0.5 else _pick(rng, SOLVED, language)
        )
    elif resolution == "partly" and rng.random() < 0.6:
        parts.append(_pick(rng, PARTLY, language))
    elif resolution == "no" and agent_score is not None and agent_score >= 4 and rng.random() < 0.45:
        parts.append(_pick(rng, NOT_THEIR_FAULT, language))
        mentions_agent = True
    else:
        by_topic = BY_TOPIC_UNSOLVED.get(language, {}).get(topic)
        if slow_claims and rng.random() < 0.5:
            parts.append(_pick(rng, CLAIM_SLOW, language))
        elif by_topic and rng.random() < 0.7:
            parts.append(rng.choice(by_topic))
        elif rng.random() < 0.3:
            parts.append(_pick(rng, WAITING, language))
        else:
            parts.append(_pick(rng, GENERIC_UNSOLVED, language))
    if agent_score is not None and not mentions_agent:
        if agent_score >= 5 and rng.random() < 0.5:
            parts.insert(0 if rng.random() < 0.5 else 1, _pick(rng, AGENT_GOOD, language))
        elif agent_score <= 2 and rng.random() < 0.7:
            parts.insert(0, _pick(rng, AGENT_BAD, language))
    text = " ".join(parts).replace(
        "{first}", agent_first_name or ("Mon interlocuteur" if language == "fr" else "The adviser")
    )
    return _casual(rng, text)
