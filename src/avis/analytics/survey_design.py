"""The barometer's statistics: sample sizes, the stratified draw, weights and design-based estimates.

Pure numpy/scipy: plain data in, plain dataclasses out, no Django but for the words of the refusals
a user reads (a precision goal the frame cannot meet, in the reader's language). The barometer app
(``avis.barometers``) calls these functions; the formulas, references and what was checked against
R's ``survey`` package are in docs/statistics.md ("Barometers: design-based statistics").

Public API::

    indicator_variance(kind, values) -> float
        S² of one answer from earlier data (kind: "nps" in points², "proportion", "mean").
    plan_sample(strata: Sequence[StratumFrame], *, overall_margin: float | None,
                domains: Mapping[str, DomainGoal] = {}, allocation="proportional" | "neyman",
                minimum_per_stratum=2, confidence=0.95) -> SamplePlan
        completes and sample size per stratum for a precision goal, with the expected margins.
    domains_of(strata_attributes: Mapping[stratum, Mapping[str, Hashable]], attribute, margin)
        -> dict[str, DomainGoal]       one goal per value of a stratum attribute ("region=North").
    stratified_draw(ids, strata, sizes: Mapping[stratum, int], *, seed: int) -> Draw
        simple random sampling without replacement in each stratum, seeded, with each id's π.
    nonresponse_adjustment(weights, responded, classes) -> NDArray   (respondents' weights)
    calibrate(weights, categories, margins, *, population_total, bounds=None) -> NDArray
    weight_report(weights, base_weights=None) -> WeightReport
    weight_wave(strata, stratum_population, inclusion_probability, responded, *, classes=None,
                categories=None, margins=None, bounds=None) -> WaveWeights (.design, .report)
    SurveyDesign(strata, population, weights, base_weights, calibration)   the estimation design
    estimate(design, values, kind="mean" | "proportion" | "nps" | "total", confidence=0.95)
        -> DesignEstimate
    estimate_by(design, values, domains, kind=..., confidence=0.95) -> dict[label, DesignEstimate]
    group_difference(design, values, groups, kind=..., confidence=0.95) -> Difference   (svyttest)
    wave_difference(before: DesignEstimate, after: DesignEstimate, confidence=0.95) -> Difference
    adjust_across(differences: Sequence[Difference], q=0.05) -> MultipleTests   (Benjamini–Hochberg)
    compare_waves(before_by, after_by, *, minimum_n=0, q=0.05) -> (subgroups, comparison.Family)
        every subgroup's wave-over-wave change, BH across them, intervals that agree with the verdicts
    method_of(design) -> str   the method's wording, as each estimate carries it

Every function refuses bad input with ``ValidationFailed`` (or ``RakingFailed``) whose message
names what is at fault (the domain, the stratum, the margin) in words a user can act on.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Literal

import numpy as np
from django.utils.formats import number_format
from django.utils.translation import gettext
from numpy.typing import ArrayLike, NDArray
from scipy.stats import norm
from scipy.stats import t as student_t

from avis.analytics.comparison import Difference, Family, MultipleTests, benjamini_hochberg, judge_family
from avis.analytics.estimators import DETRACTOR_MAX, PROMOTER_MIN, design_effect, kish_effective_n
from avis.analytics.stats import Estimate
from avis.analytics.weighting import SHARE_TOLERANCE, RakingFailed, rake
from avis.analytics.weighting import design_weights as horvitz_thompson_weights
from avis.errors import ValidationFailed

Kind = Literal["mean", "proportion", "nps", "total"]
Allocation = Literal["proportional", "neyman"]
KINDS = ("mean", "proportion", "nps", "total")

__all__ = [
    "Difference",
    "DomainGoal",
    "Draw",
    "MultipleTests",
    "RakingFailed",
    "SamplePlan",
    "StratumAllocation",
    "StratumFrame",
    "SurveyDesign",
    "WaveWeights",
    "WeightReport",
    "adjust_across",
    "calibrate",
    "compare_waves",
    "domains_of",
    "estimate",
    "estimate_by",
    "group_difference",
    "indicator_variance",
    "method_of",
    "nonresponse_adjustment",
    "plan_sample",
    "stratified_draw",
    "wave_difference",
    "weight_report",
    "weight_wave",
]


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValidationFailed("the confidence level must lie strictly between 0 and 1", field="confidence")
    return float(norm.ppf(0.5 + confidence / 2))


def _scores(kind: str, values: ArrayLike) -> NDArray[np.float64]:
    """What a kind averages: NPS → +100/0/−100 per answer; a proportion → 0/1; NaN: no answer."""
    if kind not in KINDS:
        raise ValidationFailed(f"unknown estimate {kind!r}: use one of {', '.join(KINDS)}", field="kind")
    x = np.asarray(values, dtype=float).ravel()
    if np.any(np.isinf(x)):
        raise ValidationFailed("values must be finite numbers (NaN for no answer)", field="values")
    given = ~np.isnan(x)
    if kind == "nps":
        s = x[given]
        if np.any((s < 0) | (s > 10) | (s != np.round(s))):
            raise ValidationFailed("NPS scores are whole numbers from 0 to 10", field="values")
        y = np.full(x.shape, np.nan)
        y[given] = 100.0 * ((s >= PROMOTER_MIN).astype(float) - (s <= DETRACTOR_MAX).astype(float))
        return y
    if kind == "proportion" and np.any((x[given] != 0) & (x[given] != 1)):
        raise ValidationFailed("a proportion needs 0/1 answers", field="values")
    return x


# ---------------------------------------------------------------------------------------------
# Sample size and allocation
# ---------------------------------------------------------------------------------------------


def indicator_variance(kind: Kind, values: ArrayLike) -> float:
    """The unit variance S² of an indicator from earlier answers (sample variance, n − 1).

    NPS: S² of the +100/0/−100 score, 10⁴·(p + d − (p − d)²)·n/(n − 1), in points². A proportion:
    p(1 − p)·n/(n − 1). A mean: the sample variance. Answers left blank (NaN) are ignored.
    """
    y = _scores(kind, values)
    y = y[~np.isnan(y)]
    if y.size < 2:
        raise ValidationFailed(
            "at least two earlier answers are needed to estimate a variance", field="values"
        )
    return float(np.var(y, ddof=1))


@dataclass(frozen=True)
class StratumFrame:
    """One stratum of the frame as the plan sees it."""

    stratum: Hashable
    population: int  # N_h, customers in scope in this stratum
    variance: float  # S_h² of the indicator (NPS: points²), from earlier waves or transactional answers
    response_rate: float  # expected completes per sampled customer, in (0, 1]


@dataclass(frozen=True)
class DomainGoal:
    """A subgroup (a union of strata, e.g. one region) and the margin wanted for it."""

    strata: tuple[Hashable, ...]
    margin: float


@dataclass(frozen=True)
class StratumAllocation:
    stratum: Hashable
    population: int
    sample: int  # customers to draw
    completes: int  # completes wanted (the stratum's quota)
    expected_completes: float  # sample × response rate
    inclusion_probability: float  # sample / population


@dataclass(frozen=True)
class SamplePlan:
    strata: tuple[StratumAllocation, ...]
    sample_size: int
    expected_completes: float
    margin: float  # expected overall margin of error (half-width) at ``confidence``
    domain_margins: dict[str, float]
    allocation: str
    confidence: float


def domains_of(
    strata_attributes: Mapping[Hashable, Mapping[str, Hashable]], attribute: str, margin: float
) -> dict[str, DomainGoal]:
    """One goal per value of a stratum attribute: {"region=North": DomainGoal(strata of North, margin)}."""
    grouped: dict[Hashable, list[Hashable]] = {}
    for stratum, attributes in strata_attributes.items():
        if attribute not in attributes:
            raise ValidationFailed(f"stratum {stratum} has no {attribute}", field=attribute)
        grouped.setdefault(attributes[attribute], []).append(stratum)
    return {f"{attribute}={value}": DomainGoal(tuple(strata), margin) for value, strata in grouped.items()}


def _domain_margin(
    completes: NDArray[np.float64],
    population: NDArray[np.float64],
    variance: NDArray[np.float64],
    members: NDArray[np.intp],
    z: float,
) -> float:
    """z·√Σ (N_h/N_D)² (1/r_h − 1/N_h) S_h² over the domain's strata (stratified SRS, fpc)."""
    n_h, big_n, s2 = completes[members], population[members], variance[members]
    with np.errstate(divide="ignore"):
        per = np.where(n_h > 0, (1 / n_h - 1 / big_n) * s2, np.where(s2 > 0, np.inf, 0.0))
    shares = big_n / big_n.sum()
    return float(z * np.sqrt(np.sum(shares**2 * np.maximum(per, 0.0))))


def _out_of_reach(goal: str, margin: float, customers: int, answers: float, best: float) -> str:
    """Why a precision goal is refused, in the reader's language and numbers (13 500 and ±2,31 in
    French): the goal, and the best margin a census of its strata would give."""
    figures = {
        "domain": goal,
        "margin": number_format(margin if margin % 1 else int(margin), use_l10n=True),
        "customers": number_format(customers, use_l10n=True, force_grouping=True),
        "answers": number_format(round(answers), use_l10n=True, force_grouping=True),
        "best": number_format(best, decimal_pos=2, use_l10n=True),
    }
    if goal == "overall":
        return (
            gettext(
                "The frame cannot give ±%(margin)s overall — even asking all %(customers)s customers (about "
                "%(answers)s answers at the expected response rates) gives ±%(best)s; widen the margin"
            )
            % figures
        )
    return (
        gettext(
            "%(domain)s: the frame cannot give ±%(margin)s — even asking all %(customers)s customers (about "
            "%(answers)s answers at the expected response rates) gives ±%(best)s; widen the margin or merge "
            "this domain with another"
        )
        % figures
    )


def plan_sample(
    strata: Sequence[StratumFrame],
    *,
    overall_margin: float | None,
    domains: Mapping[str, DomainGoal] | None = None,
    allocation: Allocation = "proportional",
    minimum_per_stratum: int = 2,
    confidence: float = 0.95,
) -> SamplePlan:
    """Completes and sample per stratum for "NPS within ±3 overall and ±8 per region at 95 %".

    Each goal (overall, then each domain) is met by the smallest number of completes that, spread
    over its strata by the allocation — proportional (r_h ∝ N_h) or Neyman (r_h ∝ N_h·S_h), never
    below ``minimum_per_stratum`` and never beyond a census — brings the expected margin
    z·√Σ W_h² (1/r_h − 1/N_h) S_h² down to the goal; a stratum gets the largest of the completes its
    goals ask. The sample is completes / response rate, rounded up (at most N_h). A goal that even a
    census of its strata cannot meet is refused, naming the domain and the best margin reachable.
    """
    z = _z(confidence)
    if not strata:
        raise ValidationFailed("the frame has no strata", field="strata")
    if allocation not in ("proportional", "neyman"):
        raise ValidationFailed("allocation must be proportional or neyman", field="allocation")
    names = [s.stratum for s in strata]
    if len(set(names)) != len(names):
        raise ValidationFailed("each stratum must appear once", field="strata")
    for s in strata:
        if s.population < 1:
            raise ValidationFailed(
                f"stratum {s.stratum} is empty in the frame: no customer to draw", field="strata"
            )
        if not (s.variance >= 0 and math.isfinite(s.variance)):
            raise ValidationFailed(f"stratum {s.stratum}: the variance must be a number ≥ 0", field="strata")
        if not 0 < s.response_rate <= 1:
            raise ValidationFailed(
                f"stratum {s.stratum}: the response rate must lie in (0, 1]", field="strata"
            )
    population = np.array([s.population for s in strata], dtype=float)
    variance = np.array([s.variance for s in strata], dtype=float)
    rate = np.array([s.response_rate for s in strata], dtype=float)
    census = population * rate  # expected completes if everybody is asked
    minimum = np.minimum(float(minimum_per_stratum), census)
    share = population * np.sqrt(variance) if allocation == "neyman" else population.copy()
    index = {name: i for i, name in enumerate(names)}

    goals: list[tuple[str, NDArray[np.intp], float]] = []
    if overall_margin is not None:
        goals.append(("overall", np.arange(len(strata)), overall_margin))
    for domain, goal in (domains or {}).items():
        unknown = [str(s) for s in goal.strata if s not in index]
        if unknown or not goal.strata:
            raise ValidationFailed(
                gettext("%(domain)s: no customer in the frame (strata %(strata)s are not in it)")
                % {"domain": domain, "strata": ", ".join(unknown) or "—"},
                field="domains",
            )
        goals.append((domain, np.array([index[s] for s in goal.strata]), goal.margin))

    required = minimum.copy()
    for name, members, margin in goals:
        if not margin > 0:
            raise ValidationFailed(f"{name}: the margin must be a positive number", field="domains")
        weights = share[members] if share[members].sum() > 0 else population[members]

        def spread(total: float, members: NDArray[np.intp] = members, weights: NDArray = weights) -> NDArray:
            r = np.zeros(len(strata))
            r[members] = np.clip(total * weights / weights.sum(), minimum[members], census[members])
            return r

        best = _domain_margin(census, population, variance, members, z)
        if best > margin:
            raise ValidationFailed(
                _out_of_reach(
                    name, margin, int(population[members].sum()), float(census[members].sum()), best
                ),
                field="domains" if name != "overall" else "overall_margin",
            )
        low, high = 0.0, float(census[members].sum())
        for _ in range(200):
            middle = (low + high) / 2
            if _domain_margin(spread(middle), population, variance, members, z) <= margin:
                high = middle
            else:
                low = middle
            if high - low < 1e-9 * max(1.0, high):
                break
        required = np.maximum(required, spread(high))

    sample = np.minimum(population, np.ceil(required / rate - 1e-9)).astype(int)
    completes = np.minimum(sample, np.ceil(required - 1e-9)).astype(int)
    expected = sample * rate
    rows = tuple(
        StratumAllocation(s.stratum, s.population, int(n), int(c), float(e), float(n / s.population))
        for s, n, c, e in zip(strata, sample, completes, expected, strict=True)
    )
    all_strata = np.arange(len(strata))
    return SamplePlan(
        strata=rows,
        sample_size=int(sample.sum()),
        expected_completes=float(expected.sum()),
        margin=_domain_margin(expected, population, variance, all_strata, z),
        domain_margins={
            name: _domain_margin(expected, population, variance, members, z)
            for name, members, _ in goals
            if name != "overall"
        },
        allocation=allocation,
        confidence=confidence,
    )


# ---------------------------------------------------------------------------------------------
# The draw
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Draw:
    ids: NDArray  # sampled ids, by stratum then id
    strata: NDArray  # each sampled id's stratum
    inclusion_probability: NDArray[np.float64]  # n_h / N_h
    seed: int
    sizes: dict[Hashable, tuple[int, int]]  # stratum → (sampled, frame size)


def stratified_draw(ids: ArrayLike, strata: ArrayLike, sizes: Mapping[Hashable, int], *, seed: int) -> Draw:
    """Simple random sampling without replacement of ``sizes[h]`` ids in each stratum h.

    Reproducible: the frame is put in a canonical order (stratum, then id) before numpy's PCG64
    generator, seeded with ``seed``, picks in each stratum in turn, so the same frame and seed give
    the same sample whatever order the ids came in (with the same numpy). Every sampled id's
    inclusion probability is n_h/N_h. A stratum asked for but absent from the frame, or asked for
    more than it holds, is refused.
    """
    id_array = np.asarray(ids)
    stratum_array = np.asarray(strata)
    if id_array.ndim != 1 or id_array.shape != stratum_array.shape:
        raise ValidationFailed("ids and strata must be two arrays of the same length", field="ids")
    ordered = np.sort(id_array)
    if np.any(ordered[1:] == ordered[:-1]):
        raise ValidationFailed("the frame lists an id twice", field="ids")
    labels, codes = np.unique(stratum_array, return_inverse=True)
    present = {label.item() if hasattr(label, "item") else label: i for i, label in enumerate(labels)}
    empty = [str(s) for s, n in sizes.items() if n > 0 and s not in present]
    if empty:
        raise ValidationFailed(
            f"stratum {', '.join(empty)} is empty in the frame: nobody to draw", field="strata"
        )
    order = np.lexsort((id_array, codes))
    counts = np.bincount(codes, minlength=labels.size)
    starts = np.concatenate([[0], np.cumsum(counts)])
    rng = np.random.Generator(np.random.PCG64(seed))
    chosen: list[NDArray[np.intp]] = []
    probabilities: list[NDArray[np.float64]] = []
    drawn: dict[Hashable, tuple[int, int]] = {}
    for label, i in present.items():
        n = int(sizes.get(label, 0))
        frame_size = int(counts[i])
        if n < 0 or n > frame_size:
            raise ValidationFailed(
                f"stratum {label}: {n} to draw but the frame holds {frame_size}", field="sizes"
            )
        drawn[label] = (n, frame_size)
        if n == 0:
            continue
        picked = np.sort(rng.choice(frame_size, size=n, replace=False))
        chosen.append(order[starts[i] + picked])
        probabilities.append(np.full(n, n / frame_size))
    rows = np.concatenate(chosen) if chosen else np.empty(0, dtype=np.intp)
    return Draw(
        ids=id_array[rows],
        strata=stratum_array[rows],
        inclusion_probability=np.concatenate(probabilities) if probabilities else np.empty(0),
        seed=seed,
        sizes=drawn,
    )


# ---------------------------------------------------------------------------------------------
# Weights
# ---------------------------------------------------------------------------------------------


def nonresponse_adjustment(
    weights: ArrayLike, responded: ArrayLike, classes: ArrayLike
) -> NDArray[np.float64]:
    """Respondents' weights after the weighting-class adjustment: within each class the respondents
    carry the weights of the class's non-respondents, w·Σ_class w / Σ_class respondents' w.

    Arrays run over the sampled (eligible) cases; the result runs over the respondents, in order.
    A class with sampled cases but no respondent is refused, naming it.
    """
    w = np.asarray(weights, dtype=float).ravel()
    answered = np.asarray(responded, dtype=bool).ravel()
    cls = np.asarray(classes).ravel()
    if not (w.size == answered.size == cls.size):
        raise ValidationFailed("weights, responses and classes must have one entry per sampled case")
    labels, codes = np.unique(cls, return_inverse=True)
    sampled = np.bincount(codes, weights=w, minlength=labels.size)
    answering = np.bincount(codes[answered], weights=w[answered], minlength=labels.size)
    silent = [str(label) for label, a in zip(labels, answering, strict=True) if a == 0]
    if silent:
        raise ValidationFailed(
            gettext(
                "nobody answered in %(strata)s: its weight cannot be carried; merge it with a "
                "neighbouring stratum or class"
            )
            % {"strata": ", ".join(silent)},
            field="classes",
        )
    return w[answered] * (sampled / answering)[codes[answered]]


def calibrate(
    weights: ArrayLike,
    categories: Mapping[str, Sequence[Hashable]],
    margins: Mapping[str, Mapping[Hashable, float]],
    *,
    population_total: float,
    bounds: tuple[float, float] | None = None,
    max_iter: int = 1000,
) -> NDArray[np.float64]:
    """Raking (``weighting.rake``) of the weights to the population margins, refusing targets that do
    not add up to the frame: counts must sum to ``population_total`` (shares summing to 1 are
    turned into counts of it). Bounds apply to the factor w_calibrated/w."""
    counts: dict[str, dict[Hashable, float]] = {}
    for variable, margin in margins.items():
        total = float(sum(margin.values()))
        if abs(total - 1) <= SHARE_TOLERANCE:
            counts[variable] = {c: v * population_total for c, v in margin.items()}
        elif abs(total - population_total) > SHARE_TOLERANCE * population_total:
            raise ValidationFailed(
                f"{variable}: the targets sum to {total:,.0f} but the frame holds {population_total:,.0f}; "
                "targets must describe the same population",
                field=variable,
            )
        else:
            counts[variable] = dict(margin)
    w = np.asarray(weights, dtype=float).ravel()
    if abs(w.sum() - population_total) > 1e-9 * population_total:
        w = w * (population_total / w.sum())
    return rake(categories, counts, w, bounds=bounds, max_iter=max_iter, tolerance=1e-12)


@dataclass(frozen=True)
class WeightReport:
    n: int
    total: float  # Σw, the population the answers stand for
    minimum: float
    maximum: float
    ratio: float  # max/min
    kish_n: float  # (Σw)²/Σw²
    design_effect: float  # 1 + CV² (Kish)
    efficiency: float  # kish_n / n = 1/design effect
    adjustment_min: float | None  # calibration factor range, when there is a calibration
    adjustment_max: float | None


def weight_report(weights: ArrayLike, base_weights: ArrayLike | None = None) -> WeightReport:
    """Min, max, Kish's effective n and design effect of unequal weighting, efficiency; with the base
    weights, the range of the calibration factor w/base."""
    w = np.asarray(weights, dtype=float).ravel()
    if w.size == 0:
        raise ValidationFailed("no weights to report on", field="weights")
    kish = kish_effective_n(w)
    factor = None if base_weights is None else w / np.asarray(base_weights, dtype=float).ravel()
    return WeightReport(
        n=int(w.size),
        total=float(w.sum()),
        minimum=float(w.min()),
        maximum=float(w.max()),
        ratio=float(w.max() / w.min()),
        kish_n=kish,
        design_effect=design_effect(w),
        efficiency=kish / w.size,
        adjustment_min=None if factor is None else float(factor.min()),
        adjustment_max=None if factor is None else float(factor.max()),
    )


@dataclass(frozen=True)
class SurveyDesign:
    """The respondents as a stratified simple random sample, with their final (calibrated) weights.

    ``strata`` are codes 0…H−1, ``population`` N_h per code (for the finite-population correction
    1 − r_h/N_h), ``base_weights`` the weights before calibration (d), ``calibration`` the model
    matrix of the raking margins (None without calibration): the linearised variance then works on
    the residuals of the d-weighted regression on it, as R's ``survey`` does after ``calibrate``.
    """

    strata: NDArray[np.intp]
    population: NDArray[np.float64]
    weights: NDArray[np.float64]
    base_weights: NDArray[np.float64]
    calibration: NDArray[np.float64] | None = None
    stratum_labels: tuple[Hashable, ...] = field(default=())

    def __post_init__(self) -> None:
        n = self.weights.size
        if self.strata.size != n or self.base_weights.size != n:
            raise ValidationFailed("strata, weights and base weights must have one entry per respondent")
        counts = np.bincount(self.strata, minlength=self.population.size)
        lonely = [self._label(h) for h in np.nonzero(counts == 1)[0]]
        if lonely:
            raise ValidationFailed(
                gettext(
                    "stratum %(strata)s has a single respondent: its variance cannot be estimated; "
                    "merge it with a neighbouring stratum"
                )
                % {"strata": ", ".join(lonely)},
                field="strata",
            )
        if np.any(counts > self.population):
            raise ValidationFailed(
                "a stratum has more respondents than customers in the frame", field="strata"
            )

    def _label(self, code: int) -> str:
        return str(self.stratum_labels[code]) if self.stratum_labels else str(code)

    @property
    def degrees_of_freedom(self) -> int:
        """Respondents − strata with respondents (R's ``degf`` for a one-stage stratified design)."""
        return int(self.weights.size - np.count_nonzero(np.bincount(self.strata)))

    @classmethod
    def build(
        cls,
        strata: ArrayLike,
        stratum_population: Mapping[Hashable, float],
        weights: ArrayLike,
        *,
        base_weights: ArrayLike | None = None,
        categories: Mapping[str, Sequence[Hashable]] | None = None,
        margins: Mapping[str, Mapping[Hashable, float]] | None = None,
    ) -> SurveyDesign:
        """A design from respondents' stratum labels, N_h per label and weights; with ``categories`` and
        ``margins`` (the calibration's variables and their category order) the variance accounts for
        the calibration."""
        labels_array = np.asarray(strata)
        labels, codes = np.unique(labels_array, return_inverse=True)
        keys = [label.item() if hasattr(label, "item") else label for label in labels]
        missing = [str(k) for k in keys if k not in stratum_population]
        if missing:
            raise ValidationFailed(
                f"no frame size for stratum {', '.join(missing)}", field="stratum_population"
            )
        w = np.asarray(weights, dtype=float).ravel()
        d = w if base_weights is None else np.asarray(base_weights, dtype=float).ravel()
        x = None
        if categories is not None and margins is not None:
            x = _model_matrix(categories, margins)
        return cls(
            strata=codes.astype(np.intp),
            population=np.array([float(stratum_population[k]) for k in keys]),
            weights=w,
            base_weights=d,
            calibration=x,
            stratum_labels=tuple(keys),
        )


def _model_matrix(
    categories: Mapping[str, Sequence[Hashable]], margins: Mapping[str, Mapping[Hashable, float]]
) -> NDArray[np.float64]:
    """Intercept and one indicator per category beyond each variable's first (R's model.matrix)."""
    n = len(next(iter(categories.values())))
    columns = [np.ones(n)]
    for variable, margin in margins.items():
        values = np.asarray(categories[variable])
        for category in list(margin)[1:]:
            columns.append((values == category).astype(float))
    return np.column_stack(columns)


@dataclass(frozen=True)
class WaveWeights:
    design: SurveyDesign
    report: WeightReport
    respondents: NDArray[np.intp]  # positions, among the sampled cases, of the respondents (design order)


def weight_wave(
    strata: ArrayLike,
    stratum_population: Mapping[Hashable, float],
    inclusion_probability: ArrayLike,
    responded: ArrayLike,
    *,
    classes: ArrayLike | None = None,
    categories: Mapping[str, Sequence[Hashable]] | None = None,
    margins: Mapping[str, Mapping[Hashable, float]] | None = None,
    bounds: tuple[float, float] | None = None,
) -> WaveWeights:
    """A wave's weights, from its sampled (eligible) cases: design weights 1/π, the non-response
    adjustment within the strata (or ``classes``), then raking of the respondents to ``margins``
    (each variable's categories given per sampled case in ``categories``; targets summing to the
    frame, Σ N_h) with ``bounds`` on the adjustment. Returns the estimation design and its report."""
    stratum_array = np.asarray(strata).ravel()
    answered = np.asarray(responded, dtype=bool).ravel()
    d = horvitz_thompson_weights(inclusion_probability)
    if not (stratum_array.size == answered.size == d.size):
        raise ValidationFailed(
            "strata, inclusion probabilities and responses need one entry per sampled case"
        )
    adjusted = nonresponse_adjustment(d, answered, stratum_array if classes is None else classes)
    positions = np.nonzero(answered)[0]
    respondent_strata = stratum_array[answered]
    frame_total = float(sum(stratum_population.values()))
    calibrated = adjusted
    respondent_categories = None
    if margins:
        if categories is None:
            raise ValidationFailed("margins need each case's categories", field="categories")
        respondent_categories = {v: np.asarray(categories[v])[answered] for v in margins}
        calibrated = calibrate(
            adjusted, respondent_categories, margins, population_total=frame_total, bounds=bounds
        )
    design = SurveyDesign.build(
        respondent_strata,
        stratum_population,
        calibrated,
        base_weights=adjusted,
        categories=respondent_categories,
        margins=margins or None,
    )
    report = weight_report(calibrated, adjusted if margins else None)
    return WaveWeights(design=design, report=report, respondents=positions)


# ---------------------------------------------------------------------------------------------
# Design-based estimates
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DesignEstimate(Estimate):
    """A design-based figure: value, t interval on the design's degrees of freedom, and its parts."""

    standard_error: float | None
    margin: float | None  # half-width of the interval
    degrees_of_freedom: int
    population: float  # Σw over the domain's answers: the customers it stands for
    confidence: float
    kind: str


_METHOD = "design-based ({}): stratified SRS with fpc{}, Taylor linearisation, t on {} df"


def method_of(design: SurveyDesign) -> str:
    """The one wording of the estimation method, as every estimate of this design carries it."""
    return _METHOD.format(
        "Horvitz–Thompson ratio",
        ", calibrated by raking (variance on calibration residuals)"
        if design.calibration is not None
        else "",
        design.degrees_of_freedom,
    )


_method = method_of  # the name barometers.results first used


def _linearised(
    design: SurveyDesign,
    y: NDArray[np.float64],
    codes: NDArray[np.intp],
    count: int,
    kind: str,
    *,
    full: bool,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Domain estimates, domain sizes Σw and the covariance of the estimates (full, or its diagonal).

    Unit i of domain j has the influence z_ij = w_i·e_ij, the residual e of the d-weighted regression
    of u_i·1[i ∈ j] on the calibration matrix x (Deville & Särndal 1992; R survey's svyrecvar after
    calibrate; e = u without calibration), u = (y − ȳ_j)/Ŵ_j for a ratio mean, y for a total.
    The stratified SRS variance Σ_h (1 − r_h/N_h)·r_h/(r_h − 1)·Σ_i (z_ij − z̄_hj)(z_il − z̄_hl) is
    expanded in sums per stratum and domain, Σ_i z_ij z_il = 1[j = l]·Σ w²u² − G_hj·β_l − G_hl·β_j
    + β_j'Q_hβ_l, so no n × domains matrix is ever built: the cost is one pass over the answers.
    """
    present = ~np.isnan(y)
    rows = np.nonzero(present)[0]
    j = codes[rows]
    yr, wr = y[rows], design.weights[rows]
    sizes = np.bincount(j, weights=wr, minlength=count)
    totals = np.bincount(j, weights=wr * yr, minlength=count)
    if kind == "total":
        estimates, u = totals, yr
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            estimates = np.where(sizes > 0, totals / sizes, np.nan)
        u = (yr - estimates[j]) / sizes[j]
    strata = design.strata
    big_h = design.population.size
    r = np.bincount(strata, minlength=big_h).astype(float)
    scale = np.where(r > 1, (1 - r / design.population) * r / np.maximum(r - 1, 1), 0.0)
    cell = strata[rows] * count + j
    wu = wr * u
    first = np.bincount(cell, weights=wu, minlength=big_h * count).reshape(big_h, count)
    second = np.bincount(cell, weights=wu * wu, minlength=big_h * count).reshape(big_h, count)
    x = design.calibration
    if x is None:
        sums = first
        cross = second[:, :, None] * np.eye(count) if full else second
    else:
        k = x.shape[1]
        d, w = design.base_weights, design.weights
        xr = x[rows]
        moment = (x * d[:, None]).T @ x
        xdu = np.stack(
            [
                np.bincount(j, weights=design.base_weights[rows] * u * xr[:, c], minlength=count)
                for c in range(k)
            ]
        )
        beta = np.linalg.lstsq(moment, xdu, rcond=None)[0]  # k × domains
        wx = np.stack([np.bincount(strata, weights=w * x[:, c], minlength=big_h) for c in range(k)], axis=1)
        sums = first - wx @ beta
        g = np.stack(
            [np.bincount(cell, weights=wr * wu * xr[:, c], minlength=big_h * count) for c in range(k)], axis=1
        ).reshape(big_h, count, k)
        order = np.argsort(strata, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(r)]).astype(int)
        q = np.zeros((big_h, k, k))
        for h in np.nonzero(r)[0]:
            part = order[bounds[h] : bounds[h + 1]]
            xs = x[part]
            q[h] = (xs * np.square(w[part])[:, None]).T @ xs
        if full:
            gb = np.einsum("hjc,cl->hjl", g, beta)
            cross = second[:, :, None] * np.eye(count) - gb - gb.transpose(0, 2, 1)
            cross += np.einsum("aj,hab,bl->hjl", beta, q, beta)
        else:
            cross = second - 2 * np.einsum("hjc,cj->hj", g, beta) + np.einsum("aj,hab,bj->hj", beta, q, beta)
    with np.errstate(divide="ignore", invalid="ignore"):
        inverse_r = np.where(r > 0, 1 / r, 0.0)
    if full:
        centred = cross - sums[:, :, None] * sums[:, None, :] * inverse_r[:, None, None]
        covariance = np.einsum("h,hjl->jl", scale, centred)
    else:
        covariance = scale @ (cross - np.square(sums) * inverse_r[:, None])
    return estimates, sizes, covariance


def _estimates(
    design: SurveyDesign,
    values: ArrayLike,
    domains: NDArray[np.intp] | None,
    count: int,
    kind: str,
    confidence: float,
    *,
    full: bool = False,
) -> tuple[list[DesignEstimate], NDArray[np.float64]]:
    y = _scores(kind, values)
    if y.size != design.weights.size:
        raise ValidationFailed(f"{y.size} values for {design.weights.size} respondents", field="values")
    codes = np.zeros(y.size, dtype=np.intp) if domains is None else domains
    estimates, sizes, covariance = _linearised(design, y, codes, count, kind, full=full)
    variance = np.diagonal(covariance) if full else covariance
    n = np.bincount(codes[~np.isnan(y)], minlength=count)
    df = design.degrees_of_freedom
    quantile = float(student_t.ppf(0.5 + confidence / 2, df)) if df > 0 else math.nan
    low_limit, high_limit = {"nps": (-100.0, 100.0), "proportion": (0.0, 1.0)}.get(
        kind, (-math.inf, math.inf)
    )
    method = method_of(design)
    rows = []
    for j in range(count):
        if n[j] == 0:
            rows.append(DesignEstimate(None, None, None, 0, method, None, None, df, 0.0, confidence, kind))
            continue
        se = float(np.sqrt(max(variance[j], 0.0)))
        half = quantile * se
        value = float(estimates[j])
        rows.append(
            DesignEstimate(
                value=value,
                ci_low=max(low_limit, value - half),
                ci_high=min(high_limit, value + half),
                n=int(n[j]),
                method=method,
                standard_error=se,
                margin=half,
                degrees_of_freedom=df,
                population=float(sizes[j]),
                confidence=confidence,
                kind=kind,
            )
        )
    return rows, covariance


def estimate(
    design: SurveyDesign, values: ArrayLike, kind: Kind = "mean", *, confidence: float = 0.95
) -> DesignEstimate:
    """A design-based mean, proportion, NPS (the mean of +100/0/−100) or total over all respondents
    (R: svymean / svytotal with confint(df = degf(design))). Blank answers (NaN) are left out as a
    domain, like ``na.rm=TRUE``."""
    _z(confidence)
    return _estimates(design, values, None, 1, kind, confidence)[0][0]


def estimate_by(
    design: SurveyDesign,
    values: ArrayLike,
    domains: ArrayLike,
    kind: Kind = "mean",
    *,
    confidence: float = 0.95,
) -> dict[Hashable, DesignEstimate]:
    """One estimate per subgroup, computed as domains of the whole design (R's svyby): every
    respondent stays in the variance, those outside the domain with a zero influence, so strata,
    fpc and the calibration keep their full-sample form. Intervals use the design's df."""
    _z(confidence)
    labels, codes = np.unique(np.asarray(domains).ravel(), return_inverse=True)
    rows, _ = _estimates(design, values, codes.astype(np.intp), labels.size, kind, confidence)
    keys = [label.item() if hasattr(label, "item") else label for label in labels]
    return dict(zip(keys, rows, strict=True))


def group_difference(
    design: SurveyDesign,
    values: ArrayLike,
    groups: ArrayLike,
    kind: Kind = "mean",
    *,
    confidence: float = 0.95,
) -> Difference:
    """Within one wave, the difference between two groups (second − first in sorted order) with
    the design-adjusted t test of R's svyttest: both domain means linearised jointly, t on the
    answers' degrees of freedom (respondents with an answer − their strata) − 1."""
    if kind == "total":
        raise ValidationFailed("compare means, proportions or NPS between groups, not totals", field="kind")
    labels, codes = np.unique(np.asarray(groups).ravel(), return_inverse=True)
    if labels.size != 2:
        raise ValidationFailed(
            f"a group comparison needs exactly two groups, not {labels.size}", field="groups"
        )
    rows, covariance = _estimates(design, values, codes.astype(np.intp), 2, kind, confidence, full=True)
    if rows[0].value is None or rows[1].value is None:
        raise ValidationFailed("one of the two groups has no answer", field="groups")
    contrast = np.array([-1.0, 1.0])
    se = float(np.sqrt(max(contrast @ covariance @ contrast, 0.0)))
    diff = rows[1].value - rows[0].value
    # As svyglm: the residual df of the answers the model sees, respondents − strata − 1.
    answered = ~np.isnan(_scores(kind, values))
    df = int(answered.sum() - np.count_nonzero(np.bincount(design.strata[answered])) - 1)
    t = diff / se if se > 0 else math.inf
    half = float(student_t.ppf(0.5 + confidence / 2, df)) * se
    p = float(2 * student_t.sf(abs(t), df)) if se > 0 else 0.0
    return Difference(
        diff,
        diff - half,
        diff + half,
        p,
        rows[0].n,
        rows[1].n,
        f"design-based t test (svyttest): {labels[1]} − {labels[0]}, t on {df} df",
    )


def wave_difference(before: DesignEstimate, after: DesignEstimate, *, confidence: float = 0.95) -> Difference:
    """after − before for two independent samples (two waves): variances add; normal interval and
    two-sided p-value (the df of each wave are large; the test and interval agree)."""
    if (
        before.value is None
        or after.value is None
        or before.standard_error is None
        or after.standard_error is None
    ):
        return Difference(
            None, None, None, None, before.n, after.n, "wave difference: no estimate on one side"
        )
    diff = after.value - before.value
    se = math.hypot(before.standard_error, after.standard_error)
    half = _z(confidence) * se
    p = float(2 * norm.sf(abs(diff) / se)) if se > 0 else (0.0 if diff else 1.0)
    return Difference(
        diff,
        diff - half,
        diff + half,
        p,
        before.n,
        after.n,
        "design-based difference of independent waves (z)",
    )


def adjust_across(differences: Sequence[Difference], q: float = 0.05) -> MultipleTests:
    """Benjamini–Hochberg across subgroups' differences (``comparison.benjamini_hochberg``); rows
    without a p-value count as not rejected with adjusted p = 1."""
    tested = [i for i, d in enumerate(differences) if d.p_value is not None]
    found = benjamini_hochberg([differences[i].p_value for i in tested], q=q)
    adjusted = np.ones(len(differences))
    rejected = np.zeros(len(differences), dtype=bool)
    adjusted[tested] = found.adjusted
    rejected[tested] = found.rejected
    return MultipleTests(adjusted, rejected, q)


def compare_waves(
    before: Mapping[Hashable, DesignEstimate],
    after: Mapping[Hashable, DesignEstimate],
    *,
    minimum_n: int = 0,
    q: float = 0.05,
) -> tuple[list[Hashable], Family]:
    """Each subgroup's change between two waves (``estimate_by`` of each), judged as a family:
    ``comparison.judge_family`` tests the subgroups with enough answers on both sides (at least
    ``minimum_n``; the others get no verdict), Benjamini–Hochberg at q across them, and draws each
    interval at the level that keeps test and interval in agreement. Returns the subgroups (those
    present in both waves, in the first wave's order) and the family, row for row."""
    keys = [k for k in before if k in after]
    compare = [partial(wave_difference, before[k], after[k]) for k in keys]
    judged = [
        before[k].value is not None
        and after[k].value is not None
        and min(before[k].n, after[k].n) >= minimum_n
        for k in keys
    ]
    return keys, judge_family(compare, judged, q=q)
