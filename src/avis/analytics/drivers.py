"""What moves the overall score: questions, attributes and comment topics, with intervals.

The 0–10 likelihood-to-recommend score is regressed (OLS) on predictor *groups*: each
other question of the survey, the channel, the team, the touchpoint (across touchpoints),
each categorical attribute of the interaction, and each comment topic. Two readings:

- the effect of each term in score points, from statsmodels' OLS, with its confidence
  interval, and its standardised coefficient (β·sd(x)/sd(y));
- the relative importance of each group: its share of R² by the LMG / Shapley
  decomposition (Lindeman, Merenda & Gold 1980; Grömping 2006) — the average gain in R²
  from adding the group over every order of entry — with a percentile bootstrap interval.

See docs/verbatims.md for the formulas and the choices (coding, missing answers, caps).
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import statsmodels.api as sm
from django.core.cache import cache as shared_cache
from django.db.models import Count, Max, Sum
from django.utils.translation import gettext as _

from avis.accounts.models import Organisation
from avis.analytics.verbatims import LEXICON_VERSION, analyse_comments, topic_label
from avis.interactions.models import Touchpoint
from avis.surveys.models import Answer, Attribution, Question, QuestionKind, Response

MIN_N = 30  # below this, no driver is shown: too few answers for a regression
MAX_GROUPS = 8  # LMG fits 2^p sub-models, 2^p × (bootstrap + 1) in all
MAX_RESPONSES = 20_000  # the most recent responses of the period
MAX_LEVELS = 6  # a categorical keeps its most frequent levels, the rest is "other"
BOOTSTRAP = 200


@dataclass(frozen=True)
class PredictorGroup:
    """One driver: one column (a score, a topic) or several (the dummies of a category)."""

    kind: str  # question | attribute | topic
    key: str
    label: str
    terms: list[str]
    matrix: np.ndarray  # n × len(terms)
    reference: str = ""  # the level the dummies are compared with


@dataclass(frozen=True)
class Term:
    label: str
    coefficient: float  # in score points
    ci_low: float
    ci_high: float
    p_value: float
    standardised: float
    standardised_ci_low: float
    standardised_ci_high: float


@dataclass(frozen=True)
class Driver:
    kind: str
    key: str
    label: str
    reference: str
    importance: float  # LMG share of R², in R² units: the drivers add up to R²
    ci_low: float
    ci_high: float
    terms: list[Term]

    def share_of(self, r_squared: float) -> float | None:
        return self.importance / r_squared if r_squared > 0 else None


@dataclass(frozen=True)
class Fit:
    n: int
    r_squared: float
    r_squared_ci: tuple[float, float]
    drivers: list[Driver]


@dataclass(frozen=True)
class DriverAnalysis:
    touchpoint: str | None
    n: int
    enough: bool
    fit: Fit | None
    confidence: float
    truncated: bool
    method: str = "ols+lmg-bootstrap"

    @property
    def drivers(self) -> list[Driver]:
        return self.fit.drivers if self.fit else []


# ---------------------------------------------------------------- statistics


def _moments(y: np.ndarray, x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Weighted cross-products of the centred data: X'WX, X'Wy and y'Wy."""
    total = w.sum()
    xw = x.T * w
    mx, my = xw.sum(axis=1) / total, (w @ y) / total
    gram = xw @ x - total * np.outer(mx, mx)
    cross = xw @ y - total * mx * my
    return gram, cross, float(w @ (y * y) - total * my * my)


def _subset_columns(widths: tuple[int, ...]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per number of columns: the masks of that size and their column indices (m × k)."""
    bounds = np.cumsum([0, *widths])
    by_width: dict[int, list[tuple[int, np.ndarray]]] = {}
    for mask in range(1, 2 ** len(widths)):
        cols = np.concatenate(
            [np.arange(bounds[j], bounds[j + 1]) for j in range(len(widths)) if mask >> j & 1]
        )
        by_width.setdefault(len(cols), []).append((mask, cols))
    return [
        (np.array([mask for mask, _cols in items]), np.array([cols for _mask, cols in items]))
        for items in by_width.values()
    ]


def _all_r_squared(
    y: np.ndarray, x: np.ndarray, w: np.ndarray, layout: list[tuple[np.ndarray, np.ndarray]], size: int
) -> np.ndarray:
    gram, cross, syy = _moments(y, x, w)
    r2 = np.zeros(size)
    if syy <= 1e-12 * max(1.0, float(w @ (y * y))):
        return r2
    # A level absent from a bootstrap sample leaves a column of zeros: give it a unit
    # diagonal and no cross-product, so it drops out exactly and the rest stays solvable.
    diagonal = np.diag(gram)
    empty = diagonal <= 1e-12 * max(1.0, float(diagonal.max()))
    if empty.any():
        gram = gram.copy()
        gram[empty, :] = 0.0
        gram[:, empty] = 0.0
        gram[empty, empty] = 1.0
        cross = np.where(empty, 0.0, cross)
    for masks, cols in layout:
        grams = gram[cols[:, :, None], cols[:, None, :]]
        crosses = cross[cols]
        try:
            betas = np.linalg.solve(grams, crosses[:, :, None])[:, :, 0]
            values = np.einsum("ij,ij->i", crosses, betas) / syy
            if not (np.all(np.isfinite(values)) and -1e-9 <= values.min() and values.max() <= 1 + 1e-9):
                raise np.linalg.LinAlgError("ill-conditioned")
        except np.linalg.LinAlgError:
            # Collinear in this resample: any generalised inverse gives the same fitted values.
            inverses = np.linalg.pinv(grams, rtol=1e-10, hermitian=True)
            values = np.einsum("ij,ijk,ik->i", crosses, inverses, crosses) / syy
        r2[masks] = values
    return r2


def subset_r_squared(y: np.ndarray, groups: Sequence[np.ndarray], w: np.ndarray | None = None) -> np.ndarray:
    """R² of the regression on every subset of groups, indexed by bit mask (bit j = group j).

    R²(S) = c_S' G_SS⁻¹ c_S / s_yy from the centred cross-products, so the 2^p sub-models
    cost one pass over the data, and sub-models of one size are solved as one batch.
    """
    x = np.hstack(groups).astype(float)
    layout = _subset_columns(tuple(g.shape[1] for g in groups))
    return _all_r_squared(y.astype(float), x, np.ones(len(y)) if w is None else w, layout, 2 ** len(groups))


def lmg(r2: np.ndarray) -> np.ndarray:
    """Shapley value of each group in the R² game: Σ_S |S|!(p−|S|−1)!/p! · (R²(S∪j) − R²(S))."""
    p = int(math.log2(len(r2)))
    masks = np.arange(len(r2))
    sizes = np.array([bin(m).count("1") for m in masks])
    weight = np.array([math.factorial(s) * math.factorial(p - s - 1) / math.factorial(p) for s in range(p)])
    shares = np.zeros(p)
    for j in range(p):
        without = masks[(masks >> j & 1) == 0]
        shares[j] = float(np.sum(weight[sizes[without]] * (r2[without | (1 << j)] - r2[without])))
    return shares


def explain_score(
    y: np.ndarray,
    groups: Sequence[PredictorGroup],
    *,
    confidence: float = 0.95,
    bootstrap: int = BOOTSTRAP,
    seed: int = 0,
) -> Fit:
    """OLS of the score on every group; LMG importance of each, with bootstrap intervals."""
    n = len(y)
    matrices = [g.matrix.astype(float) for g in groups]
    x = np.hstack(matrices)
    alpha = 1 - confidence
    model = sm.OLS(y.astype(float), sm.add_constant(x, has_constant="add")).fit()
    bounds = model.conf_int(alpha=alpha)
    scale = x.std(axis=0, ddof=1) / y.std(ddof=1)
    layout = _subset_columns(tuple(m.shape[1] for m in matrices))
    size = 2 ** len(groups)
    # Answers are discrete (0–10, 1–5, dummies): the distinct rows with their counts carry
    # the same cross-products, and resampling answers is resampling rows by count.
    rows, counts = np.unique(np.column_stack([y, x]), axis=0, return_counts=True)
    r2 = _all_r_squared(rows[:, 0], rows[:, 1:], counts.astype(float), layout, size)
    importance = lmg(r2)
    rng = np.random.default_rng(seed)
    draws = np.empty((bootstrap, len(groups) + 1))
    for b in range(bootstrap):
        # A bootstrap resample: n answers drawn with replacement, counted per distinct row.
        w = rng.multinomial(n, counts / n).astype(float)
        sub = _all_r_squared(rows[:, 0], rows[:, 1:], w, layout, size)
        draws[b, :-1] = lmg(sub)
        draws[b, -1] = sub[-1]
    low, high = (
        np.percentile(draws, [100 * alpha / 2, 100 * (1 - alpha / 2)], axis=0)
        if bootstrap
        else (np.full(len(groups) + 1, np.nan), np.full(len(groups) + 1, np.nan))
    )
    drivers, column = [], 1  # column 0 is the constant
    for j, group in enumerate(groups):
        terms = []
        for label in group.terms:
            terms.append(
                Term(
                    label=label,
                    coefficient=float(model.params[column]),
                    ci_low=float(bounds[column][0]),
                    ci_high=float(bounds[column][1]),
                    p_value=float(model.pvalues[column]),
                    standardised=float(model.params[column] * scale[column - 1]),
                    standardised_ci_low=float(bounds[column][0] * scale[column - 1]),
                    standardised_ci_high=float(bounds[column][1] * scale[column - 1]),
                )
            )
            column += 1
        drivers.append(
            Driver(
                group.kind,
                group.key,
                group.label,
                group.reference,
                float(importance[j]),
                float(low[j]),
                float(high[j]),
                terms,
            )
        )
    drivers.sort(key=lambda d: -d.importance)
    return Fit(n, float(r2[-1]), (float(low[-1]), float(high[-1])), drivers)


# ---------------------------------------------------------------- predictors from answers


def _categorical(
    kind: str, key: str, label: str, values: list[str], names: dict[str, str] | None = None
) -> PredictorGroup | None:
    """Dummies against the most frequent level; rare levels pooled as "other"."""
    n = len(values)
    counts = Counter(values)
    floor = max(5, math.ceil(0.02 * n))
    kept = [level for level, count in counts.most_common(MAX_LEVELS) if count >= floor]
    other = _("other")
    coded = [v if v in kept else other for v in values]
    levels = [level for level, count in Counter(coded).most_common() if count >= floor]
    if len(levels) < 2:
        return None
    coded = [v if v in levels else levels[0] for v in coded]  # a thin "other" joins the reference
    names = names or {}
    reference, rest = levels[0], levels[1:]
    matrix = np.array([[1.0 if v == level else 0.0 for level in rest] for v in coded])
    return PredictorGroup(
        kind, key, label, [names.get(level, level) for level in rest], matrix, names.get(reference, reference)
    )


def _numeric(key: str, label: str, values: list[float | None]) -> PredictorGroup | None:
    """A score; a missing or "not applicable" answer gets the mean and an indicator column."""
    seen = [v for v in values if v is not None]
    if len(seen) < MIN_N or len(set(seen)) < 2:
        return None
    mean = sum(seen) / len(seen)
    column = [[v if v is not None else mean] for v in values]
    terms = [_("per point of this score")]
    if len(seen) < len(values) and len(values) - len(seen) >= 5:
        column = [row + [0.0 if v is not None else 1.0] for row, v in zip(column, values, strict=True)]
        terms.append(_("not answered or not applicable"))
    return PredictorGroup("question", key, label, terms, np.array(column))


def _indicator(key: str, label: str, flags: list[bool]) -> PredictorGroup | None:
    hits = sum(flags)
    if min(hits, len(flags) - hits) < max(5, math.ceil(0.02 * len(flags))):
        return None
    matrix = np.array([[1.0 if f else 0.0] for f in flags])
    return PredictorGroup("topic", key, label, [_("mentioned")], matrix, _("not mentioned"))


def _prompt(question: Question, language: str, company: str) -> str:
    prompt = question.prompt.get(language) or question.prompt.get("en") or question.code
    return prompt.split(" (")[0].replace("{company}", company).strip()


def _chunks(ids: list[int], size: int = 2000) -> list[list[int]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def _predictor_groups(
    *, organisation: Organisation, response_ids: list[int], language: str, across_touchpoints: bool
) -> list[PredictorGroup]:
    position = {rid: i for i, rid in enumerate(response_ids)}
    n = len(response_ids)
    numbers: dict[str, list[float | None]] = {}
    choices: dict[str, list[str]] = {}
    comments: list[tuple[int, str, int]] = []  # answer id, text, response id
    questions: dict[str, Question] = {}
    context: dict[int, dict] = {}
    for chunk in _chunks(response_ids):
        answers = (
            Answer.objects.filter(organisation=organisation, response_id__in=chunk)
            .exclude(kind=QuestionKind.NPS, attribution=Attribution.OVERALL)
            .select_related("question")
        )
        for a in answers:
            row = position[a.response_id]
            code = a.question.code
            questions.setdefault(code, a.question)
            if a.kind == QuestionKind.TEXT:
                if a.text.strip():
                    comments.append((a.id, a.text, a.response_id))
            elif a.kind == QuestionKind.CHOICE:
                choices.setdefault(code, [_("no answer")] * n)[row] = (
                    _("not applicable") if a.not_applicable else a.choice
                )
            else:
                numbers.setdefault(code, [None] * n)[row] = None if a.not_applicable else float(a.number)
        context |= {
            r["id"]: r
            for r in Response.objects.filter(organisation=organisation, id__in=chunk).values(
                "id",
                "channel",
                "locale",
                "team__code",
                "team__name",
                "touchpoint__code",
                "interaction__attributes",
            )
        }
    company = organisation.name
    groups: list[PredictorGroup | None] = []
    for code, values in numbers.items():
        groups.append(_numeric(f"question:{code}", _prompt(questions[code], language, company), values))
    for code, values in choices.items():
        question = questions[code]
        names = {c["value"]: c["label"].get(language) or c["value"] for c in question.choices}
        label = _prompt(question, language, company)
        groups.append(_categorical("question", f"question:{code}", label, values, names))
    rows = [context[rid] for rid in response_ids]
    groups.append(_categorical("attribute", "channel", _("Channel"), [r["channel"] or "-" for r in rows]))
    groups.append(
        _categorical(
            "attribute",
            "team",
            _("Team"),
            [r["team__name"] or r["team__code"] or _("no team") for r in rows],
        )
    )
    if across_touchpoints:
        groups.append(
            _categorical("attribute", "touchpoint", _("Touchpoint"), [r["touchpoint__code"] for r in rows])
        )
    attribute_keys = sorted({k for r in rows for k in (r["interaction__attributes"] or {})})
    for key in attribute_keys:
        values = [(r["interaction__attributes"] or {}).get(key) for r in rows]
        if all(v is None or isinstance(v, str | bool) for v in values):
            groups.append(
                _categorical(
                    "attribute", f"attribute:{key}", key, ["-" if v is None else str(v) for v in values]
                )
            )
    # The respondent's locale as the hint, as on the comments page: one cached analysis per answer.
    analyses = analyse_comments((aid, text, context[rid]["locale"]) for aid, text, rid in comments)
    mentioned: dict[str, list[bool]] = {}
    for answer_id, _text, response_id in comments:
        for topic in analyses[answer_id].topics:
            mentioned.setdefault(topic, [False] * n)[position[response_id]] = True
    for topic, flags in mentioned.items():
        groups.append(_indicator(f"topic:{topic}", topic_label(topic, language), flags))
    return [g for g in groups if g is not None]


def _rank(columns: list[np.ndarray]) -> int:
    rows = np.unique(np.hstack([np.ones((len(columns[0]), 1)), *columns]), axis=0)
    return int(np.linalg.matrix_rank(rows))


def _keep_strongest(y: np.ndarray, groups: list[PredictorGroup]) -> list[PredictorGroup]:
    """The strongest groups alone, at most MAX_GROUPS, ten answers per column, none redundant.

    A group the kept ones already determine (each team works for one touchpoint) has no
    effect of its own to estimate: it is left out rather than split arbitrarily.
    """

    def alone(group: PredictorGroup) -> float:
        return float(subset_r_squared(y, [group.matrix])[-1])

    kept: list[PredictorGroup] = []
    width = 0
    for group in sorted(groups, key=alone, reverse=True):
        if len(kept) == MAX_GROUPS:
            break
        if width + group.matrix.shape[1] > len(y) / 10:
            continue
        candidate = [g.matrix for g in kept] + [group.matrix]
        if _rank(candidate) == 1 + width + group.matrix.shape[1]:
            kept.append(group)
            width += group.matrix.shape[1]
    return kept


def driver_analysis(
    *,
    organisation: Organisation,
    touchpoint: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    language: str = "en",
    confidence: float = 0.95,
) -> DriverAnalysis:
    """The drivers of the overall 0–10 score for one touchpoint (or all), cached until new answers."""
    scores = Answer.objects.filter(
        organisation=organisation,
        kind=QuestionKind.NPS,
        attribution=Attribution.OVERALL,
        not_applicable=False,
        number__isnull=False,
    )
    if touchpoint:
        scores = scores.filter(touchpoint__code=touchpoint)
    if since:
        scores = scores.filter(answered_at__gte=since)
    if until:
        scores = scores.filter(answered_at__lt=until)
    # Any new, changed or erased answer changes this fingerprint, and so the cache key.
    version = scores.aggregate(count=Count("id"), last=Max("id"), total=Sum("number"), at=Max("answered_at"))
    asked = (organisation.id, touchpoint, since, until, language, confidence, version, LEXICON_VERSION)
    key = "avis:drivers:" + hashlib.blake2b(repr(asked).encode(), digest_size=16).hexdigest()
    cached = shared_cache.get(key)
    if cached is not None:
        return cached
    picked = list(
        scores.order_by("-answered_at", "-id").values_list("response_id", "number")[: MAX_RESPONSES + 1]
    )
    truncated = len(picked) > MAX_RESPONSES
    picked = picked[:MAX_RESPONSES]
    n = len(picked)
    fit = None
    if n >= MIN_N:
        y = np.array([float(number) for _rid, number in picked])
        groups = _predictor_groups(
            organisation=organisation,
            response_ids=[rid for rid, _number in picked],
            language=language,
            across_touchpoints=touchpoint is None,
        )
        groups = _keep_strongest(y, groups)
        if groups and y.std() > 0:
            fit = explain_score(y, groups, confidence=confidence)
    analysis = DriverAnalysis(touchpoint, n, fit is not None, fit, confidence, truncated)
    shared_cache.set(key, analysis, timeout=3600)
    return analysis


def touchpoint_codes(*, organisation: Organisation) -> list[str]:
    return list(
        Touchpoint.objects.filter(organisation=organisation).order_by("code").values_list("code", flat=True)
    )
