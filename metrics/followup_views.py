"""The support team's follow-up queue and case pages.

The queue is filtered by GET parameters that combine; the count next to each filter
option is what the list would hold with that option chosen and the other filters kept,
added up from the number of cases per combination of what the filters select by
(metrics.queue_counts keeps those, so a view does not count every case). A case page
shows everything about the case, and each action on it is a POST-only view that
validates a small form (metrics/forms.py), calls one service of metrics.followups and
redirects back to the case.
"""

import json
import operator
from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from typing import Any, cast
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.timesince import timesince, timeuntil
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_safe

from metrics import followups, queue_counts
from metrics.access import dashboard_view
from metrics.forms import (
    AssignForm,
    ContactForm,
    QueueSearchForm,
    ReopenForm,
    ReplyForm,
    ResolveForm,
    StartForm,
    person,
)
from metrics.models import FollowUp, FollowUpNote
from surveys.models import Survey

PER_PAGE = 25
DUE_SOON = queue_counts.DUE_SOON
OPEN = queue_counts.OPEN
# What the queue's filter options select by: the case's own columns and the due buckets.
FACET_COLUMNS = ("status", "survey_id", "reason", "assignee_id", "overdue", "soon")
Kind = FollowUpNote.Kind
FACET_LABELS = {
    "status": gettext_lazy("Status"),
    "when": gettext_lazy("Due"),
    "who": gettext_lazy("Assignee"),
    "survey": gettext_lazy("Survey"),
    "reason": gettext_lazy("Reason"),
}


@dataclass(frozen=True)
class Option:
    value: str  # "" is the facet's default
    label: str
    count: int
    selected: bool


@dataclass(frozen=True)
class Facet:
    name: str  # the GET parameter
    label: str
    options: list[Option]


@dataclass(frozen=True)
class Due:
    """When a case is due, as people read it, and whether that is a problem."""

    at: datetime
    text: str  # "in 3 hours", "2 hours ago"
    overdue: bool
    soon: bool
    escalated: bool  # open, and its escalation contacts were told nobody had called


@dataclass(frozen=True)
class Row:
    case: FollowUp
    due: Due


@dataclass(frozen=True)
class AnswerRow:
    question: str
    value: str  # empty for a text answer
    text: str


def relative(moment: datetime, now: datetime, depth: int = 1) -> str:
    if moment >= now:
        return _("in %(time)s") % {"time": timeuntil(moment, now, depth=depth)}
    return _("%(time)s ago") % {"time": timesince(moment, now, depth=depth)}


def due(case: FollowUp, now: datetime, depth: int = 1) -> Due:
    is_open = case.status != FollowUp.Status.RESOLVED
    return Due(
        at=case.due_at,
        text=relative(case.due_at, now, depth),
        overdue=is_open and case.due_at < now,
        soon=is_open and now <= case.due_at <= now + DUE_SOON,
        escalated=is_open and case.escalated_at is not None,
    )


def _facet_options(request: HttpRequest, now: datetime) -> dict[str, dict[str, tuple[str, Q]]]:
    """Per GET parameter, its values: each with a label and the cases it selects, by
    FACET_COLUMNS only and with exact and `in` lookups only (`_holds` tests them on the
    counted groups)."""
    surveys = Survey.objects.filter(pk__in=FollowUp.objects.values("survey_id")).order_by(
        "name", "pk"
    )
    statuses = {s.value: (str(s.label), Q(status=s)) for s in FollowUp.Status}
    return {
        "status": {"": (_("Open"), OPEN), **statuses, "all": (_("All"), Q())},
        "when": {
            "": (_("Any time"), Q()),
            "overdue": (_("Overdue"), OPEN & Q(overdue=True)),
            "soon": (_("Due soon"), OPEN & Q(soon=True)),
        },
        "who": {
            "": (_("Anyone"), Q()),
            "mine": (_("Mine"), Q(assignee_id=request.user.pk)),
            "unassigned": (_("Unassigned"), Q(assignee_id=None)),
        },
        "survey": {
            "": (_("All surveys"), Q()),
            **{str(pk): (name, Q(survey_id=pk)) for pk, name in surveys.values_list("pk", "name")},
        },
        "reason": {
            "": (_("All reasons"), Q()),
            **{r.value: (str(r.label), Q(reason=r)) for r in FollowUp.Reason},
        },
    }


def _search(words: str) -> Q:
    """Cases of a customer found by name, email or reference, as when one calls in."""
    if not words:
        return Q()
    return (
        Q(response__customer__name__icontains=words)
        | Q(response__customer__email__icontains=words)
        | Q(response__customer__ref__iexact=words)
    )


def _all(conditions: list[Q]) -> Q:
    return reduce(operator.and_, conditions, Q())


def _groups(now: datetime, search: Q, words: str) -> list[dict[str, Any]]:
    """The cases per combination of FACET_COLUMNS, with their number as `cases`: from
    the stored counts (metrics.queue_counts), or counted among the cases a search found."""
    if not words:
        return queue_counts.groups(now)
    found = FollowUp.objects.filter(search).annotate(**queue_counts.due_buckets(now))
    return list(found.values(*FACET_COLUMNS).annotate(cases=Count("pk")).order_by())


def _facets(
    options: dict[str, dict[str, tuple[str, Q]]],
    chosen: dict[str, str],
    groups: list[dict[str, Any]],
) -> list[Facet]:
    """Each option's count with the other facets' choices kept: the groups of cases it
    selects, added up. Each group is tested once against each facet's choice; the groups
    the other facets keep are summed by the few columns this facet's options test, and
    each option tests those sums, so the work grows with the groups, not with groups
    times options."""
    meets = {
        name: [_holds(options[name][chosen[name]][1], group) for group in groups]
        for name in options
    }
    facets = []
    for name, values in options.items():
        columns = sorted({column for _label, q in values.values() for column in _columns(q)})
        kept: dict[tuple[Any, ...], int] = {}
        for i, group in enumerate(groups):
            if all(meets[other][i] for other in options if other != name):
                key = tuple(group[column] for column in columns)
                kept[key] = kept.get(key, 0) + group["cases"]
        sums = [(dict(zip(columns, key, strict=True)), cases) for key, cases in kept.items()]
        facets.append(
            Facet(
                name=name,
                label=str(FACET_LABELS[name]),
                options=[
                    Option(
                        value,
                        label,
                        sum(cases for values_, cases in sums if _holds(condition, values_)),
                        value == chosen[name],
                    )
                    for value, (label, condition) in values.items()
                ],
            )
        )
    return facets


def _columns(condition: Q) -> set[str]:
    """The columns a filter option's condition tests."""
    found: set[str] = set()
    for child in condition.children:
        if isinstance(child, Q):
            found |= _columns(child)
        else:
            found.add(cast(tuple[str, Any], child)[0].partition("__")[0])
    return found


def _holds(condition: Q, group: dict[str, Any]) -> bool:
    """Whether a group of cases (the values of FACET_COLUMNS) meets a filter option's
    condition, as the database would find: exact and `in` lookups, AND, OR and NOT."""
    results = []
    for child in condition.children:
        if isinstance(child, Q):
            results.append(_holds(child, group))
            continue
        lookup, value = cast(tuple[str, Any], child)
        column, _, kind = lookup.partition("__")
        if kind == "in":
            results.append(group[column] in value)
        elif not kind:
            results.append(group[column] == value if value is not None else group[column] is None)
        else:
            raise ValueError(f"The queue's counts do not know the lookup {lookup!r}.")
    met = all(results) if condition.connector == Q.AND else any(results)
    return met != condition.negated


@require_safe
@dashboard_view
def queue(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    options = _facet_options(request, now)
    # An unknown value (a survey without cases, a typo) falls back to the default.
    chosen = {name: request.GET.get(name, "") for name in options}
    chosen = {name: value if value in options[name] else "" for name, value in chosen.items()}
    search_form = QueueSearchForm(request.GET)
    words = search_form.words
    search = _search(words)
    cases = (
        FollowUp.objects.filter(search)
        .alias(**queue_counts.due_buckets(now))
        .filter(*[options[name][value][1] for name, value in chosen.items()])
        .select_related("survey", "assignee", "response__customer")
        .prefetch_related("survey__questions")
        .order_by("due_at", "pk")
    )
    facets = _facets(options, chosen, _groups(now, search, words))
    # The list counts itself: the stored counts must never hide a case from it.
    paginator = Paginator(cases, PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    context = {
        "facets": facets,
        "search": words,
        "search_errors": search_form.errors.get("q", []),
        "filtered": any(chosen.values()) or bool(words),
        "filter_query": urlencode(
            {name: value for name, value in {**chosen, "q": words}.items() if value}
        ),
        "page": page,
        "page_numbers": page.paginator.get_elided_page_range(page.number),
        "rows": [Row(case, due(case, now)) for case in page],
    }
    return render(request, "metrics/queue.html", context)


def _case(pk: int) -> FollowUp:
    return get_object_or_404(
        FollowUp.objects.select_related("survey", "assignee", "response__customer"), pk=pk
    )


def _answers(case: FollowUp) -> list[AnswerRow]:
    language = case.response.language
    rows = []
    for answer in case.response.answers.select_related("question").order_by("question__position"):
        question = answer.question
        value = ""
        if answer.value is not None:
            if question.is_yes_no:
                value = _("Yes") if answer.value else _("No")
            else:
                value = f"{answer.value} ({question.scale_min}\u2013{question.scale_max})"
        rows.append(AnswerRow(question.text(language), value, answer.text))
    return rows


def _metadata(case: FollowUp) -> list[tuple[str, str]]:
    metadata = case.response.metadata
    if not isinstance(metadata, dict):
        return [("", json.dumps(metadata, ensure_ascii=False))]
    return [
        (str(key), value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
        for key, value in sorted(metadata.items())
    ]


def _case_page(
    request: HttpRequest, case: FollowUp, status: int = 200, **bound: Any
) -> HttpResponse:
    """The case page; `bound` holds the form that failed validation, shown with its errors.

    An open case offers every step; a resolved one only notes and reopening. A refused
    step whose form the page does not show has its reasons shown on their own.
    """
    resolved = case.status == FollowUp.Status.RESOLVED
    if resolved:
        forms = {
            "reopen_form": ReopenForm(followup=case),
            "contact_form": ContactForm(followup=case),
        }
    else:
        forms = {
            "assign_form": AssignForm(followup=case),
            "start_form": StartForm(followup=case),
            "contact_form": ContactForm(followup=case),
            "reply_form": ReplyForm(followup=case),
            "resolve_form": ResolveForm(followup=case),
        }
    refusals = [
        error
        for name, form in bound.items()
        if name not in forms
        for error in form.non_field_errors()
    ]
    notes = list(case.notes.select_related("author"))
    # The step that resolved the case: an agent's, or its answer's exclusion with a burst.
    resolving = next((n for n in reversed(notes) if n.kind in (Kind.RESOLVED, Kind.EXCLUDED)), None)
    context = {
        "case": case,
        "response": case.response,
        "customer": case.response.customer,
        "due": due(case, timezone.now(), depth=2),
        "answers": _answers(case),
        "metadata": _metadata(case),
        "notes": notes,
        "resolved_by": resolving.author if resolving else None,
        "set_aside": resolving is not None and resolving.kind == Kind.EXCLUDED,
        "notifications": case.notifications.select_related("channel").order_by("created_at"),
        "assignee_name": person(case.assignee) if case.assignee else "",
        "refusals": refusals,
        **forms,
        **{name: form for name, form in bound.items() if name in forms},
    }
    return render(request, "metrics/followup.html", context, status=status)


@require_safe
@dashboard_view
def followup_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _case_page(request, _case(pk))


def _done(request: HttpRequest, case: FollowUp, message: str) -> HttpResponse:
    messages.success(request, message)
    return redirect("metrics:followup", case.pk)


def _resolved_meanwhile(request: HttpRequest, case: FollowUp) -> HttpResponse:
    """A colleague resolved the case between the page and this click: nothing changed."""
    messages.warning(request, _("This case is resolved already."))
    return redirect("metrics:followup", case.pk)


@require_POST
@dashboard_view
def followup_assign(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(pk)
    form = AssignForm(request.POST, followup=case)
    if not form.is_valid():
        return _case_page(request, case, 400, assign_form=form)
    to = form.cleaned_data["assignee"]
    try:
        followups.assign(followup=case, to=to, by=request.user)
    except followups.CaseResolved:
        return _resolved_meanwhile(request, case)
    if to.pk == request.user.pk:
        return _done(request, case, _("Assigned to you."))
    return _done(request, case, _("Assigned to %(name)s.") % {"name": person(to)})


@require_POST
@dashboard_view
def followup_start(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(pk)
    form = StartForm(request.POST, followup=case)
    if not form.is_valid():
        return _case_page(request, case, 400, start_form=form)
    try:
        followups.start(followup=case, by=request.user)
    except followups.CaseResolved:
        return _resolved_meanwhile(request, case)
    return _done(request, case, _("Case started."))


@require_POST
@dashboard_view
def followup_contact(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(pk)
    form = ContactForm(request.POST, followup=case)
    if not form.is_valid():
        return _case_page(request, case, 400, contact_form=form)
    kind = form.cleaned_data["kind"]
    followups.log_contact(followup=case, by=request.user, kind=kind, text=form.cleaned_data["text"])
    if kind == FollowUpNote.Kind.NOTE:
        return _done(request, case, _("Note added."))
    return _done(request, case, _("Contact logged."))


@require_POST
@dashboard_view
def followup_reply(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(pk)
    form = ReplyForm(request.POST, followup=case)
    if not form.is_valid():
        return _case_page(request, case, 400, reply_form=form)
    try:
        notification = followups.reply(
            followup=case,
            by=request.user,
            subject=form.cleaned_data["subject"],
            body=form.cleaned_data["body"],
        )
    except followups.CaseResolved:
        return _resolved_meanwhile(request, case)
    return _done(request, case, _("Reply sent to %(email)s.") % {"email": notification.recipient})


@require_POST
@dashboard_view
def followup_resolve(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(pk)
    form = ResolveForm(request.POST, followup=case)
    if not form.is_valid():
        return _case_page(request, case, 400, resolve_form=form)
    try:
        followups.resolve(
            followup=case, by=request.user, resolution=form.cleaned_data["resolution"]
        )
    except followups.CaseResolved:
        return _resolved_meanwhile(request, case)
    return _done(request, case, _("Case resolved."))


@require_POST
@dashboard_view
def followup_reopen(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(pk)
    form = ReopenForm(request.POST, followup=case)
    if not form.is_valid():
        return _case_page(request, case, 400, reopen_form=form)
    try:
        followups.reopen(followup=case, by=request.user, note=form.cleaned_data["note"])
    except followups.CaseOpen:
        messages.warning(request, _("This case is open already."))
        return redirect("metrics:followup", case.pk)
    return _done(request, case, _("Case reopened."))
