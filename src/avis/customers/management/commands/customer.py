from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.serializers.json import DjangoJSONEncoder

from avis.accounts.models import Organisation
from avis.errors import AvisError
from avis.privacy import services as privacy


class Command(BaseCommand):
    help = (
        "Act on one customer (GDPR): `avis customer export EXTERNAL_ID --organisation SLUG "
        "[--output file.json]` writes everything held on them as JSON; "
        "`avis customer erase EXTERNAL_ID --organisation SLUG` erases them everywhere."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["export", "erase"])
        parser.add_argument("external_id")
        parser.add_argument("--organisation", metavar="SLUG", required=True)
        parser.add_argument(
            "--output", metavar="FILE", help="export: write here instead of the standard output"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        organisation = Organisation.objects.filter(slug=options["organisation"]).first()
        if organisation is None:
            raise CommandError(f"No organisation with the slug {options['organisation']!r}.")
        try:
            if options["action"] == "export":
                self._export(organisation, options["external_id"], options["output"])
                return
            customer = privacy.erase_customer(
                organisation=organisation, external_id=options["external_id"], via="cli"
            )
        except AvisError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Customer {options['external_id']!r} erased (now {customer.external_id}).")

    def _export(self, organisation: Organisation, external_id: str, output: str | None) -> None:
        data = privacy.export_customer(organisation=organisation, external_id=external_id, via="cli")
        text = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2) + "\n"
        if output is None:
            self.stdout.write(text, ending="")
            return
        path = Path(output)
        # Readable by its owner only: the file holds one person's personal data.
        path.touch(mode=0o600, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        self.stderr.write(f"Everything held on {external_id!r} written to {path}.")
