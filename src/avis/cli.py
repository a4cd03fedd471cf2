"""The ``avis`` command: avis's own commands (demo, serve, worker, createorg, apikey…) and Django's."""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "avis.settings")
    from django.conf import settings
    from django.core.management import execute_from_command_line

    from avis.env import ConfigurationError

    try:
        settings.INSTALLED_APPS  # noqa: B018 - reads the environment now, to answer a bad value here
    except ConfigurationError as exc:
        # A setting is an operator's typo, not a bug: one line saying which and how, no traceback.
        sys.stderr.write(f"avis: {exc}\n")
        raise SystemExit(2) from None
    from django.db import OperationalError

    argv = list(sys.argv)
    argv[0] = "avis"
    try:
        execute_from_command_line(argv)
    except OperationalError as exc:
        # The database is down, unreachable or refuses the account: the operator's to fix, in one line.
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        sys.stderr.write(f"avis: the database cannot be used: {reason}\n")
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
