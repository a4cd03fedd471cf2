from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from avis.accounts.models import Organisation, Scope
from avis.accounts.queries import api_keys_of
from avis.accounts.services import create_api_key, revoke_api_key
from avis.errors import AvisError


class Command(BaseCommand):
    help = "Create, list or revoke an organisation's API keys. A new key is printed once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("organisation", help="Organisation slug")
        parser.add_argument("--name", default="API key", help="Name of the new key")
        parser.add_argument(
            "--scope",
            choices=Scope.values,
            default=Scope.ADMIN,
            help="What the new key may do: ingest (send interactions), read, or admin (everything)",
        )
        parser.add_argument("--list", action="store_true", help="List the keys instead")
        parser.add_argument("--revoke", type=int, metavar="ID", help="Revoke the key with this id")

    def handle(self, *args: Any, **options: Any) -> None:
        organisation = Organisation.objects.filter(slug=options["organisation"]).first()
        if organisation is None:
            raise CommandError(f"No organisation with the slug {options['organisation']!r}.")
        try:
            if options["list"]:
                for key in api_keys_of(organisation=organisation):
                    state = "active" if key.is_active else "revoked"
                    self.stdout.write(f"{key.id}\t{key.name}\tavis_{key.prefix}_…\t{key.scope}\t{state}")
            elif options["revoke"]:
                key = revoke_api_key(organisation=organisation, key_id=options["revoke"])
                self.stdout.write(f"Key {key.id} revoked.")
            else:
                _, plaintext = create_api_key(
                    organisation=organisation, name=options["name"], scope=options["scope"]
                )
                self.stdout.write(plaintext)
        except AvisError as exc:
            raise CommandError(exc.message) from exc
