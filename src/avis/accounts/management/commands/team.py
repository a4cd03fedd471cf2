from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from avis.accounts.models import Organisation, Role
from avis.accounts.queries import members_of, pending_invitations
from avis.accounts.services import invite_member, revoke_invitation
from avis.errors import AvisError


class Command(BaseCommand):
    help = (
        "List an organisation's members and pending invitations, invite a colleague by email "
        "(the link goes by email, through the outbox), or withdraw an invitation."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("organisation", help="Organisation slug")
        parser.add_argument("--invite", metavar="EMAIL", help="Invite this address")
        parser.add_argument(
            "--role", default=Role.ANALYST, choices=Role.values, help="Role of the invited colleague"
        )
        parser.add_argument(
            "--withdraw", type=int, metavar="ID", help="Withdraw the pending invitation with this id"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        organisation = Organisation.objects.filter(slug=options["organisation"]).first()
        if organisation is None:
            raise CommandError(f"No organisation with the slug {options['organisation']!r}.")
        try:
            if options["invite"]:
                # The email is queued in this transaction and handed to the workers once it commits.
                with transaction.atomic():
                    invitation, _token = invite_member(
                        organisation=organisation, email=options["invite"], role=options["role"]
                    )
                self.stdout.write(
                    f"Invitation {invitation.id} sent to {invitation.email} ({invitation.role})."
                )
            elif options["withdraw"]:
                revoke_invitation(organisation=organisation, invitation_id=options["withdraw"])
                self.stdout.write(f"Invitation {options['withdraw']} withdrawn.")
            else:
                for member in members_of(organisation=organisation):
                    self.stdout.write(f"member\t{member.id}\t{member.user.get_username()}\t{member.role}")
                for invitation in pending_invitations(organisation=organisation):
                    expires = invitation.expires_at.isoformat(timespec="minutes")
                    self.stdout.write(
                        f"invited\t{invitation.id}\t{invitation.email}\t{invitation.role}\t{expires}"
                    )
        except AvisError as exc:
            raise CommandError(exc.message) from exc
