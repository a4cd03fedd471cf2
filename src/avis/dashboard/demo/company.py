"""Mutuelle Horizon, the fictitious French insurer the demo runs: its sites, people and journeys.

The numbers here are the simulation's hidden truth. Each agent has a true
quality (the mean score a customer would give their courtesy and work) and each
topic a true chance of being resolved, which depends on the process far more
than on the person: the demo exists to show that avis's questions tell the two
apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time

ORGANISATION_NAME = "Mutuelle Horizon"
ORGANISATION_SLUG = "mutuelle-horizon"
ADMIN_EMAIL = "admin@demo.avis"
MANAGER_EMAIL = "manager@demo.avis"
# Printed on the console for whoever runs the demo: a well-known demo login, not a secret.
DEMO_PASSWORD = "horizon-demo"  # noqa: S105
API_KEY_NAME = "demo"

# Governance as a careful company would set it: nobody asked more than twice a
# quarter nor four times a year, two weeks of peace after a survey, the busy
# call centre sampled, every settled claim asked (it is rare and decisive, and
# outranks a routine call waiting to leave), employees and customers in
# litigation never asked, no texts at night, on Sundays or on public holidays.
POLICY: dict[str, object] = {
    "windows": [{"max": 2, "days": 90}, {"max": 4, "days": 365}],
    "quarantine_days": 14,
    "priorities": {"claim.settled": 10},
    "exclusions": [
        {"attribute": "employee", "operator": "is_true"},
        {"attribute": "litigation", "operator": "is_true"},
    ],
    "default_sampling_rate": 1.0,
    "sampling_rates": {
        "call_center.call": 0.35,
        "web.chat": 0.5,
        "branch.visit": 0.6,
        "claim.settled": 1.0,
    },
    "send_from": time(9, 0),
    "send_until": time(20, 0),
    "send_on_sunday": False,
    "send_on_holidays": False,
}


@dataclass(frozen=True)
class Topic:
    """Why the customer came, and how often that kind of request ends up solved."""

    code: str
    weight: float
    resolved: float  # probability of "yes"
    partly: float  # probability of "partly"; the rest is "no"


@dataclass(frozen=True)
class TouchpointSpec:
    code: str
    name_fr: str
    name_en: str
    share: float  # of all interactions
    opens: time
    closes: time
    weekdays: frozenset[int]  # Monday = 0
    topics: tuple[Topic, ...]
    agent_seen: bool = True  # False: the customer never spoke to the person who handled it
    asks_effort: bool = False  # the survey asks the customer's effort (CES, 1–7)


MON_SAT = frozenset(range(6))
TUE_SAT = frozenset(range(1, 6))
MON_FRI = frozenset(range(5))

TOUCHPOINTS: tuple[TouchpointSpec, ...] = (
    TouchpointSpec(
        "call_center.call",
        "Appel au service adhérents",
        "Call to member services",
        0.50,
        time(8, 30),
        time(19, 0),
        MON_SAT,
        (
            Topic("remboursement", 0.30, 0.60, 0.20),
            Topic("tiers_payant", 0.15, 0.82, 0.08),
            Topic("cotisation", 0.20, 0.72, 0.15),
            Topic("resiliation", 0.10, 0.40, 0.20),
            Topic("attestation", 0.15, 0.92, 0.04),
            Topic("changement_coordonnees", 0.10, 0.88, 0.06),
        ),
    ),
    TouchpointSpec(
        "web.chat",
        "Conversation en ligne",
        "Online chat",
        0.15,
        time(8, 0),
        time(21, 0),
        MON_SAT,
        (
            Topic("espace_adherent", 0.40, 0.62, 0.18),
            Topic("suivi_remboursement", 0.35, 0.58, 0.22),
            Topic("devis", 0.25, 0.78, 0.12),
        ),
        asks_effort=True,
    ),
    TouchpointSpec(
        "branch.visit",
        "Rendez-vous en agence",
        "Branch appointment",
        0.15,
        time(9, 30),
        time(18, 0),
        TUE_SAT,
        (
            Topic("adhesion", 0.35, 0.88, 0.07),
            Topic("devis", 0.25, 0.82, 0.10),
            Topic("changement_contrat", 0.20, 0.76, 0.12),
            Topic("reclamation", 0.20, 0.42, 0.25),
        ),
    ),
    TouchpointSpec(
        "claim.settled",
        "Sinistre réglé",
        "Claim settled",
        0.20,
        time(9, 0),
        time(17, 30),
        MON_FRI,
        (
            Topic("degat_des_eaux", 0.35, 0.60, 0.22),
            Topic("bris_de_glace", 0.25, 0.88, 0.07),
            Topic("accident_auto", 0.25, 0.55, 0.25),
            Topic("vol", 0.10, 0.45, 0.25),
            Topic("catastrophe_naturelle", 0.05, 0.40, 0.30),
        ),
        agent_seen=False,
    ),
)
TOUCHPOINT_BY_CODE = {spec.code: spec for spec in TOUCHPOINTS}

# Between these many days ago, a new claims system slowed every settlement:
# resolution drops on claims while the handlers' own scores stay where they were.
CLAIMS_SYSTEM_TROUBLE = (105, 70)
CLAIMS_TROUBLE_PENALTY = 0.18

TEAMS: dict[str, str] = {
    "lyon": "Centre de relation adhérents — Lyon",
    "lille": "Centre de relation adhérents — Lille",
    "nantes": "Agence de Nantes",
    "bordeaux": "Plateforme sinistres — Bordeaux",
}


@dataclass(frozen=True)
class AgentSpec:
    code: str
    name: str
    team: str
    quality: float  # true mean of the agent score, 1–5
    workload: float  # relative share of their touchpoints' traffic
    touchpoints: tuple[str, ...] = field(default_factory=tuple)

    @property
    def first_name(self) -> str:
        return self.name.split()[0]


_CONTACT_CENTRE = ("call_center.call", "web.chat")
AGENTS: tuple[AgentSpec, ...] = (
    AgentSpec("AG-LYO-01", "Camille Girard", "lyon", 4.6, 1.2, _CONTACT_CENTRE),
    AgentSpec("AG-LYO-02", "Julien Faure", "lyon", 4.1, 1.0, _CONTACT_CENTRE),
    AgentSpec("AG-LYO-03", "Sandrine Morel", "lyon", 3.8, 1.0, _CONTACT_CENTRE),
    AgentSpec("AG-LYO-04", "Mehdi Benali", "lyon", 4.4, 1.1, _CONTACT_CENTRE),
    AgentSpec("AG-LYO-05", "Pauline Chevalier", "lyon", 3.0, 0.9, _CONTACT_CENTRE),
    AgentSpec("AG-LYO-06", "Romain Perrin", "lyon", 4.0, 0.6, _CONTACT_CENTRE),
    AgentSpec("AG-LIL-01", "Aurélie Lambert", "lille", 4.3, 1.0, _CONTACT_CENTRE),
    AgentSpec("AG-LIL-02", "Kévin Dumont", "lille", 2.7, 1.1, _CONTACT_CENTRE),
    AgentSpec("AG-LIL-03", "Nadia Haddad", "lille", 4.8, 1.0, _CONTACT_CENTRE),
    AgentSpec("AG-LIL-04", "Sébastien Leroy", "lille", 3.6, 0.8, _CONTACT_CENTRE),
    AgentSpec("AG-LIL-05", "Élodie Caron", "lille", 4.1, 1.0, _CONTACT_CENTRE),
    AgentSpec("AG-NAN-01", "Isabelle Renaud", "nantes", 4.6, 1.2, ("branch.visit",)),
    AgentSpec("AG-NAN-02", "François Guérin", "nantes", 3.3, 1.0, ("branch.visit",)),
    AgentSpec("AG-NAN-03", "Léa Marchand", "nantes", 4.3, 0.9, ("branch.visit",)),
    AgentSpec("AG-NAN-04", "Thierry Boyer", "nantes", 3.8, 0.7, ("branch.visit",)),
    AgentSpec("AG-BOR-01", "Christophe Blanc", "bordeaux", 4.0, 1.0, ("claim.settled",)),
    AgentSpec("AG-BOR-02", "Émilie Roussel", "bordeaux", 4.5, 1.1, ("claim.settled",)),
    AgentSpec("AG-BOR-03", "Patrick Gauthier", "bordeaux", 3.0, 1.0, ("claim.settled",)),
    AgentSpec("AG-BOR-04", "Sarah Benoît", "bordeaux", 4.2, 0.9, ("claim.settled",)),
    AgentSpec("AG-BOR-05", "Vincent Mercier", "bordeaux", 3.6, 0.8, ("claim.settled",)),
)
AGENT_BY_CODE = {agent.code: agent for agent in AGENTS}


def agents_for(touchpoint: str) -> tuple[AgentSpec, ...]:
    return tuple(agent for agent in AGENTS if touchpoint in agent.touchpoints)


FRENCH_FIRST_NAMES = (
    "marie", "jean", "camille", "louis", "lea", "hugo", "chloe", "lucas", "manon", "nathalie",
    "pierre", "sophie", "thomas", "julie", "nicolas", "isabelle", "antoine", "claire", "karim", "amina",
    "sylvie", "philippe", "nathan", "ines", "gabriel", "sarah", "michel", "catherine", "yanis", "emma",
    "alain", "monique", "bernard", "florence", "olivier", "valerie", "fatima", "mohamed", "celine", "eric",
)  # fmt: skip
FRENCH_LAST_NAMES = (
    "martin", "bernard", "dubois", "thomas", "robert", "richard", "petit", "durand", "leroy", "moreau",
    "simon", "laurent", "lefebvre", "michel", "garcia", "david", "bertrand", "roux", "vincent", "fournier",
    "morel", "girard", "andre", "mercier", "dupont", "lambert", "bonnet", "francois", "martinez", "legrand",
    "garnier", "faure", "rousseau", "blanc", "guerin", "muller", "henry", "roussel", "nicolas", "perrin",
)  # fmt: skip
ENGLISH_FIRST_NAMES = (
    "james", "emily", "oliver", "charlotte", "harry", "sophie", "george", "amelia", "jack", "olivia",
    "william", "grace", "thomas", "lucy", "daniel", "hannah",
)  # fmt: skip
ENGLISH_LAST_NAMES = (
    "smith", "jones", "taylor", "brown", "williams", "wilson", "johnson", "davies", "robinson", "wright",
    "thompson", "evans", "walker", "white", "roberts", "green",
)  # fmt: skip
FRENCH_MAIL_DOMAINS = (
    ("gmail.com", 0.38), ("orange.fr", 0.16), ("hotmail.fr", 0.12), ("free.fr", 0.1), ("yahoo.fr", 0.07),
    ("laposte.net", 0.07), ("sfr.fr", 0.05), ("outlook.fr", 0.05),
)  # fmt: skip
ENGLISH_MAIL_DOMAINS = (
    ("gmail.com", 0.5),
    ("outlook.com", 0.2),
    ("yahoo.co.uk", 0.15),
    ("btinternet.com", 0.15),
)
