"""Starting avis as an operator does: a taken port or a bad setting is one line and a failure, and the
way in (URL, sign-in, API key) is the last thing printed, the log lines going to a file it names.

Real processes, real sockets: ``python -m avis.cli`` as ``avis`` runs it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import avis
from tests.ports import free_port

SOURCE = Path(avis.__file__).resolve().parents[1]
# The processes run on their own SQLite file: the PostgreSQL step has nothing to add.
pytestmark = pytest.mark.engine_independent


def environment(var_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AVIS_", "DATABASE_URL"))}
    return env | {"PYTHONPATH": str(SOURCE), "AVIS_VAR_DIR": str(var_dir), **extra}


def avis_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "avis.cli", *args]


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another program listens on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


@pytest.mark.slow
def test_serve_on_a_taken_port_says_so_in_one_line_and_fails(tmp_path: Path, taken_port: int) -> None:
    run = subprocess.run(
        avis_command("serve", "--port", str(taken_port)),
        env=environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode != 0
    assert run.stdout == ""
    assert run.stderr.splitlines() == [
        f"CommandError: cannot serve on 127.0.0.1:{taken_port}: the port is already in use "
        "(another avis, or another program); choose one with --port"
    ]
    assert not (tmp_path / "logs").exists()  # said before anything started


@pytest.mark.slow
def test_demo_on_a_taken_port_fails_before_loading_anything(tmp_path: Path, taken_port: int) -> None:
    run = subprocess.run(
        avis_command("demo", "--customers", "5", "--interactions", "5", "--port", str(taken_port)),
        env=environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    assert len(run.stderr.splitlines()) == 1 and "already in use" in run.stderr
    assert "Migrating" not in run.stdout  # said at once, not after minutes of loading


@pytest.mark.slow
@pytest.mark.parametrize(
    ("setting", "said"),
    [
        ("DATABASE_URL=postgres//db.example/avis", "DATABASE_URL is not a database URL avis can read"),
        ("DATABASE_URL=postgres://avis:s3cret@db.example:port/avis", "(malformed)"),
        ("DATABASE_URL=mysql://db.example/avis", "DATABASE_URL must point to SQLite or PostgreSQL"),
        ("AVIS_DEBUG=maybe", "AVIS_DEBUG='maybe' is not a boolean (use true/false)"),
        ("AVIS_IMPORT_MAX_MB=lots", "AVIS_IMPORT_MAX_MB='lots' is not an integer"),
    ],
)
def test_a_bad_setting_is_one_line_and_a_failure(tmp_path: Path, setting: str, said: str) -> None:
    name, _, value = setting.partition("=")
    run = subprocess.run(
        avis_command("serve", "--port", str(free_port())),
        env=environment(tmp_path, **{name: value}),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 2
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("avis: ") and said in lines[0]
    assert "s3cret" not in run.stderr  # a password in the URL is never echoed


@pytest.mark.slow
def test_a_database_that_cannot_be_reached_is_one_line_and_a_failure(tmp_path: Path) -> None:
    closed = free_port()  # nothing listens there
    run = subprocess.run(
        avis_command("migrate"),
        env=environment(tmp_path, DATABASE_URL=f"postgres://avis:s3cret@127.0.0.1:{closed}/avis"),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 2
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("avis: the database cannot be used: ") and "refused" in lines[0]
    assert "s3cret" not in run.stderr


def read_until(process: subprocess.Popen[str], last: str, timeout: float) -> list[str]:
    """Lines of the process's output up to the one starting with ``last``."""
    deadline = time.monotonic() + timeout
    lines: list[str] = []
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.startswith(last):
            return lines
    raise AssertionError(f"no line starting with {last!r} in:\n" + "\n".join(lines))


def wait_for(path: Path, text: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = path.read_text(encoding="utf-8") if path.exists() else ""
        if text in content:
            return content
        time.sleep(0.5)
    raise AssertionError(f"{text!r} never reached {path}")


def stop(process: subprocess.Popen[str]) -> tuple[str, str]:
    process.send_signal(signal.SIGINT)
    try:
        rest, errors = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        rest, errors = process.communicate()
    return rest, errors


@pytest.mark.slow
def test_serve_prints_where_it_serves_and_logs_last_the_worker_logging_to_the_file(
    tmp_path: Path,
) -> None:
    port = free_port()
    process = subprocess.Popen(
        avis_command("serve", "--port", str(port)),
        env=environment(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = read_until(process, "Ctrl-C stops.", timeout=180)
        log = tmp_path / "logs" / "avis.log"
        assert lines == [
            f"avis is serving on http://127.0.0.1:{port}/ with a worker",
            f"Logs: {log}",
            "Ctrl-C stops.",
        ]
        # The worker starts after the lines above: what it says lands in the file, not on the terminal.
        assert "Huey consumer started" in wait_for(log, "Huey consumer started", timeout=120)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            client.sendall(b"GET /login/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            assert client.recv(12).endswith(b" 200")
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            client.sendall(b"GET /no-such-page/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            assert client.recv(12).endswith(b" 404")
        # The server's own log lines (Django's "Not Found") go to the file too.
        wait_for(log, "WARNING django.request Not Found: /no-such-page/", timeout=30)
    finally:
        rest, errors = stop(process)
    assert rest == ""  # nothing printed after the panel
    assert "Huey" not in errors and "INFO" not in errors


@pytest.mark.slow
def test_demo_prints_the_way_in_last_after_loading(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        avis_command("demo", "--customers", "20", "--interactions", "120", "--port", str(port)),
        env=environment(tmp_path, COLUMNS="200"),  # a terminal wide enough for the log file's path
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = read_until(process, "╰", timeout=600)
        log = tmp_path / "logs" / "avis.log"
        text = "\n".join(lines)
        assert lines[0] == "Migrating the database…"
        assert "Loaded Mutuelle Horizon in" in text
        panel = text[text.index("╭") :]
        for said in [
            f"Open      http://127.0.0.1:{port}/",
            "Sign in   manager@demo.avis (manager) or admin@demo.avis (admin)",
            "Password  horizon-demo",
            "API key   avis_",
            f"Logs      {log}",
            "Stop      Ctrl-C",
        ]:
            assert said in panel, said
        wait_for(log, "Huey consumer started", timeout=120)
        time.sleep(2)  # the live feed's first bursts: their log lines too stay off the terminal
    finally:
        rest, errors = stop(process)
    assert rest == ""
    assert "Huey" not in errors and "INFO" not in errors
