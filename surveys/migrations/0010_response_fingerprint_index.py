# Built without blocking writes to the responses on PostgreSQL: answers go on being saved.

from django.db import migrations, models

from loyaltysite.migration_operations import AddIndexOnline


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('surveys', '0009_survey_frame_origins'),
    ]

    operations = [
        AddIndexOnline(
            model_name='response',
            index=models.Index(condition=models.Q(('fingerprint', ''), _negated=True), fields=['survey', 'fingerprint'], name='response_fingerprint'),
        ),
    ]
