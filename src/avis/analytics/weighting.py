"""Survey weights: design weights from the governance sampling, raked to the population's margins.

Answers arrive with an inclusion probability (the contact-governance sampler
decided whether to invite each interaction). Their inverses are the design
weights; raking then corrects non-response by making the weighted answers
match the interaction population on touchpoint, site, segment and channel.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence

import numpy as np
from django.utils.formats import number_format
from django.utils.translation import gettext
from numpy.typing import ArrayLike, NDArray

from avis.errors import ValidationFailed

SHARE_TOLERANCE = 1e-6
# Newton's method on the bounded-raking dual converges in a few dozen steps when the bounds can be
# met (R's calibrate stops at 50); beyond this many, the bounds cannot be met.
NEWTON_STEPS = 100


class RakingFailed(ValidationFailed):
    code = "raking_failed"


def design_weights(inclusion_probabilities: ArrayLike) -> NDArray[np.float64]:
    """Horvitz–Thompson (1952) design weights 1/π: each answer stands for 1/π interactions."""
    pi = np.asarray(inclusion_probabilities, dtype=float).ravel()
    if not np.all(np.isfinite(pi)) or np.any((pi <= 0) | (pi > 1)):
        raise ValidationFailed("inclusion probabilities must lie in (0, 1]", field="inclusion_probabilities")
    return 1.0 / pi


def _codes(variable: str, values: Sequence[Hashable], categories: list[Hashable]) -> NDArray[np.intp]:
    index = {category: i for i, category in enumerate(categories)}
    array = np.asarray(values)
    if array.ndim == 1 and array.dtype.kind in "USbiu":
        # Each distinct value looked up once: answers are many, categories few.
        distinct, inverse = np.unique(array, return_inverse=True)
        known = [v.item() in index for v in distinct]
        if all(known):
            return np.array([index[v.item()] for v in distinct], dtype=np.intp)[inverse]
    unknown = sorted({str(v) for v in values if v not in index})
    if unknown:
        raise ValidationFailed(
            f"{variable}: answers in {', '.join(unknown)}, which the population margins do not list",
            field=variable,
        )
    return np.fromiter((index[v] for v in values), dtype=np.intp, count=len(values))


def _targets(
    population_margins: Mapping[str, Mapping[Hashable, float]], base_total: float
) -> dict[str, NDArray]:
    """Targets as totals; margins that each sum to 1 are shares of the base weights' total."""
    raw = {}
    for variable, margin in population_margins.items():
        values = np.asarray(list(margin.values()), dtype=float)
        if values.size == 0 or not np.all(np.isfinite(values)) or np.any(values < 0):
            raise ValidationFailed(f"{variable}: margins must be non-negative numbers", field=variable)
        raw[variable] = values
    sums = {variable: float(values.sum()) for variable, values in raw.items()}
    if all(abs(total - 1) <= SHARE_TOLERANCE for total in sums.values()):
        return {variable: values / values.sum() * base_total for variable, values in raw.items()}
    reference = next(iter(sums.values()))
    if any(abs(total - reference) > SHARE_TOLERANCE * reference for total in sums.values()):
        listing = ", ".join(f"{variable} {total:g}" for variable, total in sums.items())
        raise ValidationFailed(
            f"population margins disagree on the total ({listing}): give shares that sum to 1 or counts "
            "of the same population"
        )
    return raw


def _relative_gap(w: NDArray[np.float64], codes: NDArray[np.intp], target: NDArray[np.float64]) -> float:
    current = np.bincount(codes, weights=w, minlength=target.size)
    # A zero target has no answers (checked before raking), so its gap is exactly zero.
    return float(np.max(np.abs(current - target) / np.where(target > 0, target, 1.0)))


def _raking_distance_dual(
    eta: NDArray[np.float64],
    u: NDArray[np.float64],
    base: NDArray[np.float64],
    target: NDArray[np.float64],
    log_low: float,
    log_high: float,
    low: float,
    high: float,
) -> float:
    """Σ base·F(u) − η·T, F' = clip(exp(u), low, high): the convex dual of bounded raking."""
    inside = np.exp(np.clip(u, log_low, log_high))
    below = u < log_low
    above = u > log_high
    value = inside.copy()
    if low > 0:
        value[below] = low * (1 + u[below] - log_low)
    value[above] = high * (1 + u[above] - log_high)
    return float(base @ value - eta @ target)


def _bounded_rake(
    codes: list[NDArray[np.intp]],
    targets: list[NDArray[np.float64]],
    base: NDArray[np.float64],
    low: float,
    high: float,
    max_iter: int,
    tolerance: float,
) -> tuple[NDArray[np.float64], bool]:
    """Bounded raking: the weights base·g, g = clip(exp(Σ η of the unit's categories), low, high),
    that meet every margin — the unique minimiser of the raking distance within the bounds, the
    solution R's ``calibrate(calfun="raking", bounds=…)`` converges to.

    Newton's method on the convex dual with a backtracking line search, so each step lowers the
    dual and the iteration cannot cycle; when the bounds leave no solution the dual has no
    minimum and the loop ends unconverged. Units sharing every category share their factor, so the
    iteration runs on the occupied cells of the margins' cross-classification, not on the units.
    """
    sizes = [t.size for t in targets]
    if math.prod(sizes) < 2**62:
        cells, unit_cell = np.unique(np.ravel_multi_index(codes, sizes), return_inverse=True)
        codes = [np.asarray(c, dtype=np.intp) for c in np.unravel_index(cells, sizes)]
    else:
        rows, unit_cell = np.unique(np.stack(codes, axis=1), axis=0, return_inverse=True)
        codes = [rows[:, j] for j in range(len(sizes))]
    unit_base = base
    base = np.bincount(unit_cell.ravel(), weights=unit_base)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    k = int(offsets[-1])
    target = np.concatenate(targets)
    log_low = float(np.log(low)) if low > 0 else -np.inf
    log_high = float(np.log(high)) if np.isfinite(high) else np.inf

    def linear(eta: NDArray[np.float64]) -> NDArray[np.float64]:
        return sum(eta[offsets[j] + c] for j, c in enumerate(codes))  # type: ignore[return-value]

    def totals(values: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.concatenate(
            [np.bincount(c, weights=values, minlength=s) for c, s in zip(codes, sizes, strict=True)]
        )

    def crossed(values: NDArray[np.float64]) -> NDArray[np.float64]:
        matrix = np.zeros((k, k))
        for a, (ca, sa) in enumerate(zip(codes, sizes, strict=True)):
            for b, (cb, sb) in enumerate(zip(codes, sizes, strict=True)):
                if b < a:
                    continue
                block = np.bincount(ca * sb + cb, weights=values, minlength=sa * sb).reshape(sa, sb)
                matrix[offsets[a] : offsets[a + 1], offsets[b] : offsets[b + 1]] = block
                matrix[offsets[b] : offsets[b + 1], offsets[a] : offsets[a + 1]] = block.T
        return matrix

    eta = np.zeros(k)
    u = np.zeros(base.size)
    objective = _raking_distance_dual(eta, u, base, target, log_low, log_high, low, high)
    scale = np.where(target > 0, target, 1.0)
    for _ in range(max_iter):
        w = base * np.exp(np.clip(u, log_low, log_high))
        gradient = target - totals(w)
        if np.max(np.abs(gradient) / scale) <= tolerance:
            return unit_base * np.exp(np.clip(u, log_low, log_high))[unit_cell.ravel()], True
        inside = (u >= log_low) & (u <= log_high)
        # A whisker of the unbounded Hessian keeps the step defined where every unit of a category
        # sits at a bound.
        hessian = crossed(w * inside) + 1e-9 * np.diag(totals(base * np.exp(u.clip(-50, 50))))
        step = np.linalg.lstsq(hessian, gradient, rcond=1e-13)[0]
        slope = float(gradient @ step)
        gap = float(np.max(np.abs(gradient) / scale))
        t = 1.0
        while t > 1e-12:
            candidate = eta + t * step
            cu = linear(candidate)
            value = _raking_distance_dual(candidate, cu, base, target, log_low, log_high, low, high)
            if value <= objective - 1e-4 * t * slope:
                break
            # Near the solution the dual's decrease drowns in rounding; a step that brings the
            # margins closer is then taken on that evidence.
            closer = target - totals(base * np.exp(np.clip(cu, log_low, log_high)))
            if gap < 1e-6 and float(np.max(np.abs(closer) / scale)) < gap:
                break
            t /= 2
        else:
            break
        eta, u, objective = candidate, cu, value
    return unit_base * np.exp(np.clip(u, log_low, log_high))[unit_cell.ravel()], False


def _worst_margin(
    w: NDArray[np.float64],
    variables: list[str],
    codes: Mapping[str, NDArray[np.intp]],
    targets: Mapping[str, NDArray],
    categories: Mapping[str, list[Hashable]],
) -> str:
    """The margin and category furthest from its target, to name in an error."""
    worst = ("", "", 0.0)
    for variable in variables:
        target = targets[variable]
        current = np.bincount(codes[variable], weights=w, minlength=target.size)
        gaps = np.abs(current - target) / np.where(target > 0, target, 1.0)
        i = int(np.argmax(gaps))
        if gaps[i] >= worst[2]:
            worst = (variable, str(categories[variable][i]), float(gaps[i]))
    return gettext("%(margin)s (category %(category)s stays %(gap)s %% off its target)") % {
        "margin": worst[0],
        "category": worst[1],
        "gap": number_format(worst[2] * 100, decimal_pos=2, use_l10n=True),
    }


def _count(value: float) -> str:
    """A count of customers in the reader's numbers (13,500 or 13 500)."""
    return number_format(round(value), use_l10n=True, force_grouping=True)


def rake(
    sample_categories: Mapping[str, Sequence[Hashable]],
    population_margins: Mapping[str, Mapping[Hashable, float]],
    base_weights: ArrayLike | None = None,
    *,
    max_iter: int = 1000,
    tolerance: float = 1e-10,
    bounds: tuple[float, float] | None = None,
) -> NDArray[np.float64]:
    """Raking (iterative proportional fitting, Deming & Stephan 1940) of base weights to margins.

    Each cycle rescales the weights so that, margin after margin, the weighted count of every
    category equals its population target; it stops when every margin is met to ``tolerance``
    (relative). The result is the unique calibration with the multiplicative (raking) distance
    (Deville & Särndal 1992): log(w/base) is additive in the margin categories.

    ``population_margins`` maps a variable to {category: total}; when every margin sums to 1 they
    are shares, and the weights then keep the base weights' total (n without base weights).

    ``bounds=(low, high)`` keeps the adjustment factor g = w/base' within [low, high], with
    low ≤ 1 ≤ high and base' the base weights rescaled to the target total, so the factor is the
    non-response adjustment alone. The weights are then the bounded raking of Deville, Särndal &
    Sautory (1993): g = clip(exp(Σ η), low, high), the minimiser of the raking distance within the
    bounds that meets every margin exactly, found by Newton's method on its convex dual — the same
    weights as R's ``survey::calibrate(calfun="raking", bounds=…)`` (checked in
    tests/analytics/test_survey_design_against_r.py). A category whose target lies beyond what the
    bounds allow, or margins that no bounded weighting meets, raise ``RakingFailed`` naming the
    margin at fault.
    """
    if set(sample_categories) != set(population_margins):
        missing = sorted(set(sample_categories) ^ set(population_margins))
        raise ValidationFailed(
            f"sample and margins must name the same variables (differ on {', '.join(missing)})"
        )
    if not sample_categories:
        raise ValidationFailed("raking needs at least one margin")
    lengths = {len(values) for values in sample_categories.values()}
    if len(lengths) != 1:
        raise ValidationFailed("every variable must give one category per answer")
    n = lengths.pop()
    if n == 0:
        raise ValidationFailed("no answers to weight")
    base = np.ones(n) if base_weights is None else np.asarray(base_weights, dtype=float).ravel()
    if base.size != n or not np.all(np.isfinite(base)) or np.any(base <= 0):
        raise ValidationFailed(f"base weights must be {n} positive numbers", field="base_weights")
    if bounds is not None:
        low, high = bounds
        if not 0 <= low <= 1 <= high:
            raise ValidationFailed("bounds must satisfy 0 ≤ low ≤ 1 ≤ high", field="bounds")

    targets = _targets(population_margins, float(base.sum()))
    variables = list(population_margins)
    codes = {}
    for variable in variables:
        categories = list(population_margins[variable])
        codes[variable] = _codes(variable, sample_categories[variable], categories)
        counts = np.bincount(codes[variable], minlength=len(categories))
        empty = [
            str(c)
            for c, count, t in zip(categories, counts, targets[variable], strict=True)
            if count == 0 and t > 0
        ]
        if empty:
            raise ValidationFailed(
                f"{variable}: no answers in {', '.join(empty)}, so raking cannot reach its population share; "
                "merge it with a neighbouring category",
                field=variable,
            )
        forbidden = [
            str(c)
            for c, count, t in zip(categories, counts, targets[variable], strict=True)
            if count > 0 and t == 0
        ]
        if forbidden:
            raise ValidationFailed(
                f"{variable}: answers in {', '.join(forbidden)}, which the population margins say is empty",
                field=variable,
            )

    total = float(next(iter(targets.values())).sum())
    scaled_base = base * (total / base.sum())
    categories = {variable: list(population_margins[variable]) for variable in variables}
    if bounds is not None:
        low, high = bounds
        for variable in variables:
            reach = np.bincount(codes[variable], weights=scaled_base, minlength=targets[variable].size)
            for category, target, available in zip(
                categories[variable], targets[variable], reach, strict=True
            ):
                if not low * available * (1 - 1e-12) <= target <= high * available * (1 + 1e-12):
                    raise RakingFailed(
                        gettext(
                            "%(margin)s: the target %(target)s for %(category)s is out of reach: the bounds "
                            "(%(low)s–%(high)s × the design weights) allow %(least)s to %(most)s; the "
                            "bounds are too tight for this margin"
                        )
                        % {
                            "margin": variable,
                            "target": _count(target),
                            "category": category,
                            "low": number_format(low if low % 1 else int(low), use_l10n=True),
                            "high": number_format(high if high % 1 else int(high), use_l10n=True),
                            "least": _count(low * available),
                            "most": _count(high * available),
                        },
                        field=variable,
                    )
        steps = min(max_iter, NEWTON_STEPS)
        w, converged = _bounded_rake(
            [codes[v] for v in variables],
            [targets[v] for v in variables],
            scaled_base,
            low,
            high,
            steps,
            tolerance,
        )
        if converged:
            return w
        raise RakingFailed(
            gettext(
                "raking did not meet the margins within %(steps)s steps: the bounds are too tight for these "
                "margins with this sample; worst: %(worst)s"
            )
            % {"steps": steps, "worst": _worst_margin(w, variables, codes, targets, categories)}
        )
    w = scaled_base.copy()
    for _ in range(max_iter):
        for variable in variables:
            target = targets[variable]
            current = np.bincount(codes[variable], weights=w, minlength=target.size)
            with np.errstate(divide="ignore", invalid="ignore"):
                factor = np.where(current > 0, target / current, 1.0)
            w *= factor[codes[variable]]
        if max(_relative_gap(w, codes[v], targets[v]) for v in variables) <= tolerance:
            return w
    raise RakingFailed(
        gettext(
            "raking did not meet the margins within %(cycles)s cycles: the margins are inconsistent with "
            "this sample; worst: %(worst)s"
        )
        % {"cycles": max_iter, "worst": _worst_margin(w, variables, codes, targets, categories)}
    )
