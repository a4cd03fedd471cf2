"""An interval's bound as a page writes it beside a verdict: never 0 when it is not."""

from __future__ import annotations

import pytest
from django.utils import translation

from avis.words import bound_label


@pytest.mark.parametrize(
    ("language", "value", "shown"),
    [
        ("en", 12.4, "12"),
        ("en", -7.6, "-8"),
        ("en", 0.3, "0.3"),  # "[0 ; 34]" beside "significant rise" would contradict it
        ("fr", 0.3, "0,3"),
        ("en", -0.04, "-0.04"),
        ("en", 0.0, "0"),
    ],
)
def test_a_bound_is_rounded_but_never_to_zero(language: str, value: float, shown: str) -> None:
    with translation.override(language):
        assert bound_label(value) == shown
