"""AAPOR final dispositions and outcome rates: response, cooperation, refusal and contact rates.

Pure: counts in, exact fractions out, no database. The definitions are those of the American
Association for Public Opinion Research, *Standard Definitions: Final Dispositions of Case Codes
and Outcome Rates for Surveys*, 9th edition (2016), section "Calculating rates from response
distributions" (the same formulas stand in the 10th edition, 2023):

    I  complete             P  partial               R  refusal and break-off
    NC non-contact          O  other (eligible, no interview for another reason)
    UH unknown if the unit exists / is reachable     UO unknown eligibility, other
    NE not eligible (kept out of every rate's denominator)

    RR1 = I / ((I+P) + (R+NC+O) + (UH+UO))        RR2 = (I+P) / (same)
    RR3 = I / ((I+P) + (R+NC+O) + e(UH+UO))       RR4 = (I+P) / (same)
    RR5 = I / ((I+P) + (R+NC+O))                  RR6 = (I+P) / (same)
    COOP1 = I / ((I+P) + R + O)                   COOP2 = (I+P) / ((I+P) + R + O)
    COOP3 = I / ((I+P) + R)                       COOP4 = (I+P) / ((I+P) + R)
    REF1 = R / ((I+P) + (R+NC+O) + (UH+UO))
    REF2 = R / ((I+P) + (R+NC+O) + e(UH+UO))
    REF3 = R / ((I+P) + (R+NC+O))
    CON1 = ((I+P) + R + O) / ((I+P) + R + O + NC + (UH+UO))
    CON2 = ((I+P) + R + O) / ((I+P) + R + O + NC + e(UH+UO))
    CON3 = ((I+P) + R + O) / ((I+P) + R + O + NC)

``e`` is the share of the cases of unknown eligibility taken as eligible. The Standard
Definitions ask that it be estimated on the best available evidence and that the basis be stated;
avis uses the proportion method AAPOR's response-rate calculator applies by default: the share
eligible among the cases whose eligibility is known, (I+P+R+NC+O) / (I+P+R+NC+O+NE). It is
always reported with the rates. A wave with no case of known eligibility takes e = 1 (RR3 = RR1),
the conservative bound, and says so.

How the facts avis records about a sampled case (invitation, messages, receipts, answers,
opt-outs) become one final disposition is ``disposition_of`` below, documented in
docs/barometers.md, "Dispositions and response rates".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, fields
from enum import StrEnum
from fractions import Fraction

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

STANDARD = "AAPOR Standard Definitions, 9th edition (2016)"

# AAPOR's example thresholds (Standard Definitions, on complete and partial interviews): at least
# 80 % of the applicable essential questions answered is a complete, 50 % to 80 % a partial, under
# 50 % a break-off, which AAPOR counts with the refusals. Which questions are essential is the
# study's to say: avis takes the questionnaire's required ones (all of them when none is required).
COMPLETE_SHARE = Fraction(4, 5)
PARTIAL_SHARE = Fraction(1, 2)


class Disposition(StrEnum):
    """A final disposition, by its AAPOR letter code."""

    COMPLETE = "I"
    PARTIAL = "P"
    REFUSAL = "R"
    NON_CONTACT = "NC"
    OTHER = "O"
    UNKNOWN_REACH = "UH"
    UNKNOWN_OTHER = "UO"
    NOT_ELIGIBLE = "NE"


DISPOSITION_LABELS = {
    Disposition.COMPLETE: pgettext_lazy("disposition", "complete"),
    Disposition.PARTIAL: pgettext_lazy("disposition", "partial"),
    Disposition.REFUSAL: pgettext_lazy("disposition", "refusal or break-off"),
    Disposition.NON_CONTACT: pgettext_lazy("disposition", "non-contact"),
    Disposition.OTHER: pgettext_lazy("disposition", "other non-response"),
    Disposition.UNKNOWN_REACH: _("unknown eligibility, not known to be delivered"),
    Disposition.UNKNOWN_OTHER: _("unknown eligibility, delivered, no reply"),
    Disposition.NOT_ELIGIBLE: pgettext_lazy("disposition", "not eligible"),
}

# Why a case got its disposition: one code per rule of ``disposition_of``, in words.
DISPOSITION_REASONS = {
    "complete": _("answered at least 80 % of the questions"),
    "partial": _("answered from half to 80 % of the questions"),
    "break_off": _("started, then stopped before half of the questions"),
    "stop": _("refused: STOP or opt-out during the fieldwork"),
    "out_of_scope": _("found out of scope during the fieldwork"),
    "quota_full": _("stratum full before the invitation left"),
    "bounced": _("hard bounce or invalid number on every channel tried"),
    "not_sent": _("invitation never sent (channel failure or no usable channel)"),
    "erased": _("data erased at the customer's request during the fieldwork"),
    "delivered_no_reply": _("delivered, no reply"),
    "sent_no_reply": _("sent, no reply, delivery not confirmed"),
}


@dataclass(frozen=True)
class CaseFacts:
    """What avis knows about one sampled case at the close of its fieldwork."""

    # Essential questions that applied to the respondent, and how many of them were answered.
    applicable: int = 0
    answered: int = 0
    started: bool = False  # a response, an SMS conversation with a reply, or a recorded answer
    refused: bool = False  # STOP by SMS or an opt-out (any channel) during the fieldwork
    out_of_scope: bool = False  # deceased, contract ended before the fieldwork, …
    quota_full: bool = False  # never invited: its stratum reached its quota first
    erased: bool = False  # erased at the customer's request during the fieldwork
    sent: int = 0  # invitations or reminders handed to a provider
    delivered: bool = False  # a delivery receipt, or a click on the link
    bounced: int = 0  # hard bounces or invalid numbers


def disposition_of(facts: CaseFacts) -> tuple[Disposition, str]:
    """The final disposition of one case and the reason code (a key of ``DISPOSITION_REASONS``).

    The rules apply in this order, the first that holds wins: what the respondent did comes first
    (an answer outranks a later STOP), then what we learned about eligibility, then delivery.
    """
    if facts.started and facts.applicable:
        share = Fraction(facts.answered, facts.applicable)
        if share >= COMPLETE_SHARE:
            return Disposition.COMPLETE, "complete"
        if share >= PARTIAL_SHARE:
            return Disposition.PARTIAL, "partial"
        return Disposition.REFUSAL, "break_off"
    if facts.refused:
        return Disposition.REFUSAL, "stop"
    if facts.out_of_scope:
        return Disposition.NOT_ELIGIBLE, "out_of_scope"
    if facts.erased:
        return Disposition.OTHER, "erased"
    if facts.quota_full and not facts.sent:
        # AAPOR code 4.80, "quota filled", is a not-eligible code.
        return Disposition.NOT_ELIGIBLE, "quota_full"
    if facts.delivered:
        return Disposition.UNKNOWN_OTHER, "delivered_no_reply"
    if facts.sent and facts.bounced >= facts.sent:
        return Disposition.NOT_ELIGIBLE, "bounced"
    if facts.sent:
        return Disposition.UNKNOWN_REACH, "sent_no_reply"
    return Disposition.NON_CONTACT, "not_sent"


@dataclass(frozen=True)
class Counts:
    """How many cases ended in each final disposition."""

    I: int = 0  # noqa: E741 — AAPOR's letter
    P: int = 0
    R: int = 0
    NC: int = 0
    O: int = 0  # noqa: E741 — AAPOR's letter
    UH: int = 0
    UO: int = 0
    NE: int = 0

    @classmethod
    def of(cls, dispositions: Iterable[Disposition | str]) -> Counts:
        counted = Counter(Disposition(d) for d in dispositions)
        return cls(**{d.value: counted[d] for d in Disposition})

    def __add__(self, other: Counts) -> Counts:
        return Counts(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    @property
    def total(self) -> int:
        return sum(getattr(self, f.name) for f in fields(self))

    @property
    def known_eligible(self) -> int:
        return self.I + self.P + self.R + self.NC + self.O

    @property
    def unknown(self) -> int:
        return self.UH + self.UO

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Eligibility:
    """``e``, the share of unknown-eligibility cases assumed eligible, and how it was reached."""

    e: Fraction
    method: str  # a key of E_METHODS

    @property
    def explanation(self) -> str:
        return str(E_METHODS[self.method])


E_METHODS = {
    "known_share": _(
        "e is the share eligible among the cases of known eligibility, (I+P+R+NC+O) / (I+P+R+NC+O+NE)"
    ),
    "no_known_case": _("no case of known eligibility: e is taken as 1, the most conservative value"),
    "stated": _("e was stated by the study's author"),
    "wave_share": _(
        "each stratum takes the e of its whole wave (the share eligible among the wave's cases of "
        "known eligibility): a stratum's own few cases would make it jump"
    ),
}


def estimate_e(counts: Counts) -> Eligibility:
    """``e`` by the proportion of eligible cases among those whose eligibility is known."""
    known = counts.known_eligible + counts.NE
    if not known:
        return Eligibility(Fraction(1), "no_known_case")
    return Eligibility(Fraction(counts.known_eligible, known), "known_share")


RATE_NAMES = (
    "RR1",
    "RR2",
    "RR3",
    "RR4",
    "RR5",
    "RR6",
    "COOP1",
    "COOP2",
    "COOP3",
    "COOP4",
    "REF1",
    "REF2",
    "REF3",
    "CON1",
    "CON2",
    "CON3",
)

RATE_LABELS = {
    "RR": _("Response rate"),
    "COOP": _("Cooperation rate"),
    "REF": _("Refusal rate"),
    "CON": _("Contact rate"),
}


@dataclass(frozen=True)
class OutcomeRates:
    """Every AAPOR outcome rate of a set of cases; a rate with an empty denominator is None."""

    counts: Counts
    eligibility: Eligibility
    rates: dict[str, Fraction | None]

    def __getitem__(self, name: str) -> Fraction | None:
        return self.rates[name]

    def as_floats(self) -> dict[str, float | None]:
        return {name: None if v is None else float(v) for name, v in self.rates.items()}


def _ratio(numerator: Fraction | int, denominator: Fraction | int) -> Fraction | None:
    return Fraction(numerator) / denominator if denominator else None


def outcome_rates(
    counts: Counts, *, e: Fraction | float | None = None, eligibility: Eligibility | None = None
) -> OutcomeRates:
    """RR1–RR6, COOP1–4, REF1–3 and CON1–3 of these counts; ``e`` estimated unless stated (as a
    number, ``e``, or with its method, ``eligibility``)."""
    if eligibility is not None:
        pass
    elif e is None:
        eligibility = estimate_e(counts)
    else:
        stated = Fraction(e).limit_denominator(10**9) if isinstance(e, float) else Fraction(e)
        if not 0 <= stated <= 1:
            raise ValueError("e is a share, from 0 to 1")
        eligibility = Eligibility(stated, "stated")
    c, share = counts, eligibility.e
    interviews = c.I + c.P
    eligible = interviews + c.R + c.NC + c.O
    all_cases = eligible + c.unknown
    estimated = eligible + share * c.unknown
    contacted = interviews + c.R + c.O
    rates = {
        "RR1": _ratio(c.I, all_cases),
        "RR2": _ratio(interviews, all_cases),
        "RR3": _ratio(c.I, estimated),
        "RR4": _ratio(interviews, estimated),
        "RR5": _ratio(c.I, eligible),
        "RR6": _ratio(interviews, eligible),
        "COOP1": _ratio(c.I, interviews + c.R + c.O),
        "COOP2": _ratio(interviews, interviews + c.R + c.O),
        "COOP3": _ratio(c.I, interviews + c.R),
        "COOP4": _ratio(interviews, interviews + c.R),
        "REF1": _ratio(c.R, all_cases),
        "REF2": _ratio(c.R, estimated),
        "REF3": _ratio(c.R, eligible),
        "CON1": _ratio(contacted, contacted + c.NC + c.unknown),
        "CON2": _ratio(contacted, contacted + c.NC + share * c.unknown),
        "CON3": _ratio(contacted, contacted + c.NC),
    }
    return OutcomeRates(counts=counts, eligibility=eligibility, rates=rates)
