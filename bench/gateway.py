"""A local SMS gateway for the benches: answers every request at once, in its own process."""

from __future__ import annotations

import itertools
import json
import multiprocessing
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _serve(port: int, ready: Any) -> None:
    ids = itertools.count(1)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real gateways and httpx do
        disable_nagle_algorithm = True  # headers and body leave at once, no 40 ms delayed-ACK stall

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.dumps({"id": f"gw-{next(ids)}", "status": "accepted"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    ready.set()
    server.serve_forever()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gateway() -> tuple[multiprocessing.Process, str]:
    """The gateway in a child process; returns it and its send URL."""
    port = free_port()
    ready = multiprocessing.Event()
    process = multiprocessing.Process(target=_serve, args=(port, ready), daemon=True)
    process.start()
    ready.wait(10)
    return process, f"http://127.0.0.1:{port}/v1/sms"
