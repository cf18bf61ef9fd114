"""The product's URLs and the baseline of bench/load.py: `/bare/<survey>/`, where a GET is
a tiny form and a POST inserts one row and enqueues one task, as the public form does
after its checks, so the least any submission can cost the web process."""

from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from loyaltysite.broker import publish
from loyaltysite.urls import urlpatterns as product
from metrics import tasks
from surveys.models import Response

FORM = '<!doctype html><form method="post"><input name="q1"><button>Send</button></form>'


@csrf_exempt
def bare(request: HttpRequest, survey_id: int) -> HttpResponse:
    if request.method != "POST":
        return HttpResponse(FORM)
    response = Response.objects.create(
        survey_id=survey_id, submitted_at=timezone.now(), language="en"
    )
    transaction.on_commit(lambda: publish(tasks.process_response, response.pk))
    return HttpResponseRedirect(request.path)


urlpatterns = [path("bare/<int:survey_id>/", bare), *product]
