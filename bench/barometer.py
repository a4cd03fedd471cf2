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

``draw``: the stratified draw of a barometer wave on PostgreSQL. avis side:
``barometers.services.draw_wave`` for real — the frame in SQL over 5,000,000 customers (scope
rule, 30 strata of region × segment × tenure band, the contact ledger's exclusions: opted out,
excluded by the policy, no usable channel, a window's cap, the quarantine, counted by reason),
the sample sizes from the precision goal, the seeded draw (``analytics.survey_design``), the
10,000 sampled cases and the wave written. Baseline: a plain SQL random draw per stratum without
any exclusion — ``row_number() OVER (PARTITION BY the strata ORDER BY random())`` with the same
n_h — on the same table, in the same run. Best of ``--repeat`` each. Customers are loaded with
COPY, the ledger (opt-outs, recent contacts) with INSERT … SELECT, in a throw-away database.
Goal: avis's time ≤ 3 × the baseline's.

    .venv/bin/python bench/barometer.py draw [--customers 5000000] [--sample 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date, timedelta
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


# --- draw ---------------------------------------------------------------------------------------

DRAW_GOAL = 3.0
PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
PG_DATABASE = "avis_bench_barometer"
REGIONS = ["nord", "est", "sud", "ouest", "centre"]
SEGMENTS = ["particulier", "pro"]
RESPONSE_RATE = 0.3


def _load_customers(organisation_id: int, count: int) -> None:
    """``count`` customers by COPY, in chunks: region, segment, start date, contract, some without email."""
    import numpy as np
    from django.db import connection

    rng = np.random.default_rng(2026)
    columns = (
        "organisation_id, external_id, phone, phone_status, email, email_status, locale, time_zone, "
        "attributes, created_at, updated_at"
    )
    chunk = 500_000
    with connection.cursor() as cursor:
        for start in range(0, count, chunk):
            size = min(chunk, count - start)
            region = rng.choice(len(REGIONS), size=size, p=[0.3, 0.2, 0.2, 0.2, 0.1])
            segment = rng.choice(2, size=size, p=[0.8, 0.2])
            year = rng.integers(1995, 2026, size=size)
            active = rng.random(size) < 0.95
            email = rng.random(size) < 0.97
            lines = []
            for i in range(size):
                n = start + i
                mail = f"c{n}@example.fr" if email[i] else ""
                attributes = (
                    f'{{"region": "{REGIONS[region[i]]}", "segment": "{SEGMENTS[segment[i]]}", '
                    f'"customer_since": "{year[i]}-06-15", '
                    f'"contract": "{"active" if active[i] else "ended"}"}}'
                )
                lines.append(
                    f"{organisation_id}\tC-{n}\t\tok\t{mail}\tok\tfr\tEurope/Paris\t"
                    f"{attributes}\t2026-01-01 00:00:00+00\t2026-01-01 00:00:00+00\n"
                )
            with cursor.cursor.copy(f"COPY customers_customer ({columns}) FROM STDIN") as copy:
                copy.write("".join(lines))
        cursor.execute("ANALYZE customers_customer")


def _load_ledger(organisation_id: int, touchpoint_id: int, policy_id: int) -> None:
    """The contact ledger: 1 % opted out, 5 % surveyed in the last 10 days (quarantine), 1 % three times
    in 60 days (a window's cap), 0.5 % employees (the policy's exclusion)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO customers_optout (organisation_id, customer_id, channel, source, created_at, "
            "withdrawn_source) SELECT organisation_id, id, 'all', 'bench', now(), '' FROM customers_customer "
            "WHERE id % 100 = 1"
        )
        cursor.execute(
            "UPDATE customers_customer SET attributes = attributes || '{\"employee\": true}' "
            "WHERE id % 200 = 7"
        )
        for label, condition, days in (
            ("q", "id %% 20 = 3", 10),
            ("c1", "id %% 100 = 5", 20),
            ("c2", "id %% 100 = 5", 40),
            ("c3", "id %% 100 = 5", 55),
        ):
            cursor.execute(
                "INSERT INTO interactions_interaction (organisation_id, external_id, touchpoint_id, "
                "customer_id, occurred_at, received_at, attributes, contact_only) "
                f"SELECT organisation_id, '{label}-' || id, %s, id, now() - interval '{days} days', now(), "
                f"'{{}}', true FROM customers_customer WHERE {condition}",
                [touchpoint_id],
            )
            cursor.execute(
                "INSERT INTO governance_decision (organisation_id, interaction_id, customer_id, "
                "touchpoint_id, outcome, reason, context, policy_id, inclusion_probability, channel, "
                "decided_at, solicited_at) SELECT organisation_id, id, customer_id, touchpoint_id, 'skip', "
                "'contact_only', '{}', %s, 0, '', occurred_at, occurred_at FROM interactions_interaction "
                f"WHERE external_id LIKE '{label}-%%'",
                [policy_id],
            )
        cursor.execute("ANALYZE")


BASELINE_SQL = """
WITH framed AS (
    SELECT id,
           attributes->>'region' AS region,
           attributes->>'segment' AS segment,
           CASE WHEN attributes->>'customer_since' > %(two)s THEN '<2'
                WHEN attributes->>'customer_since' > %(ten)s THEN '2–10' ELSE '≥10' END AS band
    FROM customers_customer
    WHERE organisation_id = %(organisation)s AND attributes->>'contract' = 'active'
), ranked AS (
    SELECT id, region || ' × ' || segment || ' × ' || band AS stratum,
           row_number() OVER (PARTITION BY region, segment, band ORDER BY random()) AS rank
    FROM framed
)
SELECT ranked.id FROM ranked
JOIN (SELECT unnest(%(keys)s::text[]) AS stratum, unnest(%(sizes)s::int[]) AS n) AS sizes
ON sizes.stratum = ranked.stratum WHERE rank <= sizes.n
"""


def draw(args: argparse.Namespace) -> float:
    import psycopg

    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{PG_DATABASE}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE}")
        admin.execute(f"CREATE DATABASE {PG_DATABASE}")
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "avis.settings")
    try:
        return _draw(args)
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE}")


def _draw(args: argparse.Namespace) -> float:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from avis.accounts.services import create_organisation
    from avis.barometers.models import SampledCase, WaveStratum
    from avis.barometers.services import create_barometer, draw_wave, plan_wave
    from avis.governance.services import current_policy, update_policy
    from avis.interactions.services import create_touchpoint
    from avis.surveys.services import create_standard_survey

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    organisation = create_organisation(name="Bench barometer")
    update_policy(
        organisation=organisation,
        changes={
            "quarantine_days": 30,
            "windows": [{"max": 3, "days": 90}],
            "exclusions": [{"attribute": "employee", "operator": "is_true"}],
        },
    )
    policy = current_policy(organisation=organisation)
    touchpoint = create_touchpoint(organisation=organisation, code="barometer.relation", name_fr="Baromètre")
    survey = create_standard_survey(organisation=organisation, touchpoint=touchpoint)
    contact = create_touchpoint(organisation=organisation, code="call_center.call", name_fr="Appel")
    _load_customers(organisation.id, args.customers)
    _load_ledger(organisation.id, contact.id, policy.id)
    print(
        f"loaded {args.customers:,} customers and their contact ledger "
        f"in {time.perf_counter() - started:.0f} s"
    )
    # The margin whose worst-case sample (S = 100 points, 30 % response) is about --sample customers.
    margin = 1.959963984540054 * 100 / (args.sample * RESPONSE_RATE) ** 0.5
    barometer = create_barometer(
        organisation=organisation,
        name_fr="Baromètre bench",
        survey_id=survey.id,
        scope=[{"attribute": "contract", "operator": "equals", "value": "active"}],
        strata=[
            {"attribute": "region"},
            {"attribute": "segment"},
            {"attribute": "customer_since", "bands": [2, 10], "years_since": True},
        ],
        margin=margin,
        mode="email",
        expected_response_rate=RESPONSE_RATE,
        recurrence="monthly",
    )
    today = date.today()
    avis_times, sizes = [], None
    for number in range(1, args.repeat + 1):
        plan_wave(
            organisation=organisation,
            barometer_id=barometer.id,
            frame_date=today - timedelta(days=31 * (args.repeat - number)),
        )
        t0 = time.perf_counter()
        wave = draw_wave(organisation=organisation, barometer_id=barometer.id, number=number, seed=number)
        avis_times.append(time.perf_counter() - t0)
        sizes = {s.key: s.sample_size for s in WaveStratum.objects.filter(wave=wave)}
        drawn = SampledCase.objects.filter(wave=wave).count()
        print(
            f"avis wave {number}: {avis_times[-1]:.2f} s — frame {wave.frame_size:,} eligible, "
            f"{drawn:,} drawn in {len(sizes)} strata; left out: "
            + ", ".join(f"{reason} {count:,}" for reason, count in wave.exclusions.items())
        )
    assert sizes is not None
    if os.environ.get("BENCH_EXPLAIN"):  # the frame query's plan, for profiling
        from django.utils import timezone

        from avis.barometers.frame import frame_queryset

        query = frame_queryset(barometer=barometer, policy=policy, on=today, at=timezone.now())
        sql, params = query.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN ANALYZE " + sql, params)
            print("\n".join(r[0] for r in cursor.fetchall()))
            print(sql % tuple(repr(p) for p in params))
    ten = today.replace(year=today.year - 10).isoformat()
    two = today.replace(year=today.year - 2).isoformat()
    baseline_times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(
                BASELINE_SQL,
                {
                    "two": two,
                    "ten": ten,
                    "organisation": organisation.id,
                    "keys": list(sizes),
                    "sizes": list(sizes.values()),
                },
            )
            rows = cursor.fetchall()
        baseline_times.append(time.perf_counter() - t0)
        print(f"plain SQL draw: {baseline_times[-1]:.2f} s — {len(rows):,} drawn")
    best_avis, best_baseline = min(avis_times), min(baseline_times)
    ratio = best_avis / best_baseline
    print(f"avis draw_wave {best_avis:.2f} s; plain SQL random draw per stratum {best_baseline:.2f} s")
    print(f"ratio: {ratio:.2f} (goal ≤ {DRAW_GOAL:g})")
    return ratio


COMMANDS = {"estimates": estimates, "draw": draw}


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
    part = commands.add_parser("draw", help="stratified draw of 10,000 from 5,000,000 on PostgreSQL")
    part.add_argument("--customers", type=int, default=5_000_000)
    part.add_argument("--sample", type=int, default=10_000)
    part.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    COMMANDS[args.command](args)


if __name__ == "__main__":
    main()
