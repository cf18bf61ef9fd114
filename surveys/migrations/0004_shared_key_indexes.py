"""Drop the indexes of two foreign keys that composite indexes serve already.

Only the indexes change: Django's own AlterField would rebuild the answers table on
SQLite (losing the scale trigger of 0002) and re-validate both keys on PostgreSQL.
"""

import django.db.models.deletion
from django.db import migrations, models

# (table, column, index) of each key index Django made in 0001.
INDEXES = [
    ("surveys_answer", "response_id", "surveys_answer_response_id_5416c873"),
    ("surveys_response", "survey_id", "surveys_response_survey_id_907701cf"),
]


class Migration(migrations.Migration):
    dependencies = [("surveys", "0003_response_segment")]

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
                    model_name="answer",
                    name="response",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="answers",
                        to="surveys.response",
                        verbose_name="response",
                    ),
                ),
                migrations.AlterField(
                    model_name="response",
                    name="survey",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="responses",
                        to="surveys.survey",
                        verbose_name="survey",
                    ),
                ),
            ],
        )
    ]
