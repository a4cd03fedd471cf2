"""The barometer set-up page's form: a barometer to fields, and posted fields back to a barometer's.

Parsing only; what a valid barometer is lives in ``services.build_barometer``, which reports every
wrong field at once. Scope rules use the contact policy's rule rows (attribute, rule, value);
strata are rows of an attribute, optional bands (``2, 5``) and whether the attribute is a date
counted in years before the wave (tenure).
"""

from __future__ import annotations

from typing import Any

from django.http import QueryDict

from avis.barometers.models import Allocation, Barometer, BarometerMetric, Mode, Recurrence
from avis.governance.engine import OPERATORS

SCOPE_ROWS = 4
STRATA_ROWS = 3
TARGET_ROWS = 3
CONFIDENCES = (90, 95, 99)


def _number(text: str) -> int | float | str:
    try:
        value = float(text.replace(",", ".").replace("\u202f", "").replace(" ", ""))
    except ValueError:
        return text
    return int(value) if value.is_integer() else value


def _numbers(text: str) -> list[int | float | str]:
    return [_number(part.strip()) for part in text.replace(";", ",").split(",") if part.strip()]


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    return "" if value is None else str(value)


def form_from_barometer(barometer: Barometer | None) -> dict[str, Any]:
    """What the page's inputs show for an existing barometer, or the defaults of a new one."""
    b = barometer or Barometer(margin=3, domain_margin=8)
    scope = [(r["attribute"], r["operator"], _shown(r.get("value"))) for r in b.scope]
    strata = [(s["attribute"], _shown(s.get("bands") or []), bool(s.get("years_since"))) for s in b.strata]
    targets = [(attribute, _targets_text(counts)) for attribute, counts in b.population_targets.items()]
    return {
        "name_fr": b.name.get("fr", ""),
        "name_en": b.name.get("en", ""),
        "survey_id": b.survey_id or "",
        "scope": scope + [("", "", "")] * max(0, SCOPE_ROWS - len(scope)),
        "strata": strata + [("", "", False)] * max(0, STRATA_ROWS - len(strata)),
        "targets": targets + [("", "")] * max(0, TARGET_ROWS - len(targets)),
        "mode": b.mode,
        "metric": b.metric,
        "margin": _shown(b.margin),
        "domain": b.domain,
        "domain_margin": _shown(b.domain_margin),
        "confidence": round(b.confidence * 100),
        "allocation": b.allocation,
        "minimum_per_stratum": b.minimum_per_stratum,
        "expected_response_rate": _shown(round(b.expected_response_rate * 100, 1)),
        "recurrence": b.recurrence,
        "fieldwork_days": b.fieldwork_days,
        "reminder_gap_days": b.reminder_gap_days,
        "reminder_max": b.reminder_max,
    }


def _targets_text(counts: dict[str, Any]) -> str:
    return "; ".join(f"{value} = {_shown(count)}" for value, count in counts.items())


def choices() -> dict[str, Any]:
    return {
        "operators": OPERATORS,
        "modes": Mode.choices,
        "metrics": BarometerMetric.choices,
        "allocations": Allocation.choices,
        "recurrences": Recurrence.choices,
        "confidences": CONFIDENCES,
    }


def fields_from_post(data: QueryDict) -> tuple[dict[str, Any], dict[str, Any]]:
    """The fields of ``build_barometer`` the form asks for, and the form as posted (shown again)."""
    scope, scope_rows = [], []
    for row in range(SCOPE_ROWS):
        attribute = data.get(f"scope-attr-{row}", "").strip()
        operator = data.get(f"scope-op-{row}", "")
        raw = data.get(f"scope-value-{row}", "").strip()
        scope_rows.append((attribute, operator, raw))
        if not attribute:
            continue
        rule: dict[str, Any] = {"attribute": attribute, "operator": operator}
        if operator == "in":
            rule["value"] = _numbers(raw)
        elif operator not in {"is_true", "is_set"}:
            rule["value"] = _number(raw)
        scope.append(rule)
    strata, strata_rows = [], []
    for row in range(STRATA_ROWS):
        attribute = data.get(f"stratum-attr-{row}", "").strip()
        bands = data.get(f"stratum-bands-{row}", "").strip()
        years = data.get(f"stratum-years-{row}") == "on"
        strata_rows.append((attribute, bands, years))
        if not attribute:
            continue
        spec: dict[str, Any] = {"attribute": attribute}
        if bands:
            spec["bands"] = _numbers(bands)
        if years:
            spec["years_since"] = True
        strata.append(spec)
    targets: dict[str, Any] = {}
    target_rows = []
    for row in range(TARGET_ROWS):
        attribute = data.get(f"target-attr-{row}", "").strip()
        raw = data.get(f"target-counts-{row}", "").strip()
        target_rows.append((attribute, raw))
        if not attribute:
            continue
        counts: dict[str, Any] = {}
        for part in raw.split(";"):
            value, _, count = part.partition("=")
            if value.strip():
                counts[value.strip()] = _number(count.strip())
        targets[attribute] = counts
    confidence = _number(data.get("confidence", "95"))
    rate = _number(data.get("expected_response_rate", "30").strip() or "30")
    domain_margin = _number(data.get("domain_margin", "").strip())
    fields = {
        "name_fr": data.get("name_fr", ""),
        "name_en": data.get("name_en", ""),
        "survey_id": _number(data.get("survey_id", "0") or "0"),
        "scope": scope,
        "strata": strata,
        "mode": data.get("mode", ""),
        "metric": data.get("metric", ""),
        "margin": _number(data.get("margin", "").strip()),
        "domain": data.get("domain", "").strip(),
        "domain_margin": domain_margin if domain_margin != "" else None,
        "confidence": confidence / 100 if isinstance(confidence, int | float) else confidence,
        "allocation": data.get("allocation", ""),
        "minimum_per_stratum": _number(data.get("minimum_per_stratum", "0").strip() or "0"),
        "expected_response_rate": rate / 100 if isinstance(rate, int | float) else rate,
        "recurrence": data.get("recurrence", ""),
        "fieldwork_days": _number(data.get("fieldwork_days", "").strip()),
        "reminder_gap_days": _number(data.get("reminder_gap_days", "").strip()),
        "reminder_max": _number(data.get("reminder_max", "").strip()),
        "population_targets": targets,
    }
    form = {
        **{k: v for k, v in data.items() if not k.startswith(("scope-", "stratum-", "target-"))},
        "scope": scope_rows,
        "strata": strata_rows,
        "targets": target_rows,
    }
    for name in ("survey_id", "confidence"):
        form[name] = _number(str(form.get(name, "")))
    return fields, form
