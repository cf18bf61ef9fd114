from django.db import migrations, models
from django.db.models import Count


def count_the_cases(apps, schema_editor):
    """The cases there are already, counted as metrics.queue_counts keeps them."""
    FollowUp = apps.get_model("metrics", "FollowUp")
    QueueCount = apps.get_model("metrics", "QueueCount")
    rows = FollowUp.objects.values_list("status", "survey_id", "reason", "assignee_id")
    QueueCount.objects.bulk_create(
        QueueCount(status=s, survey_key=survey, reason=r, assignee_key=a or 0, cases=n)
        for s, survey, r, a, n in rows.annotate(n=Count("pk")).order_by()
    )


class Migration(migrations.Migration):
    dependencies = [
        ("metrics", "0016_staff_action_date"),
    ]

    operations = [
        migrations.CreateModel(
            name="QueueCount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("status", models.CharField(max_length=12, verbose_name="status")),
                ("survey_key", models.IntegerField(verbose_name="survey")),
                ("reason", models.CharField(max_length=20, verbose_name="reason")),
                ("assignee_key", models.IntegerField(verbose_name="assignee")),
                ("cases", models.IntegerField(verbose_name="cases")),
            ],
            options={
                "verbose_name": "queue count",
                "verbose_name_plural": "queue counts",
            },
        ),
        migrations.RunPython(count_the_cases, migrations.RunPython.noop),
    ]
