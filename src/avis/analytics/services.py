"""What changes analytics state: the roll-ups, the organisation's analytics settings."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from avis.accounts.models import Organisation
from avis.analytics.models import (
    ROLLUP_MEASURES,
    AnalyticsSettings,
    DailyRollup,
    RolledUpInvitation,
    RolledUpResponse,
)
from avis.analytics.rollups import (
    ANSWER_MEASURES,
    SENT_INVITATIONS,
    answer_increments,
    daily_answer_statistics,
    daily_invitation_statistics,
    daily_response_counts,
)
from avis.audit.services import record, snapshot
from avis.compiled import cast_type, prepared_cursor
from avis.errors import ValidationFailed
from avis.isolation import apart
from avis.surveys.models import Answer, Invitation, InvitationStatus, Response
from avis.surveys.signals import AnswerWrite

ROLLUP_KEY_COLUMNS = ("organisation_id", "touchpoint_id", "team_key", "agent_key", "channel", "day")


def _add_statistics(organisation: Organisation, sources: Sequence[tuple[QuerySet, Sequence[str]]]) -> None:
    """Add each source's statistics (rows per roll-up key) to the roll-ups, in the database.

    Each source is one ``INSERT … SELECT … ON CONFLICT DO UPDATE SET x = x + excluded.x``: the
    sums are added where they are stored, never read into Python and written back, so two
    responses landing on the same row at once both count (the row lock of the upsert orders them).
    """
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


def _enter_ledger(ledger: type[RolledUpResponse | RolledUpInvitation], keys: Collection[int]) -> list[int]:
    """Claim ``keys`` in a ledger (``ON CONFLICT DO NOTHING``); returns those not counted already.

    Of two calls for the same row (a replayed signal, a task run twice) only the one that inserted
    it adds the counts.
    """
    if not keys:
        return []
    with connection.cursor() as cursor:
        cursor.execute(_ledger_sql(connection.vendor, ledger, len(keys)), list(keys))
        return [key for (key,) in cursor.fetchall()]


@lru_cache(maxsize=64)
def _ledger_sql(vendor: str, ledger: type[RolledUpResponse | RolledUpInvitation], count: int) -> str:
    """Built once per ledger and number of keys: every answer enters both ledgers."""
    table = connection.ops.quote_name(ledger._meta.db_table)
    column = connection.ops.quote_name(ledger._meta.pk.column)
    rows = ", ".join(["(%s)"] * count)
    return f"INSERT INTO {table} ({column}) VALUES {rows} ON CONFLICT DO NOTHING RETURNING {column}"  # noqa: S608


def _zone(organisation: Organisation) -> ZoneInfo:
    return ZoneInfo(organisation.default_time_zone)


@transaction.atomic(savepoint=False)  # within the booking's transaction: no savepoint
def record_invitations_in_rollups(*, invitation_ids: Collection[int]) -> int:
    """Count invitations that have left in the response rate's denominator, each once.

    A whole batch of sends costs a few statements (the ledger, then one upsert per organisation),
    so the outbox can announce a batch without slowing down per message. Returns how many counted.
    """
    claimed = _enter_ledger(RolledUpInvitation, sorted(set(invitation_ids)))
    if not claimed:
        return 0
    # Their organisations in one statement (the sending worker's booking pays for each round trip).
    claimed_organisations = Invitation.objects.filter(pk__in=claimed).values("organisation_id")
    for organisation in Organisation.objects.filter(pk__in=claimed_organisations):
        invitations = Invitation.objects.filter(organisation=organisation, pk__in=claimed)
        _add_statistics(
            organisation,
            [(daily_invitation_statistics(invitations, _zone(organisation), "invited"), ("invited",))],
        )
    return len(claimed)


def _add_rows(organisation_id: int, rows: Mapping[tuple[object, ...], Mapping[str, int]]) -> None:
    """Add counts computed in Python to the roll-ups, every row in one
    ``INSERT … VALUES … ON CONFLICT DO UPDATE SET x = x + excluded.x`` (added where they are
    stored, as ``_add_statistics``)."""
    if not rows:
        return
    params: list[object] = []
    for key, counts in rows.items():
        params += [organisation_id, *key, *(counts.get(m, 0) for m in ROLLUP_MEASURES)]
    with connection.cursor() as cursor:
        cursor.execute(_add_rows_sql(connection.vendor, len(rows)), params)


@lru_cache(maxsize=16)
def _add_rows_sql(vendor: str, count: int) -> str:
    """Built once per number of rows (an answer adds one to three)."""
    quote = connection.ops.quote_name
    table = quote(DailyRollup._meta.db_table)
    columns = ", ".join(quote(c) for c in (*ROLLUP_KEY_COLUMNS, *ROLLUP_MEASURES))
    row = "(" + ", ".join(["%s"] * (len(ROLLUP_KEY_COLUMNS) + len(ROLLUP_MEASURES))) + ")"
    updates = ", ".join(f"{quote(m)} = {table}.{quote(m)} + excluded.{quote(m)}" for m in ROLLUP_MEASURES)
    return (
        f"INSERT INTO {table} ({columns}) VALUES {', '.join([row] * count)} "  # noqa: S608
        f"ON CONFLICT ({', '.join(quote(k) for k in ROLLUP_KEY_COLUMNS)}) DO UPDATE SET {updates}"
    )


@transaction.atomic(savepoint=False)  # within the submit's transaction: no savepoint of its own
def record_response_in_rollups(*, response: Response, answers: Sequence[Answer] | None = None) -> bool:
    """Add one completed response's answers to the roll-ups, once; False if it was already counted.

    Its invitation is counted as sent first if its send was not (answered before the send was
    recorded), so ``responded`` never exceeds ``invited``. The counts are computed in Python from
    ``answers`` (the submit's, in hand; read when not given) and added in one upsert; on PostgreSQL
    the two ledgers and the upsert are one statement (every respondent's answer waits for it).
    """
    if connection.vendor == "postgresql":
        rows, invited = _response_rows(response, _answers_of(response, answers))
        return _count_response_once(response, rows, invited)
    if not _enter_ledger(RolledUpResponse, [response.pk]):
        return False
    rows, invited = _response_rows(response, _answers_of(response, answers))
    if _enter_ledger(RolledUpInvitation, [response.invitation_id]):
        rows[invited]["invited"] += 1
    _add_rows(response.organisation_id, rows)
    return True


def _answers_of(response: Response, answers: Sequence[Answer] | None) -> Sequence[Answer]:
    if answers is not None:
        return answers
    return list(Answer.objects.filter(organisation_id=response.organisation_id, response_id=response.pk))


RollupKey = tuple[object, ...]


def _response_rows(
    response: Response, answers: Sequence[Answer]
) -> tuple[dict[RollupKey, Counter[str]], RollupKey]:
    """The counts one response adds, per roll-up key, and the key its invitation is counted under
    (whose ``invited`` the caller adds if the invitation's send was not counted yet)."""
    invitation = response.invitation
    zone = _zone(response.organisation)
    team, agent = response.team_id or 0, response.agent_id or 0
    rows: dict[RollupKey, Counter[str]] = defaultdict(Counter)

    def day(moment: datetime) -> date:
        return moment.astimezone(zone).date()

    for answer in answers:
        rows[
            (
                answer.touchpoint_id,
                answer.team_id or 0,
                answer.agent_id or 0,
                response.channel,
                day(answer.answered_at),
            )
        ].update(answer_increments(answer))
    rows[(response.touchpoint_id, team, agent, response.channel, day(response.completed_at))][
        "responses"
    ] += 1
    invited = (invitation.touchpoint_id, team, agent, invitation.channel, day(invitation.planned_at))
    rows[invited]["responded"] += 1
    return rows, invited


def _count_response_once(
    response: Response, rows: Mapping[RollupKey, Counter[str]], invited: RollupKey
) -> bool:
    """PostgreSQL: both ledgers and the upsert in one statement (``_count_once_sql``)."""
    params = [response.pk, *_count_once_params(response, rows, invited)]
    with prepared_cursor(connection) as cursor:
        ctes = _count_once_sql(len(rows), stored=False)
        cursor.execute(f"WITH {ctes} SELECT count(*) FROM counted", params)  # noqa: S608 - names from the models
        return cursor.fetchone()[0] == 1


def rollups_of_response_storing(*, response: Response, answers: Sequence[Answer]) -> AnswerWrite:
    """A response about to be stored: its counts, added by the answer's own statement on PostgreSQL
    (with it or not at all), by the answer's transaction on SQLite."""
    if connection.vendor != "postgresql":
        return AnswerWrite(then=lambda: record_response_in_rollups(response=response, answers=answers))
    rows, invited = _response_rows(response, answers)
    return AnswerWrite(
        ctes=_count_once_sql(len(rows), stored=True), params=_count_once_params(response, rows, invited)
    )


def _count_once_params(
    response: Response, rows: Mapping[RollupKey, Counter[str]], invited: RollupKey
) -> list[object]:
    params: list[object] = [response.invitation_id]
    for key, counts in rows.items():
        params += [
            response.organisation_id,
            *key,
            *(counts.get(m, 0) for m in ROLLUP_MEASURES),
            key == invited,
        ]
    return params


@lru_cache(maxsize=16)
def _count_once_sql(count: int, *, stored: bool) -> str:
    """The response enters its ledger (its key a parameter, or ``stored``'s: the answer's own
    statement); only if it did (``counted``), its invitation enters its own (``invited``: a send
    not counted yet adds to ``invited`` on its row, flagged in the values) and the rows are added
    where they are stored, as ``_add_rows`` does. Common table expressions, for a ``WITH``."""
    quote = connection.ops.quote_name
    table = quote(DailyRollup._meta.db_table)
    responses, response = quote(RolledUpResponse._meta.db_table), quote(RolledUpResponse._meta.pk.column)
    invitations, invitation = (
        quote(RolledUpInvitation._meta.db_table),
        quote(RolledUpInvitation._meta.pk.column),
    )
    names = [quote(c) for c in (*ROLLUP_KEY_COLUMNS, *ROLLUP_MEASURES)]
    # Each value cast to its column's type: bound on the server, a text would stay text.
    types = {field.column: cast_type(field, connection) for field in DailyRollup._meta.concrete_fields}
    row = (
        "("
        + ", ".join([*(f"%s::{types[c]}" for c in (*ROLLUP_KEY_COLUMNS, *ROLLUP_MEASURES)), "%s::boolean"])
        + ")"
    )
    chosen = ", ".join(
        f"v.{name} + (v.is_invited::int * (SELECT count(*) FROM invited))::int"  # noqa: S608 - a column name
        if name == quote("invited")
        else f"v.{name}"
        for name in names
    )
    updates = ", ".join(f"{quote(m)} = {table}.{quote(m)} + excluded.{quote(m)}" for m in ROLLUP_MEASURES)
    source = "SELECT id FROM stored" if stored else "VALUES (%s::bigint)"
    return (
        f"counted AS (INSERT INTO {responses} ({response}) {source} "  # noqa: S608 - names from the models
        f"ON CONFLICT DO NOTHING RETURNING {response}), "
        f"invited AS (INSERT INTO {invitations} ({invitation}) SELECT %s::bigint FROM counted "
        f"ON CONFLICT DO NOTHING RETURNING {invitation}), "
        f"added AS (INSERT INTO {table} ({', '.join(names)}) "
        f"SELECT {chosen} FROM (VALUES {', '.join([row] * count)}) AS v ({', '.join(names)}, is_invited) "
        f"WHERE EXISTS (SELECT 1 FROM counted) "
        f"ON CONFLICT ({', '.join(quote(k) for k in ROLLUP_KEY_COLUMNS)}) DO UPDATE SET {updates})"
    )


@transaction.atomic
def rebuild_rollups(*, organisation: Organisation) -> int:
    """Recompute the organisation's roll-ups from its raw answers and invitations; returns the rows.

    On PostgreSQL the roll-up table and its ledgers are locked (EXCLUSIVE: reads go on, writes
    wait) for the rebuild: a response or a send being recorded meanwhile either committed before
    the lock, and the recomputation sees it, or waits and adds itself after; it is never lost nor
    counted twice. SQLite takes its write lock at BEGIN, which serialises the same way.
    """
    quote = connection.ops.quote_name
    rollups = quote(DailyRollup._meta.db_table)
    ledger, invitation_ledger = (
        quote(RolledUpResponse._meta.db_table),
        quote(RolledUpInvitation._meta.db_table),
    )
    responses, invitations = quote(Response._meta.db_table), quote(Invitation._meta.db_table)
    sent = [InvitationStatus.SENT.value, InvitationStatus.RESPONDED.value]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"LOCK TABLE {rollups}, {ledger}, {invitation_ledger} IN EXCLUSIVE MODE")
        for table, column, source in (
            (ledger, "response_id", responses),
            (invitation_ledger, "invitation_id", invitations),
        ):
            cursor.execute(
                f"DELETE FROM {table} WHERE {column} IN "  # noqa: S608
                f"(SELECT id FROM {source} WHERE organisation_id = %s)",
                [organisation.pk],
            )
        cursor.execute(f"DELETE FROM {rollups} WHERE organisation_id = %s", [organisation.pk])  # noqa: S608
        cursor.execute(
            f"INSERT INTO {ledger} (response_id) SELECT id FROM {responses} WHERE organisation_id = %s",  # noqa: S608
            [organisation.pk],
        )
        cursor.execute(
            f"INSERT INTO {invitation_ledger} (invitation_id) SELECT id FROM {invitations} "  # noqa: S608
            "WHERE organisation_id = %s AND status IN (%s, %s)",
            [organisation.pk, *sent],
        )
    zone = _zone(organisation)
    answers = Answer.objects.filter(organisation=organisation)
    responses_of = Response.objects.filter(organisation=organisation)
    invitations_of = Invitation.objects.filter(SENT_INVITATIONS, organisation=organisation)
    _add_statistics(
        organisation,
        [
            (daily_answer_statistics(answers, zone), ANSWER_MEASURES),
            (daily_response_counts(responses_of, zone), ("responses",)),
            (daily_invitation_statistics(invitations_of, zone), ("invited", "responded")),
        ],
    )
    return DailyRollup.objects.filter(organisation=organisation).count()


# Beyond any organisation's answers in a period: a larger minimum would hide every figure.
MAX_MIN_N = 1_000_000


@transaction.atomic
def update_analytics_settings(*, organisation: Organisation, **changes: Any) -> AnalyticsSettings:
    """Change the minimum n, the hiding rule or the report schedule and its recipients."""
    allowed = {"min_n", "hide_below_min_n", "report_recipients", "report_period"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationFailed(f"unknown settings: {', '.join(sorted(unknown))}")
    if "min_n" in changes and not 1 <= int(changes["min_n"]) <= MAX_MIN_N:
        raise ValidationFailed(f"the minimum n is between 1 and {MAX_MIN_N:,}", field="min_n")
    from avis.analytics.reports import SCHEDULED_PERIODS

    if changes.get("report_period", "") not in ("", *SCHEDULED_PERIODS):
        raise ValidationFailed("reports are weekly, monthly or quarterly", field="report_period")
    current, _ = AnalyticsSettings.objects.select_for_update().get_or_create(organisation=organisation)
    before = snapshot(current)
    for name, value in changes.items():
        setattr(current, name, value)
    current.full_clean()
    current.save()
    record(
        organisation=organisation,
        action="analytics_settings.changed",
        target=current,
        object_label="figures settings",
        before=before,
        after=snapshot(current),
    )
    return current


def send_due_reports(*, now: datetime | None = None) -> list[str]:
    """Email each organisation's last complete week, month or quarter as a PDF, once; returns the slugs sent.

    The period is claimed with a conditional update of ``last_report_sent_for`` before the PDF is
    built, so two workers (or a task run twice) never send the same report twice; a failed send
    gives the claim back for the next run. Each organisation apart: one that fails is logged and
    does not stop the others'.
    """
    now = now or timezone.now()
    sent = []
    due = AnalyticsSettings.objects.exclude(report_period="").select_related("organisation")
    for found in due.order_by("organisation_id"):
        if not found.report_recipients:
            continue
        with apart("send_due_reports", found.organisation_id):
            if _send_due_report(found, now=now):
                sent.append(found.organisation.slug)
    return sent


def _send_due_report(found: AnalyticsSettings, *, now: datetime) -> bool:
    """One organisation's report, if due and not claimed by another worker; a failure gives the claim back."""
    from avis.analytics.reports import last_complete_window, render_report_pdf

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
        return False
    try:
        language = organisation.default_locale[:2]
        pdf = render_report_pdf(organisation=organisation, window=window, language=language)
        _email_report(organisation, found.report_recipients, window.start, pdf)
    except Exception:
        AnalyticsSettings.objects.filter(id=found.id).update(last_report_sent_for=previous)
        raise
    return True


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
