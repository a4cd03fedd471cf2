"""The wave's PDF report, in French and English: every claim of its disclosure block read back from
the PDF's text and checked against the wave's data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import formats, timezone, translation

from avis.analytics import survey_design
from avis.barometers.dispositions import assign_dispositions
from avis.barometers.report import render_wave_report_pdf, wave_report_html
from avis.surveys.models import Invitation
from tests.analytics.answering import survey_and_answer
from tests.barometers.waves import make_wave, sample
from tests.helpers import open_all_day
from tests.pdf_text import pdf_text, squeezed

pytestmark = pytest.mark.django_db(transaction=True)
PARIS = ZoneInfo("Europe/Paris")
NPS = {"north": [9, 10, 6], "south": [3, 8]}
AGENT = {"north": ["5", "4", "2"], "south": ["1", "4"]}


def answered(
    org, scores: list[int | None], agent: list[str], comments: list[str] | None = None
) -> list[Invitation]:  # noqa: ANN001, E501
    before = set(Invitation.objects.values_list("pk", flat=True))
    survey_and_answer(
        org, datetime(2026, 3, 3, 11, tzinfo=PARIS), scores, agent_scores=agent, comments=comments
    )
    return list(Invitation.objects.exclude(pk__in=before).order_by("pk"))


@pytest.fixture
def closed_wave(org):  # noqa: ANN001, ANN201
    """North: 5 sampled of 1,000, 3 answered; south: 3 sampled of 500, 2 answered; fieldwork over."""
    open_all_day(org.organisation)
    north_invitations = answered(
        org, [*NPS["north"], None, None], [*AGENT["north"], "5", "5"], ['=HYPERLINK("http://x")', *"abcd"]
    )
    south_invitations = answered(org, [*NPS["south"], None], [*AGENT["south"], "3"])
    invitation = north_invitations[0]
    wave, north, south = make_wave(
        org.organisation,
        invitation.survey,
        started=timezone.now() - timedelta(days=1),
        strata=(("north", 1000, 5, 5), ("south", 500, 3, 3)),
        scope=[{"attribute": "contract", "operator": "equals", "value": "active"}],
        mode="email",
    )
    wave.frame_size, wave.exclusions, wave.seed, wave.version = (
        1600,
        {"opted_out": 60, "quarantine": 40},
        20260301,
        invitation.version,
    )
    wave.save()
    for stratum, invitations in ((north, north_invitations), (south, south_invitations)):
        for i in invitations:
            sample(wave, stratum, i.customer, invitation=i, channel=i.channel)
    assign_dispositions(wave=wave, now=timezone.now())
    return wave


def expected_figures() -> dict[str, survey_design.DesignEstimate]:
    """The same wave computed straight from its raw answers with the statistics module."""
    strata = ["north"] * 5 + ["south"] * 3
    responded = [True, True, True, False, False, True, True, False]
    weighted = survey_design.weight_wave(
        strata,
        {"north": 1000, "south": 500},
        [5 / 1000] * 5 + [3 / 500] * 3,
        responded,
        categories={"region": strata},
        margins={"region": {"north": 1000, "south": 500}},
        bounds=(0.3, 3.0),
    )
    nps = NPS["north"] + NPS["south"]
    top_two = [1.0 if int(a) >= 4 else 0.0 for a in AGENT["north"] + AGENT["south"]]
    regions = ["north"] * 3 + ["south"] * 2
    by_region = survey_design.estimate_by(weighted.design, nps, regions, "nps")
    return {
        "nps": survey_design.estimate(weighted.design, nps, "nps"),
        "nps_north": by_region["north"],
        "nps_south": by_region["south"],
        "agent": survey_design.estimate(weighted.design, top_two, "proportion"),
    }


def test_the_english_report_discloses_what_aapor_and_iso_20252_ask(closed_wave, org) -> None:  # noqa: ANN001
    text = squeezed(pdf_text(render_wave_report_pdf(wave=closed_wave, language="en")))

    def says(sentence: str) -> bool:
        return squeezed(sentence) in text

    start = closed_wave.fieldwork_starts_at.astimezone(PARIS)
    end = closed_wave.fieldwork_ends_at.astimezone(PARIS)
    with translation.override("en"):
        start_day, end_day = (formats.date_format(d.date(), "DATE_FORMAT") for d in (start, end))
    assert says("Customer barometer — wave 1")
    assert says(f"Sponsored and conducted by {org.organisation.name}")
    assert not says("provisional")  # closed: dispositions are final
    # population and frame, coverage gaps
    assert says("In scope when every rule holds: contract equals active.")
    assert says("Customers in scope: 1600.")
    assert says("Coverage gap: 100 customers in scope left out of the frame before the draw")
    assert says("opted out: 60") and says("the quarantine: 40")
    assert says(f"Fieldwork from {start_day} to {end_day}.")
    assert says("invitation by email")
    # the exact wording, in both languages, with the company's name as customers read it
    assert says(f"How likely are you to recommend {org.organisation.name} to a friend?")
    assert says(f"Recommanderiez-vous {org.organisation.name} à un proche ?")
    assert says("Oui / En partie / Non") and says("Yes / Partly / No")
    # design and sizes per stratum: in scope, N, n, completes wanted, respondents, RR3
    assert says("random seed 20260301")
    assert says("north 1000 1000 5 5 3 60.0 %")
    assert says("south 500 500 3 3 2") and says("66.7 %")  # (a page may break before the last cell)
    # dispositions (5 complete, 3 sent with no reply) and every rate; e = 1 (no case found ineligible)
    assert says("8 sampled cases")
    assert says("I complete 5") and says("UH unknown eligibility, not known to be delivered 3")
    assert says("NE not eligible 0")
    for name, value in {"RR1": "62.5 %", "RR3": "62.5 %", "RR5": "100.0 %", "COOP1": "100.0 %"}.items():
        assert says(f"{name} {value}"), name
    assert says("REF1 0.0 %") and says("CON1 62.5 %") and says("CON3 100.0 %")
    assert says("e = 1.000:") and says("share eligible among the cases of known eligibility")
    # weighting: 1/π, non-response within strata, raking to the frame's margins, the weights' range
    assert says("Targets: the frame's own counts.") and says("region: north 1000 · south 500")
    assert says("bounded to 0.3 – 3.0")
    assert says("5 respondents; weights from 250.0 to 333.3")
    # estimates with their margins of error, overall and by region, as the statistics module gives them
    figures = expected_figures()
    nps, north, south, agent = figures["nps"], figures["nps_north"], figures["nps_south"], figures["agent"]
    assert round(nps.value, 1) == 5.6 and round(north.value, 1) == 33.3 and south.value == -50
    assert says(f"All respondents 5.6 {nps.ci_low:.1f} – {nps.ci_high:.1f} ± {nps.margin:.1f} 5")
    assert says(f"region = north 33.3 {north.ci_low:.1f} – {north.ci_high:.1f} ± {north.margin:.1f} 3")
    assert says(f"region = south -50.0 {south.ci_low:.1f} – {south.ci_high:.1f} ± {south.margin:.1f} 2")
    assert round(agent.value, 3) == 0.611
    assert says(f"All respondents 61.1 % {agent.ci_low * 100:.1f} % – {min(agent.ci_high, 1) * 100:.1f} %")
    # limitations
    assert says("Response rate (AAPOR RR3): 62.5 %.")
    assert says("100 customers in scope could not be sampled")


def test_the_french_report_writes_french_words_and_numbers(closed_wave) -> None:  # noqa: ANN001
    text = squeezed(pdf_text(render_wave_report_pdf(wave=closed_wave, language="fr")))
    for sentence in (
        "Baromètre clients — vague 1",
        "Dates du terrain",
        "RR1 62,5 %",
        "Défaut de couverture : 100 clients du champ écartés",
        "Taux de réponse (AAPOR RR3) : 62,5 %.",
        "de 250,0 à 333,3",
        "Tous les répondants 5,6",
        "I complet 5",
    ):
        assert squeezed(sentence) in text, sentence


def test_a_wave_still_in_fieldwork_says_its_figures_are_provisional(org) -> None:  # noqa: ANN001
    open_all_day(org.organisation)
    invitations = answered(org, [None, None], ["5", "5"])
    wave, north, south = make_wave(
        org.organisation, invitations[0].survey, started=timezone.now() - timedelta(hours=2)
    )
    for i in invitations:
        sample(wave, north, i.customer, invitation=i, channel=i.channel)
    html = wave_report_html(wave=wave, language="en")
    assert "provisional" in html and "No respondent yet: nothing to weight." in html
    assert "No estimate" in html


def test_uploaded_targets_are_raked_to_and_stated(closed_wave) -> None:  # noqa: ANN001
    barometer = closed_wave.barometer
    barometer.population_targets = {"region": {"north": 1200, "south": 300}}
    barometer.save()
    html = wave_report_html(wave=closed_wave, language="en")
    assert "Targets: uploaded by the organisation." in html
    assert "north 1200 · south 300" in html
    # raking factors 1.2 and 0.6, within the bounds: weights 400 (north) and 150 (south)
    assert "weights from 150.0 to 400.0" in html


def test_a_wave_that_cannot_be_weighted_says_why_and_estimates_nothing(org, api) -> None:  # noqa: ANN001
    open_all_day(org.organisation)
    north_invitations = answered(org, [9, 7, None], ["5", "4", "5"])
    south_invitations = answered(org, [None, None], ["5", "5"])
    wave, north, south = make_wave(
        org.organisation,
        north_invitations[0].survey,
        started=timezone.now() - timedelta(days=1),
        strata=(("north", 1000, 3, 3), ("south", 500, 2, 2)),
    )
    for stratum, invitations in ((north, north_invitations), (south, south_invitations)):
        for i in invitations:
            sample(wave, stratum, i.customer, invitation=i, channel=i.channel)
    html = wave_report_html(wave=wave, language="en")
    assert "The wave could not be weighted: nobody answered in south" in html
    assert "Without weights, no estimate of the population is given" in html
    assert "No estimate" in html
    answers = api.get(f"/api/v1/barometers/{wave.barometer_id}/waves/1/answers").content.decode("utf-8-sig")
    lines = answers.splitlines()
    assert len(lines) == 3 and all(line.split(",")[6] == "" for line in lines[1:])  # no final weight


@pytest.fixture(autouse=True)
def _a_weekday_morning_in_paris():
    """The wave's dates and deadlines are read from one set instant, not the machine's clock."""
    import time_machine

    with time_machine.travel(datetime(2026, 12, 2, 9, 30, tzinfo=UTC), tick=True):
        yield
