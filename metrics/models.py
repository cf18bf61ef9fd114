import base64
import binascii
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import models
from django.db.models import Q
from django.db.models.functions import TruncWeek
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from metrics import webhook_targets
from metrics.scores import KEY_ROLE
from surveys.models import Customer, Invitation, Language, Question, Response, Survey

# What the SLA report reads of each case, beside the week it was opened in and its group.
SLA_COLUMNS = ["created_at", "due_at", "first_contact_at", "resolved_at", "status", "set_aside"]


# Standard Webhooks' form of a signing secret: the prefix, then the key in base64.
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The key of a whsec_ secret; ValueError when it is not one."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("no whsec_ prefix")
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except binascii.Error as error:
        raise ValueError(str(error)) from None
    if len(key) < 24:
        raise ValueError("shorter than 24 bytes")
    return key


class ScoreRollup(models.Model):
    """How many answers had `value`, per question, day and one breakdown.

    Every score is computed from these counts, never by looping over responses. Each
    answer is counted once per dimension: once under "all", once under its customer's
    segment, its touchpoint and its channel, so a breakdown never needs the raw answers.
    """

    class Dimension(models.TextChoices):
        ALL = "all", _("All answers")
        SEGMENT = "segment", _("Segment")
        TOUCHPOINT = "touchpoint", _("Touchpoint")
        CHANNEL = "channel", _("Channel")

    # Neither key has an index of its own: the (survey, dimension, day) index and the
    # unique cell's (question first) serve them.
    survey = models.ForeignKey(
        Survey,
        on_delete=models.CASCADE,
        related_name="rollups",
        verbose_name=_("survey"),
        db_index=False,
    )
    question = models.ForeignKey(
        Question,
        on_delete=models.CASCADE,
        related_name="rollups",
        verbose_name=_("question"),
        db_index=False,
    )
    day = models.DateField(_("day"))
    dimension = models.CharField(_("dimension"), max_length=10, choices=Dimension.choices)
    # The segment, touchpoint or channel; empty under "all" and where it is unknown.
    member = models.CharField(_("member"), max_length=100, blank=True)
    value = models.SmallIntegerField(_("value"))
    count = models.PositiveIntegerField(_("count"))

    class Meta:
        verbose_name = _("score rollup")
        verbose_name_plural = _("score rollups")
        constraints = [
            models.UniqueConstraint(
                fields=["question", "dimension", "member", "day", "value"],
                name="rollup_one_cell",
            ),
        ]
        indexes = [models.Index(fields=["survey", "dimension", "day"])]

    def __str__(self) -> str:
        return f"{self.day} {self.dimension}={self.member} {self.value}: {self.count}"


class FollowUpRule(models.Model):
    """What follows an answer: which answers open a case, and whether promoters are thanked.

    Surveys without a rule use the defaults of metrics.scores.default_threshold.
    """

    survey = models.OneToOneField(
        Survey, on_delete=models.CASCADE, related_name="followup_rule", verbose_name=_("survey")
    )
    enabled = models.BooleanField(_("open follow-up cases"), default=True)
    threshold = models.PositiveSmallIntegerField(
        _("highest unhappy answer"),
        help_text=_(
            "An answer to the key question at or below this opens a case "
            "(NPS 6, CSAT 2 or 'no', CES 3, recommend 6 by default)."
        ),
    )
    thank_promoters = models.BooleanField(
        _("thank promoters"),
        default=False,
        help_text=_("Email customers who answer 9 or 10 a thank-you that invites a review."),
    )
    review_url = models.URLField(_("review link"), blank=True)

    class Meta:
        verbose_name = _("follow-up rule")
        verbose_name_plural = _("follow-up rules")

    def __str__(self) -> str:
        return f"≤ {self.threshold}"

    def clean(self) -> None:
        if self.thank_promoters and not self.review_url:
            raise ValidationError({"review_url": _("Thanking promoters needs a review link.")})
        key = self.survey.questions.filter(role=KEY_ROLE[self.survey.kind]).first()
        allowed = key.scale_values[:-1] if key else range(0)
        if allowed and self.threshold not in allowed:
            raise ValidationError(
                {
                    "threshold": _(
                        "Choose an answer from %(low)s to %(high)s: the highest answer on "
                        "this survey's scale can never be unhappy."
                    )
                    % {"low": allowed[0], "high": allowed[-1]}
                }
            )


class FollowUp(models.Model):
    """An unhappy customer's case, due within the survey's follow-up window."""

    class Status(models.TextChoices):
        NEW = "new", _("New")
        IN_PROGRESS = "in_progress", _("In progress")
        CONTACTED = "contacted", _("Contacted")
        RESOLVED = "resolved", _("Resolved")

    class Reason(models.TextChoices):
        DETRACTOR = "detractor", _("Detractor (NPS)")
        DISSATISFIED = "dissatisfied", _("Dissatisfied (CSAT)")
        HIGH_EFFORT = "high_effort", _("High effort (CES)")
        NOT_RECOMMENDING = "not_recommending", _("Would not recommend")

    response = models.OneToOneField(
        Response, on_delete=models.CASCADE, related_name="followup", verbose_name=_("response")
    )
    survey = models.ForeignKey(
        Survey, on_delete=models.CASCADE, related_name="followups", verbose_name=_("survey")
    )
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices)
    score = models.SmallIntegerField(_("score"))
    comment = models.TextField(_("comment"), blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.NEW
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="followups",
        verbose_name=_("assignee"),
    )
    created_at = models.DateTimeField(_("opened at"), auto_now_add=True)
    due_at = models.DateTimeField(_("due at"))
    first_contact_at = models.DateTimeField(_("first contact at"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolution = models.TextField(_("resolution"), blank=True)
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True)
    # Its answer was taken out of the scores as a burst (metrics.followups.set_aside): no
    # one to call back, so the SLA report leaves it out.
    set_aside = models.BooleanField(
        _("set aside"),
        default=False,
        editable=False,
        help_text=_("Its answer is excluded from the scores; the SLA report leaves it out."),
    )
    reminded_at = models.DateTimeField(_("reminded at"), null=True, blank=True)

    class Meta:
        verbose_name = _("follow-up")
        verbose_name_plural = _("follow-ups")
        ordering = ["due_at"]
        indexes = [
            models.Index(fields=["status", "due_at"]),
            models.Index(fields=["assignee", "status"]),
            models.Index(fields=["survey", "created_at"]),
            # The queue: the open cases, the most urgent first, a page at a time.
            models.Index(
                fields=["due_at", "id"],
                condition=~models.Q(status="resolved"),
                name="followup_open_by_due",
            ),
            # The SLA report (metrics.sla): cases by the week they were opened in and by
            # group, holding every column its figures read.
            *(
                models.Index(
                    TruncWeek("created_at", output_field=models.DateField()),
                    group,
                    include=SLA_COLUMNS,
                    name=f"followup_sla_by_{group}",
                )
                for group in ("survey", "assignee")
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_reason_display()} ({self.score})"

    @staticmethod
    def week_opened() -> TruncWeek:
        """The Monday of the week the case was opened in, in TIME_ZONE: the expression the
        SLA indexes hold, so a query grouping by it reads them in order. (They are built
        in the TIME_ZONE of `migrate`; after changing it, the report is still right but
        no longer reads them.)"""
        return TruncWeek("created_at", output_field=models.DateField())

    @property
    def is_yes_no(self) -> bool:
        key_role = KEY_ROLE[self.survey.kind]
        return any(q.role == key_role and q.is_yes_no for q in self.survey.questions.all())

    @property
    def answer_text(self) -> str:
        """The key answer as a table shows it: "No" to a yes/no question, else "3"."""
        if self.is_yes_no:
            return str(_("Yes") if self.score else _("No"))
        return str(self.score)

    @property
    def score_text(self) -> str:
        """The answer as people say it: "No" to a yes/no question, else "score 3"."""
        if self.is_yes_no:
            return self.answer_text
        return str(_("score %(score)s") % {"score": self.score})


class FollowUpNote(models.Model):
    """One thing that happened to a case: who did what, when."""

    class Kind(models.TextChoices):
        OPENED = "opened", _("Opened")
        ASSIGNED = "assigned", _("Assigned")
        STARTED = "started", _("Started")
        PHONE = "phone", _("Phone call")
        EMAIL = "email", _("Email")
        NOTE = "note", _("Note")
        REPLY = "reply", _("Reply sent")
        ESCALATED = "escalated", _("Escalated")
        REMINDED = "reminded", _("Reminder sent")
        RESOLVED = "resolved", _("Resolved")
        REOPENED = "reopened", _("Reopened")
        EXCLUDED = "excluded", _("Answer excluded")
        INCLUDED = "included", _("Answer counted again")

    followup = models.ForeignKey(
        FollowUp, on_delete=models.CASCADE, related_name="notes", verbose_name=_("follow-up")
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        verbose_name=_("by"),
    )
    # Who did it when no user did: an API key, by name (metrics.staff_actions.acting_as).
    author_name = models.CharField(_("by (not a user)"), max_length=150, blank=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    text = models.TextField(_("text"), blank=True)
    created_at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        verbose_name = _("follow-up note")
        verbose_name_plural = _("follow-up notes")
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.text[:50]}"

    @property
    def by_name(self) -> str | None:
        """The user name or the API key that did it; None for the system."""
        return self.author.get_username() if self.author else self.author_name or None


class AlertChannel(models.Model):
    """Where news goes: email addresses or a Slack incoming webhook (of cases), or a
    webhook, which receives the events it chose (metrics.webhooks)."""

    class Kind(models.TextChoices):
        EMAIL = "email", _("Email")
        SLACK = "slack", _("Slack incoming webhook")
        WEBHOOK = "webhook", _("Webhook (events, signed)")

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    target = models.CharField(
        _("addresses or URL"),
        max_length=500,
        help_text=_("Email addresses separated by commas, or the webhook's https:// URL."),
    )
    secret = models.CharField(
        _("signing secret"),
        # whsec_ and up to 64 bytes in base64, the longest key Standard Webhooks allows.
        max_length=100,
        default=new_secret,
        help_text=_(
            "Webhooks: the secret of the webhook-signature header (Standard Webhooks), "
            "whsec_ and a key in base64."
        ),
    )
    events = models.JSONField(
        _("webhook events"),
        default=list,
        blank=True,
        help_text=_("Webhooks: the events sent to it."),
    )
    surveys = models.ManyToManyField(
        Survey,
        blank=True,
        related_name="alert_channels",
        verbose_name=_("surveys"),
        help_text=_("Leave empty for every survey."),
    )
    on_new_case = models.BooleanField(
        _("new cases"), default=True, help_text=_("Email and Slack; a webhook chooses events.")
    )
    on_escalation = models.BooleanField(
        _("escalations"),
        default=True,
        help_text=_("Email and Slack: told once when a case is overdue; a webhook chooses events."),
    )
    enabled = models.BooleanField(_("enabled"), default=True)

    class Meta:
        verbose_name = _("alert channel")
        verbose_name_plural = _("alert channels")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def covers(self, survey_id: int) -> bool:
        """Whether the channel is for the survey: for every survey when none is chosen."""
        chosen = {survey.pk for survey in self.surveys.all()}
        return not chosen or survey_id in chosen

    def clean(self) -> None:
        if self.kind == self.Kind.EMAIL:
            addresses = [a.strip() for a in self.target.split(",") if a.strip()]
            try:
                if not addresses:
                    raise ValidationError(_("Enter at least one email address."))
                for address in addresses:
                    validate_email(address)
            except ValidationError:
                raise ValidationError(
                    {"target": _("Enter email addresses separated by commas.")}
                ) from None
        else:
            try:
                URLValidator(schemes=["https", "http"])(self.target)
            except ValidationError:
                raise ValidationError(
                    {"target": _("Enter the webhook's full https:// URL.")}
                ) from None
            self._check_public_target()
        if self.kind == self.Kind.WEBHOOK:
            self._check_webhook()

    def _check_webhook(self) -> None:
        try:
            secret_key(self.secret)
        except ValueError:
            raise ValidationError(
                {
                    "secret": _(
                        "Enter whsec_ followed by a key of at least 24 bytes in base64, "
                        "or leave the secret this form suggested."
                    )
                }
            ) from None
        if not isinstance(self.events, list) or not set(self.events) <= set(WEBHOOK_EVENTS):
            raise ValidationError({"events": _("Choose events from the list.")})
        if not self.events:
            raise ValidationError({"events": _("Choose at least one event to send.")})

    def _check_public_target(self) -> None:
        try:
            webhook_targets.resolve(self.target)
        except webhook_targets.UnresolvableTarget:
            raise ValidationError(
                {"target": _("This address's host name could not be found.")}
            ) from None
        except webhook_targets.InternalTarget as refused:
            raise ValidationError(
                {
                    "target": _(
                        "%(host)s is an internal address (%(address)s): alerts only go to "
                        "addresses on the internet."
                    )
                    % {"host": refused.host, "address": refused.address}
                }
            ) from None
        except webhook_targets.UnusableTarget:
            raise ValidationError({"target": _("Enter the webhook's full https:// URL.")}) from None


# Subjects are composed from survey names and companies: metrics.emails fits them to this.
SUBJECT_MAX_LENGTH = 200


class Notification(models.Model):
    """A message, written down before it is sent, with how its delivery went."""

    class Kind(models.TextChoices):
        NEW_CASE = "new_case", _("New case")
        # Instead of NEW_CASE while a survey's cases open faster than CASE_ALERTS_PER_MINUTE.
        CASE_BURST = "case_burst", _("Many new cases")
        ESCALATION = "escalation", _("Escalation")
        REMINDER = "reminder", _("Reminder")
        DIGEST = "digest", _("Daily digest")
        REPLY = "reply", _("Reply to the customer")
        THANK_YOU = "thank_you", _("Thank-you to a promoter")
        SURVEY = "survey", _("Survey invitation")
        SURVEY_REMINDER = "survey_reminder", _("Survey reminder")
        # A webhook's events (AlertChannel.Event)
        RESPONSE_CREATED = "response.created", _("Event: response processed")
        FOLLOWUP_OPENED = "followup.opened", _("Event: case opened")
        FOLLOWUP_ESCALATED = "followup.escalated", _("Event: case overdue")
        FOLLOWUP_RESOLVED = "followup.resolved", _("Event: case resolved")
        CUSTOMER_UNSUBSCRIBED = "customer.unsubscribed", _("Event: customer unsubscribed")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    kind = models.CharField(_("kind"), max_length=30, choices=Kind.choices)
    channel = models.ForeignKey(
        AlertChannel,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="notifications",
        verbose_name=_("channel"),
    )
    followup = models.ForeignKey(
        FollowUp,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
        verbose_name=_("follow-up"),
    )
    # A survey email's invitation: sent in batches by metrics.sending, never one by one.
    invitation = models.ForeignKey(
        Invitation,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
        verbose_name=_("invitation"),
    )
    # What a webhook's event is about, beside a case (followup): its body is built from
    # them when it is sent (metrics.webhooks). Kept in the log when they are deleted.
    response = models.ForeignKey(
        Response,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="notifications",
        verbose_name=_("response"),
    )
    customer = models.ForeignKey(
        Customer,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="notifications",
        verbose_name=_("customer"),
    )
    # For a message without a channel: the email address it goes to, and for a reply to
    # a customer the address their answer should reach.
    recipient = models.EmailField(_("recipient"), blank=True)
    reply_to = models.EmailField(_("reply to"), blank=True)
    subject = models.CharField(_("subject"), max_length=SUBJECT_MAX_LENGTH, blank=True)
    body = models.TextField(_("text"), blank=True)
    # Empty: the HTML part is the text, escaped.
    html = models.TextField(_("HTML"), blank=True)
    headers = models.JSONField(_("headers"), default=dict, blank=True)
    language = models.CharField(_("language"), max_length=2, default="en")
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # When the retry after a temporary failure is due; a retry still missing well after
    # it is sent again (its message may have been lost with the broker).
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending", invitation__isnull=False),
                name="notification_survey_due",
            ),
        ]
        constraints = [
            # One invitation email and at most one reminder per invitation.
            models.UniqueConstraint(
                fields=["invitation", "kind"],
                condition=Q(invitation__isnull=False),
                name="notification_one_per_invitation_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {self.channel or self.recipient}"


# The events a webhook may choose (AlertChannel.events), each a kind of notification.
WEBHOOK_EVENTS = [
    Notification.Kind.RESPONSE_CREATED,
    Notification.Kind.FOLLOWUP_OPENED,
    Notification.Kind.FOLLOWUP_ESCALATED,
    Notification.Kind.FOLLOWUP_RESOLVED,
    Notification.Kind.CUSTOMER_UNSUBSCRIBED,
]


class Order(models.Model):
    """A customer's order, input for the loyalty KPIs; a negative amount is a refund.

    The last four fields are facts about the customer's orders before this one, written
    with it by metrics.orders.write_orders, so that the KPIs of a period read that
    period's orders only, never the history before it. Refunds are no orders there: they
    have no such facts.
    """

    ref = models.CharField(_("reference"), max_length=100)
    # No index of its own: the (customer, ordered_at) index serves it.
    customer = models.ForeignKey(
        Customer,
        on_delete=models.CASCADE,
        related_name="orders",
        verbose_name=_("customer"),
        db_index=False,
    )
    ordered_at = models.DateTimeField(_("ordered at"))
    amount = models.DecimalField(
        _("amount"), max_digits=12, decimal_places=2, help_text=_("Negative for a refund.")
    )
    product = models.CharField(_("product"), max_length=200)
    channel = models.CharField(_("channel"), max_length=100, blank=True)
    # The customer's order before this one and the one before that, in (ordered_at, ref)
    # order: how a period's orders tell its first and second order of each customer.
    previous_ordered_at = models.DateTimeField(null=True, editable=False)
    second_previous_ordered_at = models.DateTimeField(null=True, editable=False)
    # A product the customer had never ordered before, when they had ordered before.
    # A default in the database too, so that rows loaded with COPY need not name it.
    is_upsell = models.BooleanField(default=False, db_default=False, editable=False)
    previous_upsell_at = models.DateTimeField(null=True, editable=False)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-ordered_at"]
        indexes = [
            models.Index(fields=["customer", "ordered_at"]),
            # Everything a period's counts read (metrics.kpis.order_counts), so that they
            # are an index-only scan of the period's range, never a visit to the table.
            models.Index(
                fields=["ordered_at"],
                include=[
                    "amount",
                    "customer",
                    "previous_ordered_at",
                    "second_previous_ordered_at",
                    "is_upsell",
                    "previous_upsell_at",
                ],
                name="order_period_facts",
            ),
        ]
        constraints = [
            # A constraint rather than unique=True: no second (LIKE) index to keep up on import.
            models.UniqueConstraint(fields=["ref"], name="order_unique_ref"),
            models.CheckConstraint(condition=~Q(ref=""), name="order_ref_not_empty"),
            models.CheckConstraint(condition=~Q(product=""), name="order_product_not_empty"),
        ]

    def __str__(self) -> str:
        return self.ref

    @property
    def is_refund(self) -> bool:
        return self.amount < 0


class OrderImport(models.Model):
    """A CSV file of orders uploaded in the admin, imported by a Celery task."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        RUNNING = "running", _("Importing")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    file_name = models.CharField(_("file"), max_length=255)
    # The file itself until it is imported: the database is what every worker can read.
    content = models.TextField(_("content"), blank=True, editable=False)
    create_customers = models.BooleanField(
        _("create unknown customers"),
        default=False,
        help_text=_("Otherwise a row with an unknown customer reference is refused."),
    )
    # The language of the uploader, in which the refusals are written.
    language = models.CharField(
        _("language"), max_length=2, choices=Language.choices, default=Language.EN
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    lines = models.PositiveIntegerField(_("lines"), default=0)
    lines_done = models.PositiveIntegerField(_("lines read"), default=0)
    created = models.PositiveIntegerField(_("created"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    refused = models.PositiveIntegerField(_("refused"), default=0)
    # The first refused rows, each [line, column, reason].
    refusals = models.JSONField(_("refused rows"), default=list, blank=True)
    error = models.TextField(_("error"), blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        verbose_name=_("uploaded by"),
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    # Touched at every batch: an import running without progress for long has lost its worker.
    progressed_at = models.DateTimeField(_("last progress at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("order import")
        verbose_name_plural = _("order imports")
        ordering = ["-uploaded_at"]
        indexes = [models.Index(fields=["status", "uploaded_at"])]

    def __str__(self) -> str:
        return self.file_name

    @property
    def percent_done(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return min(99, 100 * self.lines_done // self.lines) if self.lines else 0

    @property
    def is_busy(self) -> bool:
        return self.status in (self.Status.PENDING, self.Status.RUNNING)


class StaffAction(models.Model):
    """Who did what to which case, export or customer, and when: written by the services
    and views that act, read in the admin, never changed. It holds no personal data of
    customers (a case or customer is named by its number), so erasure leaves it whole."""

    class Action(models.TextChoices):
        CASE_ASSIGNED = "case_assigned", _("Assigned a case")
        CASE_STARTED = "case_started", _("Started a case")
        CASE_CONTACTED = "case_contacted", _("Logged contact with a customer")
        CASE_NOTE = "case_note", _("Added a note to a case")
        CASE_REPLIED = "case_replied", _("Replied to a customer")
        CASE_RESOLVED = "case_resolved", _("Resolved a case")
        CASE_REOPENED = "case_reopened", _("Reopened a case")
        RESPONSES_EXPORTED = "responses_exported", _("Exported responses")
        KPIS_EXPORTED = "kpis_exported", _("Exported KPIs")
        CUSTOMER_ERASED = "customer_erased", _("Erased a customer's personal data")

    # Empty for a management command; the name stays when the login is deleted.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    username = models.CharField(_("user name"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=20, choices=Action.choices)
    content_type = models.ForeignKey(
        "contenttypes.ContentType",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("kind of object"),
    )
    object_id = models.CharField(_("object id"), max_length=40, blank=True)
    detail = models.CharField(_("detail"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("date"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("staff action")
        verbose_name_plural = _("staff actions")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.username or '-'}: {self.get_action_display()} {self.object_label}"

    @property
    def object_label(self) -> str:
        """The object by its kind and number, e.g. "follow-up #12", in the reader's language."""
        if self.content_type is None:
            return ""
        return f"{self.content_type.name} #{self.object_id}"


class JobRun(models.Model):
    """When a periodic job last finished: the heartbeat that /healthz reads."""

    name = models.CharField(_("job"), max_length=200, unique=True)
    finished_at = models.DateTimeField(_("last finished at"))

    class Meta:
        verbose_name = _("periodic job")
        verbose_name_plural = _("periodic jobs")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def record(cls, name: str) -> None:
        cls.objects.update_or_create(name=name, defaults={"finished_at": timezone.now()})


class RollupDrift(models.Model):
    """What a recompute found wrong in a survey's rollups, and corrected: counts should
    never drift, so each row is worth a look."""

    survey = models.ForeignKey(
        Survey, on_delete=models.CASCADE, related_name="rollup_drifts", verbose_name=_("survey")
    )
    found_at = models.DateTimeField(_("found at"), auto_now_add=True)
    cells = models.PositiveIntegerField(_("counts corrected"))
    answers = models.PositiveIntegerField(_("answers off"))

    class Meta:
        verbose_name = _("rollup drift")
        verbose_name_plural = _("rollup drifts")
        ordering = ["-found_at"]

    def __str__(self) -> str:
        return f"{self.survey}: {self.cells}"


class QueueCount(models.Model):
    """A number of cases that came into (or, when negative, left) a combination of status,
    survey, reason and assignee: the queue's counts per filter option add these up
    instead of counting every case (metrics.queue_counts). Rows are only ever added, so
    two changes at once never wait for each other; the nightly recount folds them."""

    status = models.CharField(_("status"), max_length=12)
    # Plain keys, not foreign keys: a deleted survey's cases leave with rows of their own.
    survey_key = models.IntegerField(_("survey"))
    reason = models.CharField(_("reason"), max_length=20)
    assignee_key = models.IntegerField(_("assignee"))  # the user's pk; 0 when unassigned
    cases = models.IntegerField(_("cases"))

    class Meta:
        verbose_name = _("queue count")
        verbose_name_plural = _("queue counts")

    def __str__(self) -> str:
        return f"{self.status} {self.survey_key} {self.reason} {self.assignee_key}: {self.cases}"


class SurveyRequest(models.Model):
    """Another system's "send survey S to customer C after a delay" (the REST API): a row
    with its due time, which the scheduler sends once it is due (metrics.requests)."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        SENT = "sent", _("Sent")
        SKIPPED = "skipped", _("Skipped")
        CANCELLED = "cancelled", _("Cancelled")

    survey = models.ForeignKey(
        Survey, on_delete=models.CASCADE, related_name="requests", verbose_name=_("survey")
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="requests", verbose_name=_("customer")
    )
    metadata = models.JSONField(_("metadata"), default=dict, blank=True)
    send_at = models.DateTimeField(_("send at"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.SCHEDULED
    )
    # Why it was not sent when it was due: one of surveys.services.SKIP_REASONS.
    reason = models.CharField(_("reason"), max_length=20, blank=True)
    invitation = models.OneToOneField(
        Invitation,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="request",
        verbose_name=_("invitation"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    handled_at = models.DateTimeField(_("handled at"), null=True, blank=True)

    class Meta:
        verbose_name = _("survey request")
        verbose_name_plural = _("survey requests")
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["send_at"], condition=Q(status="scheduled"), name="survey_request_due"
            )
        ]

    def __str__(self) -> str:
        return f"{self.survey} → {self.customer}"
