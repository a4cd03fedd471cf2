from __future__ import annotations

from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from avis.accounts.models import Organisation
from avis.interactions.models import Touchpoint
from avis.surveys.models import Invitation, Response

# Sufficient statistics kept per roll-up row: every metric avis shows is a function of sums of these.
ROLLUP_MEASURES: tuple[str, ...] = (
    "responses",
    "nps_promoters",
    "nps_passives",
    "nps_detractors",
    "resolved_yes",
    "resolved_partly",
    "resolved_no",
    "csat_n",
    "csat_top2",
    "csat_sum",
    "csat_sumsq",
    "agent_n",
    "agent_top2",
    "agent_sum",
    "agent_sumsq",
    "agent_na",
    "ces_n",
    "ces_sum",
    "ces_sumsq",
    "invited",
    "responded",
)
ROLLUP_KEYS: tuple[str, ...] = ("organisation_id", "touchpoint_id", "team_key", "agent_key", "channel", "day")


class DailyRollup(models.Model):
    """Counts, sums and sums of squares of one day's answers for one touchpoint × team × agent × channel.

    Updated by increments as each invitation leaves and each response arrives
    (``services.record_invitations_in_rollups``, ``services.record_response_in_rollups``) and
    rebuilt from the raw rows by ``avis rollups --rebuild``; every figure over weeks, months
    or quarters is a sum of these rows. ``team_key`` and ``agent_key`` are ids, 0 for none, so the
    unique key holds without NULLs (which a unique index would treat as all different).
    ``day`` is the answer's date in the organisation's time zone (for ``invited`` and
    ``responded``, the day the invitation was planned for).
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    touchpoint = models.ForeignKey(Touchpoint, on_delete=models.CASCADE, related_name="+")
    team_key = models.BigIntegerField(default=0, db_default=0)
    agent_key = models.BigIntegerField(default=0, db_default=0)
    channel = models.CharField(max_length=8, blank=True)
    day = models.DateField()
    responses = models.BigIntegerField(default=0, db_default=0)
    nps_promoters = models.BigIntegerField(default=0, db_default=0)
    nps_passives = models.BigIntegerField(default=0, db_default=0)
    nps_detractors = models.BigIntegerField(default=0, db_default=0)
    resolved_yes = models.BigIntegerField(default=0, db_default=0)
    resolved_partly = models.BigIntegerField(default=0, db_default=0)
    resolved_no = models.BigIntegerField(default=0, db_default=0)
    # CSAT (1–5) answers about anything but the agent, then those about the agent ("not applicable" apart).
    csat_n = models.BigIntegerField(default=0, db_default=0)
    csat_top2 = models.BigIntegerField(default=0, db_default=0)
    csat_sum = models.BigIntegerField(default=0, db_default=0)
    csat_sumsq = models.BigIntegerField(default=0, db_default=0)
    agent_n = models.BigIntegerField(default=0, db_default=0)
    agent_top2 = models.BigIntegerField(default=0, db_default=0)
    agent_sum = models.BigIntegerField(default=0, db_default=0)
    agent_sumsq = models.BigIntegerField(default=0, db_default=0)
    agent_na = models.BigIntegerField(default=0, db_default=0)
    # CES (1–7, higher is easier), whatever the question is about.
    ces_n = models.BigIntegerField(default=0, db_default=0)
    ces_sum = models.BigIntegerField(default=0, db_default=0)
    ces_sumsq = models.BigIntegerField(default=0, db_default=0)
    # Invitations sent, and of those the ones answered, on the day the invitation was planned for:
    # the response rate's numerator and denominator share one bucket whenever the answer comes.
    invited = models.BigIntegerField(default=0, db_default=0)
    responded = models.BigIntegerField(default=0, db_default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "touchpoint", "team_key", "agent_key", "channel", "day"],
                name="one_rollup_per_key",
            )
        ]
        indexes = [models.Index(fields=["organisation", "day"])]

    def __str__(self) -> str:
        return f"rollup {self.day} tp{self.touchpoint_id}"


class RolledUpResponse(models.Model):
    """The ledger of responses already counted in the roll-ups: counting one twice is a no-op."""

    response = models.OneToOneField(Response, on_delete=models.CASCADE, primary_key=True, related_name="+")

    def __str__(self) -> str:
        return f"rolled up {self.response_id}"


class RolledUpInvitation(models.Model):
    """The ledger of invitations already counted as sent in the roll-ups (``invited``)."""

    invitation = models.OneToOneField(
        Invitation, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )

    def __str__(self) -> str:
        return f"rolled up invitation {self.invitation_id}"


class AnalyticsSettings(models.Model):
    """An organisation's choices for its figures and reports."""

    organisation = models.OneToOneField(Organisation, on_delete=models.CASCADE, related_name="+")
    min_n = models.PositiveIntegerField(
        default=30,
        validators=[MinValueValidator(1)],
        help_text=_("Below this many answers a figure is greyed with its interval, and nobody is ranked"),
    )
    hide_below_min_n = models.BooleanField(
        default=False, help_text=_("Hide figures below the minimum instead of greying them")
    )
    report_recipients = models.JSONField(default=list, blank=True, help_text='["direction@example.fr"]')
    report_period = models.CharField(
        max_length=8,
        choices=[
            ("", _("never")),
            ("week", _("weekly")),
            ("month", _("monthly")),
            ("quarter", _("quarterly")),
        ],
        blank=True,
        default="",
    )
    last_report_sent_for = models.DateField(null=True, blank=True)

    def __str__(self) -> str:
        return f"analytics settings of {self.organisation_id}"


class SentimentModel(models.Model):
    """An organisation's sentiment model, learned offline from its own scored comments.

    Stored in the database (plain numbers, no pickle) so that every web and worker machine
    reads the same model; replaced at each training. Below the minimum of scored comments
    ``parameters`` is empty and comments are read with the word lists (docs/verbatims.md).
    """

    organisation = models.OneToOneField(Organisation, on_delete=models.CASCADE, related_name="+")
    trained_at = models.DateTimeField()
    labelled = models.PositiveIntegerField(help_text=_("scored comments learned from"))
    negatives = models.PositiveIntegerField(default=0)
    folds = models.PositiveSmallIntegerField(default=0)
    accuracy = models.FloatField(null=True, blank=True, help_text=_("cross-validated accuracy"))
    lexicon_accuracy = models.FloatField(
        null=True, blank=True, help_text=_("word lists on the same comments")
    )
    version = models.CharField(max_length=24, blank=True)
    parameters = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"sentiment model of {self.organisation_id}"

    @property
    def is_learned(self) -> bool:
        return bool(self.parameters)

    @property
    def accuracy_percent(self) -> int | None:
        return None if self.accuracy is None else round(100 * self.accuracy)

    @property
    def lexicon_accuracy_percent(self) -> int | None:
        return None if self.lexicon_accuracy is None else round(100 * self.lexicon_accuracy)
