"""The contact-policy page's form: a policy to fields and posted fields back to policy changes.

Parsing only; every rule about what a valid policy is lives in
``governance.services.clean_policy``, which the page calls through
``update_policy``.
"""

from __future__ import annotations

from typing import Any

from django.http import QueryDict

from avis.governance.engine import CHANNELS, OPERATORS
from avis.governance.models import ContactPolicy

WINDOW_ROWS = 4
EXCLUSION_ROWS = 5


def _number(text: str) -> int | float | str:
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        return text
    return int(value) if value.is_integer() else value


def form_from_policy(policy: ContactPolicy, touchpoints: list[str]) -> dict[str, Any]:
    windows = [(w["max"], w["days"]) for w in policy.windows]
    exclusions = [
        (
            rule["attribute"],
            rule["operator"],
            ", ".join(map(str, rule["value"]))
            if isinstance(rule.get("value"), list)
            else rule.get("value", ""),
        )
        for rule in policy.exclusions
    ]
    return {
        "windows": windows + [("", "")] * (WINDOW_ROWS - len(windows)),
        "quarantine_days": policy.quarantine_days,
        "freshness_hours": policy.freshness_hours,
        "default_rate": round(policy.default_sampling_rate * 100, 2),
        "touchpoints": [
            {
                "code": code,
                "gap": policy.touchpoint_gaps.get(code, ""),
                "priority": policy.priorities.get(code, ""),
                "rate": round(policy.sampling_rates[code] * 100, 2) if code in policy.sampling_rates else "",
            }
            for code in touchpoints
        ],
        "exclusions": exclusions + [("", "", "")] * (EXCLUSION_ROWS - len(exclusions)),
        "send_from": f"{policy.send_from:%H:%M}",
        "send_until": f"{policy.send_until:%H:%M}",
        "send_on_sunday": policy.send_on_sunday,
        "send_on_holidays": policy.send_on_holidays,
        "channels": [
            {
                "channel": channel,
                "from": policy.channel_sending.get(channel, {}).get("from", ""),
                "until": policy.channel_sending.get(channel, {}).get("until", ""),
            }
            for channel in CHANNELS
        ],
        "operators": OPERATORS,
    }


def changes_from_post(data: QueryDict, touchpoints: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The policy changes the form asks for, and the form as posted (to show it again on an error)."""
    windows = []
    for row in range(WINDOW_ROWS):
        most, days = data.get(f"window-max-{row}", "").strip(), data.get(f"window-days-{row}", "").strip()
        if most or days:
            windows.append({"max": _number(most), "days": _number(days)})
    exclusions = []
    for row in range(EXCLUSION_ROWS):
        attribute = data.get(f"ex-attr-{row}", "").strip()
        if not attribute:
            continue
        operator = data.get(f"ex-op-{row}", "")
        raw = data.get(f"ex-value-{row}", "").strip()
        rule: dict[str, Any] = {"attribute": attribute, "operator": operator}
        if operator == "in":
            rule["value"] = [_number(part.strip()) for part in raw.split(",") if part.strip()]
        elif operator not in {"is_true", "is_set"}:
            rule["value"] = _number(raw)
        exclusions.append(rule)
    gaps, priorities, rates = {}, {}, {}
    for code in touchpoints:
        if gap := data.get(f"gap-{code}", "").strip():
            gaps[code] = _number(gap)
        if priority := data.get(f"priority-{code}", "").strip():
            priorities[code] = _number(priority)
        if rate := data.get(f"rate-{code}", "").strip():
            value = _number(rate)
            rates[code] = value / 100 if isinstance(value, int | float) else value
    channel_sending = {}
    for channel in CHANNELS:
        window = {
            bound: data.get(f"{channel}-{bound}", "").strip()
            for bound in ("from", "until")
            if data.get(f"{channel}-{bound}", "").strip()
        }
        if window:
            channel_sending[channel] = window
    default_rate = _number(data.get("default_rate", "100").strip() or "100")
    changes = {
        "windows": windows,
        "quarantine_days": _number(data.get("quarantine_days", "0").strip() or "0"),
        "freshness_hours": _number(data.get("freshness_hours", "0").strip() or "0"),
        "touchpoint_gaps": gaps,
        "priorities": priorities,
        "exclusions": exclusions,
        "default_sampling_rate": default_rate / 100
        if isinstance(default_rate, int | float)
        else default_rate,
        "sampling_rates": rates,
        "send_from": data.get("send_from", ""),
        "send_until": data.get("send_until", ""),
        "send_on_sunday": data.get("send_on_sunday") == "on",
        "send_on_holidays": data.get("send_on_holidays") == "on",
        "channel_sending": channel_sending,
    }
    posted = {
        "windows": [
            (data.get(f"window-max-{r}", ""), data.get(f"window-days-{r}", "")) for r in range(WINDOW_ROWS)
        ],
        "quarantine_days": data.get("quarantine_days", ""),
        "freshness_hours": data.get("freshness_hours", ""),
        "default_rate": data.get("default_rate", ""),
        "touchpoints": [
            {
                "code": code,
                "gap": data.get(f"gap-{code}", ""),
                "priority": data.get(f"priority-{code}", ""),
                "rate": data.get(f"rate-{code}", ""),
            }
            for code in touchpoints
        ],
        "exclusions": [
            (data.get(f"ex-attr-{r}", ""), data.get(f"ex-op-{r}", ""), data.get(f"ex-value-{r}", ""))
            for r in range(EXCLUSION_ROWS)
        ],
        "send_from": data.get("send_from", ""),
        "send_until": data.get("send_until", ""),
        "send_on_sunday": data.get("send_on_sunday") == "on",
        "send_on_holidays": data.get("send_on_holidays") == "on",
        "channels": [
            {"channel": c, "from": data.get(f"{c}-from", ""), "until": data.get(f"{c}-until", "")}
            for c in CHANNELS
        ],
        "operators": OPERATORS,
    }
    return changes, posted
