"""Real HTTP servers on 127.0.0.1 that play an SMS provider's API and record what they receive."""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def form(self) -> dict[str, str]:
        return {key: values[0] for key, values in parse_qs(self.body.decode("utf-8")).items()}

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int
    body: Any = None
    delay: float = 0.0


@dataclass
class LocalServer:
    """Answers each request with the next scripted reply, else with ``answer(request)``."""

    answer: Callable[[Received], Reply]
    received: list[Received] = field(default_factory=list)
    script: list[Reply] = field(default_factory=list)
    url: str = ""

    def __post_init__(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Received(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={key.lower(): value for key, value in self.headers.items()},
                    body=self.rfile.read(length),
                )
                owner.received.append(request)
                reply = owner.script.pop(0) if owner.script else owner.answer(request)
                time.sleep(reply.delay)
                payload = b"" if reply.body is None else json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting: that is what a timeout test wants

            do_GET = do_POST = _handle  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> LocalServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


# --- Twilio ---------------------------------------------------------------------------

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "twilio-test-auth-token"  # noqa: S105
_sids = itertools.count(1)


def twilio_error(status: int, code: int, message: str) -> Reply:
    """An error the way Twilio's REST API words it."""
    return Reply(
        status,
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
    )


def twilio_api(request: Received) -> Reply:
    """Twilio's Messages resource: authenticate the account, create the message, answer 201."""
    expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    if request.headers.get("authorization") != expected:
        return twilio_error(401, 20003, "Authenticate")
    if request.method != "POST" or request.path != f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json":
        return twilio_error(404, 20404, "The requested resource was not found")
    form = request.form()
    sid = f"SM{next(_sids):032x}"
    return Reply(
        201,
        {
            "sid": sid,
            "account_sid": ACCOUNT_SID,
            "to": form["To"],
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "body": form["Body"],
            "status": "queued",
            "num_segments": "1",
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "date_created": "Mon, 02 Mar 2026 10:00:00 +0000",
            "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json",
        },
    )


# --- A generic SMS gateway --------------------------------------------------------------

_gateway_ids = itertools.count(1)


def gateway_api(request: Received) -> Reply:
    """An aggregator that answers ``{"messages": [{"id": …, "status": "accepted"}]}``."""
    return Reply(200, {"messages": [{"id": f"gw-{next(_gateway_ids)}", "status": "accepted"}]})
