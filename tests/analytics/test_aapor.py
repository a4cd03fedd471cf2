"""AAPOR outcome rates, checked against examples worked by hand from the formulas of the Standard
Definitions (AAPOR, 9th edition, 2016, "Calculating rates from response distributions")."""

from __future__ import annotations

from fractions import Fraction as F

import pytest

from avis.analytics.aapor import (
    RATE_NAMES,
    CaseFacts,
    Counts,
    Disposition,
    disposition_of,
    estimate_e,
    outcome_rates,
)

# 1,000 sampled cases: 400 complete, 50 partial, 150 refusals, 100 non-contacts, 20 other,
# 120 + 80 of unknown eligibility, 80 not eligible.
WAVE = Counts(I=400, P=50, R=150, NC=100, O=20, UH=120, UO=80, NE=80)


def test_e_is_the_share_eligible_among_cases_of_known_eligibility() -> None:
    # (I+P+R+NC+O) / (I+P+R+NC+O+NE) = 720 / 800
    eligibility = estimate_e(WAVE)
    assert eligibility.e == F(9, 10) and eligibility.method == "known_share"
    assert "(I+P+R+NC+O) / (I+P+R+NC+O+NE)" in eligibility.explanation


def test_every_rate_of_the_worked_example() -> None:
    # By hand: all cases but NE = 920; with e(UH+UO) = 0.9 × 200 = 180 instead, 900; known
    # eligible = 720; I+P+R+O (contacted) = 620; I+P+R = 600.
    expected = {
        "RR1": F(400, 920),
        "RR2": F(450, 920),
        "RR3": F(400, 900),
        "RR4": F(450, 900),
        "RR5": F(400, 720),
        "RR6": F(450, 720),
        "COOP1": F(400, 620),
        "COOP2": F(450, 620),
        "COOP3": F(400, 600),
        "COOP4": F(450, 600),
        "REF1": F(150, 920),
        "REF2": F(150, 900),
        "REF3": F(150, 720),
        "CON1": F(620, 920),
        "CON2": F(620, 900),
        "CON3": F(620, 720),
    }
    rates = outcome_rates(WAVE)
    assert set(rates.rates) == set(RATE_NAMES) == set(expected)
    assert rates.rates == expected
    assert rates["RR3"] == F(4, 9) and rates["RR4"] == F(1, 2) and rates["COOP4"] == F(3, 4)
    assert rates.as_floats()["RR6"] == 0.625


def test_a_stated_e_replaces_the_estimate_and_is_said_to_be_stated() -> None:
    rates = outcome_rates(WAVE, e=0.25)  # e(UH+UO) = 50
    assert rates.eligibility.method == "stated" and rates.eligibility.e == F(1, 4)
    assert rates["RR3"] == F(400, 770) and rates["REF2"] == F(150, 770)
    assert rates["CON2"] == F(620, 770)
    # e = 1 gives RR1 and RR2, e = 0 gives RR5 and RR6, as the Standard Definitions note.
    ones, zeros = outcome_rates(WAVE, e=1), outcome_rates(WAVE, e=0)
    assert (ones["RR3"], ones["RR4"]) == (ones["RR1"], ones["RR2"])
    assert (zeros["RR3"], zeros["RR4"], zeros["CON2"]) == (zeros["RR5"], zeros["RR6"], zeros["CON3"])
    with pytest.raises(ValueError, match="share"):
        outcome_rates(WAVE, e=1.5)


def test_a_mail_wave_with_no_partials_and_no_other() -> None:
    # A second example: I=220, R=30, NC=50, UH=0, UO=200, NE=20; e = 300/320 = 15/16.
    counts = Counts(I=220, R=30, NC=50, UO=200, NE=20)
    rates = outcome_rates(counts)
    assert rates.eligibility.e == F(15, 16)
    assert rates["RR1"] == rates["RR2"] == F(220, 500)
    assert rates["RR3"] == rates["RR4"] == F(220, 300 + F(15, 16) * 200)  # 220 / 487.5
    assert rates["RR5"] == F(220, 300)
    assert rates["COOP1"] == rates["COOP3"] == F(220, 250)
    assert rates["REF1"] == F(30, 500) and rates["REF3"] == F(30, 300)
    assert rates["CON1"] == F(250, 500) and rates["CON3"] == F(250, 300)
    assert rates["CON2"] == F(250, F(975, 2))


def test_no_known_case_takes_e_as_one_and_an_empty_denominator_is_no_rate() -> None:
    only_unknown = outcome_rates(Counts(UH=10))
    assert only_unknown.eligibility.method == "no_known_case" and only_unknown.eligibility.e == 1
    assert only_unknown["RR1"] == only_unknown["RR3"] == 0
    assert only_unknown["RR5"] is None and only_unknown["COOP1"] is None and only_unknown["CON3"] is None
    assert all(v is None for v in outcome_rates(Counts()).rates.values())


def test_counts_add_up_per_stratum() -> None:
    north = Counts.of(["I", "I", "R", "UO", "NE"])
    south = Counts.of([Disposition.PARTIAL, Disposition.NON_CONTACT])
    both = north + south
    assert both == Counts(I=2, P=1, R=1, NC=1, UO=1, NE=1) and both.total == 7
    assert both.as_dict()["NE"] == 1


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (CaseFacts(started=True, applicable=5, answered=5, sent=1, delivered=True), ("I", "complete")),
        (CaseFacts(started=True, applicable=5, answered=4, sent=1), ("I", "complete")),  # 80 %
        (CaseFacts(started=True, applicable=6, answered=3, sent=1), ("P", "partial")),  # 50 %
        (CaseFacts(started=True, applicable=5, answered=2, sent=1), ("R", "break_off")),
        # an answer outranks a later STOP
        (CaseFacts(started=True, applicable=5, answered=5, refused=True, sent=1), ("I", "complete")),
        (CaseFacts(refused=True, sent=1, delivered=True), ("R", "stop")),
        (CaseFacts(out_of_scope=True, sent=1), ("NE", "out_of_scope")),
        (CaseFacts(erased=True, sent=1), ("O", "erased")),
        (CaseFacts(quota_full=True), ("NE", "quota_full")),
        (CaseFacts(quota_full=True, sent=1, delivered=True), ("UO", "delivered_no_reply")),
        (CaseFacts(sent=2, delivered=True), ("UO", "delivered_no_reply")),
        (CaseFacts(sent=1), ("UH", "sent_no_reply")),
        (CaseFacts(sent=1, bounced=1), ("NE", "bounced")),
        # e-mail bounced, SMS sent without a receipt: still of unknown eligibility
        (CaseFacts(sent=2, bounced=1), ("UH", "sent_no_reply")),
        (CaseFacts(sent=2, bounced=1, delivered=True), ("UO", "delivered_no_reply")),
        (CaseFacts(), ("NC", "not_sent")),
    ],
)
def test_facts_make_one_final_disposition(facts: CaseFacts, expected: tuple[str, str]) -> None:
    disposition, reason = disposition_of(facts)
    assert (disposition.value, reason) == expected
