"""Barometer benchmarks (issue 17), one sub-command per goal.

``estimates``: raking on 4 margins, then design-based NPS estimates by 50 domains (each with its
linearised standard error on the calibrated, stratified design with fpc) over 200,000 answers —
avis's ``analytics.survey_design`` against R's ``survey`` (``svydesign`` + ``calibrate(calfun =
"raking", bounds)`` + ``svyby(svymean)``) on the same data in the same run. R is timed inside its
own process with ``system.time`` around design, calibration and svyby (R's start-up and reading the
CSV are left out); avis is timed on the same arrays already in memory. Both keep the best of
``--repeat`` runs. Calibrated weights, domain estimates and their standard errors must agree to
1e-6 (relative). Goal: avis's time ≤ 0.5 × R's.

    .venv/bin/python bench/barometer.py estimates [--n 200000] [--domains 50] [--repeat 3] [--bounds 0.5 2]

(The ``draw`` sub-command, the stratified draw on PostgreSQL, is another engineer's: add it as
another function registered in COMMANDS.)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

ESTIMATES_GOAL = 0.5
STRATA = 20
MARGINS = {
    "region": (["north", "east", "south", "west", "centre"], [0.25, 0.2, 0.2, 0.2, 0.15]),
    "age": (["18-34", "35-49", "50-64", "65+"], [0.2, 0.3, 0.3, 0.2]),
    "channel": (["email", "sms"], [0.65, 0.35]),
    "tenure": (["new", "settled", "loyal"], [0.3, 0.4, 0.3]),
}
BOUNDS = (0.5, 2.0)

R_ESTIMATES = r"""
suppressMessages(library(survey))
d <- read.csv("answers.csv", stringsAsFactors = FALSE)
targets <- read.csv("targets.csv", stringsAsFactors = FALSE)
for (v in unique(targets$variable)) d[[v]] <- factor(d[[v]], levels = targets$category[targets$variable == v])
d$stratum <- factor(d$stratum)
mm <- model.matrix(~ region + age + channel + tenure, d[1:10, ])
pop <- c(sum(targets$total[targets$variable == "region"]))
for (v in c("region", "age", "channel", "tenure")) pop <- c(pop, targets$total[targets$variable == v][-1])
names(pop) <- colnames(mm)
best <- Inf
for (i in seq_len(REPEAT)) {
  elapsed <- system.time({
    des <- svydesign(ids = ~1, strata = ~stratum, fpc = ~N, weights = ~d, data = d)
    cal <- calibrate(des, ~ region + age + channel + tenure, population = pop, calfun = "raking",
                     bounds = c(BOUNDS_LOW, BOUNDS_HIGH), epsilon = 1e-12, maxit = 200)
    b <- svyby(~nps, ~dom, cal, svymean)
  })[["elapsed"]]
  best <- min(best, elapsed)
}
write.csv(data.frame(w = weights(cal)), "weights.csv", row.names = FALSE)
write.csv(data.frame(dom = b$dom, mean = coef(b), se = SE(b)), "domains.csv", row.names = FALSE)
cat(best, "\n", file = "seconds.txt")
"""


def synthetic_wave(n: int, domains: int, seed: int = 2026) -> dict:
    """Respondents of a stratified wave: strata sizes, non-response-adjusted weights N_h/r_h, four
    raking variables whose targets differ from the weighted sample by up to ±12 %, NPS scores."""
    rng = np.random.default_rng(seed)
    frame = rng.integers(20_000, 200_000, size=STRATA)
    answers = np.maximum(2, np.round(n * frame / frame.sum())).astype(int)
    answers[-1] += n - answers.sum()
    stratum = np.repeat(np.arange(STRATA), answers)
    weights = (frame / answers)[stratum]
    data = {"stratum": stratum, "N": frame[stratum], "d": weights}
    targets = {}
    for variable, (categories, shares) in MARGINS.items():
        values = rng.choice(len(categories), size=n, p=shares)
        data[variable] = np.array(categories)[values]
        held = np.bincount(values, weights=weights, minlength=len(categories))
        wanted = held * rng.uniform(0.88, 1.12, size=len(categories))
        targets[variable] = dict(zip(categories, wanted * frame.sum() / wanted.sum(), strict=True))
    data["dom"] = np.array([f"D{k:02d}" for k in range(domains)])[rng.integers(0, domains, size=n)]
    lift = 1.5 * (data["region"] == "north") - 1.0 * (data["age"] == "18-34")
    data["score"] = np.clip(np.round(rng.normal(7.5 + lift, 2.2)), 0, 10)
    data["nps"] = 100.0 * ((data["score"] >= 9).astype(float) - (data["score"] <= 6).astype(float))
    return {"data": data, "targets": targets, "frame": {h: int(frame[h]) for h in range(STRATA)}}


def avis_estimates(wave: dict, bounds: tuple[float, float] = BOUNDS) -> tuple[np.ndarray, dict]:
    from avis.analytics import survey_design as sd

    data, targets = wave["data"], wave["targets"]
    categories = {v: data[v] for v in MARGINS}
    weights = sd.calibrate(
        data["d"], categories, targets, population_total=float(sum(wave["frame"].values())), bounds=bounds
    )
    design = sd.SurveyDesign.build(
        data["stratum"],
        wave["frame"],
        weights,
        base_weights=data["d"],
        categories=categories,
        margins=targets,
    )
    return weights, sd.estimate_by(design, data["score"], data["dom"], "nps")


def write_csv(wave: dict, folder: Path) -> None:
    data = wave["data"]
    columns = ["stratum", "N", "d", *MARGINS, "dom", "nps"]
    with (folder / "answers.csv").open("w") as out:
        out.write(",".join(columns) + "\n")
        cells = [data[c].astype(str) if c != "d" else np.char.mod("%.17g", data[c]) for c in columns]
        for row in zip(*cells, strict=True):
            out.write(",".join(row) + "\n")
    with (folder / "targets.csv").open("w") as out:
        out.write("variable,category,total\n")
        for variable, margin in wave["targets"].items():
            for category, total in margin.items():
                out.write(f"{variable},{category},{float(total)!r}\n")


def estimates(args: argparse.Namespace) -> float:
    from tests.analytics.r_survey import r_survey_version, run_r

    version = r_survey_version()
    if version is None:
        sys.exit("R's survey package is missing: apt-get install -y r-cran-survey")
    wave = synthetic_wave(args.n, args.domains)
    print(f"{args.n:,} answers, {STRATA} strata, raking on {len(MARGINS)} margins, {args.domains} domains")
    best_avis = np.inf
    for _ in range(args.repeat):
        started = time.perf_counter()
        weights, by = avis_estimates(wave, tuple(args.bounds))
        best_avis = min(best_avis, time.perf_counter() - started)
    with tempfile.TemporaryDirectory(prefix="avis-bench-barometer-") as tmp:
        folder = Path(tmp)
        write_csv(wave, folder)
        script = R_ESTIMATES.replace("REPEAT", str(args.repeat))
        script = script.replace("BOUNDS_LOW", repr(args.bounds[0])).replace(
            "BOUNDS_HIGH", repr(args.bounds[1])
        )
        run_r(script, folder)
        r_seconds = float((folder / "seconds.txt").read_text())
        r_weights = np.genfromtxt(folder / "weights.csv", delimiter=",", skip_header=1)
        r_domains = np.genfromtxt(
            folder / "domains.csv", delimiter=",", names=True, dtype=None, encoding="utf-8"
        )
    weight_gap = float(np.max(np.abs(weights / r_weights - 1)))
    estimate_gap = se_gap = 0.0
    for name, mean, se in zip(r_domains["dom"], r_domains["mean"], r_domains["se"], strict=True):
        found = by[str(name).strip('"')]
        estimate_gap = max(estimate_gap, abs(found.value - mean) / max(abs(mean), 1e-9))
        se_gap = max(se_gap, abs(found.standard_error - se) / se)
    factor = weights / wave["data"]["d"]
    low, high = args.bounds
    print(f"calibration factors {factor.min():.3f}–{factor.max():.3f} (bounds {low:g}–{high:g})")
    gaps = f"weights {weight_gap:.1e}, estimates {estimate_gap:.1e}, SEs {se_gap:.1e}"
    print(f"largest relative gaps to R: {gaps}")
    identical = max(weight_gap, estimate_gap, se_gap) <= 1e-6
    print(f"identical to 1e-6: {'yes' if identical else 'NO'}")
    print(f"avis (analytics.survey_design): {best_avis:.3f} s; R survey {version}: {r_seconds:.3f} s")
    if not identical:
        sys.exit("avis and R disagree beyond 1e-6")
    ratio = best_avis / r_seconds
    print(f"ratio: {ratio:.3f} (goal ≤ {ESTIMATES_GOAL})")
    return ratio


COMMANDS = {"estimates": estimates}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    part = commands.add_parser(
        "estimates", help="raking + design-based estimates by domain, against R survey"
    )
    part.add_argument("--n", type=int, default=200_000)
    part.add_argument("--domains", type=int, default=50)
    part.add_argument("--repeat", type=int, default=3)
    part.add_argument("--bounds", type=float, nargs=2, default=BOUNDS, metavar=("LOW", "HIGH"))
    args = parser.parse_args()
    COMMANDS[args.command](args)


if __name__ == "__main__":
    main()
