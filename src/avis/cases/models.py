from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from avis.accounts.models import Organisation
from avis.customers.models import Customer
from avis.interactions.models import Agent, Interaction, Team, Touchpoint
from avis.surveys.models import AboutInteraction, Response, Survey


class Severity(models.IntegerChoices):
    LOW = 1, _("low")
    MEDIUM = 2, _("medium")
    HIGH = 3, _("high")
    CRITICAL = 4, _("critical")


class Condition(models.TextChoices):
    """What an alert rule looks for in one response; the value is the case's reason."""

    DETRACTOR = "detractor", _("recommendation score (NPS) at most")
    LOW_CSAT = "low_csat", _("satisfaction score (CSAT) at most")
    LOW_AGENT_SCORE = "low_agent_score", _("agent score at most")
    NOT_RESOLVED = "not_resolved", _("problem not resolved")
    CALLBACK_REQUESTED = "callback_requested", _("customer asks to be called back")
    COMMENT_WORDS = "comment_words", _("comment contains one of these words")
    NEGATIVE_SENTIMENT = "negative_sentiment", _("comment reads negative (sentiment at most threshold/100)")
    REPEAT_CONTACT = "repeat_contact", _("same customer unhappy again within N days")


class AlertRule(models.Model):
    """One condition that turns a response into a case, for an organisation, a touchpoint or a survey."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=120, blank=True)
    condition = models.CharField(max_length=24, choices=Condition.choices)
    threshold = models.SmallIntegerField(null=True, blank=True)
    words = models.JSONField(default=list, blank=True)
    window_days = models.PositiveSmallIntegerField(default=30)
    touchpoint = models.ForeignKey(
        Touchpoint, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    survey = models.ForeignKey(Survey, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    severity = models.PositiveSmallIntegerField(choices=Severity.choices, default=Severity.MEDIUM)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name or self.condition


class RootCause(models.Model):
    """A category of what went wrong, edited by the organisation: the outer loop's vocabulary."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    label = models.CharField(max_length=120)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["label"]
        constraints = [models.UniqueConstraint(fields=["organisation", "label"], name="root_cause_unique")]

    def __str__(self) -> str:
        return self.label


class CaseStatus(models.TextChoices):
    NEW = "new", _("new")
    IN_PROGRESS = "in_progress", _("in progress")
    CONTACTED = "contacted", _("customer contacted")
    RESOLVED = "resolved", _("resolved")
    CLOSED = "closed", _("closed")
    REOPENED = "reopened", _("reopened")


class CaseOutcome(models.TextChoices):
    SOLVED = "solved", _("problem solved")
    COMPENSATED = "compensated", _("compensated")
    RETAINED = "retained", _("customer retained")
    LEFT = "left", _("customer left")
    UNREACHABLE = "unreachable", _("customer unreachable")


class Case(AboutInteraction):
    """A follow-up of one unhappy response that needs a person."""

    response = models.OneToOneField(Response, on_delete=models.CASCADE, related_name="case")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="cases")
    interaction = models.ForeignKey(Interaction, on_delete=models.CASCADE, related_name="+")
    reasons = models.JSONField(default=list)
    severity = models.PositiveSmallIntegerField(choices=Severity.choices, default=Severity.MEDIUM)
    root_cause = models.ForeignKey(
        RootCause, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    do_not_call = models.BooleanField(default=False)
    escalation_level = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=12, choices=CaseStatus.choices, default=CaseStatus.NEW)
    outcome = models.CharField(max_length=12, choices=CaseOutcome.choices, blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    opened_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField()
    first_contact_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organisation", "status", "opened_at"])]

    def __str__(self) -> str:
        return f"case {self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status not in (CaseStatus.RESOLVED, CaseStatus.CLOSED)


class EventKind(models.TextChoices):
    OPENED = "opened", _("case opened")
    TAKEN = "taken", _("taken")
    CONTACTED = "contacted", _("customer contacted")
    RESOLVED = "resolved", _("resolved")
    NOTE = "note", _("note")
    JOINED = "joined", _("new answer joined the case")
    ASSIGNED = "assigned", _("assigned")
    ESCALATED = "escalated", _("escalated")
    STATUS = "status", _("status changed")
    CLOSED = "closed", _("closed")
    REOPENED = "reopened", _("reopened")
    ROOT_CAUSE = "root_cause", _("root cause set")
    NOTIFIED = "notified", _("notification sent")
    MESSAGE = "message", _("message")


class CaseEvent(models.Model):
    """The timeline: every change and note, with who made it."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    kind = models.CharField(max_length=24, choices=EventKind.choices)
    note = models.TextField(blank=True)
    response = models.ForeignKey(Response, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    data = models.JSONField(default=dict, blank=True)
    # An answer's case opened or joined in the respondent's request is announced (managers'
    # e-mails, the owner's text, webhooks) by a worker: True until it has been.
    to_announce = models.BooleanField(default=False)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["at"], condition=Q(to_announce=True), name="caseevent_to_announce")]

    def __str__(self) -> str:
        return f"{self.kind} on case {self.case_id}"


class OwnerRole(models.TextChoices):
    LEAD = "lead", _("team lead")
    MANAGER = "manager", _("site manager")
    MEMBER = "member", _("team member")


class TeamOwner(models.Model):
    """Who answers for a team or site in the closed loop (kept here, not in accounts)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=8, choices=OwnerRole.choices)
    last_assigned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user", "role"], name="team_owner_unique")]

    def __str__(self) -> str:
        return f"{self.user} {self.role} of {self.team}"


class Strategy(models.TextChoices):
    TEAM_LEAD = "team_lead", _("the agent's team lead")
    SITE_MANAGER = "site_manager", _("the site's manager")
    ROUND_ROBIN = "round_robin", _("round robin in the team")
    FALLBACK = "fallback", _("a fallback owner")


class AssignmentRule(models.Model):
    """One step of the escalation ladder: the first step finds the owner, the next ones escalate."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField(default=1)
    strategy = models.CharField(max_length=16, choices=Strategy.choices)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.position}. {self.strategy}"


class BusinessCalendar(models.Model):
    """Opening hours per weekday and the SLA counted in them; holidays come from the country."""

    organisation = models.OneToOneField(Organisation, on_delete=models.CASCADE, related_name="+")
    # {"0": ["09:00", "18:00"], …}: Monday is "0"; a missing day is closed.
    hours = models.JSONField(default=dict)
    sla_hours = models.PositiveSmallIntegerField(default=8)

    def __str__(self) -> str:
        return f"calendar of {self.organisation_id}"


class WebhookEndpoint(models.Model):
    """A CRM or chat tool that receives case events as signed JSON."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    DELIVERED = "delivered", _("delivered")
    FAILED = "failed", _("failed")


class WebhookDelivery(models.Model):
    """One event for one endpoint, delivered at most once; its attempts are the delivery log."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    event = models.CharField(max_length=40)
    key = models.CharField(max_length=100)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["endpoint", "key"], name="webhook_delivery_once")]

    def __str__(self) -> str:
        return f"{self.event} to {self.endpoint_id}"


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="tries")
    at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"try {self.pk} of {self.delivery_id}"


class AgentLink(models.Model):
    """Which agent a signed-in user is, so they can read the feedback on their own interactions.

    Kept in cases (accounts and interactions are not ours to migrate): an admin links a
    user to an ``interactions.Agent`` once; nothing else is inferred from names or emails.
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organisation", "user"], name="one_agent_per_user")]

    def __str__(self) -> str:
        return f"{self.user} is {self.agent}"
