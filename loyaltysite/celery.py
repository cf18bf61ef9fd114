import os

from celery import Celery, Task
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyaltysite.settings")

app = Celery("loyaltysite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def close_old_connections(task: Task, **kwargs: object) -> None:
    """Drop connections that failed or outlived CONN_MAX_AGE, as a request would.

    Not for a task run eagerly: it runs inside its caller, whose connection it is.
    """
    from django.db import close_old_connections

    if not task.request.is_eager:
        close_old_connections()
