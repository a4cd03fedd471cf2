"""bench/respond.py's trivial view exists only on the bench's own server."""

from __future__ import annotations

import pytest
from django.urls import Resolver404, resolve

from avis.accounts.permissions import PAGES


def test_the_bench_baseline_is_not_routed_in_production() -> None:
    with pytest.raises(Resolver404):
        resolve("/bench/baseline/anything")
    assert "bench_baseline" not in PAGES
