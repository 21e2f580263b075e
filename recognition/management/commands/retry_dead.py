from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from recognition.models import Job
from recognition.tasks import retry_dead


class Command(BaseCommand):
    help = (
        "Send dead-lettered jobs back to their queue (all of them, or the given ids)."
    )

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument("ids", nargs="*", type=int, help="Job ids to retry.")
        parser.add_argument("--all", action="store_true", help="Retry every dead job.")

    def handle(self, *args, ids: list[int], all: bool, **options) -> None:  # noqa: A002, ANN002, ANN003
        if bool(ids) == all:
            raise CommandError("Give job ids or --all (not both).")
        dead = Job.objects.filter(status=Job.Status.DEAD)
        if ids:
            found = set(dead.filter(pk__in=ids).values_list("pk", flat=True))
            missing = sorted(set(ids) - found)
            if missing:
                raise CommandError(
                    f"Not dead or not found: {', '.join(map(str, missing))}"
                )
            dead = dead.filter(pk__in=ids)
        jobs = list(dead.order_by("pk"))
        revived = retry_dead(jobs)
        for job in jobs:
            self.stdout.write(f"retried  job {job.pk}  {job.filename}")
        self.stdout.write(f"{revived} dead job(s) sent back to the queue.")
