from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from avis.accounts.models import Organisation
from avis.errors import AvisError
from avis.interactions.intake import webhook_url
from avis.interactions.models import Touchpoint
from avis.interactions.queries import touchpoints
from avis.interactions.services import (
    create_touchpoint,
    inbound_webhook,
    rotate_webhook_secret,
    update_touchpoint,
)


class Command(BaseCommand):
    help = (
        "Touchpoints of an organisation: list, create, rename, archive, restore; "
        "and the signed webhook's address and secret (webhook [--rotate])."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        listing = actions.add_parser("list", help="Every touchpoint, archived ones last")
        create = actions.add_parser("create", help="A new touchpoint")
        create.add_argument(
            "code", help="e.g. call_center.call: lowercase, digits, dots, dashes, underscores"
        )
        rename = actions.add_parser("rename", help="New French and/or English name; the code stays")
        rename.add_argument("code")
        for command in (create, rename):
            command.add_argument("--name-fr", help="Name in French")
            command.add_argument("--name-en", help="Name in English")
        archive = actions.add_parser("archive", help="Refuse new interactions; history and figures stay")
        archive.add_argument("code")
        restore = actions.add_parser("restore", help="Accept interactions again")
        restore.add_argument("code")
        webhook = actions.add_parser("webhook", help="Print the signed webhook's address and secret")
        webhook.add_argument(
            "--rotate", action="store_true", help="A new secret; the old one still signs for 24 hours"
        )
        for command in (listing, create, rename, archive, restore, webhook):
            command.add_argument("--organisation", required=True, help="Organisation slug")

    def handle(self, *args: Any, **options: Any) -> None:
        organisation = Organisation.objects.filter(slug=options["organisation"]).first()
        if organisation is None:
            raise CommandError(f"No organisation with the slug {options['organisation']!r}.")
        try:
            self._run(organisation, options)
        except AvisError as exc:
            problems = getattr(exc, "problems", None) or {exc.field or "": exc.message}
            raise CommandError("; ".join(f"{f}: {m}" if f else m for f, m in problems.items())) from exc

    def _run(self, organisation: Organisation, options: dict[str, Any]) -> None:
        action, code = options["action"], options.get("code", "")
        if action == "list":
            for touchpoint in touchpoints(organisation=organisation):
                self._show(touchpoint)
        elif action == "create":
            self._show(
                create_touchpoint(
                    organisation=organisation,
                    code=code,
                    name_fr=options["name_fr"] or "",
                    name_en=options["name_en"] or "",
                )
            )
        elif action == "rename":
            names = {
                lang: options[f"name_{lang}"] for lang in ("fr", "en") if options[f"name_{lang}"] is not None
            }
            if not names:
                raise CommandError("Give --name-fr, --name-en or both.")
            self._show(update_touchpoint(organisation=organisation, code=code, names=names))
        elif action in ("archive", "restore"):
            self._show(update_touchpoint(organisation=organisation, code=code, archived=action == "archive"))
        else:
            rotate = options["rotate"]
            hook = (
                rotate_webhook_secret(organisation=organisation)
                if rotate
                else inbound_webhook(organisation=organisation)
            )
            self.stdout.write(f"url\t{webhook_url(hook)}")
            self.stdout.write(f"secret\t{hook.secret}")

    def _show(self, touchpoint: Touchpoint) -> None:
        state = "archived" if touchpoint.is_archived else "active"
        names = " / ".join(touchpoint.name.get(lang, "") for lang in ("fr", "en"))
        self.stdout.write(f"{touchpoint.code}\t{state}\t{names}")
