"""Static files go compressed to browsers that accept it, from gzip copies built once, not at start-up."""

from __future__ import annotations

import gzip

import pytest
from django.test import Client

from avis.static_files import assets, stale

pytestmark = pytest.mark.engine_independent


def test_every_static_file_has_an_up_to_date_gzip_copy() -> None:
    assert assets(), "no static file found"
    assert [str(path) for path in stale()] == [], "run: .venv/bin/python -m avis.static_files (./dev does)"


@pytest.mark.parametrize("url", ["/static/avis/respondent.css", "/static/avis/vendor/htmx.min.js"])
def test_a_browser_that_accepts_gzip_gets_the_compressed_file(url: str) -> None:
    plain = Client().get(url)
    squeezed = Client().get(url, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert plain.status_code == squeezed.status_code == 200
    plain_bytes, squeezed_bytes = b"".join(plain.streaming_content), b"".join(squeezed.streaming_content)
    assert "Content-Encoding" not in plain
    assert squeezed["Content-Encoding"] == "gzip"
    assert squeezed["Vary"] == "Accept-Encoding"  # caches keep both
    assert len(squeezed_bytes) < len(plain_bytes) / 2
    assert gzip.decompress(squeezed_bytes) == plain_bytes
    assert squeezed["Content-Type"] == plain["Content-Type"]


def test_the_gzip_copies_are_not_pages_of_their_own() -> None:
    # whitenoise serves a copy only as its file's encoding (its own URL would be a second name).
    assert Client().get("/static/avis/respondent.css.gz").status_code == 404
