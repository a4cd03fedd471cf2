"""Survey weights: design weights from the governance sampling, raked to the population's margins.

Answers arrive with an inclusion probability (the contact-governance sampler
decided whether to invite each interaction). Their inverses are the design
weights; raking then corrects non-response by making the weighted answers
match the interaction population on touchpoint, site, segment and channel.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from avis.errors import ValidationFailed

SHARE_TOLERANCE = 1e-6


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


def _bounded_step(
    w: NDArray[np.float64],
    base: NDArray[np.float64],
    codes: NDArray[np.intp],
    target: NDArray[np.float64],
    low: float,
    high: float,
) -> NDArray[np.float64]:
    """Rescale each category to its target while every factor w/base stays within [low, high].

    Units whose factor would cross a bound are held at it and the rest of their category absorbs
    the difference; as the factor moves one way only within a step, each round fixes at least one
    more unit, so the loop ends.
    """
    k = target.size
    free = np.ones(w.size, dtype=bool)
    w = w.copy()
    while True:
        fixed_total = np.bincount(codes[~free], weights=w[~free], minlength=k)
        free_total = np.bincount(codes[free], weights=w[free], minlength=k)
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.where(free_total > 0, (target - fixed_total) / free_total, 1.0)
        proposal = w * factor[codes]
        ratio = proposal / base
        over = free & (ratio > high)
        under = free & (ratio < low)
        if not (over.any() or under.any()):
            w[free] = proposal[free]
            return w
        w[over] = high * base[over]
        w[under] = low * base[under]
        free &= ~(over | under)


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

    ``bounds=(low, high)`` trims the adjustment factor w/base' to [low, high], with low ≤ 1 ≤ high
    and base' the base weights rescaled to the target total, so the factor is the non-response
    adjustment alone: each step holds units at their bound and spreads the rest of the category's
    adjustment over the others, so the margins are still met exactly whenever the bounds allow
    it. This is truncation, not the smooth logit distance of Deville, Särndal & Sautory (1993),
    but it meets the same two constraints; when the bounds cannot be met, ``RakingFailed``.
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
    w = scaled_base.copy()
    for _ in range(max_iter):
        for variable in variables:
            target = targets[variable]
            if bounds is None:
                current = np.bincount(codes[variable], weights=w, minlength=target.size)
                with np.errstate(divide="ignore", invalid="ignore"):
                    factor = np.where(current > 0, target / current, 1.0)
                w *= factor[codes[variable]]
            else:
                w = _bounded_step(w, scaled_base, codes[variable], target, bounds[0], bounds[1])
        if max(_relative_gap(w, codes[v], targets[v]) for v in variables) <= tolerance:
            return w
    reason = (
        "the bounds are too tight for these margins" if bounds is not None else "the margins are inconsistent"
    )
    raise RakingFailed(f"raking did not meet the margins within {max_iter} cycles: {reason} with this sample")
