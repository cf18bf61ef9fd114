"""Follow-up cases: opened for unhappy answers, worked by the support team.

Every step an agent takes is a FollowUpNote with who and when.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from metrics import emails, webhooks
from metrics.models import FollowUp, FollowUpNote, FollowUpRule, Notification, StaffAction
from metrics.notifications import notify_channels, notify_person
from metrics.scores import KEY_ROLE, default_threshold, tone
from metrics.staff_actions import acting, record_staff_action
from surveys.models import Answer, Question, Response, Survey

REASONS = {
    "nps": FollowUp.Reason.DETRACTOR,
    "csat": FollowUp.Reason.DISSATISFIED,
    "ces": FollowUp.Reason.HIGH_EFFORT,
    "loyalty": FollowUp.Reason.NOT_RECOMMENDING,
}
# The same reply to the same case within this time is taken for a double click.
DOUBLE_SEND = timedelta(minutes=1)
# Reminders go out when this little time is left before a case is due.
REMIND_BEFORE = timedelta(hours=4)

Status = FollowUp.Status
Kind = FollowUpNote.Kind
Action = StaffAction.Action
# The staff action each kind of logged contact or note is recorded as.
CONTACT_ACTIONS: dict[str, str] = {
    Kind.PHONE: Action.CASE_CONTACTED,
    Kind.EMAIL: Action.CASE_CONTACTED,
    Kind.NOTE: Action.CASE_NOTE,
    Kind.REPLY: Action.CASE_REPLIED,
}


RULE_FIELDS = FollowUpRule._meta.concrete_fields
# A survey and its rule's fields, as rule_<name>; NULL where it has no rule.
SURVEY_WITH_RULE = f"""
SELECT s.*, {", ".join(f"r.{field.column} AS rule_{field.attname}" for field in RULE_FIELDS)}
  FROM {Survey._meta.db_table} s
  LEFT JOIN {FollowUpRule._meta.db_table} r ON r.survey_id = s.id
 WHERE s.id = %s"""  # noqa: S608


def survey_with_rule(survey_id: int) -> Survey:
    """The survey with its follow-up rule, or the lack of one, known to rule_for: what
    select_related("followup_rule") gives, at a third of its cost for each response a
    worker processes."""
    (survey,) = Survey.objects.raw(SURVEY_WITH_RULE, [survey_id])
    if getattr(survey, "rule_id") is None:  # noqa: B009 - a column of the raw query
        Survey.followup_rule.related.set_cached_value(survey, None)
    else:
        names = [field.attname for field in RULE_FIELDS]
        values = [
            field.to_python(getattr(survey, f"rule_{name}"))
            for field, name in zip(RULE_FIELDS, names, strict=True)
        ]
        survey.followup_rule = FollowUpRule.from_db(survey._state.db, names, values)
    return survey


def rule_for(survey: Survey, yes_no: bool) -> FollowUpRule:
    """The survey's rule, or the default one (not saved) where staff set none."""
    # The reverse one-to-one raises an AttributeError subclass when there is no rule.
    rule = getattr(survey, "followup_rule", None)
    return rule or FollowUpRule(survey=survey, threshold=default_threshold(survey.kind, yes_no))


# What after_answers and the rollups need of each answer of a response, in one plain
# query: (question id, role, scale maximum, value, text).
ANSWERS = f"""
SELECT a.question_id, q.role, q.scale_max, a.value, a.text
  FROM {Answer._meta.db_table} a JOIN {Question._meta.db_table} q ON q.id = a.question_id
 WHERE a.response_id = %s"""  # noqa: S608


def answers_of(response_id: int) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(ANSWERS, [response_id])
        return cursor.fetchall()


def after_answers(*, response: Response, answers: Sequence[tuple[Any, ...]]) -> FollowUp | None:
    """after_answer for a response's answers as answers_of reads them."""
    key_role = KEY_ROLE[response.survey.kind]
    key = next((a for a in answers if a[1] == key_role), None)
    return after_answer(
        response=response,
        key_value=key[3] if key else None,
        yes_no=key is not None and key[2] == 1,
        comment=next((a[4] for a in answers if a[1] == Question.Role.COMMENT), ""),
    )


def after_answer(
    *, response: Response, key_value: int | None, yes_no: bool, comment: str
) -> FollowUp | None:
    """What follows a processed response: a case when unhappy, thanks when a promoter.

    Runs inside the processing transaction, so it happens exactly once per response.
    """
    if key_value is None:
        return None
    rule = rule_for(response.survey, yes_no)
    happy = tone(response.survey.kind, key_value, yes_no) == "good"
    if rule.thank_promoters and happy and response.customer:
        _thank(response, rule.review_url)
    if not rule.enabled or key_value > rule.threshold:
        return None
    survey = response.survey
    followup = FollowUp.objects.create(
        response=response,
        survey=survey,
        reason=REASONS[survey.kind],
        score=key_value,
        comment=comment,
        due_at=response.submitted_at + timedelta(hours=survey.followup_window_hours),
    )
    FollowUpNote.objects.create(followup=followup, kind=Kind.OPENED)
    notify_channels(followup, Notification.Kind.NEW_CASE)
    webhooks.emit(Notification.Kind.FOLLOWUP_OPENED, surveys=[survey.pk], followup=followup)
    return followup


def _thank(response: Response, review_url: str) -> None:
    customer = response.customer
    if customer is None or not customer.email:
        return
    context = {"customer": customer, "survey": response.survey, "review_url": review_url}
    subject, body = emails.render("thank-you", context, response.language)
    notify_person(
        kind=Notification.Kind.THANK_YOU,
        to=customer.email,
        subject=subject,
        body=body,
        language=response.language,
    )


class CaseResolved(Exception):
    """The step makes no sense on a resolved case."""


class CaseOpen(Exception):
    """The step makes sense only on a resolved case."""


def _note(followup: FollowUp, by: Any, kind: str, text: str = "") -> FollowUpNote:
    return FollowUpNote.objects.create(
        followup=followup,
        author=by,
        author_name="" if by else acting()[:150],
        kind=kind,
        text=text,
    )


def _lock(followup: FollowUp, *, open_only: bool = True) -> FollowUp:
    """The case as it is now, locked until the transaction ends, so two agents acting at
    once take turns instead of overwriting each other."""
    current = FollowUp.objects.select_for_update().get(pk=followup.pk)
    if open_only and current.status == Status.RESOLVED:
        raise CaseResolved(followup.pk)
    return current


@transaction.atomic
def assign(*, followup: FollowUp, to: Any, by: Any) -> None:
    followup = _lock(followup)
    followup.assignee = to
    followup.save(update_fields=["assignee"])
    _note(followup, by, Kind.ASSIGNED, to.get_username() if to else "")
    record_staff_action(
        by=by, action=Action.CASE_ASSIGNED, target=followup, detail=to.get_username() if to else ""
    )


@transaction.atomic
def start(*, followup: FollowUp, by: Any) -> None:
    followup = _lock(followup)
    if followup.assignee is None and by is not None:
        assign(followup=followup, to=by, by=by)
    if followup.status == Status.NEW:
        followup.status = Status.IN_PROGRESS
        followup.save(update_fields=["status"])
    _note(followup, by, Kind.STARTED)
    record_staff_action(by=by, action=Action.CASE_STARTED, target=followup)


@transaction.atomic
def log_contact(*, followup: FollowUp, by: Any, kind: str, text: str) -> None:
    """A phone call or email with the customer (it counts as contact), or an internal note.

    Notes may be added to a resolved case; contacts do not reopen it.
    """
    followup = _lock(followup, open_only=False)
    _note(followup, by, kind, text)
    record_staff_action(by=by, action=CONTACT_ACTIONS[kind], target=followup)
    if kind == Kind.NOTE:
        return
    if followup.first_contact_at is None:
        followup.first_contact_at = timezone.now()
    if followup.status != Status.RESOLVED:
        followup.status = Status.CONTACTED
    followup.save(update_fields=["first_contact_at", "status"])


@transaction.atomic
def reply(*, followup: FollowUp, by: Any, subject: str, body: str) -> Notification:
    """Email the customer (text as edited by the agent) and count it as contact.

    The customer's answer goes to SUPPORT_REPLY_TO when it is set, else to the agent.
    """
    followup = _lock(followup)
    response = followup.response
    customer = response.customer
    if customer is None or not customer.email:
        raise ValueError(_("This customer left no email address."))
    # A double click sends the same reply twice within moments: send it once.
    same = followup.notifications.filter(
        kind=Notification.Kind.REPLY,
        subject=subject,
        body=body,
        created_at__gte=timezone.now() - DOUBLE_SEND,
    ).first()
    if same is not None:
        return same
    notification = notify_person(
        kind=Notification.Kind.REPLY,
        to=customer.email,
        subject=subject,
        body=body,
        language=response.language,
        followup=followup,
        reply_to=settings.SUPPORT_REPLY_TO or by.email,
    )
    log_contact(followup=followup, by=by, kind=Kind.REPLY, text=f"{subject}\n\n{body}")
    return notification


@transaction.atomic
def resolve(*, followup: FollowUp, by: Any, resolution: str) -> None:
    followup = _lock(followup)
    followup.status = Status.RESOLVED
    followup.resolved_at = timezone.now()
    followup.resolution = resolution
    followup.save(update_fields=["status", "resolved_at", "resolution"])
    _note(followup, by, Kind.RESOLVED, resolution)
    _resolved(followup)
    record_staff_action(by=by, action=Action.CASE_RESOLVED, target=followup)


@transaction.atomic
def reopen(*, followup: FollowUp, by: Any, note: str) -> None:
    """Work on a resolved case again: in progress, no longer resolved; the note says why."""
    followup = _lock(followup, open_only=False)
    if followup.status != Status.RESOLVED:
        raise CaseOpen(followup.pk)
    followup.status = Status.IN_PROGRESS
    followup.resolved_at = None
    followup.resolution = ""
    followup.save(update_fields=["status", "resolved_at", "resolution"])
    _note(followup, by, Kind.REOPENED, note)
    record_staff_action(by=by, action=Action.CASE_REOPENED, target=followup)


@transaction.atomic
def set_aside(*, response_ids: Sequence[int], excluded: bool) -> int:
    """The cases of answers taken out of the scores as a burst from one client are
    resolved (there is no customer to call back), with a note; when the answers count
    again, the cases resolved that way are reopened. Returns the cases changed."""
    cases = FollowUp.objects.filter(response_id__in=response_ids).select_for_update()
    set_aside_before = _set_aside(response_ids)
    # Resolved already or not, such a case is no one to call back: out of the SLA report.
    cases.update(set_aside=excluded)
    changed = 0
    for case in cases.order_by("pk"):
        if excluded and case.status != Status.RESOLVED:
            case.status = Status.RESOLVED
            case.resolved_at = timezone.now()
            case.resolution = ""  # the case page says why, in the reader's language
            case.save(update_fields=["status", "resolved_at", "resolution"])
            _note(case, None, Kind.EXCLUDED)
            _resolved(case)
        elif not excluded and case.status == Status.RESOLVED and case.pk in set_aside_before:
            case.status = Status.IN_PROGRESS
            case.resolved_at = None
            case.resolution = ""
            case.save(update_fields=["status", "resolved_at", "resolution"])
            _note(case, None, Kind.INCLUDED)
        else:
            continue
        changed += 1
    return changed


def _resolved(followup: FollowUp) -> None:
    webhooks.emit(
        Notification.Kind.FOLLOWUP_RESOLVED, surveys=[followup.survey_id], followup=followup
    )


def _set_aside(response_ids: Sequence[int]) -> set[int]:
    """The cases of these answers that were last resolved because the answer was excluded."""
    steps = FollowUpNote.objects.filter(
        followup__response_id__in=response_ids,
        kind__in=[Kind.RESOLVED, Kind.EXCLUDED, Kind.REOPENED],
    )
    last = dict(steps.order_by("created_at", "pk").values_list("followup_id", "kind"))
    return {pk for pk, kind in last.items() if kind == Kind.EXCLUDED}


def reply_draft(followup: FollowUp) -> tuple[str, str]:
    """The templated reply, in the customer's language, for the agent to edit."""
    response = followup.response
    context = {"followup": followup, "customer": response.customer, "survey": followup.survey}
    return emails.render("reply", context, response.language)


def escalate_overdue(now: datetime | None = None) -> int:
    """Mark past-due cases nobody contacted as escalated, once, and tell the contacts."""
    now = now or timezone.now()
    overdue = FollowUp.objects.filter(
        due_at__lt=now, first_contact_at=None, escalated_at=None
    ).exclude(status=Status.RESOLVED)
    count = 0
    for pk in overdue.values_list("pk", flat=True):
        with transaction.atomic():
            # The claim makes a second scheduler run, or a racing one, a no-op.
            if not FollowUp.objects.filter(pk=pk, escalated_at=None).update(escalated_at=now):
                continue
            followup = FollowUp.objects.select_related("survey").get(pk=pk)
            _note(followup, None, Kind.ESCALATED)
            notify_channels(followup, Notification.Kind.ESCALATION)
            webhooks.emit(
                Notification.Kind.FOLLOWUP_ESCALATED,
                surveys=[followup.survey_id],
                followup=followup,
            )
            count += 1
    return count


def remind_due_soon(now: datetime | None = None) -> int:
    """Remind each assignee once when a case they hold has four hours or less left."""
    now = now or timezone.now()
    due_soon = FollowUp.objects.filter(
        due_at__gte=now,
        due_at__lte=now + REMIND_BEFORE,
        first_contact_at=None,
        reminded_at=None,
        assignee__isnull=False,
    ).exclude(status=Status.RESOLVED)
    count = 0
    for pk in due_soon.values_list("pk", flat=True):
        with transaction.atomic():
            if not FollowUp.objects.filter(pk=pk, reminded_at=None).update(reminded_at=now):
                continue
            followup = FollowUp.objects.select_related("assignee", "survey").get(pk=pk)
            if followup.assignee and followup.assignee.email:
                _email_staff(followup.assignee, "reminder", {"followup": followup}, followup)
            _note(followup, None, Kind.REMINDED)
            count += 1
    return count


def send_digests(agents: Sequence[Any], now: datetime | None = None) -> int:
    """Email each agent their open and overdue cases; returns how many were written."""
    now = now or timezone.now()
    sent = 0
    for agent in agents:
        open_cases = list(
            FollowUp.objects.filter(assignee=agent)
            .exclude(status=Status.RESOLVED)
            .select_related("survey")
            .prefetch_related("survey__questions")
            .order_by("due_at")
        )
        if not open_cases or not agent.email:
            continue
        overdue = [case for case in open_cases if case.due_at < now]
        _email_staff(agent, "digest", {"cases": open_cases, "overdue": overdue, "agent": agent})
        sent += 1
    return sent


def _email_staff(
    user: Any, name: str, context: dict[str, Any], followup: FollowUp | None = None
) -> None:
    context = {**context, "site_url": settings.SITE_URL}
    subject, body = emails.render(name, context, settings.LANGUAGE_CODE)
    notify_person(
        kind={"reminder": Notification.Kind.REMINDER, "digest": Notification.Kind.DIGEST}[name],
        to=user.email,
        subject=subject,
        body=body,
        language=settings.LANGUAGE_CODE,
        followup=followup,
    )
