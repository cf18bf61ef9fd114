from io import StringIO

import pytest
from django.core.management import call_command

from metrics.models import ScoreRollup
from metrics.rollups import recompute_rollups
from surveys.models import Answer, Response, Survey

pytestmark = pytest.mark.django_db


def _run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip().splitlines()


def test_seed_demo_loads_live_surveys_with_answers_once():
    lines = _run("seed_demo", "--responses", "300", "--customers", "20")

    assert Survey.objects.filter(status=Survey.Status.LIVE).count() == 5
    assert Response.objects.count() == 300
    assert not Response.objects.filter(processed_at__isnull=True).exists()
    assert set(Survey.objects.values_list("kind", flat=True)) == {"nps", "csat", "ces", "loyalty"}
    # Every response answers its survey's required questions, on their scales.
    required = Answer.objects.filter(question__required=True)
    assert required.count() == sum(
        r.survey.questions.filter(required=True).count()
        for r in Response.objects.select_related("survey")
    )
    # Scores are built at the end, and equal a fresh count.
    assert ScoreRollup.objects.filter(dimension="all").exists()
    assert all(recompute_rollups(survey=s).cells == 0 for s in Survey.objects.all())
    first = Survey.objects.order_by("created_at").first()
    assert first is not None
    assert lines[-1] == f"Demo survey: http://localhost:8000/s/{first.slug}/"

    again = _run("seed_demo", "--responses", "300")
    assert Response.objects.count() == 300
    assert "not loaded" in again[0]
    assert again[-1] == f"A live survey: http://localhost:8000/s/{first.slug}/"
