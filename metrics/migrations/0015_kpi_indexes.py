from django.db import migrations, models

from loyaltysite.migration_operations import AddIndexOnline, RemoveIndexOnline


# The orders table is large: on PostgreSQL its indexes are built and dropped without
# blocking writes (see "Deploying" in README.md); other databases do it as usual.
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
