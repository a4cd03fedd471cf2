"""The barometer's statistics by what a user sees: plans that meet their goal, draws that can be
replayed, weights that add up to the frame, refusals that name the culprit, intervals that cover."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from django.utils import translation
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from avis.analytics import survey_design as sd
from avis.analytics.weighting import RakingFailed
from avis.errors import ValidationFailed

REGIONS = {"north": ("n-pro", "n-retail"), "south": ("s-pro", "s-retail")}


def frame(variance: float = 4000.0, rate: float = 0.3) -> list[sd.StratumFrame]:
    sizes = {"n-pro": 2000, "n-retail": 30000, "s-pro": 1500, "s-retail": 12000}
    return [sd.StratumFrame(name, size, variance, rate) for name, size in sizes.items()]


def test_nps_variance_from_earlier_answers_is_p_plus_d_minus_nps_squared() -> None:
    scores = [10] * 50 + [8] * 30 + [3] * 20  # 50 % promoters, 20 % detractors: NPS 30
    expected = 1e4 * (0.5 + 0.2 - 0.3**2) * 100 / 99
    assert sd.indicator_variance("nps", scores) == pytest.approx(expected)
    assert sd.indicator_variance("proportion", [1, 0, 0, 1]) == pytest.approx(1 / 3)
    with pytest.raises(ValidationFailed, match="two earlier answers"):
        sd.indicator_variance("mean", [4.0])


def test_a_plan_meets_the_overall_goal_with_the_textbook_sample_size() -> None:
    strata = frame()
    plan = sd.plan_sample(strata, overall_margin=3)
    z, big_n = norm.ppf(0.975), sum(s.population for s in strata)
    # Proportional allocation, equal S²: n₀ = z²S²/e², with the fpc n = n₀/(1 + n₀/N) completes.
    n0 = z**2 * 4000 / 9
    assert plan.expected_completes == pytest.approx(n0 / (1 + n0 / big_n), abs=4 / 0.3)
    assert plan.margin <= 3 and plan.margin > 2.95
    assert plan.sample_size == sum(a.sample for a in plan.strata)
    for row in plan.strata:
        assert row.expected_completes == pytest.approx(0.3 * row.sample)
        assert abs(row.completes - row.expected_completes) < 1  # the quota: completes the goal needs
        assert row.inclusion_probability == pytest.approx(row.sample / row.population)
    shares = [row.sample / row.population for row in plan.strata]
    assert max(shares) - min(shares) < 0.01  # proportional


def test_region_goals_raise_the_sample_where_the_overall_goal_is_not_enough() -> None:
    strata = frame()
    overall = sd.plan_sample(strata, overall_margin=3)
    attributes = {name: {"region": name.split("-")[0]} for name in ("n-pro", "n-retail", "s-pro", "s-retail")}
    goals = sd.domains_of(attributes, "region", 4)
    assert goals["region=n"].strata == ("n-pro", "n-retail")
    plan = sd.plan_sample(strata, overall_margin=3, domains=goals)
    assert plan.margin <= 3 and all(m <= 4 for m in plan.domain_margins.values())
    assert plan.domain_margins["region=s"] == pytest.approx(4, abs=0.1)  # the small region drives it
    south = {a.stratum: a.sample for a in plan.strata if a.stratum.startswith("s")}
    assert all(south[k] > a.sample for a in overall.strata for k in south if a.stratum == k)


def test_neyman_gives_more_to_the_strata_that_vary_more() -> None:
    strata = [sd.StratumFrame("calm", 10000, 1000.0, 0.5), sd.StratumFrame("wild", 10000, 9000.0, 0.5)]
    plan = sd.plan_sample(strata, overall_margin=3, allocation="neyman")
    calm, wild = plan.strata
    assert wild.completes == pytest.approx(3 * calm.completes, rel=0.02)  # ∝ N·S: √9000/√1000 = 3
    proportional = sd.plan_sample(strata, overall_margin=3)
    assert plan.sample_size < proportional.sample_size  # Neyman is the cheaper design for this goal


def test_every_stratum_gets_its_minimum() -> None:
    strata = [*frame(), sd.StratumFrame("tiny", 40, 4000.0, 0.3)]
    plan = sd.plan_sample(strata, overall_margin=5, minimum_per_stratum=10)
    tiny = plan.strata[-1]
    assert tiny.completes >= 10 and tiny.sample == math.ceil(10 / 0.3)


def test_a_goal_the_frame_cannot_meet_is_refused_naming_the_domain() -> None:
    strata = frame()
    goals = {"region=south": sd.DomainGoal(("s-pro", "s-retail"), 1.0)}
    with pytest.raises(
        ValidationFailed, match=r"region=south: the frame cannot give ±1 — even asking all 13,500"
    ):
        sd.plan_sample(strata, overall_margin=3, domains=goals)
    # In the reader's language and numbers: a French reader gets French words and 13 500, ±2,31.
    with translation.override("fr"), pytest.raises(ValidationFailed) as refused:
        sd.plan_sample(strata, overall_margin=3, domains=goals)
    assert re.search(
        r"^region=south : la base de sondage ne permet pas ±1 — même en interrogeant ses 13\s500 "
        r"clients .* la marge serait de ±\d+,\d\d ; élargissez la marge",
        refused.value.message,
    )
    with translation.override("fr"), pytest.raises(ValidationFailed, match="sur l'ensemble"):
        sd.plan_sample(strata, overall_margin=0.1)


def test_an_empty_stratum_is_refused_by_the_plan_and_the_draw() -> None:
    with pytest.raises(ValidationFailed, match="stratum n-pro is empty"):
        sd.plan_sample([sd.StratumFrame("n-pro", 0, 4000.0, 0.3)], overall_margin=3)
    with pytest.raises(ValidationFailed, match="stratum b is empty in the frame"):
        sd.stratified_draw(np.arange(5), np.array(["a"] * 5), {"a": 2, "b": 1}, seed=1)
    with pytest.raises(ValidationFailed, match="stratum a: 6 to draw but the frame holds 5"):
        sd.stratified_draw(np.arange(5), np.array(["a"] * 5), {"a": 6}, seed=1)


def test_the_draw_is_reproducible_whatever_order_the_frame_comes_in() -> None:
    rng = np.random.default_rng(5)
    ids = rng.permutation(10_000) + 1_000_000
    strata = np.where(ids % 3 == 0, "a", np.where(ids % 3 == 1, "b", "c"))
    sizes = {"a": 40, "b": 25, "c": 10}
    first = sd.stratified_draw(ids, strata, sizes, seed=2026)
    order = rng.permutation(ids.size)
    again = sd.stratified_draw(ids[order], strata[order], sizes, seed=2026)
    assert np.array_equal(first.ids, again.ids) and np.array_equal(first.strata, again.strata)
    other = sd.stratified_draw(ids, strata, sizes, seed=2027)
    assert not np.array_equal(first.ids, other.ids)
    assert {s: int((first.strata == s).sum()) for s in sizes} == sizes
    assert np.unique(first.ids).size == 75  # without replacement
    a = first.strata == "a"
    assert np.allclose(first.inclusion_probability[a], 40 / int((strata == "a").sum()))
    assert first.sizes["c"] == (10, int((strata == "c").sum()))


def test_each_customer_is_drawn_as_often_as_its_inclusion_probability_says() -> None:
    ids, strata = np.arange(30), np.array(["a"] * 10 + ["b"] * 20)
    hits = np.zeros(30)
    for seed in range(3000):
        hits[sd.stratified_draw(ids, strata, {"a": 3, "b": 4}, seed=seed).ids] += 1
    assert hits[:10] / 3000 == pytest.approx(np.full(10, 0.3), abs=0.04)
    assert hits[10:] / 3000 == pytest.approx(np.full(20, 0.2), abs=0.04)


def test_non_response_adjustment_keeps_each_class_total_and_refuses_a_silent_class() -> None:
    weights = np.array([10.0, 10, 10, 10, 5, 5])
    answered = np.array([True, False, True, False, True, True])
    classes = np.array(["x", "x", "x", "x", "y", "y"])
    assert sd.nonresponse_adjustment(weights, answered, classes) == pytest.approx([20, 20, 5, 5])
    with pytest.raises(ValidationFailed, match="nobody answered in y"):
        sd.nonresponse_adjustment(weights, answered & (classes == "x"), classes)


def test_targets_that_do_not_sum_to_the_frame_are_refused() -> None:
    categories = {"region": ["n", "s", "s"]}
    with pytest.raises(ValidationFailed, match="region: the targets sum to 90 but the frame holds 100"):
        sd.calibrate([30.0, 30, 40], categories, {"region": {"n": 40, "s": 50}}, population_total=100)
    weights = sd.calibrate([30.0, 30, 40], categories, {"region": {"n": 0.4, "s": 0.6}}, population_total=100)
    assert weights == pytest.approx([40, 60 * 30 / 70, 60 * 40 / 70])


def test_bounds_that_cannot_be_met_name_the_margin() -> None:
    categories = {"region": ["n", "s", "s", "s"]}
    with pytest.raises(RakingFailed, match="region: the target 70 for n is out of reach"):
        sd.calibrate(
            [25.0] * 4, categories, {"region": {"n": 70, "s": 30}}, population_total=100, bounds=(0.5, 2)
        )


def test_the_weight_report_gives_kish_and_the_adjustment_range() -> None:
    report = sd.weight_report([1.0, 1.0, 2.0, 4.0], base_weights=[1.0, 1.0, 1.0, 2.0])
    assert report.kish_n == pytest.approx(64 / 22) and report.design_effect == pytest.approx(4 * 22 / 64)
    assert report.efficiency == pytest.approx(report.kish_n / 4)
    assert (report.minimum, report.maximum, report.ratio) == (1.0, 4.0, 4.0)
    assert (report.adjustment_min, report.adjustment_max) == (1.0, 2.0)


def small_wave(seed: int = 3) -> tuple[sd.WaveWeights, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    population = {"a": 900, "b": 600, "c": 500}
    ids = np.arange(2000)
    strata = np.repeat(list(population), list(population.values()))
    draw = sd.stratified_draw(ids, strata, {"a": 90, "b": 80, "c": 70}, seed=seed)
    region = rng.choice(["n", "s"], size=draw.ids.size)
    answered = rng.random(draw.ids.size) < 0.6
    weights = sd.weight_wave(
        draw.strata,
        population,
        draw.inclusion_probability,
        answered,
        categories={"region": region},
        margins={"region": {"n": 1000, "s": 1000}},
    )
    scores = rng.integers(0, 11, size=int(answered.sum())).astype(float)
    return weights, scores, region[answered]


def test_a_subgroup_is_a_domain_of_the_whole_design_not_a_cut() -> None:
    weights, scores, region = small_wave()
    design = weights.design
    by = sd.estimate_by(design, scores, region, "nps")
    alone = sd.estimate(design, np.where(region == "n", scores, np.nan), "nps")
    assert by["n"].value == pytest.approx(alone.value) and by["n"].standard_error == pytest.approx(
        alone.standard_error
    )
    assert by["n"].degrees_of_freedom == design.degrees_of_freedom == design.weights.size - 3
    assert by["n"].population + by["s"].population == pytest.approx(2000)
    assert by["n"].population == pytest.approx(1000)  # raked to its margin
    overall = sd.estimate(design, scores, "nps")
    assert overall.ci_low < overall.value < overall.ci_high and "calibrated by raking" in overall.method


def test_wave_over_wave_changes_are_tested_and_adjusted_across_subgroups() -> None:
    before = sd.DesignEstimate(30.0, 26.0, 34.0, 400, "m", 2.0, 4.0, 390, 1e4, 0.95, "nps")
    after = sd.DesignEstimate(40.0, 35.5, 44.5, 420, "m", 2.3, 4.5, 410, 1e4, 0.95, "nps")
    change = sd.wave_difference(before, after)
    se = math.hypot(2.0, 2.3)
    assert change.value == 10 and change.ci_low == pytest.approx(10 - 1.959964 * se, rel=1e-6)
    assert change.p_value == pytest.approx(2 * norm.sf(10 / se))
    same = sd.wave_difference(before, before)
    family = sd.adjust_across(
        [
            change,
            same,
            sd.wave_difference(
                before, sd.DesignEstimate(None, None, None, 0, "m", None, None, 0, 0.0, 0.95, "nps")
            ),
        ]
    )
    assert list(family.rejected) == [True, False, False] and family.adjusted[2] == 1.0


def test_subgroup_changes_are_judged_as_a_family_and_small_ones_are_not_judged() -> None:
    def figure(value: float, se: float, n: int) -> sd.DesignEstimate:
        return sd.DesignEstimate(value, None, None, n, "m", se, None, n - 3, 1e4, 0.95, "nps")

    before = {"north": figure(30, 2, 400), "south": figure(20, 2, 400), "east": figure(10, 9, 12)}
    after = {"north": figure(42, 2, 380), "south": figure(21, 2, 390), "east": figure(60, 9, 15)}
    keys, family = sd.compare_waves(before, after, minimum_n=30)
    rows = dict(zip(keys, family.rows, strict=True))
    assert rows["north"].significant and rows["north"].difference.value == 12
    assert not rows["south"].significant and rows["south"].adjusted_p is not None
    assert not rows["east"].judged and not rows["east"].significant  # 12 answers: below the minimum n
    assert family.tested == 2 and family.level == pytest.approx(1 - 0.05 / 2)
    assert rows["north"].difference.ci_low > 0


def test_a_single_respondent_in_a_stratum_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="stratum b has a single respondent"):
        sd.SurveyDesign.build(["a", "a", "b"], {"a": 10, "b": 10}, [5.0, 5.0, 10.0])


@pytest.mark.slow
def test_intervals_cover_the_truth_in_95_percent_of_samples() -> None:
    """500 barometers drawn from one synthetic frame with a known NPS: stratified draw, non-response
    varying by stratum, raking to the frame's region counts, design-based 95 % interval."""
    rng = np.random.default_rng(20261202)
    sizes = {"a": 6000, "b": 3000, "c": 1000}
    strata = np.repeat(list(sizes), list(sizes.values()))
    ids = np.arange(strata.size)
    region = np.where(rng.random(strata.size) < 0.4, "n", "s")
    promoter = rng.random(strata.size) < np.where(strata == "a", 0.5, 0.3) + 0.1 * (region == "n")
    detractor = ~promoter & (rng.random(strata.size) < np.where(strata == "c", 0.5, 0.25))
    scores = np.where(promoter, 10, np.where(detractor, 2, 8))
    truth = 100 * (promoter.mean() - detractor.mean())
    margins = {"region": {"n": float((region == "n").sum()), "s": float((region == "s").sum())}}
    rates = {"a": 0.35, "b": 0.5, "c": 0.6}
    covered = 0
    for seed in range(500):
        draw = sd.stratified_draw(ids, strata, {"a": 240, "b": 160, "c": 100}, seed=seed)
        answered = np.random.default_rng(seed).random(draw.ids.size) < np.vectorize(rates.get)(draw.strata)
        weights = sd.weight_wave(
            draw.strata,
            sizes,
            draw.inclusion_probability,
            answered,
            categories={"region": region[draw.ids]},
            margins=margins,
        )
        found = sd.estimate(weights.design, scores[draw.ids][answered], "nps")
        covered += found.ci_low <= truth <= found.ci_high
    assert 0.93 <= covered / 500 <= 0.97


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(2, 40), min_size=1, max_size=5),
    st.integers(0, 2**32 - 1),
)
def test_any_draw_takes_exactly_the_sizes_asked_without_repeats(frame_sizes: list[int], seed: int) -> None:
    strata = np.repeat(np.arange(len(frame_sizes)), frame_sizes)
    ids = np.random.default_rng(seed).permutation(strata.size)
    sizes = {h: n // 2 for h, n in enumerate(frame_sizes)}
    draw = sd.stratified_draw(ids, strata, sizes, seed=seed)
    assert np.unique(draw.ids).size == draw.ids.size == sum(sizes.values())
    for h, n in enumerate(frame_sizes):
        assert int((draw.strata == h).sum()) == n // 2
        assert np.all(strata[np.isin(ids, draw.ids[draw.strata == h])] == h)
        assert np.allclose(draw.inclusion_probability[draw.strata == h], (n // 2) / n)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 4))
def test_domain_estimates_add_up_to_the_whole(seed: int, groups: int) -> None:
    weights, scores, _ = small_wave(seed % 1000)
    design = weights.design
    labels = np.random.default_rng(seed).integers(0, groups, size=scores.size)
    by = sd.estimate_by(design, scores, labels, "mean")
    overall = sd.estimate(design, scores, "mean")
    total = sd.estimate(design, scores, "total")
    assert sum(e.population * e.value for e in by.values()) == pytest.approx(total.value)
    assert total.value / sum(e.population for e in by.values()) == pytest.approx(overall.value)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.3, 0.9), st.floats(1.1, 3.0))
def test_bounded_raking_is_the_raking_optimum_within_the_bounds(seed: int, low: float, high: float) -> None:
    """Whenever it succeeds, bounded raking meets the margins with g = clip(exp(x'η), L, U): log g is
    additive in the categories for units strictly inside the bounds, and the additive fit lies
    beyond the bound for units held at it (the optimality conditions of Deville, Särndal & Sautory)."""
    rng = np.random.default_rng(seed)
    n = 300
    region = rng.choice(["n", "s", "e"], size=n, p=[0.5, 0.3, 0.2])
    age = rng.choice(["y", "o"], size=n, p=[0.7, 0.3])
    base = rng.choice([1.0, 2.0, 5.0], size=n)
    margins = {"region": {"n": 0.3, "s": 0.35, "e": 0.35}, "age": {"y": 0.45, "o": 0.55}}
    categories = {"region": region, "age": age}
    try:
        weights = sd.calibrate(
            base, categories, margins, population_total=float(base.sum()), bounds=(low, high)
        )
    except RakingFailed:
        return
    g = weights / base
    for variable, margin in margins.items():
        for category, share in margin.items():
            assert weights[categories[variable] == category].sum() == pytest.approx(
                share * base.sum(), rel=1e-8
            )
    assert g.min() >= low * (1 - 1e-9) and g.max() <= high * (1 + 1e-9)
    x = np.column_stack([np.ones(n), region == "s", region == "e", age == "o"]).astype(float)
    inside = (g > low * (1 + 1e-7)) & (g < high * (1 - 1e-7))
    if np.linalg.matrix_rank(x[inside]) < x.shape[1]:
        return
    eta = np.linalg.lstsq(x[inside], np.log(g[inside]), rcond=None)[0]
    assert np.abs(x[inside] @ eta - np.log(g[inside])).max() < 1e-7
    fitted = x @ eta
    assert np.all(fitted[~inside & (g >= high * (1 - 1e-7))] >= np.log(high) - 1e-7)
    assert np.all(fitted[~inside & (g <= low * (1 + 1e-7))] <= np.log(low) + 1e-7)
