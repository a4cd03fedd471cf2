"""The backup archive: one zstd-compressed tar of the files, then ``manifest.json``, and a
``.sha256`` file beside it.

The manifest comes last so the archive is written in one pass while the files
are read (their checksums are known only then). A restore therefore reads the
archive twice: once to check it whole without writing anything (the
checksums, the manifest, the space it needs), then to extract it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import zstandard

from avis.operations.errors import RestoreRefused

FORMAT = 1
MANIFEST = "manifest.json"
SUFFIX = ".tar.zst"
# zstd's fastest positive level (a database shrinks about fourfold), compressing on two threads
# beside the one reading: `avis backup` lowers its own priority, so that on a busy machine serving
# comes first and on an idle one the backup takes little longer than SQLite's own copy.
LEVEL = 1
THREADS = 2
CHUNK = 1 << 20


class _Hashing:
    """A file object that hashes what passes through it (read or written)."""

    def __init__(self, inner: IO[bytes]) -> None:
        self.inner = inner
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self.inner.read(n)
        self.digest.update(data)
        self.size += len(data)
        return data

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.inner.write(data)

    def flush(self) -> None:
        self.inner.flush()


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_archive(
    path: Path, files: dict[str, Path], manifest: dict[str, Any] | Callable[[], dict[str, Any]]
) -> str:
    """Write ``files`` (archive name → file) and the manifest completed with their sizes and
    checksums; returns the archive's own sha256. Until its last byte is on disk the archive is
    ``NAME.partial``: a backup killed half-way never looks like a backup. A manifest given as a
    function is asked for once the files are in."""
    partial = path.with_name(path.name + ".partial")
    listed: dict[str, dict[str, Any]] = {}
    with partial.open("wb") as raw:
        outer = _Hashing(raw)
        compressor = zstandard.ZstdCompressor(level=LEVEL, threads=THREADS, write_checksum=True)
        with compressor.stream_writer(outer, closefd=False) as compressed:  # type: ignore[arg-type]
            # tarfile's stream mode buffers in records of 10 KiB by default, copying its whole buffer for
            # each one it hands on: a buffer of a chunk makes it one copy per chunk, not a hundred.
            with tarfile.open(fileobj=compressed, mode="w|", format=tarfile.PAX_FORMAT, bufsize=CHUNK) as tar:
                tar.copybufsize = CHUNK
                for name, source in files.items():
                    with source.open("rb") as handle:
                        reading = _Hashing(handle)
                        info = tar.gettarinfo(str(source), arcname=name)
                        info.mode, info.uid, info.gid, info.uname, info.gname = 0o600, 0, 0, "", ""
                        tar.addfile(info, reading)  # type: ignore[arg-type]
                    listed[name] = {"size": reading.size, "sha256": reading.digest.hexdigest()}
                described = manifest() if callable(manifest) else manifest
                body = json.dumps({**described, "format": FORMAT, "files": listed}, indent=2).encode()
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mtime, info.mode = len(body), int(time.time()), 0o600
                tar.addfile(info, _Bytes(body))  # type: ignore[arg-type]
        raw.flush()
        os.fsync(raw.fileno())
    digest = outer.digest.hexdigest()
    partial.rename(path)
    checksum_file(path).write_text(f"{digest}  {path.name}\n", encoding="utf-8")
    fsync_dir(path.parent)
    return digest


class _Bytes:
    def __init__(self, data: bytes) -> None:
        self.data, self.offset = data, 0

    def read(self, n: int = -1) -> bytes:
        end = len(self.data) if n < 0 else self.offset + n
        chunk, self.offset = self.data[self.offset : end], min(end, len(self.data))
        return chunk


def checksum_file(archive: Path) -> Path:
    return archive.with_name(archive.name + ".sha256")


def check_archive_checksum(archive: Path) -> None:
    """The archive's bytes against the ``.sha256`` written beside it: a truncated or altered archive
    is refused before it is even opened. An archive copied without it is checked member by member."""
    sidecar = checksum_file(archive)
    if not sidecar.exists():
        return
    expected = sidecar.read_text(encoding="utf-8").split()[0] if sidecar.stat().st_size else ""
    digest = hashlib.sha256()
    with archive.open("rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    if digest.hexdigest() != expected:
        raise RestoreRefused(
            f"{archive.name} does not match its checksum ({sidecar.name}): truncated or altered."
        )


def read_archive(
    archive: Path, *, extract_to: Path | None = None, allowed: Callable[[str], bool]
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Read the whole archive, extracting its files into ``extract_to`` if given (else only
    checking them); returns the manifest and, per file, its size and sha256 as read."""
    seen: dict[str, dict[str, Any]] = {}
    manifest: dict[str, Any] | None = None
    try:
        with archive.open("rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as stream:
            with tarfile.open(fileobj=stream, mode="r|", bufsize=CHUNK) as tar:
                for member in tar:
                    if not member.isfile() or "/" in member.name or member.name.startswith("."):
                        raise RestoreRefused(f"{archive.name} holds an unexpected entry {member.name!r}.")
                    source = tar.extractfile(member)
                    assert source is not None  # noqa: S101  (a regular file always has one)
                    if member.name == MANIFEST:
                        manifest = json.loads(source.read())
                        continue
                    if not allowed(member.name):
                        raise RestoreRefused(f"{archive.name} holds an unexpected file {member.name!r}.")
                    reading = _Hashing(source)  # type: ignore[arg-type]
                    if extract_to is None:
                        while reading.read(CHUNK):
                            pass
                    else:
                        with (extract_to / member.name).open("wb") as target:
                            while block := reading.read(CHUNK):
                                target.write(block)
                            target.flush()
                            os.fsync(target.fileno())
                    seen[member.name] = {"size": reading.size, "sha256": reading.digest.hexdigest()}
    except (tarfile.TarError, zstandard.ZstdError, EOFError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RestoreRefused(f"{archive.name} is damaged or truncated ({exc}).") from exc
    if manifest is None:
        raise RestoreRefused(f"{archive.name} has no manifest: it is truncated, or not an avis backup.")
    listed = manifest.get("files") or {}
    for name, facts in listed.items():
        if seen.get(name) != facts:
            raise RestoreRefused(
                f"{name} in {archive.name} does not match the manifest's checksum: altered or truncated."
            )
    if set(seen) != set(listed):
        raise RestoreRefused(
            f"{archive.name} holds files its manifest does not list: {sorted(set(seen) - set(listed))}."
        )
    return manifest, seen
