# The SLA indexes hold set_aside too, so that the report still reads only them: dropped
# and built again without blocking writes to the cases on PostgreSQL (meanwhile the report
# reads the table).

import django.db.models.functions.datetime
from django.db import migrations, models

from loyaltysite.migration_operations import AddIndexOnline, RemoveIndexOnline


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('metrics', '0021_followup_set_aside'),
    ]

    operations = [
        RemoveIndexOnline(
            model_name='followup',
            name='followup_sla_by_survey',
        ),
        RemoveIndexOnline(
            model_name='followup',
            name='followup_sla_by_assignee',
        ),
        AddIndexOnline(
            model_name='followup',
            index=models.Index(django.db.models.functions.datetime.TruncWeek('created_at', output_field=models.DateField()), models.F('survey'), include=('created_at', 'due_at', 'first_contact_at', 'resolved_at', 'status', 'set_aside'), name='followup_sla_by_survey'),
        ),
        AddIndexOnline(
            model_name='followup',
            index=models.Index(django.db.models.functions.datetime.TruncWeek('created_at', output_field=models.DateField()), models.F('assignee'), include=('created_at', 'due_at', 'first_contact_at', 'resolved_at', 'status', 'set_aside'), name='followup_sla_by_assignee'),
        ),
    ]
