from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from avis.accounts.models import Organisation, Role
from avis.accounts.services import add_member, create_organisation
from avis.audit.context import acting_as
from avis.errors import AvisError


class Command(BaseCommand):
    help = "Create an organisation and its first administrator."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="Organisation name, e.g. 'Assurances du Centre'")
        parser.add_argument("--slug")
        parser.add_argument("--admin-email", required=True)
        parser.add_argument(
            "--admin-password",
            required=True,
            help="checked by the password rules (AVIS_PASSWORD_MIN_LENGTH…)",
        )
        parser.add_argument("--region", default="FR", help="Country used to read national phone numbers")
        parser.add_argument("--locale", default="fr", choices=["fr", "en"])
        parser.add_argument("--time-zone", default="Europe/Paris")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            # One transaction: a refused password leaves no organisation without its administrator.
            with transaction.atomic(), acting_as("command line"):
                organisation = self._create(options)
        except AvisError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Organisation {organisation.name!r} created (slug {organisation.slug}).")

    def _create(self, options: dict[str, Any]) -> Organisation:
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
        return organisation
