from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from avis.accounts.models import Organisation
from avis.analytics import sentiment, services


@db_periodic_task(crontab(minute="17", hour="*"))
def send_due_reports() -> None:
    """Hourly: each organisation's report leaves once its week or month is complete."""
    services.send_due_reports()


@db_periodic_task(crontab(minute="41", hour="2"))
def train_sentiment_models() -> None:
    """Nightly: each organisation's sentiment model learns from its comments and scores so far."""
    for organisation in Organisation.objects.order_by("id"):
        sentiment.train_sentiment_model(organisation=organisation)
