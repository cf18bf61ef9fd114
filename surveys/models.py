import re
import secrets
from collections.abc import Mapping
from datetime import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from surveys.text import validate_no_control_characters

COMMENT_MAX_LENGTH = 5000
# A touchpoint's or channel's length, as a link may give it.
NAME_MAX_LENGTH = 100
# What a touchpoint or channel that the survey does not know is counted as.
OTHER = "other"


def shown_name(counted: str) -> str:
    """A touchpoint or channel as it is counted, as staff read it: OTHER in their language."""
    return str(_("Other")) if counted == OTHER else counted


# Channels this site's own links record: the public link itself, its QR code and the
# embedded snippet. INVITATION is reserved for personal invitations.
LINK_CHANNELS = ("link", "qr", "embed")
INVITATION = "invitation"
# A response's metadata that says nothing about who answered; the rest (the `ref` a link
# carried) is personal.
NON_PERSONAL_METADATA = ("touchpoint", "channel")


# An origin as CSP's frame-ancestors takes it: scheme and host, perhaps a port; no path.
ORIGIN = re.compile(
    r"https?://[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]{1,5})?",
    re.IGNORECASE,
)


def validate_origins(value: str) -> None:
    """One origin per line, such as https://www.example.com: no path, no wildcard."""
    refused = [line for line in value.split() if not ORIGIN.fullmatch(line)]
    if refused:
        raise ValidationError(
            _("Not an origin such as https://www.example.com: %(origins)s"),
            code="invalid_origin",
            params={"origins": ", ".join(line[:60] for line in refused[:3])},
        )


def _random_text(size: int) -> str:
    # Never a leading "-": command lines would take such a slug for an option.
    while (text := secrets.token_urlsafe(size)).startswith("-"):
        pass
    return text


def new_slug() -> str:
    return _random_text(18)  # 144 bits


def new_token() -> str:
    return _random_text(24)  # 192 bits


class Language(models.TextChoices):
    EN = "en", _("English")
    NL = "nl", _("Dutch")


def names(text: str) -> list[str]:
    """The names of a one-per-line list, without blank lines and surrounding spaces."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def validate_names(text: str) -> None:
    too_long = [name for name in names(text) if len(name) > NAME_MAX_LENGTH]
    if too_long:
        raise ValidationError(
            _("%(name)s is longer than %(max)d characters."),
            code="name_too_long",
            params={"name": too_long[0][:30], "max": NAME_MAX_LENGTH},
        )
    validate_no_control_characters(text)


class Survey(models.Model):
    class Kind(models.TextChoices):
        NPS = "nps", _("Net Promoter Score (NPS)")
        CSAT = "csat", _("Customer satisfaction (CSAT)")
        CES = "ces", _("Customer effort score (CES)")
        LOYALTY = "loyalty", _("Loyalty ratio")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        LIVE = "live", _("Live")
        CLOSED = "closed", _("Closed")

    # Which status may follow which; anything else is refused.
    TRANSITIONS = {
        Status.DRAFT: {Status.LIVE},
        Status.LIVE: {Status.CLOSED},
        Status.CLOSED: {Status.LIVE},
    }

    slug = models.CharField(_("slug"), max_length=32, unique=True, default=new_slug, editable=False)
    name = models.CharField(_("name"), max_length=200)
    company = models.CharField(
        _("company"), max_length=200, help_text=_("Used in the wording of the questions.")
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    language = models.CharField(
        _("language"), max_length=2, choices=Language.choices, default=Language.EN
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    touchpoint = models.CharField(
        _("touchpoint"),
        max_length=100,
        blank=True,
        help_text=_("Where customers meet this survey, e.g. after delivery or a support call."),
    )
    followup_window_hours = models.PositiveSmallIntegerField(
        _("follow-up window (hours)"),
        default=24,
        help_text=_("An unhappy customer's case is due this many hours after the answer."),
    )
    resurvey_throttle_days = models.PositiveSmallIntegerField(
        _("re-survey throttle (days)"),
        default=90,
        help_text=_(
            "A customer invited to or answering any survey within this many days is not "
            "invited to this one."
        ),
    )
    reminder_after_days = models.PositiveSmallIntegerField(
        _("reminder after (days)"),
        default=3,
        help_text=_("One reminder to those who have not answered after this many days; 0: none."),
    )
    repeat_every_months = models.PositiveSmallIntegerField(
        _("repeat every (months)"),
        null=True,
        blank=True,
        help_text=_(
            "Invite each customer again when their last invitation to this survey is this "
            "many months old; empty: the survey does not repeat."
        ),
    )
    repeat_segment = models.CharField(
        _("repeat for segment"),
        max_length=100,
        blank=True,
        help_text=_("Only customers of this segment; empty: all customers."),
    )
    new_customer_delay_days = models.PositiveSmallIntegerField(
        _("new customers after (days)"),
        default=14,
        help_text=_(
            "A repeating survey first invites a new customer this many days after they joined."
        ),
    )
    send_window_start = models.TimeField(
        _("send window from"),
        default=time(9),
        help_text=_("Repeating invitations go out on weekdays between these times."),
    )
    send_window_end = models.TimeField(_("send window until"), default=time(11))
    # Anyone can type a touchpoint or channel into the public link: only these (and the
    # survey's own touchpoint, and this site's own channels) get rows of their own in the
    # scores; any other value is counted as OTHER and kept as given in the metadata.
    known_touchpoints = models.TextField(
        _("known touchpoints"),
        blank=True,
        validators=[validate_names],
        help_text=_(
            'One per line, as links give them in ?touchpoint=. Other values count as "other" '
            "in the scores."
        ),
    )
    known_channels = models.TextField(
        _("known channels"),
        blank=True,
        validators=[validate_names],
        help_text=_(
            "One per line, as links give them in ?channel=, besides link, qr and embed. "
            'Other values count as "other" in the scores.'
        ),
    )
    anonymous = models.BooleanField(
        _("anonymous"),
        default=False,
        help_text=_(
            "Answers from then on are not linked to the customer or their invitation, and "
            "keep no reference or other personal detail from the link."
        ),
    )
    keep_free_text_months = models.PositiveSmallIntegerField(
        _("keep comments for (months)"),
        null=True,
        blank=True,
        help_text=_(
            "Comments and the details a link carried are removed from answers older than "
            "this, every night; the scores stay. Empty: kept for good."
        ),
    )
    frame_origins = models.TextField(
        _("may be shown in a frame on"),
        blank=True,
        validators=[validate_origins],
        help_text=_(
            "Sites that may show this survey's public link inside their own page, one per "
            "line, e.g. https://www.example.com. Empty: no site may."
        ),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("survey")
        verbose_name_plural = _("surveys")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(followup_window_hours__gte=1), name="survey_followup_window_positive"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "live", "closed"]), name="survey_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(send_window_start__lt=F("send_window_end")),
                name="survey_send_window_valid",
                violation_error_message=_("The send window must end after it starts."),
            ),
            models.CheckConstraint(
                condition=Q(repeat_every_months__isnull=True) | Q(repeat_every_months__gte=1),
                name="survey_repeat_positive",
                violation_error_message=_("A survey repeats every month at most often."),
            ),
            # Removing comments the night they arrive would take them from the cases that
            # need them.
            models.CheckConstraint(
                condition=Q(keep_free_text_months__isnull=True) | Q(keep_free_text_months__gte=1),
                name="survey_keep_free_text_positive",
                violation_error_message=_(
                    "Keep comments for a month at least, or leave the field empty."
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("surveys:respond", args=[self.slug])

    @property
    def public_url(self) -> str:
        return settings.SITE_URL + self.get_absolute_url()

    @property
    def is_live(self) -> bool:
        return self.status == self.Status.LIVE

    def can_become(self, status: str) -> bool:
        return status == self.status or status in self.TRANSITIONS[self.Status(self.status)]

    def counted_touchpoint(self, given: str) -> str:
        """The touchpoint a response is counted under: its own when the survey knows it."""
        if not given:
            return self.touchpoint
        known = {self.touchpoint, *names(self.known_touchpoints)} - {""}
        return given if given in known else OTHER

    def counted_channel(self, given: str, *, invited: bool) -> str:
        """The channel a response is counted under; a public link never records INVITATION."""
        if not given:
            return INVITATION if invited else LINK_CHANNELS[0]
        known = {*LINK_CHANNELS, *names(self.known_channels)} - {INVITATION}
        if invited:
            known.add(INVITATION)
        return given if given in known else OTHER

    def storable_metadata(self, metadata: Mapping[str, str]) -> dict[str, str]:
        """What a response keeps of its link's metadata: on an anonymous survey only what
        says nothing about who answered."""
        if not self.anonymous:
            return dict(metadata)
        return {key: value for key, value in metadata.items() if key in NON_PERSONAL_METADATA}

    @property
    def frame_ancestors(self) -> list[str]:
        """The origins that may frame the public link (CSP frame-ancestors)."""
        return self.frame_origins.split()


class Question(models.Model):
    class Role(models.TextChoices):
        NPS = "nps", _("Likelihood to recommend (NPS)")
        CSAT = "csat", _("Satisfaction (CSAT)")
        CES = "ces", _("Effort (CES)")
        PURCHASE = "purchase", _("Buy again")
        UPSELL = "upsell", _("Try other products")
        RECOMMEND = "recommend", _("Recommend")
        COMMENT = "comment", _("Comment")

    survey = models.ForeignKey(
        Survey, on_delete=models.CASCADE, related_name="questions", verbose_name=_("survey")
    )
    position = models.PositiveSmallIntegerField(_("position"))
    role = models.CharField(_("role"), max_length=10, choices=Role.choices)
    # Both empty for a free-text question; a yes/no scale is 0 (no) to 1 (yes).
    scale_min = models.PositiveSmallIntegerField(_("lowest value"), null=True, blank=True)
    scale_max = models.PositiveSmallIntegerField(_("highest value"), null=True, blank=True)
    required = models.BooleanField(_("required"), default=True)
    text_en = models.CharField(_("question (English)"), max_length=300)
    text_nl = models.CharField(_("question (Dutch)"), max_length=300)
    low_label_en = models.CharField(_("lowest label (English)"), max_length=60, blank=True)
    low_label_nl = models.CharField(_("lowest label (Dutch)"), max_length=60, blank=True)
    high_label_en = models.CharField(_("highest label (English)"), max_length=60, blank=True)
    high_label_nl = models.CharField(_("highest label (Dutch)"), max_length=60, blank=True)

    class Meta:
        verbose_name = _("question")
        verbose_name_plural = _("questions")
        ordering = ["survey", "position"]
        constraints = [
            models.UniqueConstraint(fields=["survey", "position"], name="question_unique_position"),
            models.UniqueConstraint(fields=["survey", "role"], name="question_unique_role"),
            models.CheckConstraint(
                condition=Q(scale_min__isnull=True, scale_max__isnull=True)
                | Q(scale_min__lt=F("scale_max"), scale_max__lte=10),
                name="question_scale_valid",
            ),
        ]

    def __str__(self) -> str:
        # In the language staff read the admin in.
        return self.text(get_language() or "")

    @property
    def is_scale(self) -> bool:
        return self.scale_min is not None

    @property
    def scale_values(self) -> range:
        """The values a respondent may choose; empty for a free-text question."""
        if self.scale_min is None or self.scale_max is None:
            return range(0)
        return range(self.scale_min, self.scale_max + 1)

    @property
    def is_yes_no(self) -> bool:
        return self.scale_min == 0 and self.scale_max == 1

    def text(self, language: str) -> str:
        return self.text_nl if language == Language.NL else self.text_en

    def low_label(self, language: str) -> str:
        return self.low_label_nl if language == Language.NL else self.low_label_en

    def high_label(self, language: str) -> str:
        return self.high_label_nl if language == Language.NL else self.high_label_en


class Customer(models.Model):
    ref = models.CharField(
        _("reference"), max_length=100, blank=True, help_text=_("Your own customer number.")
    )
    email = models.EmailField(_("email"), blank=True)
    name = models.CharField(_("name"), max_length=200, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    segment = models.CharField(_("segment"), max_length=100, blank=True)
    language = models.CharField(_("language"), max_length=2, choices=Language.choices, blank=True)
    customer_since = models.DateField(_("customer since"), null=True, blank=True)
    customer_until = models.DateField(_("customer until"), null=True, blank=True)
    # Set once by the customer's unsubscribe: no survey email ever again.
    opted_out_at = models.DateTimeField(_("opted out at"), null=True, blank=True)
    # Set by a permanent failure at the mail server; cleared when staff correct the email.
    bouncing_since = models.DateTimeField(_("email bouncing since"), null=True, blank=True)
    # Set when the customer's personal data was erased (metrics.privacy): the row stays,
    # without anything that says who they are, so their orders and scores still count.
    erased_at = models.DateTimeField(_("erased at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["name", "email"]
        constraints = [
            models.UniqueConstraint(
                fields=["ref"], condition=~Q(ref=""), name="customer_unique_ref"
            ),
            models.CheckConstraint(
                condition=Q(customer_until__isnull=True)
                | Q(customer_since__isnull=True)
                | Q(customer_until__gte=F("customer_since")),
                name="customer_until_after_since",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.email or self.ref or f"#{self.pk}"


class Mailing(models.Model):
    """One send of a survey: the invitations made together, by staff or the schedule."""

    class Source(models.TextChoices):
        STAFF = "staff", _("Sent by staff")
        SCHEDULE = "schedule", _("Repeating schedule")

    survey = models.ForeignKey(
        Survey, on_delete=models.CASCADE, related_name="mailings", verbose_name=_("survey")
    )
    source = models.CharField(
        _("source"), max_length=10, choices=Source.choices, default=Source.STAFF
    )
    segment = models.CharField(_("segment"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("send")
        verbose_name_plural = _("sends")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.survey} · {self.created_at:%Y-%m-%d %H:%M}"


class Invitation(models.Model):
    survey = models.ForeignKey(
        Survey, on_delete=models.CASCADE, related_name="invitations", verbose_name=_("survey")
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="invitations", verbose_name=_("customer")
    )
    mailing = models.ForeignKey(
        Mailing,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="invitations",
        verbose_name=_("send"),
    )
    token = models.CharField(
        _("token"), max_length=40, unique=True, default=new_token, editable=False
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    reminded_at = models.DateTimeField(_("reminded at"), null=True, blank=True)
    responded_at = models.DateTimeField(_("responded at"), null=True, blank=True)
    # What the system that asked for the invitation said about it (touchpoint, channel,
    # order ref): the response keeps it, as a public link's parameters.
    metadata = models.JSONField(_("metadata"), default=dict, blank=True)

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["customer", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.survey} → {self.customer}"

    def get_absolute_url(self) -> str:
        return reverse("surveys:respond_invitation", args=[self.token])

    @property
    def url(self) -> str:
        return settings.SITE_URL + self.get_absolute_url()

    @property
    def unsubscribe_url(self) -> str:
        return settings.SITE_URL + reverse("surveys:unsubscribe", args=[self.token])


class Response(models.Model):
    # No index of its own: the (survey, submitted_at) index serves lookups by survey.
    survey = models.ForeignKey(
        Survey,
        on_delete=models.CASCADE,
        related_name="responses",
        verbose_name=_("survey"),
        db_index=False,
    )
    invitation = models.OneToOneField(
        Invitation,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="response",
        verbose_name=_("invitation"),
    )
    customer = models.ForeignKey(
        Customer,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="responses",
        verbose_name=_("customer"),
    )
    submitted_at = models.DateTimeField(_("submitted at"))
    language = models.CharField(_("language"), max_length=2, choices=Language.choices)
    touchpoint = models.CharField(_("touchpoint"), max_length=100, blank=True)
    channel = models.CharField(_("channel"), max_length=100, blank=True)
    # The customer's segment when they answered: scores by segment keep their history
    # when a customer moves to another segment.
    segment = models.CharField(_("segment"), max_length=100, blank=True)
    metadata = models.JSONField(_("metadata"), default=dict, blank=True)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    # Who answered a public link, as far as telling bursts apart needs: a keyed hash of
    # address and browser whose key changes daily (surveys.clients.fingerprint), never
    # the address itself. Empty for personal invitations, which say who answered.
    fingerprint = models.CharField(_("fingerprint"), max_length=64, blank=True)
    # Set by staff to take a burst out of the scores; cleared to count it again.
    excluded_at = models.DateTimeField(_("excluded from scores at"), null=True, blank=True)

    class Meta:
        verbose_name = _("response")
        verbose_name_plural = _("responses")
        ordering = ["-submitted_at"]
        indexes = [
            models.Index(fields=["survey", "submitted_at"]),
            models.Index(
                fields=["submitted_at"],
                condition=Q(processed_at__isnull=True),
                name="response_unprocessed",
            ),
            models.Index(
                fields=["survey", "fingerprint"],
                condition=~Q(fingerprint=""),
                name="response_fingerprint",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.survey} · {self.submitted_at:%Y-%m-%d %H:%M}"

    @property
    def touchpoint_shown(self) -> str:
        """The touchpoint as the link gave it, else as it is counted (shown_name)."""
        return self.metadata.get("touchpoint") or shown_name(self.touchpoint)

    @property
    def channel_shown(self) -> str:
        return self.metadata.get("channel") or shown_name(self.channel)


class Answer(models.Model):
    # No index of its own: the unique (response, question) constraint's index serves it.
    response = models.ForeignKey(
        Response,
        on_delete=models.CASCADE,
        related_name="answers",
        verbose_name=_("response"),
        db_index=False,
    )
    question = models.ForeignKey(
        Question, on_delete=models.CASCADE, related_name="answers", verbose_name=_("question")
    )
    value = models.SmallIntegerField(_("value"), null=True, blank=True)
    text = models.TextField(_("text"), blank=True, max_length=COMMENT_MAX_LENGTH)

    class Meta:
        verbose_name = _("answer")
        verbose_name_plural = _("answers")
        constraints = [
            models.UniqueConstraint(
                fields=["response", "question"], name="answer_one_per_question"
            ),
            # Exactly one of value and text; the value's range against the question's
            # scale is enforced by a trigger (migration 0002), as it spans two tables.
            models.CheckConstraint(
                condition=Q(value__isnull=False, text="") | (Q(value__isnull=True) & ~Q(text="")),
                name="answer_value_or_text",
            ),
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("text"), COMMENT_MAX_LENGTH),
                name="answer_text_length",
            ),
        ]

    def __str__(self) -> str:
        return str(self.value) if self.value is not None else self.text[:50]


class CustomerImport(models.Model):
    """A CSV of customers uploaded in the admin, imported by a worker, with its report."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Waiting")
        RUNNING = "running", _("Importing")
        DONE = "done", _("Done")
        REFUSED = "refused", _("Refused")

    file_name = models.CharField(_("file"), max_length=200)
    data = models.BinaryField(_("data"))
    # The uploader's language, for the reasons given in the report.
    language = models.CharField(_("language"), max_length=2, default=Language.EN)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    rows = models.PositiveIntegerField(_("rows"), default=0)
    rows_done = models.PositiveIntegerField(_("rows checked"), default=0)
    created = models.PositiveIntegerField(_("created"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    refused = models.PositiveIntegerField(_("refused"), default=0)
    # Why the whole file was refused, or the refused rows: [{line, column, reason}].
    message = models.TextField(_("message"), blank=True)
    problems = models.JSONField(_("refused rows"), default=list, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("customer import")
        verbose_name_plural = _("customer imports")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.file_name

    @property
    def percent_done(self) -> int:
        return 100 * self.rows_done // self.rows if self.rows else 0


class ApiKey(models.Model):
    """A key with which another system (a shop, a CRM) uses the REST API.

    The key is shown once, when it is made; only its SHA-256 is kept (surveys.api_keys).
    """

    class Scope(models.TextChoices):
        READ = "read", _("Read")
        WRITE = "write", _("Write")
        SEND = "send", _("Send surveys")

    name = models.CharField(_("name"), max_length=100)
    # The key's first part, shown in lists so people can tell keys apart.
    prefix = models.CharField(_("prefix"), max_length=12, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(_("scopes"), default=list)
    survey = models.ForeignKey(
        Survey,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="api_keys",
        verbose_name=_("only for survey"),
        help_text=_("Empty: every survey."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def allows(self, scope: str) -> bool:
        return scope in self.scopes
