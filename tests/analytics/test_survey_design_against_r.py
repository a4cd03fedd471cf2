"""The barometer's design-based statistics against R's survey package, to 1e-6, on the same data.

One synthetic wave: a frame of 6 strata, a stratified draw, non-response that depends on region and
age (so raking matters), final weights raked on region × age × channel with bounds that bind. R gets
the respondents with their non-response-adjusted weights and runs svydesign(strata, fpc),
calibrate(calfun="raking", bounds), svymean, svytotal, svyby and svyttest.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import t as student_t

from avis.analytics import survey_design as sd
from tests.analytics.r_survey import need_r_survey, read_named, run_r

POPULATION = {"s1": 4000, "s2": 2500, "s3": 6000, "s4": 1500, "s5": 3000, "s6": 800}
SAMPLE = {"s1": 300, "s2": 260, "s3": 320, "s4": 200, "s5": 280, "s6": 150}
MARGINS = {
    "region": {"north": 5800.0, "south": 7000.0, "west": 5000.0},
    "age": {"young": 4200.0, "middle": 8600.0, "old": 5000.0},
    "channel": {"email": 11000.0, "sms": 6800.0},
}
BOUNDS = (0.5, 1.7)

R_SCRIPT = r"""
suppressMessages(library(survey))
options(digits = 17)
d <- read.csv("respondents.csv", stringsAsFactors = FALSE)
targets <- read.csv("targets.csv", stringsAsFactors = FALSE)
for (v in unique(targets$variable)) d[[v]] <- factor(d[[v]], levels = targets$category[targets$variable == v])
d$stratum <- factor(d$stratum)
d$nps <- ifelse(is.na(d$score), NA, 100 * ((d$score >= 9) - (d$score <= 6)))
d$top <- as.numeric(d$score >= 9)
d$grp <- factor(d$grp)
des <- svydesign(ids = ~1, strata = ~stratum, fpc = ~N, weights = ~d, data = d)
mm <- model.matrix(~ region + age + channel, d)
pop <- c(sum(targets$total[targets$variable == "region"]))
for (v in c("region", "age", "channel")) pop <- c(pop, targets$total[targets$variable == v][-1])
names(pop) <- colnames(mm)
cal <- calibrate(des, ~ region + age + channel, population = pop, calfun = "raking",
                 bounds = c(BOUNDS_LOW, BOUNDS_HIGH), epsilon = 1e-13, maxit = 500)
write.csv(data.frame(w = weights(cal)), "weights.csv", row.names = FALSE)
out <- list()
put <- function(name, x) out[[name]] <<- unname(x)
for (design_name in c("cal", "des")) {
  D <- get(design_name)
  for (v in c("nps", "top", "effort")) {
    m <- svymean(as.formula(paste0("~", v)), D, na.rm = TRUE)
    put(paste(design_name, v, "mean", sep = "."), coef(m))
    put(paste(design_name, v, "se", sep = "."), SE(m))
    ci <- confint(m, df = degf(D))
    put(paste(design_name, v, "low", sep = "."), ci[1])
    put(paste(design_name, v, "high", sep = "."), ci[2])
    b <- svyby(as.formula(paste0("~", v)), ~dom, D, svymean, na.rm = TRUE)
    for (k in seq_len(nrow(b))) {
      put(paste(design_name, v, "by", b$dom[k], "mean", sep = "."), coef(b)[k])
      put(paste(design_name, v, "by", b$dom[k], "se", sep = "."), SE(b)[k])
    }
  }
  t <- svytotal(~effort, D, na.rm = TRUE)
  put(paste(design_name, "effort.total", sep = "."), coef(t))
  put(paste(design_name, "effort.total.se", sep = "."), SE(t))
  tt <- svyttest(nps ~ grp, D)
  put(paste(design_name, "ttest.estimate", sep = "."), tt$estimate)
  put(paste(design_name, "ttest.statistic", sep = "."), tt$statistic)
  put(paste(design_name, "ttest.df", sep = "."), tt$parameter)
  put(paste(design_name, "ttest.p", sep = "."), tt$p.value)
  put(paste(design_name, "degf", sep = "."), degf(D))
}
write.csv(data.frame(name = names(out), value = unlist(out)), "results.csv", row.names = FALSE)
"""


def wave(seed: int = 17) -> dict:
    """A drawn wave with answers, non-response skewed by region and age."""
    rng = np.random.default_rng(seed)
    ids = np.arange(sum(POPULATION.values()))
    strata = np.repeat(list(POPULATION), list(POPULATION.values()))
    draw = sd.stratified_draw(ids, strata, SAMPLE, seed=seed)
    n = draw.ids.size
    region = rng.choice(list(MARGINS["region"]), size=n, p=[0.3, 0.4, 0.3])
    age = rng.choice(list(MARGINS["age"]), size=n, p=[0.25, 0.45, 0.3])
    channel = rng.choice(list(MARGINS["channel"]), size=n, p=[0.6, 0.4])
    answer_rate = 0.25 + 0.25 * (age == "old") + 0.1 * (region == "west")
    responded = rng.random(n) < answer_rate
    weights = sd.weight_wave(
        draw.strata,
        POPULATION,
        draw.inclusion_probability,
        responded,
        categories={"region": region, "age": age, "channel": channel},
        margins=MARGINS,
        bounds=BOUNDS,
    )
    r = int(responded.sum())
    score = rng.integers(0, 11, size=r).astype(float) + 0
    score = np.where(age[responded] == "old", np.minimum(10, score + 2), score)
    score[rng.random(r) < 0.05] = np.nan  # a few left the NPS blank
    effort = rng.integers(1, 8, size=r).astype(float)
    effort[rng.random(r) < 0.08] = np.nan
    return {
        "weights": weights,
        "strata": draw.strata[responded],
        "region": region[responded],
        "age": age[responded],
        "channel": channel[responded],
        "score": score,
        "effort": effort,
        "domain": np.char.add(region[responded], np.where(channel[responded] == "sms", "-sms", "-email")),
        "group": np.where(age[responded] == "young", "b-young", "a-others"),
    }


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict[str, float], np.ndarray]:
    need_r_survey()
    folder: Path = tmp_path_factory.mktemp("r-survey")
    data = wave()
    design = data["weights"].design
    labels = np.array(design.stratum_labels)
    rows = ["stratum,N,d,region,age,channel,score,effort,dom,grp"]
    for i in range(design.weights.size):
        stratum = labels[design.strata[i]]
        cells = [
            stratum,
            f"{POPULATION[stratum]}",
            repr(float(design.base_weights[i])),
            data["region"][i],
            data["age"][i],
            data["channel"][i],
            "NA" if np.isnan(data["score"][i]) else f"{data['score'][i]:g}",
            "NA" if np.isnan(data["effort"][i]) else f"{data['effort'][i]:g}",
            data["domain"][i],
            data["group"][i],
        ]
        rows.append(",".join(cells))
    (folder / "respondents.csv").write_text("\n".join(rows) + "\n")
    targets = ["variable,category,total"] + [
        f"{v},{c},{t!r}" for v, margin in MARGINS.items() for c, t in margin.items()
    ]
    (folder / "targets.csv").write_text("\n".join(targets) + "\n")
    run_r(R_SCRIPT.replace("BOUNDS_LOW", repr(BOUNDS[0])).replace("BOUNDS_HIGH", repr(BOUNDS[1])), folder)
    r_weights = np.genfromtxt(folder / "weights.csv", delimiter=",", skip_header=1)
    return data, read_named(folder / "results.csv"), r_weights


def uncalibrated(design: sd.SurveyDesign) -> sd.SurveyDesign:
    return sd.SurveyDesign(
        design.strata,
        design.population,
        design.base_weights,
        design.base_weights,
        None,
        design.stratum_labels,
    )


def test_the_bounds_bind_and_the_calibrated_weights_are_rs(compared: tuple) -> None:
    data, _, r_weights = compared
    design = data["weights"].design
    factor = design.weights / design.base_weights
    assert factor.min() == pytest.approx(BOUNDS[0]) and factor.max() == pytest.approx(BOUNDS[1])
    assert design.weights == pytest.approx(r_weights, rel=1e-6)
    report = data["weights"].report
    assert report.adjustment_min == pytest.approx(BOUNDS[0]) and report.total == pytest.approx(17800)


@pytest.mark.parametrize("which", ["cal", "des"])
@pytest.mark.parametrize(("variable", "kind"), [("nps", "nps"), ("top", "proportion"), ("effort", "mean")])
def test_means_proportions_and_nps_with_their_standard_errors_and_intervals_are_rs(
    compared: tuple, which: str, variable: str, kind: str
) -> None:
    data, r, _ = compared
    design = data["weights"].design if which == "cal" else uncalibrated(data["weights"].design)
    values = {"nps": data["score"], "top": np.where(np.isnan(data["score"]), np.nan, data["score"] >= 9)}
    values["effort"] = data["effort"]
    found = sd.estimate(design, values[variable], kind)
    assert found.value == pytest.approx(r[f"{which}.{variable}.mean"], rel=1e-6)
    assert found.standard_error == pytest.approx(r[f"{which}.{variable}.se"], rel=1e-6)
    assert found.degrees_of_freedom == r[f"{which}.degf"]
    assert found.value - found.margin == pytest.approx(r[f"{which}.{variable}.low"], rel=1e-6)
    assert found.value + found.margin == pytest.approx(r[f"{which}.{variable}.high"], rel=1e-6)


@pytest.mark.parametrize("which", ["cal", "des"])
@pytest.mark.parametrize(("variable", "kind"), [("nps", "nps"), ("effort", "mean")])
def test_domain_estimates_are_rs_svyby(compared: tuple, which: str, variable: str, kind: str) -> None:
    data, r, _ = compared
    design = data["weights"].design if which == "cal" else uncalibrated(data["weights"].design)
    values = data["score"] if variable == "nps" else data["effort"]
    by = sd.estimate_by(design, values, data["domain"], kind)
    assert len(by) == 6
    for domain, found in by.items():
        assert found.value == pytest.approx(r[f"{which}.{variable}.by.{domain}.mean"], rel=1e-6)
        assert found.standard_error == pytest.approx(r[f"{which}.{variable}.by.{domain}.se"], rel=1e-6)


@pytest.mark.parametrize("which", ["cal", "des"])
def test_totals_and_the_within_wave_t_test_are_rs(compared: tuple, which: str) -> None:
    data, r, _ = compared
    design = data["weights"].design if which == "cal" else uncalibrated(data["weights"].design)
    total = sd.estimate(design, data["effort"], "total")
    assert total.value == pytest.approx(r[f"{which}.effort.total"], rel=1e-6)
    assert total.standard_error == pytest.approx(r[f"{which}.effort.total.se"], rel=1e-6)
    # svyttest on the NPS score: R drops the blank answers from the model (a domain of the design).
    answered = ~np.isnan(data["score"])
    test = sd.group_difference(design, data["score"], data["group"], "nps")
    assert test.value == pytest.approx(r[f"{which}.ttest.estimate"], rel=1e-6)
    assert test.p_value == pytest.approx(r[f"{which}.ttest.p"], rel=1e-6)
    assert f"t on {int(r[f'{which}.ttest.df'])} df" in test.method and answered.sum() < answered.size
    statistic = test.value / ((test.ci_high - test.ci_low) / 2 / student_t.ppf(0.975, r[f"{which}.ttest.df"]))
    assert statistic == pytest.approx(r[f"{which}.ttest.statistic"], rel=1e-6)
