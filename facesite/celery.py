from __future__ import annotations

import os

from celery import Celery, Task
from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "facesite.settings")

app = Celery("facesite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def keep_usable_connections(sender: Task | None = None, **kwargs: object) -> None:
    """Around each task, what Django does around each request: close a database
    connection that is broken or older than CONN_MAX_AGE, keep the others.

    Celery's own fixup closes every connection before and after every task unless
    CELERY_DB_REUSE_MAX is set (settings set it): a new connection per job cost
    SQLite its PRAGMAs and PostgreSQL a TCP connection and a login each time.
    """
    if sender is not None and getattr(sender.request, "is_eager", False):
        return  # an eager task runs inside the caller's connection and transaction
    close_old_connections()
