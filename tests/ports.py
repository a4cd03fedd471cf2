"""A free local port for a server a test starts."""

from __future__ import annotations

import socket


def free_port() -> int:
    """One the kernel picks among its ephemeral ports: two test processes asking at once get two
    different ones (a scan of a fixed range gave both the first free port, and one test's server
    answered the other's requests)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
