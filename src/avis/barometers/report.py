"""The wave report: one PDF per wave and language, with the disclosure AAPOR and ISO 20252 ask for.

AAPOR's Code of Professional Ethics and Practices (Disclosure Standards, section III.A) and ISO
20252:2019 (the research report, 4.8) ask a survey's report to state: who sponsored and conducted
it; the population and the frame, with what the frame leaves out; the dates of the fieldwork; the
mode; the exact wording of the questions; the sample design and sizes; the final dispositions and
the outcome rates; the weighting, with its variables and targets; the precision of the estimates;
and the limits of the study. Each of those is a section of this report, in that order, every figure
read from the wave's data (``dispositions``, ``results``), nothing typed by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from django.template.loader import render_to_string
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from avis.analytics.aapor import DISPOSITION_LABELS, RATE_NAMES, Disposition
from avis.analytics.plots import estimate_chart
from avis.analytics.reports import pdf_from_html
from avis.barometers.dispositions import WaveRates, wave_rates
from avis.barometers.models import Wave
from avis.barometers.results import RAKING_BOUNDS, WaveResults, wave_results
from avis.surveys.wording import localised, prompt_for
from avis.words import operator_label, percent_label, reason_label

LANGUAGES = ("fr", "en")


@dataclass(frozen=True)
class Figure:
    label: str
    value: str
    interval: str
    margin: str
    n: int


def wave_report_filename(wave: Wave, language: str) -> str:
    return f"avis-{wave.organisation.slug}-barometer-{wave.barometer_id}-wave-{wave.number}-{language}.pdf"


def render_wave_report_pdf(*, wave: Wave, language: str = "fr", now: datetime | None = None) -> bytes:
    """The wave's report as PDF bytes, in French or English."""
    return pdf_from_html(wave_report_html(wave=wave, language=language, now=now))


def wave_report_html(*, wave: Wave, language: str = "fr", now: datetime | None = None) -> str:
    now = now or timezone.now()
    with translation.override(language):
        rates = wave_rates(wave=wave, now=now)
        results = wave_results(wave=wave, now=now)
        return render_to_string(
            "barometers/wave_report.html",
            _context(wave, rates, results, language=language, now=now) | {"LANGUAGE_CODE": language},
        )


def _number(value: float | None, digits: int = 1) -> str:
    # Rounded here: Django's number_format cuts the digits beyond ``digits`` off (66.67 → "66.6").
    return "—" if value is None else formats.number_format(round(float(value), digits), digits, use_l10n=True)


def _day(moment: datetime | None, zone: ZoneInfo) -> str:
    if moment is None:
        return "—"
    return formats.date_format(moment.astimezone(zone).date(), "DATE_FORMAT")


def _share(value: object, digits: int = 1) -> str:
    return "—" if value is None else percent_label(round(float(value), digits + 2), digits)  # type: ignore[arg-type]


def _rule(rule: dict) -> str:
    """A scope rule in words: "contract equals active"."""
    parts = (rule.get("attribute"), operator_label(str(rule.get("operator"))), rule.get("value"))
    return " ".join(str(part) for part in parts if part not in (None, ""))


def _figure(label: str, estimate: object, summary: str) -> Figure:
    """An estimate in words: a proportion in %, an NPS or a mean in points."""
    value = getattr(estimate, "value", None)
    if value is None:
        return Figure(label, "—", "—", "—", getattr(estimate, "n", 0))
    low, high, margin = estimate.ci_low, estimate.ci_high, estimate.margin  # type: ignore[attr-defined]
    if summary == "proportion":
        return Figure(
            label,
            _share(value),
            f"{_share(low)} – {_share(high)}",
            f"± {_number(margin * 100)} pts",
            estimate.n,  # type: ignore[attr-defined]
        )
    digits = 1 if summary == "nps" else 2
    return Figure(
        label,
        _number(value, digits),
        f"{_number(low, digits)} – {_number(high, digits)}",
        f"± {_number(margin, digits)}",
        estimate.n,  # type: ignore[attr-defined]
    )


def _context(wave: Wave, rates: WaveRates, results: WaveResults, *, language: str, now: datetime) -> dict:
    barometer, organisation = wave.barometer, wave.organisation
    zone = ZoneInfo(organisation.default_time_zone)
    counts = rates.overall.counts
    excluded = sum(int(v) for v in (wave.exclusions or {}).values())
    respondents_by_stratum: dict[str, int] = {}
    for respondent in results.respondents:
        respondents_by_stratum[respondent.stratum] = respondents_by_stratum.get(respondent.stratum, 0) + 1
    touchpoint = barometer.survey.touchpoint

    def wording(prompt: dict, lang: str) -> str:
        return prompt_for(prompt, lang, company=organisation.name, touchpoint=touchpoint.label(lang))

    figures = []
    for found in results.figures:
        prompt = wording(found.question.prompt, language)
        domains = []
        for attribute, by_value in found.domains.items():
            rows = [_figure(str(value), estimate, found.summary) for value, estimate in by_value.items()]
            chart_rows = [
                {
                    "label": str(value),
                    "value": e.value * (100 if found.summary == "proportion" else 1),
                    "low": e.ci_low * (100 if found.summary == "proportion" else 1),
                    "high": e.ci_high * (100 if found.summary == "proportion" else 1),
                }
                for value, e in by_value.items()
                if e.value is not None
            ]
            chart = (
                estimate_chart(chart_rows, title=f"{prompt} — {attribute}", value_title="", language=language)
                if chart_rows
                else None
            )
            domains.append({"attribute": attribute, "rows": rows, "chart": chart})
        figures.append(
            {
                "prompt": prompt,
                "summary": found.summary,
                "overall": _figure(_("All respondents"), found.overall, found.summary),
                "domains": domains,
            }
        )
    rr3 = rates.overall["RR3"]
    return {
        "organisation": organisation,
        "barometer": barometer.label(language),
        "wave": wave,
        "made_on": _day(now, zone),
        "frame_date": formats.date_format(wave.frame_date, "DATE_FORMAT"),
        "fieldwork_start": _day(wave.fieldwork_starts_at, zone),
        "fieldwork_end": _day(wave.fieldwork_ends_at, zone),
        "scope": [
            " ".join(
                str(part)
                for part in (
                    rule.get("attribute"),
                    operator_label(str(rule.get("operator"))),
                    rule.get("value"),
                )
                if part not in (None, "")
            )
            for rule in barometer.scope
        ],
        "strata_attributes": barometer.stratum_attributes,
        "frame_size": wave.frame_size,
        "exclusions": [
            (reason_label(reason), count) for reason, count in sorted((wave.exclusions or {}).items())
        ],
        "excluded": excluded,
        "mode": barometer.get_mode_display(),
        "reminder_max": barometer.reminder_max,
        "reminder_gap": barometer.reminder_gap_days,
        "questions": [
            {
                "code": q.code,
                "kind": q.get_kind_display(),
                "fr": wording(q.prompt, "fr"),
                "en": wording(q.prompt, "en"),
                "choices_fr": " / ".join(localised(c["label"], "fr") for c in q.choices),
                "choices_en": " / ".join(localised(c["label"], "en") for c in q.choices),
                "required": q.required,
            }
            for q in results.questions
        ],
        "allocation": barometer.get_allocation_display(),
        "seed": wave.seed,
        "goal": _number(barometer.margin, 1),
        "confidence": percent_label(barometer.confidence, 0),
        "strata": [
            {
                "key": s.key,
                "frame": s.frame_population,
                "population": s.population,
                "sampled": s.sample_size,
                "target": s.target_completes,
                "respondents": respondents_by_stratum.get(s.key, 0),
                "rr3": _share(r.rates["RR3"]),
            }
            for s, r in ((r.stratum, r) for r in rates.strata)
        ],
        "sampled": counts.total,
        "dispositions": [(d.value, DISPOSITION_LABELS[d], getattr(counts, d.value)) for d in Disposition],
        "rates": [(name, _share(rates.overall[name])) for name in RATE_NAMES],
        "e": _number(float(rates.overall.eligibility.e), 3),
        "e_method": rates.overall.eligibility.explanation,
        "final": rates.final,
        "respondents": len(results.respondents),
        "weighting_problem": results.problem,
        "margins_source": results.margins_source,
        "margins": [
            (attribute, [(value, _number(count, 0)) for value, count in sorted(margin.items())])
            for attribute, margin in results.margins.items()
        ],
        "bounds": f"{_number(RAKING_BOUNDS[0], 1)} – {_number(RAKING_BOUNDS[1], 1)}",
        "weights": results.report,
        "weights_text": {
            "minimum": _number(results.report.minimum, 1),
            "maximum": _number(results.report.maximum, 1),
            "kish_n": _number(results.report.kish_n, 1),
            "design_effect": _number(results.report.design_effect, 2),
            "efficiency": _share(results.report.efficiency),
        }
        if results.report
        else None,
        "method": results.method,
        "figures": figures,
        "rr3": _share(rr3),
        "low_response": rr3 is not None and rr3 < 0.5,
    }
