from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from avis.accounts.models import Role
from avis.accounts.services import add_member, create_organisation
from avis.errors import AvisError


class Command(BaseCommand):
    help = "Create an organisation and its first administrator."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="Organisation name, e.g. 'Assurances du Centre'")
        parser.add_argument("--slug")
        parser.add_argument("--admin-email", required=True)
        parser.add_argument("--admin-password", required=True)
        parser.add_argument("--region", default="FR", help="Country used to read national phone numbers")
        parser.add_argument("--locale", default="fr", choices=["fr", "en"])
        parser.add_argument("--time-zone", default="Europe/Paris")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            organisation = create_organisation(
                name=options["name"],
                slug=options["slug"],
                default_region=options["region"],
                default_locale=options["locale"],
                default_time_zone=options["time_zone"],
            )
            add_member(
                organisation=organisation,
                email=options["admin_email"],
                role=Role.ADMIN,
                password=options["admin_password"],
            )
        except AvisError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Organisation {organisation.name!r} created (slug {organisation.slug}).")
