"""avis's own static files, each beside its gzip copy: whitenoise sends the copy to browsers that
accept it (``Content-Encoding: gzip``), with no compression at start-up nor per request.

The copies are committed next to their files and rebuilt by ``./dev`` (``python -m
avis.static_files``) whenever a file changed; ``tests/test_static_compressed.py`` fails on a copy
that does not match its file. Deterministic (no time stamp, no file name in the header), so a
rebuild of an unchanged file changes nothing in git.
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
COMPRESSED_SUFFIXES = (".css", ".js", ".svg", ".json", ".txt", ".map")


def assets() -> list[Path]:
    """The text files under every ``static/`` folder of the avis package."""
    return sorted(
        path
        for path in PACKAGE_DIR.glob("**/static/**/*")
        if path.is_file() and path.suffix in COMPRESSED_SUFFIXES
    )


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9, mtime=0)


def stale() -> list[Path]:
    """The files whose gzip copy is missing or does not hold their bytes."""
    out = []
    for path in assets():
        copy = path.with_name(path.name + ".gz")
        if not copy.is_file() or gzip.decompress(copy.read_bytes()) != path.read_bytes():
            out.append(path)
    return out


def compress() -> list[Path]:
    """Write the gzip copy of each stale file; the files written."""
    written = stale()
    for path in written:
        path.with_name(path.name + ".gz").write_bytes(gzipped(path.read_bytes()))
    return written


if __name__ == "__main__":
    for each in compress():
        print(f"compressed {each.relative_to(PACKAGE_DIR)}", file=sys.stderr)
