from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


# The orders table is large: on PostgreSQL its indexes are built and dropped without
# blocking writes (see "Deploying" in README.md); other databases do it as usual.
class AddIndexOnline(AddIndexConcurrently):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)
        else:
            migrations.AddIndex.database_forwards(
                self, app_label, schema_editor, from_state, to_state
            )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
        else:
            migrations.AddIndex.database_backwards(
                self, app_label, schema_editor, from_state, to_state
            )


class RemoveIndexOnline(RemoveIndexConcurrently):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)
        else:
            migrations.RemoveIndex.database_forwards(
                self, app_label, schema_editor, from_state, to_state
            )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
        else:
            migrations.RemoveIndex.database_backwards(
                self, app_label, schema_editor, from_state, to_state
            )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("metrics", "0014_health_and_drift"),
    ]

    operations = [
        migrations.AlterField(
            model_name="order",
            name="is_upsell",
            field=models.BooleanField(db_default=False, default=False, editable=False),
        ),
        AddIndexOnline(
            model_name="order",
            index=models.Index(
                fields=["ordered_at"],
                include=(
                    "amount",
                    "customer",
                    "previous_ordered_at",
                    "second_previous_ordered_at",
                    "is_upsell",
                    "previous_upsell_at",
                ),
                name="order_period_facts",
            ),
        ),
        RemoveIndexOnline(model_name="order", name="metrics_ord_ordered_a54067_idx"),
    ]
