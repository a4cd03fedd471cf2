from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from avis.accounts.models import Organisation
from avis.customers.services import erase_customer
from avis.errors import AvisError


class Command(BaseCommand):
    help = "Act on one customer: `avis customer erase EXTERNAL_ID --organisation SLUG` (GDPR erasure)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["erase"])
        parser.add_argument("external_id")
        parser.add_argument("--organisation", metavar="SLUG", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        organisation = Organisation.objects.filter(slug=options["organisation"]).first()
        if organisation is None:
            raise CommandError(f"No organisation with the slug {options['organisation']!r}.")
        try:
            customer = erase_customer(organisation=organisation, external_id=options["external_id"])
        except AvisError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Customer {options['external_id']!r} erased (now {customer.external_id}).")
