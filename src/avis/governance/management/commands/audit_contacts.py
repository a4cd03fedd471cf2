from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from avis.accounts.models import Organisation
from avis.governance.queries import contact_rule_breaches


class Command(BaseCommand):
    help = (
        "Check every recorded survey against the policy version it was decided under; "
        "exit 1 if any broke a window, the quarantine or a touchpoint gap."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("organisation", help="Organisation slug")

    def handle(self, *args: Any, **options: Any) -> None:
        organisation = Organisation.objects.filter(slug=options["organisation"]).first()
        if organisation is None:
            raise CommandError(f"No organisation with the slug {options['organisation']!r}.")
        breaches = contact_rule_breaches(organisation=organisation)
        for breach in breaches:
            fields = [
                f"decision {breach.decision_id}",
                f"customer {breach.customer_id}",
                breach.rule,
                breach.detail,
            ]
            self.stdout.write("\t".join(fields))
        if breaches:
            raise CommandError(f"{len(breaches)} surveys broke the policy in force.", returncode=1)
        self.stdout.write("0 breaches: every survey respected the policy version it was decided under.")
