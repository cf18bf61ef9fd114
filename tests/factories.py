import factory

from surveys.models import Customer, Invitation, Survey
from surveys.services import create_survey


class SurveyFactory(factory.django.DjangoModelFactory[Survey]):
    """A live survey with its template's questions (pass template="csat", ...)."""

    class Meta:
        model = Survey

    name = factory.Sequence(lambda n: f"Survey {n}")
    company = "Acme"
    language = "en"
    status = Survey.Status.LIVE

    @classmethod
    def _create(cls, model_class, *args, template="nps", **kwargs):
        return create_survey(survey=model_class(**kwargs), template=template)


class CustomerFactory(factory.django.DjangoModelFactory[Customer]):
    class Meta:
        model = Customer

    ref = factory.Sequence(lambda n: f"C{n:05d}")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    name = factory.Sequence(lambda n: f"Customer {n}")


class InvitationFactory(factory.django.DjangoModelFactory[Invitation]):
    class Meta:
        model = Invitation

    survey = factory.SubFactory(SurveyFactory)
    customer = factory.SubFactory(CustomerFactory)
