from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from avis.accounts.models import Organisation
from avis.customers.models import Customer
from avis.governance.models import Decision
from avis.interactions.models import Agent, Interaction, Team, Touchpoint


class Survey(models.Model):
    """What one touchpoint asks. Its wording lives in versions: a draft being designed, and the
    immutable published ones; ``current_version`` is the one new invitations are sent with."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    touchpoint = models.ForeignKey(Touchpoint, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    # SET_NULL: deleting a survey deletes its versions, this one included (invitations and answers
    # protect the versions they were sent with).
    current_version = models.ForeignKey(
        "SurveyVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "touchpoint"],
                condition=Q(is_active=True),
                name="one_active_survey_per_touchpoint",
            )
        ]

    def __str__(self) -> str:
        return self.name


class SurveyVersion(models.Model):
    """One wording of a survey. Published ones (``number`` set) never change: every invitation and
    answer keeps the version it was sent with, so figures never mix two wordings silently. The one
    unpublished version of a survey is its draft, which the designer edits."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(null=True, blank=True, help_text="1, 2, …; empty for the draft")
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["survey", "number"], name="survey_version_number_unique"),
            models.UniqueConstraint(
                fields=["survey"], condition=Q(number__isnull=True), name="one_draft_per_survey"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.survey_id} v{self.number or 'draft'}"

    @property
    def is_draft(self) -> bool:
        return self.number is None


class QuestionKind(models.TextChoices):
    NPS = "nps", _("Likelihood to recommend (0–10)")
    CSAT = "csat", _("Satisfaction (1–5)")
    CES = "ces", _("Customer effort (1–7)")
    CHOICE = "choice", _("Single choice")
    TEXT = "text", _("Free text")


# The answer scale of each scored kind, lowest first. CES is asked as "how easy was it…"
# (1 = very difficult, 7 = very easy, the 7-point agreement scale of CES 2.0), so that a
# higher score is better, as for NPS and CSAT.
SCALES: dict[str, tuple[int, int]] = {
    QuestionKind.NPS.value: (0, 10),
    QuestionKind.CSAT.value: (1, 5),
    QuestionKind.CES.value: (1, 7),
}


def scale_of(kind: str) -> range:
    """The scores a scale question offers, both ends included; empty for other kinds."""
    low, high = SCALES.get(kind, (1, 0))
    return range(low, high + 1)


class Attribution(models.TextChoices):
    """What a question judges: keeps the agent's work apart from whether the problem was solved."""

    OVERALL = "overall", _("overall")
    RESOLUTION = "resolution", _("resolution")
    AGENT = "agent", _("agent")
    PROCESS = "process", _("process")
    CHANNEL = "channel", _("channel")


class Question(models.Model):
    """One question of one survey version; a published version's questions never change."""

    version = models.ForeignKey(SurveyVersion, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveSmallIntegerField()
    code = models.SlugField(max_length=40)
    kind = models.CharField(max_length=8, choices=QuestionKind.choices)
    attribution = models.CharField(max_length=12, choices=Attribution.choices)
    prompt = models.JSONField(help_text='{"fr": "…", "en": "…"}')
    choices = models.JSONField(
        default=list, blank=True, help_text='[{"value": "yes", "label": {"fr": "Oui"}}]'
    )
    required = models.BooleanField(default=False)
    allows_not_applicable = models.BooleanField(default=False)
    not_applicable_label = models.JSONField(default=dict, blank=True)
    # Asked only when an earlier answer meets it: {"question": "nps", "at_most": 6} or
    # {"question": "resolved", "among": ["partly", "no"]}; {} means always (see surveys.conditions).
    condition = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["version", "code"], name="question_code_unique_in_version")
        ]

    def __str__(self) -> str:
        return self.code


class InvitationStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("scheduled")
    SENT = "sent", _("sent")
    RESPONDED = "responded", _("responded")
    FAILED = "failed", _("failed")
    CANCELLED = "cancelled", _("cancelled")


class Invitation(models.Model):
    """One survey offered to one customer on one channel; its token is the only key to the page."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    decision = models.OneToOneField(Decision, on_delete=models.CASCADE, related_name="invitation")
    interaction = models.ForeignKey(Interaction, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="invitations")
    touchpoint = models.ForeignKey(Touchpoint, on_delete=models.PROTECT, related_name="+")
    survey = models.ForeignKey(Survey, on_delete=models.PROTECT, related_name="invitations")
    version = models.ForeignKey(SurveyVersion, on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(max_length=8)
    locale = models.CharField(max_length=8)
    token = models.CharField(max_length=64, unique=True)
    status = models.CharField(
        max_length=10, choices=InvitationStatus.choices, default=InvitationStatus.SCHEDULED
    )
    planned_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    responded_at = models.DateTimeField(null=True, blank=True)
    # When its one reminder may be written, if it gets one: set as it leaves, cleared once the
    # reminder is written or found moot. Only the invitations still waiting are in the index.
    reminder_due_at = models.DateTimeField(null=True, blank=True)
    # Drawn into a barometer wave's designed sample (barometers.SampledCase): its answer completes
    # the sampled case. Known from the row the page reads, so the flow's answers look nothing up.
    sampled = models.BooleanField(default=False, db_default=False)

    class Meta:
        indexes = [
            models.Index(fields=["organisation", "planned_at"]),
            models.Index(
                fields=["reminder_due_at"],
                name="surveys_invitation_reminder",
                condition=models.Q(reminder_due_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"invitation {self.pk}"


class AboutInteraction(models.Model):
    """Where and by whom the interaction was handled, copied so figures group without joins."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    touchpoint = models.ForeignKey(Touchpoint, on_delete=models.PROTECT, related_name="+")
    agent = models.ForeignKey(Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        abstract = True


class Response(AboutInteraction):
    """The answers to one invitation; at most one per invitation."""

    invitation = models.OneToOneField(Invitation, on_delete=models.CASCADE, related_name="response")
    survey = models.ForeignKey(Survey, on_delete=models.PROTECT, related_name="+")
    version = models.ForeignKey(SurveyVersion, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="responses")
    interaction = models.ForeignKey(Interaction, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=8)
    locale = models.CharField(max_length=8)
    completed_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["organisation", "completed_at"])]

    def __str__(self) -> str:
        return f"response to invitation {self.invitation_id}"


class Answer(AboutInteraction):
    """One answer, with the response's context copied so metrics group without joins."""

    response = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=8, choices=QuestionKind.choices)
    attribution = models.CharField(max_length=12, choices=Attribution.choices)
    answered_at = models.DateTimeField()
    number = models.SmallIntegerField(null=True, blank=True)
    choice = models.CharField(max_length=40, blank=True)
    text = models.TextField(blank=True)
    not_applicable = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["organisation", "kind", "answered_at"])]

    def __str__(self) -> str:
        return f"{self.question_id}: {self.number or self.choice or self.text[:20]}"
