from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from avis.accounts.models import Organisation
from avis.analytics.sentiment import MIN_LABELLED, MIN_PER_SIDE, train_sentiment_model


class Command(BaseCommand):
    help = (
        "Train each organisation's sentiment model from its scored comments, as the nightly task does "
        "(all organisations, or one)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--train", action="store_true", help="Train now")
        parser.add_argument("--organisation", metavar="SLUG", help="Only this organisation")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["train"]:
            raise CommandError("Nothing to do: pass --train (models are otherwise retrained every night).")
        organisations = Organisation.objects.order_by("id")
        if options["organisation"]:
            organisations = organisations.filter(slug=options["organisation"])
            if not organisations.exists():
                raise CommandError(f"No organisation with the slug {options['organisation']!r}.")
        for organisation in organisations:
            model = train_sentiment_model(organisation=organisation)
            if model.is_learned:
                self.stdout.write(
                    f"{organisation.slug}: learned from {model.labelled} scored comments "
                    f"({model.negatives} negative), cross-validated accuracy {model.accuracy:.1%} "
                    f"({model.folds} folds), word lists {model.lexicon_accuracy:.1%}"
                )
            else:
                self.stdout.write(
                    f"{organisation.slug}: {model.labelled} scored comments, fewer than {MIN_LABELLED} "
                    f"(or {MIN_PER_SIDE} of a kind): word lists kept"
                )
