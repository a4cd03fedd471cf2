"""avis as several machines run it, on one machine: private PostgreSQL, Redis and nginx servers, web
processes, workers and schedulers, each a real process that a test (or bench/scale.py) can kill and start
again without disturbing anybody else's servers.

Every server is the distribution's own binary started by hand in a temporary directory, on a free port:
PostgreSQL 15 (``initdb`` + ``pg_ctl``; fsync off, it is a test), ``redis-server``
with an append-only file (as docs/deployment.md asks) and Debian's nginx in the foreground with
a configuration of the same shape as deploy/'s site (an upstream of the web processes).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.clock import NOW_VARIABLE, SINCE_VARIABLE, SITE_DIR
from tests.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
PG_BIN = Path(os.environ.get("AVIS_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until(predicate: Callable[[], object], *, timeout: float, what: str, step: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s")
        time.sleep(step)


def missing_servers() -> list[str]:
    """What this machine lacks to run a cluster (./dev installs nginx when missing)."""
    needed = {"PostgreSQL 15": PG_BIN / "pg_ctl", "redis-server": Path(REDIS), "nginx": Path(NGINX)}
    return [name for name, path in needed.items() if not path.exists()]


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run its tools as the `postgres` account."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster of its own (data, socket and log in ``root``), for one test or bench."""

    root: Path
    port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        subprocess.run(  # noqa: S603
            _as_postgres([str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust"]),
            check=True,
            capture_output=True,
        )

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/avis"

    def _ctl(self, *args: str) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=300 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=64MB"
        )
        subprocess.run(  # noqa: S603
            _as_postgres(
                [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, *args]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self) -> None:
        self._ctl("-w", "start")
        import psycopg

        with psycopg.connect(self.url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
            if not admin.execute("SELECT 1 FROM pg_database WHERE datname = 'avis'").fetchone():
                admin.execute("CREATE DATABASE avis")

    def restart(self, mode: str = "fast") -> None:
        """Every connection cut, as when the server is restarted by its operator (or crashes: immediate)."""
        self._ctl("-w", "-m", mode, "restart")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._ctl("-w", "-m", "immediate", "stop")

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.url) as db:
            return db.execute(sql, params).fetchall()  # type: ignore[arg-type]


@dataclass
class PrivateRedis:
    """A redis-server of its own, configured as docs/deployment.md asks for the queue: an append-only
    file synced every second, so a crash loses at most the last second's tasks."""

    root: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603
                [REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
                 "--appendfsync", "everysec", "--dir", str(self.root)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_until(lambda: listening(self.port), timeout=20, what="redis-server listening")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def restart(self, down: float = 0.0) -> None:
        self.kill()
        time.sleep(down)
        self.start()

    stop = kill


NGINX_CONF = """
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {root}/nginx-access.log;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    client_max_body_size 64m;
    upstream avis {{
{servers}
        keepalive 32;
        # Shorter than gunicorn's keep-alive (5 s, `avis web`): nginx never sends a request on a
        # connection gunicorn is closing (a reset, then a 502 that nginx may not retry for a POST).
        keepalive_timeout 4s;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://avis;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_read_timeout 60s;
            # A web process that refuses the connection (dead) passes the request to the other one;
            # a request it had already received is not sent twice (POST is not idempotent to nginx).
            proxy_next_upstream error timeout;
        }}
    }}
}}
"""


@dataclass
class Nginx:
    """Debian's nginx in the foreground, load-balancing over the web processes' ports."""

    root: Path
    upstreams: list[int]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        servers = "\n".join(
            f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=2s;" for port in self.upstreams
        )
        conf = self.root / "nginx.conf"
        conf.write_text(NGINX_CONF.format(root=self.root, servers=servers, port=self.port), encoding="utf-8")
        with (self.root / "nginx.out").open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603
                [NGINX, "-c", str(conf), "-p", str(self.root), "-e", str(self.root / "nginx-error.log")],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until(lambda: listening(self.port), timeout=20, what="nginx listening")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@dataclass
class Role:
    """One avis process of a role (web, worker, scheduler), its own process group, its log in a file."""

    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    port: int | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", "avis.cli", *self.args],
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL, to the whole group (gunicorn's workers, huey's): nothing gets to clean up."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()

    def stop(self, timeout: float = 15) -> None:
        if not self.alive():
            return
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def pids(self) -> list[int]:
        """This process and its descendants (for CPU accounting)."""
        if self.process is None:
            return []
        found, frontier = [self.process.pid], [self.process.pid]
        while frontier:
            parent = frontier.pop()
            children = Path(f"/proc/{parent}/task/{parent}/children")
            try:
                kids = [int(pid) for pid in children.read_text().split()]
            except OSError:
                kids = []
            found += kids
            frontier += kids
        return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes so far, from /proc (children that exited are not counted)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


@dataclass
class Cluster:
    """PostgreSQL, Redis, nginx, ``webs`` web processes, ``workers`` workers, and a scheduler."""

    webs: int = 2
    workers: int = 3
    web_processes: int = 1
    web_threads: int = 4
    worker_concurrency: int = 2
    env_extra: dict[str, str] = field(default_factory=dict)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="avis-cluster-")))
    roles: list[Role] = field(default_factory=list)

    def __post_init__(self) -> None:
        os.chmod(self.root, 0o755)  # PostgreSQL's account reaches its directory through it
        self.postgres = PrivatePostgres(self.root / "postgres")
        self.redis = PrivateRedis(self.root / "redis")
        self.web_ports = [free_port() for _ in range(self.webs)]
        self.nginx = Nginx(self.root / "nginx", self.web_ports)
        self.var = self.root / "var"
        self.var.mkdir()

    def env(self, **more: str) -> dict[str, str]:
        # The processes keep the test's clock (tests/clock.py): at AVIS_TEST_NOW, an interaction the
        # clients date five minutes ago must not be in the future for the web processes.
        clock = {name: os.environ[name] for name in (NOW_VARIABLE, SINCE_VARIABLE) if name in os.environ}
        paths = ([str(SITE_DIR)] if clock else []) + [str(ROOT / "src"), str(ROOT)]
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "AVIS_", "DJANGO_"))},
            **clock,
            "DJANGO_SETTINGS_MODULE": "avis.settings",
            "PYTHONPATH": os.pathsep.join(paths),
            "AVIS_VAR_DIR": str(self.var),
            "AVIS_SECRET_KEY": "cluster-test-secret-key-not-for-production-0123456789",
            "DATABASE_URL": self.postgres.url,
            "AVIS_REDIS_URL": self.redis.url,
            "AVIS_HUEY_NAME": "avis-cluster",
            "AVIS_BACKUP_HOUR": "off",
            "AVIS_LOG_LEVEL": "WARNING",
            "AVIS_API_RATE_PER_KEY": "0",
            "AVIS_API_RATE_PER_ADDRESS": "0",
            "AVIS_ALLOWED_HOSTS": "127.0.0.1,localhost",
            **self.env_extra,
            **more,
        }
        return env

    def avis(self, *args: str, **more: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "avis.cli", *args],
            env=self.env(**more),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, (args, done.stdout[-3000:], done.stderr[-3000:])
        return done

    def role(self, name: str, *args: str, port: int | None = None) -> Role:
        role = Role(name, list(args), self.env(), self.root / f"{name}.log", port=port)
        self.roles.append(role)
        return role

    def start_servers(self) -> None:
        self.postgres.start()
        self.redis.start()

    def web(self, number: int) -> Role:
        port = self.web_ports[number]
        return self.role(
            f"web-{number}",
            "web",
            "--processes",
            str(self.web_processes),
            "--threads",
            str(self.web_threads),
            "--bind",
            f"127.0.0.1:{port}",
            port=port,
        )

    def start_avis(self) -> None:
        """The web processes, nginx, the workers and one scheduler (the database is migrated first)."""
        self.webs_ = [self.web(n) for n in range(self.webs)]
        for web in self.webs_:
            web.start()
        self.workers_ = [
            self.role(f"worker-{n}", "worker", "--concurrency", str(self.worker_concurrency))
            for n in range(self.workers)
        ]
        for worker in self.workers_:
            worker.start()
        self.schedulers = [self.role("scheduler-0", "scheduler")]
        self.schedulers[0].start()
        for web in self.webs_:
            wait_until(lambda web=web: web.port and listening(web.port), timeout=60, what=f"{web.name} up")
        self.nginx.start()

    def stop(self, *, keep: bool = False) -> None:
        """Everything killed; the directory removed unless ``keep`` (or AVIS_CLUSTER_KEEP=1: to read logs)."""
        for role in self.roles:
            role.kill()
        self.nginx.stop()
        self.redis.stop()
        try:
            self.postgres.stop()
        except subprocess.SubprocessError:
            pass
        if keep or os.environ.get("AVIS_CLUSTER_KEEP"):
            print(f"cluster kept in {self.root}")
        else:
            shutil.rmtree(self.root, ignore_errors=True)

    def logs(self, lines: int = 40) -> str:
        """The end of each process's log, for a failing assertion to show."""
        out = []
        for path in sorted(self.root.glob("*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(out)


# --- The outside world: an SMS gateway, and API clients that retry ------------------------------------

SMS_SECRET = "cluster-gateway-secret"  # noqa: S105


def gateway_env(gateway_url: str) -> dict[str, str]:
    """avis sends texts to ``gateway_url`` as the generic HTTP gateway; replies come back signed."""
    return {
        "AVIS_SMS_PROVIDER": "http",
        "AVIS_SMS_HTTP_URL": gateway_url,
        "AVIS_SMS_HTTP_SECRET": SMS_SECRET,
        "AVIS_SMS_RATE_LIMIT": "0",
    }


class Gateway:
    """A local SMS gateway in a thread: records every text it is given (with its idempotency key) and
    hands each one to ``on_text`` (the customers' phones).

    Like real aggregators, it honours the ``Idempotency-Key`` header avis sends: a text posted again
    with the key of one it accepted (a worker died after posting, before recording the send) is
    answered as the first was and not delivered a second time; ``resent`` keeps those posts."""

    def __init__(self, on_text: Callable[[dict[str, Any]], None] | None = None) -> None:
        import itertools
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.received: list[dict[str, Any]] = []  # each text delivered, once
        self.accepted: dict[str, dict[str, Any]] = {}  # by idempotency key
        self.resent: list[dict[str, Any]] = []  # posts of a key already accepted
        self.lock = threading.Lock()
        ids = itertools.count(1)
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw)
                except ValueError:  # cut off: the worker posting it was killed mid-request
                    self.send_response(400)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                key = self.headers.get("Idempotency-Key", "")
                text = {**body, "key": key, "at": time.monotonic()}
                with owner.lock:
                    first = owner.accepted.get(key) if key else None
                    if first is None:
                        owner.received.append(text)
                        text["id"] = f"gw-{next(ids)}"
                        if key:
                            owner.accepted[key] = text
                    else:
                        owner.resent.append(text)
                    reply = json.dumps({"id": (first or text)["id"], "status": "accepted"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
                if on_text is not None and first is None:
                    on_text(text)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1/sms"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.1,), daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class Attempt:
    at: float  # when the answer (or the error) came
    status: int  # 0: no HTTP answer at all
    seconds: float


@dataclass
class Clients:
    """Concurrent API clients: each request is sent until it is answered 2xx, the same body each time
    (the same ``external_id``s), as an integration that honours the API's idempotency would."""

    base_url: str
    headers: dict[str, str]
    attempts: list[Attempt] = field(default_factory=list)
    acknowledged: set[str] = field(default_factory=set)
    retried: set[str] = field(default_factory=set)
    refused: list[tuple[int, str]] = field(default_factory=list)

    def send(
        self, http: Any, path: str, body: bytes, ids: list[str], headers: dict[str, str] | None = None
    ) -> Any:
        import httpx

        tries = 0
        while True:
            started = time.monotonic()
            try:
                response = http.post(
                    self.base_url + path, content=body, headers={**self.headers, **(headers or {})}
                )
                status = response.status_code
            except httpx.HTTPError:
                response, status = None, 0
            answered = time.monotonic()
            self.attempts.append(Attempt(answered, status, answered - started))
            if 200 <= status < 300:
                self.acknowledged.update(ids)
                if tries:
                    self.retried.update(ids)
                return response
            if status and status < 500 and status != 429:
                self.refused.append((status, response.text[:300] if response is not None else ""))
                return response
            tries += 1
            time.sleep(min(2.0, 0.1 * 2**tries))

    def run(
        self,
        work: list[tuple[str, bytes, list[str]]],
        *,
        threads: int,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Send each (path, body, ids) of ``work`` from ``threads`` clients; ``progress`` gets the count."""
        import threading

        import httpx

        cursor = iter(range(len(work)))
        lock = threading.Lock()
        done = [0]

        def client() -> None:
            with httpx.Client(timeout=60, headers={"Content-Type": "application/json"}) as http:
                while True:
                    with lock:
                        index = next(cursor, None)
                    if index is None:
                        return
                    self.send(http, *work[index])
                    with lock:
                        done[0] += 1
                        count = done[0]
                    if progress is not None:
                        progress(count)

        pool = [threading.Thread(target=client) for _ in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
