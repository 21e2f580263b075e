"""Files follow their rows: deleting a job or a face (any way) deletes its files."""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from .models import Job, KnownFace


def delete_files(*names: str) -> None:
    for name in names:
        if name and default_storage.exists(name):
            default_storage.delete(name)


def _job_deleted(sender: type, instance: Job, **kwargs: object) -> None:
    # After commit: a rolled-back delete must keep its files.
    names = (instance.image.name, instance.result_path)
    transaction.on_commit(lambda: delete_files(*names))


def _face_deleted(sender: type, instance: KnownFace, **kwargs: object) -> None:
    name = instance.image.name
    transaction.on_commit(lambda: delete_files(name))


def _face_saved(
    sender: type, instance: KnownFace, created: bool, **kwargs: object
) -> None:
    if created:
        from .tasks import schedule_rematch

        # Someone new may now match faces that earlier jobs reported as Unknown.
        transaction.on_commit(schedule_rematch)


def connect() -> None:
    post_delete.connect(_job_deleted, sender=Job, dispatch_uid="job-files")
    post_delete.connect(_face_deleted, sender=KnownFace, dispatch_uid="face-files")
    post_save.connect(_face_saved, sender=KnownFace, dispatch_uid="face-rematch")
