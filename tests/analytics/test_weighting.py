"""Raking checked against weightipy, against closed-form examples, and by its defining properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import weightipy
from scipy.optimize import linprog

from avis.analytics.weighting import RakingFailed, design_weights, rake
from avis.errors import AvisError, ValidationFailed

MARGINS = {
    "touchpoint": {"call": 0.5, "chat": 0.3, "store": 0.2},
    "site": {"lyon": 0.4, "lille": 0.35, "nantes": 0.25},
    "segment": {"pro": 0.3, "retail": 0.7},
    "channel": {"sms": 0.6, "email": 0.4},
}


def skewed_sample(seed: int, n: int = 600) -> dict[str, list[str]]:
    """Answers whose mix differs from the population, as non-response makes it."""
    rng = np.random.default_rng(seed)
    mix = {
        "touchpoint": [0.25, 0.45, 0.3],
        "site": [0.5, 0.2, 0.3],
        "segment": [0.55, 0.45],
        "channel": [0.35, 0.65],
    }
    return {
        variable: list(rng.choice(list(MARGINS[variable]), size=n, p=shares))
        for variable, shares in mix.items()
    }


def weightipy_weights(sample: dict[str, list[str]], margins: dict[str, dict[str, float]]) -> np.ndarray:
    frame = pd.DataFrame(sample)
    codes = {
        variable: {category: i for i, category in enumerate(margin)} for variable, margin in margins.items()
    }
    for variable in frame:
        frame[variable] = frame[variable].map(codes[variable])
    scheme = weightipy.scheme_from_dict(
        {
            variable: {codes[variable][category]: 100 * share for category, share in margin.items()}
            for variable, margin in margins.items()
        },
        name="reference",
    )
    return weightipy.weight(frame, scheme).to_numpy()


def weighted_margins(sample: dict[str, list[str]], weights: np.ndarray) -> dict[str, dict[str, float]]:
    frame = pd.DataFrame(sample).assign(weight=weights)
    return {variable: frame.groupby(variable)["weight"].sum().to_dict() for variable in sample}


def test_design_weights_are_inverse_inclusion_probabilities() -> None:
    assert design_weights([1.0, 0.5, 0.1]) == pytest.approx([1.0, 2.0, 10.0])
    for bad in ([0.0], [1.5], [-0.2], [float("nan")]):
        with pytest.raises(ValidationFailed):
            design_weights(bad)


@pytest.mark.parametrize("seed", range(4))
def test_raking_matches_weightipy(seed: int) -> None:
    sample = skewed_sample(seed)
    ours = rake(sample, MARGINS)
    reference = weightipy_weights(sample, MARGINS)
    assert np.max(np.abs(ours - reference)) < 1e-6
    assert ours.sum() == pytest.approx(600)


def test_raking_design_weights_matches_weightipy_on_the_expanded_sample() -> None:
    # An answer with integer design weight d stands for d identical interactions; raking the
    # expanded sample from unit weights must give the same total weight to each original answer.
    sample = skewed_sample(11, n=300)
    d = np.random.default_rng(11).choice([1, 2, 3, 5], size=300)
    ours = rake(sample, MARGINS, base_weights=d)
    expanded = {variable: list(np.repeat(values, d)) for variable, values in sample.items()}
    reference = weightipy_weights(expanded, MARGINS)
    owner = np.repeat(np.arange(300), d)
    assert np.max(np.abs(ours - np.bincount(owner, weights=reference))) < 1e-6
    assert ours.sum() == pytest.approx(d.sum())


def test_an_independent_table_rakes_in_one_cycle_to_the_hand_computed_weights() -> None:
    # Sample: men 1 young + 1 old, women 2 young + 2 old; population 50/50 men/women, 60/40
    # young/old. Rows: men 25 each, women 12.5 each; columns ×1.2 young, ×0.8 old.
    sample = {"sex": ["M", "M", "F", "F", "F", "F"], "age": ["y", "o", "y", "y", "o", "o"]}
    weights = rake(sample, {"sex": {"M": 50, "F": 50}, "age": {"y": 60, "o": 40}})
    assert weights == pytest.approx([30, 20, 15, 15, 10, 10], abs=1e-9)


def test_raking_a_two_by_two_table_keeps_its_cross_product_ratio() -> None:
    # Deming & Stephan (1940): raking keeps the odds ratio of the sample table (2·1/(1·1) = 2).
    # With rows 50/50 and columns 60/40 the young-men cell x solves x(x − 10) = 2(50 − x)(60 − x),
    # i.e. x² − 210x + 6000 = 0, x = (210 − √20100)/2 = 34.11276561…, shared by its 2 answers.
    sample = {"sex": ["M", "M", "M", "F", "F"], "age": ["y", "y", "o", "y", "o"]}
    weights = rake(sample, {"sex": {"M": 50, "F": 50}, "age": {"y": 60, "o": 40}})
    x = (210 - np.sqrt(20100)) / 2
    assert weights == pytest.approx([x / 2, x / 2, 50 - x, 60 - x, x - 10], abs=1e-9)


@pytest.mark.parametrize("seed", range(8))
def test_weighted_margins_equal_the_targets_and_log_factors_are_additive(seed: int) -> None:
    rng = np.random.default_rng(1000 + seed)
    sample = skewed_sample(seed + 50, n=int(rng.integers(80, 800)))
    totals = {
        variable: dict(zip(margin, rng.dirichlet(np.ones(len(margin)) * 3) * 12_000, strict=True))
        for variable, margin in MARGINS.items()
    }
    base = rng.lognormal(0, 0.4, size=len(sample["site"]))
    weights = rake(sample, totals, base_weights=base)

    achieved = weighted_margins(sample, weights)
    for variable, margin in totals.items():
        for category, target in margin.items():
            assert achieved[variable][category] == pytest.approx(target, rel=1e-9)
    # Raking is calibration with the multiplicative distance: log(w/d) is a sum of one effect per
    # margin category (Deville & Särndal 1992), so it lies exactly in the span of the indicators.
    design = np.column_stack(
        [np.ones(len(base))]
        + [np.asarray(sample[v]) == c for v, margin in MARGINS.items() for c in list(margin)[1:]]
    ).astype(float)
    log_factor = np.log(weights / base)
    coefficients = np.linalg.lstsq(design, log_factor, rcond=None)[0]
    assert np.max(np.abs(design @ coefficients - log_factor)) < 1e-9


def test_shares_keep_the_base_total_and_counts_set_it() -> None:
    sample = skewed_sample(3, n=200)
    base = np.full(200, 25.0)
    assert rake(sample, MARGINS, base_weights=base).sum() == pytest.approx(5000)
    counts = {v: {c: share * 80_000 for c, share in margin.items()} for v, margin in MARGINS.items()}
    assert rake(sample, counts, base_weights=base).sum() == pytest.approx(80_000)


def test_a_margin_category_without_answers_is_refused_with_advice() -> None:
    sample = {"site": ["lyon", "lille", "lyon"], "channel": ["sms", "email", "sms"]}
    margins = {"site": {"lyon": 0.4, "lille": 0.35, "nantes": 0.25}, "channel": {"sms": 0.6, "email": 0.4}}
    with pytest.raises(ValidationFailed, match="no answers in nantes"):
        rake(sample, margins)


def test_margins_that_disagree_on_the_population_total_are_refused() -> None:
    sample = {"site": ["lyon", "lille"], "channel": ["sms", "email"]}
    with pytest.raises(ValidationFailed, match="disagree on the total"):
        rake(sample, {"site": {"lyon": 500, "lille": 500}, "channel": {"sms": 700, "email": 400}})
    with pytest.raises(ValidationFailed, match="disagree on the total"):
        rake(sample, {"site": {"lyon": 0.5, "lille": 0.5}, "channel": {"sms": 700, "email": 300}})


@pytest.mark.parametrize(
    ("sample", "margins", "message"),
    [
        ({"site": ["lyon", "paris"]}, {"site": {"lyon": 0.5, "lille": 0.5}}, "do not list"),
        ({"site": ["lyon", "lille"]}, {"site": {"lyon": 1.0, "lille": 0.0}}, "say is empty"),
        ({"site": ["lyon", "lille"]}, {"channel": {"sms": 1.0}}, "same variables"),
        (
            {"site": ["lyon"], "channel": ["sms", "sms"]},
            {"site": {"lyon": 1}, "channel": {"sms": 1}},
            "one category",
        ),
        ({"site": ["lyon", "lille"]}, {"site": {"lyon": -0.5, "lille": 1.5}}, "non-negative"),
    ],
)
def test_malformed_inputs_are_refused(sample: dict, margins: dict, message: str) -> None:
    with pytest.raises(ValidationFailed, match=message):
        rake(sample, margins)


def test_a_zero_margin_without_answers_is_fine() -> None:
    weights = rake({"site": ["lyon", "lille", "lille"]}, {"site": {"lyon": 0.5, "lille": 0.5, "nantes": 0.0}})
    assert weights == pytest.approx([1.5, 0.75, 0.75])


def bounds_are_feasible(sample: dict[str, list[str]], low: float, high: float) -> bool:
    """Is there any weighting within the bounds that meets the margins? A linear feasibility problem."""
    n = len(sample["site"])
    rows = [np.asarray(sample[v]) == c for v, margin in MARGINS.items() for c in margin]
    targets = [share * n for margin in MARGINS.values() for share in margin.values()]
    result = linprog(np.zeros(n), A_eq=np.array(rows, dtype=float), b_eq=targets, bounds=[(low, high)] * n)
    return result.status == 0


@pytest.mark.parametrize(
    ("low", "high", "feasible"),
    [(0.2, 4.0, True), (0.3, 6.0, True), (0.25, 5.0, True), (0.3, 3.0, False), (0.7, 1.3, False)],
)
def test_bounded_raking_meets_the_margins_within_bounds_exactly_when_that_is_possible(
    low: float, high: float, feasible: bool
) -> None:
    # Unbounded, this sample's factors run from 0.19 to 10.2; a linear program says which bounds
    # leave any weighting that meets the margins.
    sample = skewed_sample(1, n=500)
    assert bounds_are_feasible(sample, low, high) is feasible
    if feasible:
        weights = rake(sample, MARGINS, bounds=(low, high))
        assert weights.min() >= low - 1e-12 and weights.max() <= high + 1e-12
        achieved = weighted_margins(sample, weights)
        for variable, margin in MARGINS.items():
            for category, share in margin.items():
                assert achieved[variable][category] == pytest.approx(share * 500, rel=1e-9)
    else:
        with pytest.raises(RakingFailed, match="bounds are too tight"):
            rake(sample, MARGINS, bounds=(low, high), max_iter=200)


def test_bounds_that_do_not_bind_leave_the_raking_unchanged() -> None:
    sample = skewed_sample(2)
    free = rake(sample, MARGINS)
    assert rake(sample, MARGINS, bounds=(free.min() * 0.9, free.max() * 1.1)) == pytest.approx(free, abs=1e-9)


def test_bounds_apply_to_the_adjustment_factor_not_the_design_weight() -> None:
    sample = skewed_sample(4, n=400)
    base = np.random.default_rng(4).choice([1.0, 4.0, 10.0], size=400)
    unbounded = rake(sample, MARGINS, base_weights=base) / base
    weights = rake(sample, MARGINS, base_weights=base, bounds=(0.2, 4.0))
    factor = weights / base  # shares: the base total is kept, so base' = base
    assert unbounded.min() < 0.2 and unbounded.max() > 4.0
    assert factor.min() >= 0.2 - 1e-12 and factor.max() <= 4.0 + 1e-12


def test_raking_failures_are_errors_a_user_can_be_shown() -> None:
    assert issubclass(RakingFailed, ValidationFailed) and issubclass(RakingFailed, AvisError)
    with pytest.raises(ValidationFailed):
        rake({"site": []}, {"site": {"lyon": 1.0}})
    with pytest.raises(ValidationFailed, match="bounds"):
        rake({"site": ["lyon"]}, {"site": {"lyon": 1.0}}, bounds=(1.2, 3.0))
