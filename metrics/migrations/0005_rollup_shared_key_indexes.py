"""Drop the indexes of the rollups' two foreign keys, which the unique cell (question
first) and the (survey, dimension, day) index serve already. Only the indexes change:
Django's own AlterField would re-validate both keys on PostgreSQL."""

import django.db.models.deletion
from django.db import migrations, models

# (table, column, index) of each key index Django made in 0001.
INDEXES = [
    ("metrics_scorerollup", "question_id", "metrics_scorerollup_question_id_480a6d79"),
    ("metrics_scorerollup", "survey_id", "metrics_scorerollup_survey_id_0b460472"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("metrics", "0004_notification_next_attempt"),
        ("surveys", "0004_shared_key_indexes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{index}"',
                    reverse_sql=f'CREATE INDEX "{index}" ON "{table}" ("{column}")',
                )
                for table, column, index in INDEXES
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="scorerollup",
                    name="question",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="rollups",
                        to="surveys.question",
                        verbose_name="question",
                    ),
                ),
                migrations.AlterField(
                    model_name="scorerollup",
                    name="survey",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="rollups",
                        to="surveys.survey",
                        verbose_name="survey",
                    ),
                ),
            ],
        )
    ]
