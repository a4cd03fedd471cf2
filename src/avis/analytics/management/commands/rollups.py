from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from avis.accounts.models import Organisation
from avis.analytics.services import rebuild_rollups


class Command(BaseCommand):
    help = "Rebuild the daily roll-ups from the raw answers (all organisations, or one)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rebuild", action="store_true", help="Recompute the roll-ups from the answers")
        parser.add_argument("--organisation", metavar="SLUG", help="Only this organisation")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["rebuild"]:
            raise CommandError("Nothing to do: pass --rebuild (roll-ups otherwise update as answers arrive).")
        organisations = Organisation.objects.order_by("id")
        if options["organisation"]:
            organisations = organisations.filter(slug=options["organisation"])
            if not organisations.exists():
                raise CommandError(f"No organisation with the slug {options['organisation']!r}.")
        for organisation in organisations:
            rows = rebuild_rollups(organisation=organisation)
            self.stdout.write(f"{organisation.slug}: {rows} roll-up rows")
