"""The deployment recipe holds: every migration that is not additive is in docs/deployment.md's note
(an upgrade runs `avis migrate` while the old version still serves), and deploy/'s nginx site is
one nginx accepts."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.db.migrations import operations
from django.db.migrations.loader import MigrationLoader

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "deployment.md"
# Operations the old code, still serving during `avis migrate`, may trip on: a column or table it
# reads disappears or changes name, or SQL/Python whose effect nobody can read from the operation.
NOT_ADDITIVE = (
    operations.RemoveField,
    operations.RenameField,
    operations.DeleteModel,
    operations.RenameModel,
    operations.RunSQL,
)


def avis_migrations_not_additive() -> set[str]:
    found = set()
    for (app, name), migration in MigrationLoader(None, ignore_no_migrations=True).disk_migrations.items():
        if not type(migration).__module__.startswith("avis."):
            continue
        if any(isinstance(operation, NOT_ADDITIVE) for operation in migration.operations):
            found.add(f"{app}.{name}")
    return found


def noted_in_the_docs() -> set[str]:
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("### Migrations that are not additive") :]
    section = section[: section.find("\n## ", 1) if "\n## " in section[1:] else len(section)]
    return set(re.findall(r"`([a-z_]+\.\d{4}_[a-z0-9_]+)`", section))


def test_every_migration_that_drops_or_renames_a_column_is_noted_for_upgrades() -> None:
    missing = avis_migrations_not_additive() - noted_in_the_docs()
    assert not missing, (
        f"{sorted(missing)} drop or rename a column or table (or run SQL): say in docs/deployment.md, "
        "under 'Migrations that are not additive', what an upgrade while the old version serves must do"
    )


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed (apt-get install nginx)")
def test_the_nginx_site_of_deploy_is_valid(tmp_path: Path) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(  # noqa: S603
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=avis.example.com"]
        + ["-keyout", str(key), "-out", str(cert), "-days", "1"],
        check=True,
        capture_output=True,
    )
    site = (ROOT / "deploy" / "nginx-avis.conf").read_text(encoding="utf-8")
    site = (
        site.replace("/etc/letsencrypt/live/avis.example.com/fullchain.pem", str(cert))
        .replace("/etc/letsencrypt/live/avis.example.com/privkey.pem", str(key))
        .replace("/etc/nginx/avis_proxy_params", str(ROOT / "deploy" / "avis_proxy_params"))
    )
    (tmp_path / "site.conf").write_text(site, encoding="utf-8")
    temp = " ".join(
        f"{each}_temp_path {tmp_path};" for each in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{ include /etc/nginx/mime.types; {temp} access_log off; include {tmp_path}/site.conf; }}\n",
        encoding="utf-8",
    )
    checked = subprocess.run(  # noqa: S603
        ["nginx", "-t", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)],  # noqa: S607
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stderr
