"""What changes analytics state: the roll-ups, the organisation's analytics settings."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from avis.accounts.models import Organisation
from avis.analytics.models import AnalyticsSettings, DailyRollup, RolledUpResponse
from avis.analytics.rollups import ANSWER_MEASURES, daily_answer_statistics, daily_response_counts
from avis.errors import ValidationFailed
from avis.surveys.models import Answer, Response

ROLLUP_KEY_COLUMNS = ("organisation_id", "touchpoint_id", "team_key", "agent_key", "channel", "day")


def _add_statistics(organisation: Organisation, *, response_ids: list[int] | None) -> None:
    """Add the statistics of these responses (all when None) to the roll-ups, in the database.

    Each source is one ``INSERT … SELECT … ON CONFLICT DO UPDATE SET x = x + excluded.x``: the
    sums are added where they are stored, never read into Python and written back, so two
    responses landing on the same row at once both count (the row lock of the upsert orders them).
    """
    zone = ZoneInfo(organisation.default_time_zone)
    answers = Answer.objects.filter(organisation=organisation)
    responses = Response.objects.filter(organisation=organisation)
    if response_ids is not None:
        answers = answers.filter(response_id__in=response_ids)
        responses = responses.filter(id__in=response_ids)
    sources = (
        (daily_answer_statistics(answers, zone), ANSWER_MEASURES),
        (daily_response_counts(responses, zone), ("responses",)),
    )
    quote = connection.ops.quote_name
    table = quote(DailyRollup._meta.db_table)
    with connection.cursor() as cursor:
        for queryset, measures in sources:
            inner, params = queryset.query.sql_with_params()
            columns = ", ".join(quote(c) for c in (*ROLLUP_KEY_COLUMNS, *measures))
            values = ", ".join(f"COALESCE(s.{m}, 0)" for m in measures)
            updates = ", ".join(f"{quote(m)} = {table}.{quote(m)} + excluded.{quote(m)}" for m in measures)
            # "WHERE 1 = 1" lets SQLite tell the upsert's ON CONFLICT from a join's ON.
            cursor.execute(
                f"INSERT INTO {table} ({columns}) "  # noqa: S608 - names are ours, values bound
                f"SELECT %s, s.touchpoint_id, COALESCE(s.team_id, 0), COALESCE(s.agent_id, 0), "
                f"COALESCE(s.row_channel, ''), s.row_day, {values} FROM ({inner}) s WHERE 1 = 1 "
                f"ON CONFLICT ({', '.join(quote(k) for k in ROLLUP_KEY_COLUMNS)}) DO UPDATE SET {updates}",
                [organisation.pk, *params],
            )


@transaction.atomic
def record_response_in_rollups(*, response: Response) -> bool:
    """Add one completed response's answers to the roll-ups, once; False if it was already counted.

    The ledger row is inserted first with ``ON CONFLICT DO NOTHING``: of two calls for the same
    response (a replayed signal, a task run twice) only the one that inserted it adds the counts.
    """
    ledger = connection.ops.quote_name(RolledUpResponse._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {ledger} (response_id) VALUES (%s) ON CONFLICT DO NOTHING",  # noqa: S608
            [response.pk],
        )
        if cursor.rowcount != 1:
            return False
    organisation = Organisation.objects.get(pk=response.organisation_id)
    _add_statistics(organisation, response_ids=[response.pk])
    return True


@transaction.atomic
def rebuild_rollups(*, organisation: Organisation) -> int:
    """Recompute the organisation's roll-ups from its raw answers; returns the number of rows.

    On PostgreSQL the roll-up table is locked (EXCLUSIVE: reads go on, writes wait) for the
    rebuild: a response being recorded meanwhile either committed before the lock, and the
    recomputation sees it, or waits and adds itself after; it is never lost nor counted twice.
    SQLite takes its write lock at BEGIN, which serialises the same way.
    """
    quote = connection.ops.quote_name
    rollups, ledger = quote(DailyRollup._meta.db_table), quote(RolledUpResponse._meta.db_table)
    responses = quote(Response._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"LOCK TABLE {rollups}, {ledger} IN EXCLUSIVE MODE")
        cursor.execute(
            f"DELETE FROM {ledger} WHERE response_id IN "  # noqa: S608
            f"(SELECT id FROM {responses} WHERE organisation_id = %s)",
            [organisation.pk],
        )
        cursor.execute(f"DELETE FROM {rollups} WHERE organisation_id = %s", [organisation.pk])  # noqa: S608
        cursor.execute(
            f"INSERT INTO {ledger} (response_id) SELECT id FROM {responses} WHERE organisation_id = %s",  # noqa: S608
            [organisation.pk],
        )
    _add_statistics(organisation, response_ids=None)
    return DailyRollup.objects.filter(organisation=organisation).count()


@transaction.atomic
def update_analytics_settings(*, organisation: Organisation, **changes: Any) -> AnalyticsSettings:
    """Change the minimum n, the hiding rule or the report schedule and its recipients."""
    allowed = {"min_n", "hide_below_min_n", "report_recipients", "report_period"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationFailed(f"unknown settings: {', '.join(sorted(unknown))}")
    if "min_n" in changes and int(changes["min_n"]) < 1:
        raise ValidationFailed("the minimum n is at least 1", field="min_n")
    if changes.get("report_period", "") not in ("", "week", "month"):
        raise ValidationFailed("reports are weekly or monthly", field="report_period")
    current, _ = AnalyticsSettings.objects.select_for_update().get_or_create(organisation=organisation)
    for name, value in changes.items():
        setattr(current, name, value)
    current.full_clean()
    current.save()
    return current


def send_due_reports(*, now: datetime | None = None) -> list[str]:
    """Email each organisation's last complete week or month as a PDF, once; returns the slugs sent.

    The period is claimed with a conditional update of ``last_report_sent_for`` before the PDF is
    built, so two workers (or a task run twice) never send the same report twice; a failed send
    gives the claim back for the next run.
    """
    from avis.analytics.reports import last_complete_window, render_report_pdf

    now = now or timezone.now()
    sent = []
    due = AnalyticsSettings.objects.exclude(report_period="").select_related("organisation")
    for found in due:
        if not found.report_recipients:
            continue
        organisation = found.organisation
        today = now.astimezone(ZoneInfo(organisation.default_time_zone)).date()
        window = last_complete_window(found.report_period, today)  # type: ignore[arg-type]
        previous = found.last_report_sent_for
        claimed = (
            AnalyticsSettings.objects.filter(id=found.id)
            .filter(Q(last_report_sent_for__isnull=True) | Q(last_report_sent_for__lt=window.start))
            .update(last_report_sent_for=window.start)
        )
        if not claimed:
            continue
        try:
            pdf = render_report_pdf(
                organisation=organisation, window=window, language=organisation.default_locale[:2]
            )
            _email_report(organisation, found.report_recipients, window.start, pdf)
        except Exception:
            AnalyticsSettings.objects.filter(id=found.id).update(last_report_sent_for=previous)
            raise
        sent.append(organisation.slug)
    return sent


def _email_report(organisation: Organisation, recipients: list[str], start: date, pdf: bytes) -> None:
    backend = (
        "django.core.mail.backends.smtp.EmailBackend"
        if settings.AVIS_EMAIL_PROVIDER == "smtp"
        else "django.core.mail.backends.console.EmailBackend"
    )
    with translation.override(organisation.default_locale[:2]):
        subject = _("%(organisation)s: report from %(start)s") % {
            "organisation": organisation.name,
            "start": start.isoformat(),
        }
        body = _("The report is attached (PDF). Every figure comes with its confidence interval.")
    email = EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=list(recipients),
        connection=get_connection(backend, fail_silently=False),
    )
    email.attach(f"avis-{organisation.slug}-{start.isoformat()}.pdf", pdf, "application/pdf")
    email.send()
