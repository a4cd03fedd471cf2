"""The ``avis`` command: avis's own commands (demo, serve, worker, createorg, apikey…) and Django's."""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "avis.settings")
    from django.core.management import execute_from_command_line

    argv = list(sys.argv)
    argv[0] = "avis"
    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
