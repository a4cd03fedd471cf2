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
    argv = list(sys.argv)
    argv[0] = "avis"
    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
