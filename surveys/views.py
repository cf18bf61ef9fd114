"""The respondent side: public survey links and personal invitations.

A GET or HEAD never records or consumes anything; only a valid POST saves a response.
"""

from collections.abc import Mapping

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe

from surveys.clients import fingerprint
from surveys.forms import LinkParametersForm, ResponseForm
from surveys.models import Invitation, Language, Question, Survey
from surveys.published import forget as forget_published
from surveys.published import published
from surveys.ratelimit import count_public_post
from surveys.services import (
    AlreadyAnswered,
    SurveyChanged,
    SurveyNotLive,
    opt_out,
    submit_response,
)

# The codes a link may ask for (an enum's `values` is built anew on every use).
LANGUAGES = tuple(Language.values)


# The link is the credential and the pages set no cookie: a CSRF token would only turn
# away respondents whose browser refuses cookies.
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def respond(request: HttpRequest, slug: str) -> HttpResponse:
    kept = published(slug)
    survey = kept.survey
    # The form as everyone sees it who asks in this language: rendered once while kept.
    # Only for a link without parameters but a valid ?lang=, whose page cannot carry a
    # message about the link.
    given = request.GET.lists()
    plain = (
        request.method != "POST"
        and survey.is_live
        and all(name == "lang" and len(values) == 1 and values[0] in LANGUAGES
                for name, values in given)
    )  # fmt: skip
    language = _language(request, survey, None)
    if plain and language in kept.pages:
        return _framable(HttpResponse(kept.pages[language]), survey)
    response = _respond(request, survey, kept.questions, None, kept.thanks_url)
    if plain and response.status_code == 200:
        kept.pages[language] = response.content
    return _framable(response, survey)


@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def respond_invitation(request: HttpRequest, token: str) -> HttpResponse:
    invitation = get_object_or_404(
        Invitation.objects.select_related("survey", "customer"), token=token
    )
    thanks_url = reverse("surveys:invitation_thanks", args=[token])
    questions = list(invitation.survey.questions.all())
    return _respond(request, invitation.survey, questions, invitation, thanks_url)


@require_safe
def thanks(request: HttpRequest, slug: str) -> HttpResponse:
    survey = published(slug).survey
    language = _language(request, survey, None)
    return _framable(_render(request, survey, language, "surveys/thanks.html"), survey)


@require_safe
def invitation_thanks(request: HttpRequest, token: str) -> HttpResponse:
    invitation = get_object_or_404(
        Invitation.objects.select_related("survey", "customer"), token=token
    )
    language = _language(request, invitation.survey, invitation)
    return _render(request, invitation.survey, language, "surveys/thanks.html")


# Exempt like the survey form: the link is the credential, and a mailbox's one-click
# unsubscribe (RFC 8058) POSTs without any cookie.
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """A GET asks to confirm and changes nothing; the POST opts out of every survey."""
    invitation = get_object_or_404(
        Invitation.objects.select_related("survey", "customer"), token=token
    )
    if request.method == "POST":
        opt_out(customer=invitation.customer)
        invitation.customer.refresh_from_db(fields=["opted_out_at"])
    language = _language(request, invitation.survey, invitation)
    context = {"opted_out": invitation.customer.opted_out_at is not None}
    return _render(request, invitation.survey, language, "surveys/unsubscribe.html", context)


def _framable(response: HttpResponse, survey: Survey) -> HttpResponse:
    """The public link's pages in a frame on the sites the survey names, and only there
    (personal invitations are never framed)."""
    if survey.frame_ancestors:
        # Django's own switch, as @xframe_options_exempt sets it; who may frame the page is
        # CSP's frame-ancestors, which loyaltysite.middleware takes from the response.
        response.xframe_options_exempt = True
        response.frame_ancestors = survey.frame_ancestors  # type: ignore[attr-defined]
    return response


def _respond(
    request: HttpRequest,
    survey: Survey,
    questions: list[Question],
    invitation: Invitation | None,
    thanks_url: str,
) -> HttpResponse:
    language = _language(request, survey, invitation)
    if survey.status == Survey.Status.CLOSED:
        return _render(request, survey, language, "surveys/closed.html", status=410)
    if survey.status == Survey.Status.DRAFT:
        return _render(request, survey, language, "surveys/not_open.html", status=404)
    if invitation is not None and invitation.responded_at is not None:
        return _render(request, survey, language, "surveys/already_answered.html")

    if request.method == "POST" and (wait := count_public_post(request=request, survey=survey)):
        too_many = _render(request, survey, language, "surveys/too_many.html", status=429)
        too_many["Retry-After"] = str(wait)
        return too_many

    link = LinkParametersForm(request.GET, anonymous=survey.anonymous)
    with translation.override(language):
        if request.method == "POST":
            form = ResponseForm(request.POST, questions=questions, language=language)
            if form.filled_by_a_script:
                # Thanked as if it counted, so the script learns nothing; nothing is stored.
                return HttpResponseRedirect(f"{thanks_url}?lang={language}")
            if link.is_valid() and form.is_valid():
                try:
                    submit_response(
                        survey=survey,
                        answers=form.answers(),
                        invitation=invitation,
                        metadata=link.metadata,
                        language=language,
                        # A personal invitation says who answered already.
                        fingerprint="" if invitation else fingerprint(request),
                    )
                except AlreadyAnswered:
                    return _render(request, survey, language, "surveys/already_answered.html")
                except SurveyNotLive:
                    return _render(request, survey, language, "surveys/closed.html", status=410)
                except SurveyChanged:
                    # Its questions changed while this visitor answered: the form afresh.
                    forget_published()
                    return HttpResponseRedirect(request.get_full_path())
                return HttpResponseRedirect(f"{thanks_url}?lang={language}")
        else:
            form = ResponseForm(
                questions=questions, language=language, initial=_preselected(request, questions)
            )
        link.is_valid()
        context = {"form": form, "link": link}
        return _render(request, survey, language, "surveys/respond.html", context)


def _render(
    request: HttpRequest,
    survey: Survey,
    language: str,
    template: str,
    context: Mapping[str, object] | None = None,
    status: int = 200,
) -> HttpResponse:
    switch = {code: _with_param(request, "lang", code) for code in LANGUAGES}
    with translation.override(language):
        return render(
            request,
            template,
            {"survey": survey, "language": language, "switch": switch, **(context or {})},
            status=status,
        )


def _language(request: HttpRequest, survey: Survey, invitation: Invitation | None) -> str:
    """The language asked for in the link, else the invited customer's, else the survey's."""
    requested = request.GET.get("lang", "")
    if requested in LANGUAGES:
        return requested
    customer_language = invitation.customer.language if invitation else ""
    return customer_language or survey.language


def _with_param(request: HttpRequest, name: str, value: str) -> str:
    query = request.GET.copy()
    query[name] = value
    return f"{request.path}?{query.urlencode()}"


def _preselected(request: HttpRequest, questions: list[Question]) -> dict[str, int]:
    """`?score=N` pre-selects N on the first scale question when N is on its scale."""
    first = next((q for q in questions if q.is_scale), None)
    raw = request.GET.get("score", "")
    if first is None or not (raw.isascii() and raw.isdigit()):
        return {}
    score = int(raw)
    return {f"q{first.position}": score} if score in first.scale_values else {}
