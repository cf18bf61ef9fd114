"""Generated input against every public endpoint and every staff form.

Random fields and values, huge values, Unicode with NUL and non-characters, wrong types,
repeated fields and bodies in odd charsets: none gives a server error, and nothing is
stored from input that was refused. Each endpoint gets 500 examples (FUZZ_EXAMPLES to try
more), the same ones on every run (derandomized), so a failure here is reproducible.
"""

import os
from urllib.parse import quote

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metrics.models import FollowUp, FollowUpNote
from surveys.models import Invitation, Response
from surveys.text import has_control_characters
from tests.factories import CustomerFactory, InvitationFactory, SurveyFactory, answer

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", 500))
fuzz = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

NASTY = [
    "\x00",
    "a\x00b",
    "\ufffe",
    "\uffff",
    "\x1b[31m",
    "\u202egnp.exe",
    "'; DROP TABLE surveys_response; --",
    "<script>alert(1)</script>",
    "%00",
    "-1",
    "11",
    "1e9",
    "NaN",
    "9" * 400,
    " ",
    "",
    "invitation",
    "on",
    "true",
]
# Text with a character that no database column or XML document should get.
POISONED = st.builds(
    lambda before, poison, after: before + poison + after,
    st.text(max_size=10),
    st.sampled_from(["\x00", "\ufffe", "\uffff", "\x07", "\x1b"]),
    st.text(max_size=10),
)
TEXT = st.one_of(
    st.sampled_from(NASTY),
    POISONED,
    st.text(max_size=60),
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=True).map(str),
    st.integers(1_000, 60_000).map(lambda n: "x" * n),
)
# A field's value, or the same field repeated.
VALUE = st.one_of(TEXT, st.lists(TEXT, min_size=2, max_size=3))
BODY = st.binary(max_size=300)
CHARSET = st.sampled_from(["utf-8", "latin-1", "utf-16", "no-such-charset", "ascii"])


def fields(known: list[str]) -> st.SearchStrategy[dict[str, object]]:
    """Form data: mostly the form's own fields, some made up, any of them missing."""
    name = st.one_of(st.sampled_from(known), st.text(min_size=1, max_size=20))
    return st.dictionaries(name, VALUE, max_size=len(known) + 3)


def post_raw(client: Client, url: str, body: bytes, charset: str):
    # generic(): post() would re-encode the body from UTF-8 into the charset first.
    content_type = f"application/x-www-form-urlencoded; charset={charset}"
    return client.generic("POST", url, body, content_type=content_type)


def assert_no_server_error(page) -> None:
    assert page.status_code < 500, page.content[:500]


@pytest.fixture(autouse=True)
def _no_rate_limit(settings):
    """Every example comes from the one test client: the rate limit would answer most of
    them before the form sees them (tests/surveys/test_abuse.py tests the limit)."""
    settings.PUBLIC_POSTS_PER_MINUTE = settings.PUBLIC_POSTS_PER_DAY = 10**9


@pytest.fixture
def public():
    """A live NPS survey with its comment question, and a client with no login."""
    survey = SurveyFactory(template="nps")
    return survey, Client()


def _stored_answers_are_valid(survey) -> None:
    for response in Response.objects.filter(survey=survey).prefetch_related("answers__question"):
        for value in response.metadata.values():
            assert not has_control_characters(str(value))
        for item in response.answers.all():
            if item.question.is_scale:
                assert item.value is not None
                assert item.question.scale_min <= item.value <= item.question.scale_max
            else:
                assert not has_control_characters(item.text)


def _respondent_fields(survey) -> list[str]:
    return [f"q{q.position}" for q in survey.questions.all()] + ["website"]


# Public endpoints ------------------------------------------------------------------------


def test_public_link_posts(public):
    survey, client = public
    names = _respondent_fields(survey)

    @fuzz
    @given(data=fields(names), query=fields(["touchpoint", "channel", "ref", "lang", "score"]))
    def check(data, query):
        before = Response.objects.count()
        url = reverse("surveys:respond", args=[survey.slug])
        page = client.post(url + "?" + _query(query), data)
        assert_no_server_error(page)
        if page.status_code != 302:
            assert Response.objects.count() == before

    check()
    _stored_answers_are_valid(survey)


def test_public_link_bodies_in_odd_charsets(public):
    survey, client = public

    @fuzz
    @given(body=BODY, charset=CHARSET)
    def check(body, charset):
        before = Response.objects.count()
        page = post_raw(client, reverse("surveys:respond", args=[survey.slug]), body, charset)
        assert_no_server_error(page)
        if page.status_code != 302:
            assert Response.objects.count() == before

    check()
    _stored_answers_are_valid(survey)


def test_invitation_posts(public):
    survey, client = public
    names = _respondent_fields(survey)

    @fuzz
    @given(data=fields(names), query=fields(["score", "lang"]))
    def check(data, query):
        invitation = InvitationFactory(survey=survey, customer=CustomerFactory())
        url = reverse("surveys:respond_invitation", args=[invitation.token])
        page = client.post(url + "?" + _query(query), data)
        assert_no_server_error(page)
        if page.status_code != 302:
            assert not Response.objects.filter(invitation=invitation).exists()

    check()
    _stored_answers_are_valid(survey)


@pytest.mark.parametrize(
    "name",
    ["surveys:respond", "surveys:thanks", "surveys:respond_invitation", "surveys:unsubscribe"],
)
def test_public_paths_with_any_text(public, name):
    _survey, client = public
    placeholder = "PLACEHOLDER"

    @fuzz
    @given(part=TEXT, method=st.sampled_from(["get", "post"]))
    def check(part, method):
        url = reverse(name, args=[placeholder]).replace(placeholder, quote(part, safe=""))
        if len(url) > 4000:
            url = url[:4000]
        if method == "post" and name in ("surveys:thanks",):
            method = "get"
        page = getattr(client, method)(url)
        assert_no_server_error(page)

    before = (Response.objects.count(), Invitation.objects.count())
    check()
    assert (Response.objects.count(), Invitation.objects.count()) == before


def test_public_link_query_strings(public):
    survey, client = public

    @fuzz
    @given(query=fields(["touchpoint", "channel", "ref", "lang", "score", "utm_source"]))
    def check(query):
        page = client.get(reverse("surveys:respond", args=[survey.slug]) + "?" + _query(query))
        assert_no_server_error(page)

    check()
    assert not Response.objects.filter(survey=survey).exists()


def test_unsubscribe_posts(public):
    survey, client = public
    invitation = InvitationFactory(survey=survey)

    @fuzz
    @given(data=fields(["confirm"]), body=BODY, charset=CHARSET)
    def check(data, body, charset):
        url = reverse("surveys:unsubscribe", args=[invitation.token])
        assert_no_server_error(client.post(url, data))
        assert_no_server_error(post_raw(client, url, body, charset))

    check()


def _query(params: dict[str, object]) -> str:
    pairs = []
    for key, value in params.items():
        for item in value if isinstance(value, list) else [value]:
            pairs.append(f"{quote(str(key), safe='')}={quote(str(item), safe='')}")
    return "&".join(pairs)[:8000]


# Staff pages and forms -------------------------------------------------------------------


@pytest.fixture
def staff_data(manager, agent):
    survey = SurveyFactory(template="nps", name="Fuzzed")
    answer(survey, 2, "Slow delivery", touchpoint="support")
    answer(survey, 9, "Great")
    case = FollowUp.objects.get(response__survey=survey)
    return survey, case


STAFF_PAGES = {
    "metrics:overview": False,
    "metrics:survey": True,
    "metrics:scores": True,
    "metrics:export_csv": True,
    "metrics:export_xlsx": True,
    "metrics:kpis": False,
    "metrics:kpis_csv": False,
    "metrics:sla": False,
    "metrics:queue": False,
    "metrics:followup": "case",
}
STAFF_PARAMS = [
    "start",
    "end",
    "segment",
    "touchpoint",
    "channel",
    "language",
    "q",
    "when",
    "who",
    "status",
    "by",
    "page",
    "period",
    "unit",
    "compare",
]


@pytest.mark.parametrize("name", list(STAFF_PAGES))
def test_staff_pages_with_any_query(client, manager, staff_data, name):
    survey, case = staff_data
    takes = STAFF_PAGES[name]
    args = [survey.pk] if takes is True else [case.pk] if takes == "case" else []
    url = reverse(name, args=args)
    client.force_login(manager)

    @fuzz
    @given(query=fields(STAFF_PARAMS))
    def check(query):
        assert_no_server_error(client.get(url + "?" + _query(query)))

    check()


CASE_ACTIONS = {
    "metrics:followup_assign": ["assignee"],
    "metrics:followup_start": ["submit"],
    "metrics:followup_contact": ["kind", "text"],
    "metrics:followup_reply": ["subject", "body"],
    "metrics:followup_resolve": ["resolution"],
    "metrics:followup_reopen": ["note"],
}


@pytest.mark.parametrize("name", list(CASE_ACTIONS))
def test_case_actions_with_any_form(client, agent, staff_data, name):
    _survey, case = staff_data
    client.force_login(agent)
    url = reverse(name, args=[case.pk])

    @fuzz
    @given(data=fields(CASE_ACTIONS[name]))
    def check(data):
        before = (FollowUpNote.objects.count(), FollowUp.objects.filter(pk=case.pk).values().get())
        page = client.post(url, data)
        assert_no_server_error(page)
        if page.status_code == 400:
            after = FollowUp.objects.filter(pk=case.pk).values().get()
            assert (FollowUpNote.objects.count(), after) == before

    check()
    for note in FollowUpNote.objects.all():
        assert not has_control_characters(note.text)


def _admin_add_forms() -> list[str]:
    return sorted(
        f"admin:{model._meta.app_label}_{model._meta.model_name}_add"
        for model in admin.site._registry
    )


@pytest.mark.parametrize("name", _admin_add_forms())
def test_admin_add_forms_with_any_data(client, staff_data, name):
    superuser = User.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(superuser)
    url = reverse(name)
    form = client.get(url)
    if form.status_code == 403:
        pytest.skip("this model is not added by hand")
    names = list(form.context["adminform"].form.fields)
    model = form.context["adminform"].form._meta.model

    @fuzz
    @given(data=fields(names))
    def check(data):
        before = model.objects.count()
        page = client.post(url, data)
        assert_no_server_error(page)
        if page.status_code == 200:
            assert model.objects.count() == before

    check()
