"""The support team's follow-up queue and case pages: filters, actions and who may act."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from metrics import followups
from metrics.models import AlertChannel, FollowUp, FollowUpNote, Notification
from tests.factories import CustomerFactory, SurveyFactory, answer

pytestmark = pytest.mark.django_db

KEY_ROLE = {"nps": "nps", "csat": "csat", "ces": "ces", "loyalty": "recommend"}
ACTIONS = {
    "metrics:followup_assign": {"assignee": "0"},
    "metrics:followup_start": {},
    "metrics:followup_contact": {"kind": "phone", "text": "Called"},
    "metrics:followup_reply": {"subject": "Hi", "body": "Sorry"},
    "metrics:followup_resolve": {"resolution": "Refunded"},
    "metrics:followup_reopen": {"note": "The refund did not arrive"},
}


def _case(survey, score=3, comment="Too slow", customer=None, language="en", **metadata):
    """An unhappy answer, submitted and processed as in production: it opens a case."""
    response = answer(survey, score, comment, customer=customer, language=language, **metadata)
    case = FollowUp.objects.filter(response=response).first()
    assert case is not None, "an unhappy answer opens a case"
    return case


def _due_in(case, delta):
    FollowUp.objects.filter(pk=case.pk).update(due_at=timezone.now() + delta)


def _text(page):
    """The page as text, with timesince's non-breaking spaces made plain."""
    return page.content.decode().replace("\xa0", " ")


def _row(html, case):
    """The queue's table row of `case`."""
    link = reverse("metrics:followup", args=[case.pk])
    rows = [row for row in html.split("<tr>") if f'href="{link}"' in row]
    assert len(rows) == 1, f"case {case.pk} is not listed once"
    return rows[0]


def _listed(html):
    """The case numbers in the queue, in order."""
    return [int(pk) for pk in re.findall(r'href="/followups/(\d+)/"', html)]


@pytest.fixture
def nps(db):
    return SurveyFactory(template="nps", name="Relationship NPS", company="Acme")


@pytest.fixture
def case(nps):
    customer = CustomerFactory(name="Ann", email="ann@example.com", ref="C-17", segment="Gold")
    return _case(nps, 3, "Late\ndelivery", customer=customer, touchpoint="delivery", order="A-9")


# --- who may see and do what ---------------------------------------------------------


def test_anonymous_visitors_are_sent_to_log_in(client, case):
    for url in (reverse("metrics:queue"), reverse("metrics:followup", args=[case.pk])):
        page = client.get(url)
        assert page.status_code == 302
        assert page["Location"].startswith(reverse("login"))
    for name, data in ACTIONS.items():
        page = client.post(reverse(name, args=[case.pk]), data)
        assert page.status_code == 302
        assert page["Location"].startswith(reverse("login"))
    assert case.notes.count() == 1


def test_people_outside_managers_and_agents_are_refused(client, outsider, case):
    client.force_login(outsider)
    assert client.get(reverse("metrics:queue")).status_code == 403
    assert client.get(reverse("metrics:followup", args=[case.pk])).status_code == 403
    for name, data in ACTIONS.items():
        assert client.post(reverse(name, args=[case.pk]), data).status_code == 403
    case.refresh_from_db()
    assert case.status == "new" and case.assignee is None and case.notes.count() == 1


@pytest.mark.parametrize("persona", ["manager", "agent"])
def test_managers_and_agents_work_the_queue(client, request, case, persona):
    client.force_login(request.getfixturevalue(persona))
    queue = client.get(reverse("metrics:queue"))
    assert queue.status_code == 200
    assert reverse("metrics:queue") in queue.content.decode()  # the "Follow-ups" nav link
    assert client.get(reverse("metrics:followup", args=[case.pk])).status_code == 200


def test_superusers_work_the_queue(admin_client, case):
    assert admin_client.get(reverse("metrics:queue")).status_code == 200
    page = admin_client.post(reverse("metrics:followup_start", args=[case.pk]))
    assert page.status_code == 302


def test_pages_answer_only_their_methods_and_unknown_cases_are_404(client, agent, case):
    client.force_login(agent)
    assert client.post(reverse("metrics:queue")).status_code == 405
    assert client.post(reverse("metrics:followup", args=[case.pk])).status_code == 405
    for name in ACTIONS:
        assert client.get(reverse(name, args=[case.pk])).status_code == 405
    assert client.get(reverse("metrics:followup", args=[case.pk + 100])).status_code == 404
    for name, data in ACTIONS.items():
        assert client.post(reverse(name, args=[case.pk + 100]), data).status_code == 404


# --- the queue -----------------------------------------------------------------------


def test_queue_lists_open_cases_by_due_time(client, agent, nps):
    late, first, middle, done = (_case(nps, score) for score in (1, 2, 3, 4))
    _due_in(late, timedelta(hours=30))
    _due_in(first, timedelta(hours=-2))
    _due_in(middle, timedelta(hours=10))
    followups.resolve(followup=done, by=agent, resolution="Sorted")
    client.force_login(agent)

    html = _text(client.get(reverse("metrics:queue")))

    assert _listed(html) == [first.pk, middle.pk, late.pk]
    assert "3 cases" in html
    row = _row(html, first)
    assert "Relationship NPS" in row and "Detractor (NPS)" in row and "Too slow" in row
    assert "New" in row and "Unassigned" in row
    assert "2 hours ago" in row
    assert "in 9 hours" in _row(html, middle)  # a moment after "10 hours" was set


def test_each_row_shows_the_customer_and_assignee(client, agent, case):
    followups.assign(followup=case, to=agent, by=agent)
    _case(case.survey, 5, "")  # anonymous
    client.force_login(agent)

    html = _text(client.get(reverse("metrics:queue")))

    row = _row(html, case)
    assert "Ann" in row and "ann@example.com" in row
    assert ">agent<" in row
    assert f"Case #{case.pk}" in row
    assert "Anonymous" in html


def test_long_comments_are_cut_short_in_the_queue(client, agent, nps):
    case = _case(nps, 2, "word " * 100)
    client.force_login(agent)
    row = _row(_text(client.get(reverse("metrics:queue"))), case)
    assert "word " * 10 in row and "word " * 20 not in row and "…" in row


def test_overdue_and_due_soon_are_marked_in_words(client, agent, nps):
    overdue, soon, later = (_case(nps) for _ in range(3))
    _due_in(overdue, timedelta(minutes=-5))
    _due_in(soon, timedelta(hours=3))
    _due_in(later, timedelta(hours=5))
    client.force_login(agent)

    html = _text(client.get(reverse("metrics:queue")))

    assert ">Overdue</span>" in _row(html, overdue)
    assert ">Due soon</span>" in _row(html, soon)
    later_row = _row(html, later)
    assert ">Overdue</span>" not in later_row and ">Due soon</span>" not in later_row


def test_escalated_cases_are_marked_as_well_as_overdue_ones(client, agent, nps):
    escalated, contacted_late, resolved, on_time = (_case(nps) for _ in range(4))
    for case in (escalated, contacted_late, resolved):
        _due_in(case, timedelta(hours=-2))
    assert followups.escalate_overdue() == 3
    followups.log_contact(followup=contacted_late, by=agent, kind="phone", text="Called")
    followups.resolve(followup=resolved, by=agent, resolution="Refunded")
    client.force_login(agent)

    html = _text(client.get(reverse("metrics:queue"), {"status": "all"}))

    assert ">Escalated</span>" in _row(html, escalated)
    assert ">Overdue</span>" in _row(html, escalated)
    assert ">Escalated</span>" in _row(html, contacted_late)  # still open: it was escalated
    assert ">Escalated</span>" not in _row(html, resolved)
    assert ">Escalated</span>" not in _row(html, on_time)
    page = _text(client.get(reverse("metrics:followup", args=[escalated.pk])))
    assert ">Escalated</span>" in page


@pytest.mark.parametrize(("language", "no"), [("en", "No"), ("nl", "Nee")])
def test_a_yes_no_case_shows_its_answer_in_the_queue(client, agent, nps, language, no):
    delivered = SurveyFactory(template="csat-yes-no", name="Delivered?")
    yes_no, scale = _case(delivered, 0, "Box was wet"), _case(nps, 3)
    client.force_login(agent)

    html = _text(client.get(reverse("metrics:queue"), headers={"accept-language": language}))

    assert f">{no}</td>" in _row(html, yes_no)
    assert ">3</td>" in _row(html, scale)


@pytest.fixture
def mixed(nps, agent, manager):
    """Cases of every kind: two surveys, overdue, due soon, assigned, resolved."""
    csat = SurveyFactory(template="csat", name="Delivery CSAT")
    cases = {
        "overdue_unassigned": _case(nps, 1),
        "soon_mine": _case(nps, 2),
        "later_manager": _case(nps, 3),
        "overdue_mine": _case(csat, 1),
        "resolved_mine": _case(csat, 2),
    }
    _due_in(cases["overdue_unassigned"], timedelta(hours=-1))
    _due_in(cases["soon_mine"], timedelta(hours=2))
    _due_in(cases["later_manager"], timedelta(hours=20))
    _due_in(cases["overdue_mine"], timedelta(hours=-3))
    _due_in(cases["resolved_mine"], timedelta(hours=-5))
    for name in ("soon_mine", "overdue_mine", "resolved_mine"):
        followups.assign(followup=cases[name], to=agent, by=agent)
    followups.assign(followup=cases["later_manager"], to=manager, by=manager)
    followups.start(followup=cases["later_manager"], by=manager)
    followups.log_contact(followup=cases["soon_mine"], by=agent, kind="phone", text="Called")
    followups.resolve(followup=cases["resolved_mine"], by=agent, resolution="Refunded")
    return cases, csat


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["overdue_mine", "overdue_unassigned", "soon_mine", "later_manager"]),
        ({"status": "new"}, ["overdue_mine", "overdue_unassigned"]),
        ({"status": "in_progress"}, ["later_manager"]),
        ({"status": "contacted"}, ["soon_mine"]),
        ({"status": "resolved"}, ["resolved_mine"]),
        (
            {"status": "all"},
            ["resolved_mine", "overdue_mine", "overdue_unassigned", "soon_mine", "later_manager"],
        ),
        ({"when": "overdue"}, ["overdue_mine", "overdue_unassigned"]),
        ({"when": "soon"}, ["soon_mine"]),
        ({"who": "mine"}, ["overdue_mine", "soon_mine"]),
        ({"who": "unassigned"}, ["overdue_unassigned"]),
        ({"reason": "dissatisfied"}, ["overdue_mine"]),
        ({"who": "mine", "when": "overdue"}, ["overdue_mine"]),
        (
            {"who": "mine", "status": "all", "reason": "dissatisfied"},
            ["resolved_mine", "overdue_mine"],
        ),
        ({"when": "overdue", "status": "resolved"}, []),
        (
            {"status": "nonsense", "who": "everyone"},
            ["overdue_mine", "overdue_unassigned", "soon_mine", "later_manager"],
        ),
    ],
)
def test_filters_combine(client, agent, mixed, query, expected):
    cases, _csat = mixed
    client.force_login(agent)
    html = _text(client.get(reverse("metrics:queue"), query))
    assert _listed(html) == [cases[name].pk for name in expected]
    if not expected:
        assert "No follow-ups match these filters." in html


def test_survey_filter(client, agent, mixed, nps):
    cases, csat = mixed
    client.force_login(agent)

    html = _text(client.get(reverse("metrics:queue"), {"survey": csat.pk}))

    assert _listed(html) == [cases["overdue_mine"].pk]
    assert f'<option value="{csat.pk}" selected>Delivery CSAT (1)</option>' in html
    assert f'<option value="{nps.pk}">Relationship NPS (3)</option>' in html


def test_each_option_counts_the_cases_it_would_show(client, agent, mixed, nps):
    client.force_login(agent)

    html = _text(client.get(reverse("metrics:queue")))

    for label in (
        'value="" selected>Open (4)',
        'value="new">New (2)',
        'value="in_progress">In progress (1)',
        'value="contacted">Contacted (1)',
        'value="resolved">Resolved (1)',
        'value="all">All (5)',
        'value="" selected>Any time (4)',
        'value="overdue">Overdue (2)',
        'value="soon">Due soon (1)',
        'value="mine">Mine (2)',
        'value="unassigned">Unassigned (1)',
        'value="detractor">Detractor (NPS) (3)',
        'value="dissatisfied">Dissatisfied (CSAT) (1)',
        'value="high_effort">High effort (CES) (0)',
    ):
        assert label in html, label

    # With "overdue" chosen, the other options count overdue cases only.
    html = _text(client.get(reverse("metrics:queue"), {"when": "overdue"}))
    assert 'value="overdue" selected>Overdue (2)' in html
    assert 'value="soon">Due soon (1)' in html  # its own facet keeps the other choices
    assert 'value="mine">Mine (1)' in html and 'value="unassigned">Unassigned (1)' in html
    assert f'value="{nps.pk}">Relationship NPS (1)' in html
    assert "2 cases" in html


@pytest.mark.parametrize(
    "chosen",
    [{}, {"when": "overdue"}, {"status": "all", "who": "mine"}, {"status": "resolved"}],
)
def test_every_count_is_what_choosing_its_option_lists(client, agent, mixed, chosen):
    """The counts are added up from grouped cases in Python: each must agree with the
    list the database gives for that option, with the other choices kept."""
    client.force_login(agent)
    page = client.get(reverse("metrics:queue"), chosen)
    for facet in page.context["facets"]:
        for option in facet.options:
            query = {**chosen, facet.name: option.value}
            listed = _listed(_text(client.get(reverse("metrics:queue"), query)))
            assert option.count == len(listed), (query, option.label)


def test_mine_is_the_logged_in_persons(client, manager, mixed):
    cases, _csat = mixed
    client.force_login(manager)
    html = _text(client.get(reverse("metrics:queue"), {"who": "mine"}))
    assert _listed(html) == [cases["later_manager"].pk]
    assert 'value="mine" selected>Mine (1)' in html


def test_empty_queue_says_so(client, agent):
    client.force_login(agent)
    html = _text(client.get(reverse("metrics:queue")))
    assert "No follow-ups match these filters." in html
    assert "0 cases" in html


def test_pagination_keeps_the_filters(client, agent, nps):
    cases = [_case(nps, i % 7) for i in range(30)]
    client.force_login(agent)
    url = reverse("metrics:queue")

    first = _text(client.get(url, {"who": "unassigned", "when": ""}))
    assert len(_listed(first)) == 25
    assert "30 cases" in first
    assert 'href="?who=unassigned&amp;page=2"' in first

    second = _text(client.get(url, {"who": "unassigned", "page": 2}))
    assert len(_listed(second)) == 5
    assert 'href="?who=unassigned&amp;page=1"' in second
    assert set(_listed(first) + _listed(second)) == {c.pk for c in cases}
    assert 'value="unassigned" selected' in second

    # A page beyond the last shows the last.
    assert _listed(_text(client.get(url, {"page": 9}))) == _listed(second)


# --- the case page -------------------------------------------------------------------


def test_case_page_shows_the_response_customer_and_history(client, agent, nps):
    AlertChannel.objects.create(name="Support inbox", kind="email", target="s@example.com")
    customer = CustomerFactory(
        name="Ann", email="ann@example.com", phone="+31 6 1234 5678", ref="C-17", segment="Gold"
    )
    case = _case(
        nps,
        3,
        "Late\ndelivery",
        customer=customer,
        language="nl",
        touchpoint="delivery",
        channel="sms",
        order="A-9",
    )
    followups.log_contact(followup=case, by=agent, kind="note", text="On holiday until Monday")
    Notification.objects.filter(followup=case).update(attempts=2, last_error="Mailbox full")
    _due_in(case, timedelta(hours=-1))
    client.force_login(agent)

    html = _text(client.get(reverse("metrics:followup", args=[case.pk])))

    # Every answer, with the question as the customer read it.
    assert "Hoe waarschijnlijk is het dat u Acme zou aanbevelen" in html
    assert "3 (0\u201310)" in html
    assert "Late<br>delivery" in html
    # The response's metadata and the customer's contact details.
    assert "delivery" in html and "sms" in html and "A-9" in html and ">order<" in html
    for detail in ("Ann", 'href="mailto:ann@example.com"', "C-17", "Gold"):
        assert detail in html
    # The phone number, a tap away for the agent's call.
    for detail in ('href="tel:+31612345678"', "+31 6 1234 5678"):
        assert detail in html
    # Status, due time and the history.
    assert "New" in html and "Unassigned" in html
    assert ">Overdue</span>" in html and "1 hour" in html and "ago" in html
    assert "System" in html and "Opened" in html
    assert "On holiday until Monday" in html and ">agent<" not in html.split("History")[0]
    # The delivery log.
    assert "Support inbox" in html and "Mailbox full" in html and "Pending" in html


def test_case_page_of_an_anonymous_answer(client, agent, nps):
    case = _case(nps, 0, "")
    client.force_login(agent)
    html = _text(client.get(reverse("metrics:followup", args=[case.pk])))
    assert "The customer answered anonymously" in html
    assert "The customer left no comment." in html
    assert "there is nothing to reply to" in html
    assert 'action="' + reverse("metrics:followup_reply", args=[case.pk]) not in html


def test_html_in_comments_notes_and_metadata_stays_text(client, agent, nps):
    case = _case(nps, 1, "<script>alert('x')</script> slow", touchpoint="<b>shop</b>")
    followups.log_contact(followup=case, by=agent, kind="note", text="<img src=x onerror=y>")
    client.force_login(agent)

    queue = _text(client.get(reverse("metrics:queue")))
    page = _text(client.get(reverse("metrics:followup", args=[case.pk])))

    for html in (queue, page):
        assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; slow" in html
        assert "<script>alert" not in html
    assert "&lt;img src=x onerror=y&gt;" in page and "<img src=x" not in page
    assert "&lt;b&gt;shop&lt;/b&gt;" in page and "<b>shop</b>" not in page


# --- actions -------------------------------------------------------------------------


def _post(client, name, case, data=None, follow=True):
    return client.post(reverse(name, args=[case.pk]), data or {}, follow=follow)


def test_assign_to_me(client, agent, case):
    client.force_login(agent)

    page = _post(client, "metrics:followup_assign", case, {"assignee": agent.pk})

    assert page.redirect_chain == [(reverse("metrics:followup", args=[case.pk]), 302)]
    assert "Assigned to you." in _text(page)
    case.refresh_from_db()
    assert case.assignee == agent
    note = case.notes.last()
    assert (note.kind, note.author, note.text) == ("assigned", agent, "agent")


def test_assign_to_a_colleague(client, agent, manager, case):
    manager.first_name, manager.last_name = "Mia", "Manager"
    manager.save()
    client.force_login(agent)

    page = _post(client, "metrics:followup_assign", case, {"assignee": manager.pk})

    assert "Assigned to Mia Manager." in _text(page)
    case.refresh_from_db()
    assert case.assignee == manager
    assert case.notes.filter(kind="assigned", author=agent).count() == 1


def test_only_colleagues_can_be_assigned(client, agent, outsider, admin_user, case):
    from django.contrib.auth.models import User

    inactive = User.objects.create_user("gone", is_active=False, is_superuser=True)
    client.force_login(agent)

    html = _text(client.get(reverse("metrics:followup", args=[case.pk])))
    select = html.split('name="assignee"')[-1].split("</select>")[0]
    assert ">agent<" in select and ">admin<" in select
    assert ">outsider<" not in select and ">gone<" not in select

    for someone in (outsider, inactive):
        page = _post(client, "metrics:followup_assign", case, {"assignee": someone.pk})
        assert page.status_code == 400
        assert "Select a valid choice" in _text(page)
    case.refresh_from_db()
    assert case.assignee is None and case.notes.count() == 1


def test_start(client, agent, case):
    client.force_login(agent)

    page = _post(client, "metrics:followup_start", case)

    assert "Case started." in _text(page)
    case.refresh_from_db()
    assert case.status == "in_progress" and case.assignee == agent
    assert list(case.notes.values_list("kind", "author__username")) == [
        ("opened", None),
        ("assigned", "agent"),
        ("started", "agent"),
    ]
    assert "Start working on it" not in _text(page)

    again = _post(client, "metrics:followup_start", case)
    assert again.status_code == 400
    assert "This case has been started already." in _text(again)
    assert case.notes.count() == 3


@pytest.mark.parametrize(
    ("kind", "status", "contact"),
    [("phone", "contacted", True), ("email", "contacted", True), ("note", "new", False)],
)
def test_log_a_contact(client, agent, case, kind, status, contact):
    client.force_login(agent)

    page = _post(client, "metrics:followup_contact", case, {"kind": kind, "text": "Spoke to Ann"})

    assert ("Contact logged." if contact else "Note added.") in _text(page)
    case.refresh_from_db()
    assert case.status == status
    assert (case.first_contact_at is not None) is contact
    note = case.notes.last()
    assert (note.kind, note.author, note.text) == (kind, agent, "Spoke to Ann")
    assert "Spoke to Ann" in _text(page)


@pytest.mark.parametrize(
    "data",
    [
        {"kind": "phone", "text": ""},
        {"kind": "phone", "text": "   "},
        {"kind": "reply", "text": "x"},
        {"kind": "phone", "text": "x" * 5001},
    ],
)
def test_an_invalid_contact_changes_nothing(client, agent, case, data):
    client.force_login(agent)

    page = _post(client, "metrics:followup_contact", case, data)

    assert page.status_code == 400
    html = _text(page)
    assert "invalid-feedback" in html or "is-invalid" in html
    case.refresh_from_db()
    assert case.status == "new" and case.first_contact_at is None
    assert case.notes.count() == 1


def test_reply_to_the_customer(client, agent, case):
    client.force_login(agent)
    html = _text(client.get(reverse("metrics:followup", args=[case.pk])))
    assert "Your feedback to Acme" in html and "Dear Ann," in html  # the English draft

    page = _post(
        client,
        "metrics:followup_reply",
        case,
        {"subject": "About your order", "body": "Edited\ntext"},
    )

    assert "Reply sent to ann@example.com." in _text(page)
    reply = Notification.objects.get(kind="reply")
    assert (reply.followup, reply.recipient, reply.status) == (case, "ann@example.com", "pending")
    assert (reply.subject, reply.body, reply.language) == ("About your order", "Edited\ntext", "en")
    case.refresh_from_db()
    assert case.status == "contacted" and case.first_contact_at is not None
    note = case.notes.last()
    assert (note.kind, note.author) == ("reply", agent)
    assert "About your order" in note.text
    # The delivery log lists it.
    assert "Reply to the customer" in _text(page).split("Messages about this case")[1]


def test_an_empty_reply_changes_nothing(client, agent, case):
    client.force_login(agent)
    page = _post(client, "metrics:followup_reply", case, {"subject": "Hi", "body": ""})
    assert page.status_code == 400
    assert not Notification.objects.filter(kind="reply").exists()
    case.refresh_from_db()
    assert case.status == "new" and case.first_contact_at is None


def test_no_reply_without_an_email_address(client, agent, nps):
    case = _case(nps, 2, customer=CustomerFactory(email=""))
    client.force_login(agent)

    page = _post(client, "metrics:followup_reply", case, {"subject": "Hi", "body": "Hello"})

    assert page.status_code == 400
    assert "This customer left no email address" in _text(page)
    assert not Notification.objects.filter(kind="reply").exists()


def test_the_reply_draft_follows_the_response_language(client, agent, nps):
    customer = CustomerFactory(name="Ann", email="ann@example.com")
    case = _case(nps, 2, customer=customer, language="nl")
    client.force_login(agent)

    page = client.get(reverse("metrics:followup", args=[case.pk]))

    subject, body = followups.reply_draft(case)
    assert page.context["reply_form"].initial == {"subject": subject, "body": body}
    assert "An email to ann@example.com, in Dutch." in _text(page)


def test_the_reply_draft_is_dutch_for_a_dutch_response(client, agent, nps):
    customer = CustomerFactory(name="Ann", email="ann@example.com")
    case = _case(nps, 2, customer=customer, language="nl")
    client.force_login(agent)

    html = _text(client.get(reverse("metrics:followup", args=[case.pk])))

    assert 'value="Uw feedback aan Acme"' in html
    assert "Beste Ann," in html


def test_resolve(client, agent, case):
    client.force_login(agent)

    page = _post(client, "metrics:followup_resolve", case, {"resolution": "Refunded <b>10</b>"})

    html = _text(page)
    assert "Case resolved." in html
    case.refresh_from_db()
    assert case.status == "resolved" and case.resolved_at is not None
    assert case.resolution == "Refunded <b>10</b>"
    note = case.notes.last()
    assert (note.kind, note.author, note.text) == ("resolved", agent, "Refunded <b>10</b>")
    assert "Refunded &lt;b&gt;10&lt;/b&gt;" in html
    assert 'name="resolution"' not in html and "This case was resolved on" in html

    again = _post(client, "metrics:followup_resolve", case, {"resolution": "Twice"})
    assert again.status_code == 400
    assert "This case is resolved already." in _text(again)
    assert case.notes.filter(kind="resolved").count() == 1


def test_a_resolved_case_says_when_how_and_by_whom_and_offers_only_reopen_and_notes(
    client, agent, manager, case
):
    manager.first_name, manager.last_name = "Mia", "Manager"
    manager.save()
    followups.assign(followup=case, to=agent, by=agent)
    followups.resolve(followup=case, by=manager, resolution="Refunded the delivery")
    client.force_login(agent)

    html = _text(client.get(reverse("metrics:followup", args=[case.pk])))

    case.refresh_from_db()
    resolved_at = timezone.localtime(case.resolved_at).strftime("%-d %b %Y %H:%M")
    assert f"This case was resolved on {resolved_at} by Mia Manager." in html
    assert "Refunded the delivery" in html
    for action in ("assign", "start", "reply", "resolve"):
        assert reverse(f"metrics:followup_{action}", args=[case.pk]) not in html
    assert 'name="assignee"' not in html and 'name="subject"' not in html
    assert "Due in" not in html and "(in " not in html and ">Due soon<" not in html
    assert reverse("metrics:followup_reopen", args=[case.pk]) in html
    assert 'name="note"' in html
    # Notes only: the kind is fixed, and no phone call or email is offered.
    assert 'type="hidden" name="kind" value="note"' in html
    assert 'value="phone"' not in html and "Add the note" in html


def test_reopen_a_resolved_case_with_a_note(client, agent, case):
    followups.resolve(followup=case, by=agent, resolution="Refunded")
    client.force_login(agent)

    page = _post(client, "metrics:followup_reopen", case, {"note": "The refund bounced"})

    html = _text(page)
    assert "Case reopened." in html
    case.refresh_from_db()
    assert case.status == "in_progress" and case.resolved_at is None and case.resolution == ""
    note = case.notes.last()
    assert (note.kind, note.author, note.text) == ("reopened", agent, "The refund bounced")
    assert "Reopened" in html.split("History")[1] and "The refund bounced" in html
    # Open again: every step is back, and it may be resolved again.
    assert reverse("metrics:followup_resolve", args=[case.pk]) in html
    assert reverse("metrics:followup_reopen", args=[case.pk]) not in html
    _post(client, "metrics:followup_resolve", case, {"resolution": "Paid by hand"})
    case.refresh_from_db()
    assert case.status == "resolved" and case.resolution == "Paid by hand"


def test_reopening_needs_a_note_and_a_resolved_case(client, agent, case):
    client.force_login(agent)
    refused = _post(client, "metrics:followup_reopen", case, {"note": "Why not"})
    assert refused.status_code == 400
    assert "This case is open already." in _text(refused)
    assert not case.notes.filter(kind="reopened").exists()

    followups.resolve(followup=case, by=agent, resolution="Refunded")
    empty = _post(client, "metrics:followup_reopen", case, {"note": " "})
    assert empty.status_code == 400 and "This field is required." in _text(empty)
    case.refresh_from_db()
    assert case.status == "resolved" and not case.notes.filter(kind="reopened").exists()


def test_a_resolved_case_takes_notes_but_no_other_step(client, agent, manager, case):
    followups.resolve(followup=case, by=agent, resolution="Refunded")
    client.force_login(agent)

    noted = _post(client, "metrics:followup_contact", case, {"kind": "note", "text": "FYI"})
    assert "Note added." in _text(noted)
    assert case.notes.filter(kind="note", text="FYI", author=agent).exists()

    steps = [
        ("metrics:followup_contact", {"kind": "phone", "text": "Called"}),
        ("metrics:followup_assign", {"assignee": manager.pk}),
        ("metrics:followup_reply", {"subject": "Hi", "body": "Sorry"}),
        ("metrics:followup_start", {}),
        ("metrics:followup_resolve", {"resolution": "Again"}),
    ]
    for name, data in steps:
        page = _post(client, name, case, data)
        assert page.status_code == 400, name
        assert "This case is resolved already" in _text(page), name
    case.refresh_from_db()
    assert (case.status, case.assignee, case.first_contact_at) == ("resolved", None, None)
    assert list(case.notes.values_list("kind", flat=True)) == ["opened", "resolved", "note"]
    assert not Notification.objects.filter(kind="reply").exists()


def test_an_empty_resolution_changes_nothing(client, agent, case):
    client.force_login(agent)

    page = _post(client, "metrics:followup_resolve", case, {"resolution": " "})

    assert page.status_code == 400
    assert "This field is required." in _text(page)
    case.refresh_from_db()
    assert case.status == "new" and case.resolved_at is None and case.resolution == ""
    assert not case.notes.filter(kind="resolved").exists()


def test_every_step_is_in_the_history_with_who_did_it(client, agent, manager, case):
    client.force_login(agent)
    _post(client, "metrics:followup_start", case)
    _post(client, "metrics:followup_assign", case, {"assignee": manager.pk})
    client.force_login(manager)
    _post(client, "metrics:followup_contact", case, {"kind": "phone", "text": "Called"})
    page = _post(client, "metrics:followup_resolve", case, {"resolution": "Refunded"})

    assert list(case.notes.values_list("kind", "author__username")) == [
        ("opened", None),
        ("assigned", "agent"),
        ("started", "agent"),
        ("assigned", "agent"),
        ("phone", "manager"),
        ("resolved", "manager"),
    ]
    history = _text(page).split("History")[1].split("Messages about this case")[0]
    assert history.count("<span>agent</span>") == 3
    assert history.count("<span>manager</span>") == 2
    assert str(FollowUpNote.Kind.RESOLVED.label) in history


# --- queries -------------------------------------------------------------------------


def _more_cases(count, agent, manager):
    surveys = [SurveyFactory(template=t) for t in ("nps", "csat", "ces", "loyalty")]
    people = [agent, manager, None]
    for i in range(count):
        case = _case(surveys[i % 4], 1, f"comment {i}", customer=CustomerFactory(), channel=f"c{i}")
        if people[i % 3]:
            followups.assign(followup=case, to=people[i % 3], by=agent)
        _due_in(case, timedelta(hours=i - 20))


@pytest.mark.parametrize(
    "query", [{}, {"who": "mine", "when": "overdue"}, {"status": "all", "page": 2}]
)
def test_queue_runs_a_fixed_number_of_queries(
    client, agent, manager, django_assert_max_num_queries, query
):
    _more_cases(2, agent, manager)  # one of them the agent's and overdue
    client.force_login(agent)
    with django_assert_max_num_queries(12) as small:
        client.get(reverse("metrics:queue"), query)

    _more_cases(40, agent, manager)
    with django_assert_max_num_queries(len(small.captured_queries)):
        page = client.get(reverse("metrics:queue"), query)
    assert page.status_code == 200


def test_case_page_runs_a_fixed_number_of_queries(
    client, agent, manager, case, django_assert_max_num_queries
):
    client.force_login(agent)
    url = reverse("metrics:followup", args=[case.pk])
    with django_assert_max_num_queries(12) as small:
        client.get(url)

    _more_cases(40, agent, manager)
    AlertChannel.objects.create(name="Inbox", kind="email", target="s@example.com")
    for i in range(10):
        followups.log_contact(
            followup=case, by=manager if i % 2 else agent, kind="note", text=f"{i}"
        )
        followups.reply(followup=case, by=agent, subject=f"S{i}", body="B")
    with django_assert_max_num_queries(len(small.captured_queries)):
        page = client.get(url)
    assert page.status_code == 200


def test_a_customer_who_calls_in_is_found_by_name_email_or_reference(client, agent, nps):
    ann = CustomerFactory(name="Ann Jansen", email="ann@example.com", ref="C-17")
    bob = CustomerFactory(name="Bob de Vries", email="bob@example.com", ref="C-18")
    mine = _case(nps, 2, customer=ann)
    _case(nps, 3, customer=bob)
    _case(nps, 4)
    client.force_login(agent)

    for words in ("jansen", "ANN@example", "c-17"):
        html = client.get(reverse("metrics:queue"), {"q": words}).content.decode()
        assert _listed(html) == [mine.pk], words
        assert "1 case" in html
    nobody = client.get(reverse("metrics:queue"), {"q": "nobody"}).content.decode()
    assert "No follow-ups match these filters." in nobody
