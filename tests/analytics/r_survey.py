"""Running R's survey package on the same data as avis (tests and bench/barometer.py share this).

The data go to CSV files in a working folder, Rscript runs a script there, and the script writes
its figures back as CSV (``name,value`` rows, or one column per vector).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

R_SURVEY_CHECK = 'suppressMessages(library(survey)); cat(as.character(packageVersion("survey")))'


def r_survey_version() -> str | None:
    """The installed survey package's version, or None when Rscript or the package is missing."""
    if shutil.which("Rscript") is None:
        return None
    done = subprocess.run(["Rscript", "-e", R_SURVEY_CHECK], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def need_r_survey() -> None:
    """Skip when R's survey package is absent, fail under CI=true (./dev test installs it)."""
    if r_survey_version() is None:
        message = "Rscript with the survey package is not installed (apt-get install r-cran-survey)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (CI=true: a missing reference is a failure)")
        pytest.skip(message)


def run_r(script: str, folder: Path) -> str:
    """Run ``script`` with Rscript in ``folder``; its standard output, or the R error as a failure."""
    (folder / "script.R").write_text(script)
    done = subprocess.run(
        ["Rscript", "--vanilla", "script.R"], cwd=folder, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise AssertionError(f"R failed:\n{done.stderr[-3000:]}")
    return done.stdout


def read_named(path: Path) -> dict[str, float]:
    """A ``name,value`` CSV written by R's write.csv(data.frame(name=…, value=…))."""
    rows = np.genfromtxt(path, delimiter=",", dtype=None, names=True, encoding="utf-8")
    return {
        str(name).strip('"'): float(value) for name, value in zip(rows["name"], rows["value"], strict=True)
    }
