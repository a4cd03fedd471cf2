"""Archives and targets a restore must refuse, each with its reason, leaving the target as it was;
and a backup onto a full disk, which leaves nothing behind."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db.migrations.loader import MigrationLoader

from avis.operations.archive import read_archive, write_archive
from tests.operations.conftest import Installation

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Installation:
    """An installation with an organisation, and one archive of it."""
    root = tmp_path_factory.mktemp("source")
    (root / "var").mkdir()
    installation = Installation(root, root / "backups", f"sqlite:///{root / 'var' / 'avis.sqlite3'}")
    installation.set_up()
    installation.avis("backup")
    return installation


@pytest.fixture
def archive(source: Installation, tmp_path: Path) -> Path:
    """A copy of the good archive (and its checksum file) to spoil."""
    (good,) = source.backups.glob("avis-*.tar.zst")
    shutil.copy(good, tmp_path / good.name)
    shutil.copy(good.with_name(good.name + ".sha256"), tmp_path / (good.name + ".sha256"))
    return tmp_path / good.name


@pytest.fixture
def empty(tmp_path: Path) -> Installation:
    root = tmp_path / "empty"
    (root / "var").mkdir(parents=True)
    return Installation(root, root / "backups", f"sqlite:///{root / 'var' / 'avis.sqlite3'}")


def refused(target: Installation, archive: Path, *extra: str) -> str:
    """Run `avis restore`, expect a refusal, and check nothing was put in place or left behind."""
    before = sorted(p.name for p in target.var.iterdir())
    done = target.avis("restore", str(archive), *extra, ok=False)
    assert done.returncode != 0
    assert "Restore refused" in done.stderr, done.stderr
    after = sorted(p.name for p in target.var.iterdir())
    # Starting avis may create its queue file and secret key, reading a database its -wal and -shm;
    # a database never appears, nor staging leftovers.
    expected = {"huey.sqlite3", "secret_key", "static", "avis.sqlite3-wal", "avis.sqlite3-shm"}
    assert [n for n in after if n not in before and n not in expected] == []
    assert not (target.var / "avis.sqlite3").exists() or "avis.sqlite3" in before
    return done.stderr


def rewrite(archive: Path, tmp_path: Path, **manifest_changes: object) -> None:
    """The same files under a changed manifest, with fresh checksums: only what the manifest says is wrong."""
    files = tmp_path / "files"
    files.mkdir()
    manifest, _ = read_archive(archive, extract_to=files, allowed=lambda name: True)
    del manifest["files"], manifest["format"]
    archive.unlink()
    write_archive(archive, {p.name: p for p in files.iterdir()}, {**manifest, **manifest_changes})


def test_a_truncated_archive_is_refused(archive: Path, empty: Installation) -> None:
    with archive.open("r+b") as handle:
        handle.truncate(archive.stat().st_size // 2)
    assert "truncated or altered" in refused(empty, archive)


def test_a_truncated_archive_without_its_checksum_file_is_refused_too(
    archive: Path, empty: Installation
) -> None:
    archive.with_name(archive.name + ".sha256").unlink()
    with archive.open("r+b") as handle:
        handle.truncate(archive.stat().st_size - 100)
    assert "damaged or truncated" in refused(empty, archive)


def test_an_altered_archive_is_refused(archive: Path, empty: Installation) -> None:
    with archive.open("r+b") as handle:
        handle.seek(archive.stat().st_size // 2)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 0xFF]))
    assert "truncated or altered" in refused(empty, archive)


def test_a_database_that_does_not_match_the_manifest_is_refused(
    archive: Path, empty: Installation, tmp_path: Path
) -> None:
    manifest, _ = read_archive(archive, allowed=lambda name: True)
    tables = {**manifest["tables"], "customers_customer": manifest["tables"]["customers_customer"] + 1}
    rewrite(archive, tmp_path, tables=tables)
    reason = refused(empty, archive)
    assert "customers_customer" in reason and "manifest counted" in reason


def test_an_archive_from_a_newer_avis_is_refused(archive: Path, empty: Installation, tmp_path: Path) -> None:
    manifest, _ = read_archive(archive, allowed=lambda name: True)
    rewrite(archive, tmp_path, avis_version="99.0.0")
    assert "newer than this avis" in refused(empty, archive)


def test_an_archive_with_migrations_this_avis_lacks_is_refused(
    archive: Path, empty: Installation, tmp_path: Path
) -> None:
    manifest, _ = read_archive(archive, allowed=lambda name: True)
    migrations = {**manifest["migrations"], "surveys": [*manifest["migrations"]["surveys"], "0999_future"]}
    rewrite(archive, tmp_path, migrations=migrations)
    assert "surveys.0999_future" in refused(empty, archive)


def test_a_restore_over_live_data_needs_force_and_keeps_what_was_there(
    source: Installation, archive: Path
) -> None:
    assert "--force" in refused(source, archive)
    done = source.avis("restore", str(archive), "--force")
    assert "What was there is in" in done.stdout
    (aside,) = source.var.glob("replaced-*")
    assert (aside / "avis.sqlite3").exists()
    assert source.query("SELECT count(*) FROM accounts_organisation") == [(1,)]


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 256 KB filesystem (tmpfs): a disk that is full for any database."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a small tmpfs is not available: mounting one needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], check=False)  # noqa: S603, S607
    if done.returncode != 0:
        pytest.skip("a small tmpfs is not available: this machine refuses to mount one")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)  # noqa: S603, S607


def test_a_restore_onto_a_disk_without_space_is_refused(archive: Path, tiny_disk: Path) -> None:
    (tiny_disk / "var").mkdir()
    target = Installation(tiny_disk, tiny_disk / "backups", f"sqlite:///{tiny_disk / 'var' / 'avis.sqlite3'}")
    assert "Not enough space" in refused(target, archive)


def test_a_backup_onto_a_disk_without_space_is_refused_and_leaves_nothing(
    source: Installation, tiny_disk: Path
) -> None:
    done = source.avis("backup", ok=False, AVIS_BACKUP_DIR=str(tiny_disk))
    assert done.returncode != 0
    assert "Not enough space" in done.stderr
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["backup.lock", "runs.jsonl"]
    (run,) = [json.loads(line) for line in (tiny_disk / "runs.jsonl").read_text().splitlines()]
    assert run["ok"] is False and "Not enough space" in run["error"]


def test_an_older_archive_is_migrated_forward(tmp_path: Path) -> None:
    old = Installation(
        tmp_path / "old", tmp_path / "backups", f"sqlite:///{tmp_path / 'old' / 'var' / 'avis.sqlite3'}"
    )
    old.var.mkdir(parents=True)
    old.set_up()
    old.avis("migrate", "analytics", "0003")
    old.avis("backup")
    new = Installation(
        tmp_path / "new", tmp_path / "backups", f"sqlite:///{tmp_path / 'new' / 'var' / 'avis.sqlite3'}"
    )
    new.var.mkdir(parents=True)
    (archive,) = old.backups.glob("avis-*.tar.zst")
    done = new.avis("restore", str(archive))
    # analytics' last migration, and any of other apps' that came after it.
    migrated = re.search(r"Migrated forward: (\d+) migrations", done.stdout)
    assert migrated and int(migrated.group(1)) >= 1, done.stdout
    (leaf,) = MigrationLoader(None, ignore_no_migrations=True).graph.leaf_nodes("analytics")
    applied = new.query("SELECT name FROM django_migrations WHERE app = 'analytics' ORDER BY name")
    assert applied[-1] == (leaf[1],)
