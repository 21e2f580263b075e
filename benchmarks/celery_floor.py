"""Celery's own cost per task on this machine: the floor under a job's overhead.

Every upload is one Celery task, delivered with the options of `process_job`
(acknowledged late, on the prefork pool). This script times tasks that do nothing
with the same options, through the same broker and the running workers, so what it
measures is Celery's share alone: the main process fetching and acknowledging
messages, handing them to pool processes and taking the results back. No job can
cost less than that, whatever FaceSite does inside it.

1. Start the workers with this module included, e.g.

       .venv/bin/celery -A facesite worker --concurrency 2 -Q high,default,bulk \\
           --include benchmarks.celery_floor

2. Then

       .venv/bin/python benchmarks/celery_floor.py [--tasks 3000] [--repeat 3]

Each round queues the empty tasks on a queue of their own while no worker reads
it, then asks the workers to read it and waits for the last task to run; the
workers stop reading it afterwards. It prints tasks/s and the time each task holds
a worker slot, and, when the database holds finished jobs, the share of a job's
time on its slot that this floor alone would be at their median pipeline time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "facesite.settings")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django  # noqa: E402

django.setup()  # a no-op in a worker, which has set Django up before its --include

from celery import shared_task  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.core.management.base import CommandError  # noqa: E402

from facesite.celery import app  # noqa: E402
from recognition.management.commands.recognize import check_workers  # noqa: E402
from recognition.models import Job  # noqa: E402
from recognition.tasks import ROUTES, process_job  # noqa: E402

QUEUE = "celery-floor"
DONE_KEY = "benchmarks:celery-floor:done"
TASK = "benchmarks.celery_floor.empty"
# Delivered as a folder run's jobs are: process_job's options, the bulk priority.
DELIVERY = ("acks_late", "reject_on_worker_lost", "ignore_result")
PRIORITY = ROUTES[Job.Priority.LOW][1]


@shared_task(name=TASK, **{option: getattr(process_job, option) for option in DELIVERY})
def empty(token: str = "") -> None:
    """Nothing, delivered as a job is; the last task of a round leaves its token."""
    if token:
        cache.set(DONE_KEY, token, timeout=600)


def worker_slots() -> int:
    """Pool slots of the workers that answer and know the empty task."""
    try:
        slots = check_workers()
    except CommandError as exc:
        sys.exit(str(exc))
    registered = app.control.inspect(timeout=2).registered() or {}
    if not any(TASK in tasks for tasks in registered.values()):
        sys.exit(
            "No worker knows the empty task: start the workers with "
            "--include benchmarks.celery_floor (see this script's docstring)."
        )
    return slots


def one_round(count: int, timeout: float) -> float:
    """Seconds from asking the workers to read the queued tasks to the last one."""
    # A round's own token: tasks left over from an interrupted round cannot end it.
    token = uuid.uuid4().hex
    # The workers do not read this queue until asked to.
    for number in range(count):
        last = number == count - 1
        empty.apply_async((token if last else "",), queue=QUEUE, priority=PRIORITY)
    began = time.perf_counter()
    app.control.add_consumer(QUEUE, reply=True, timeout=2)
    try:
        while cache.get(DONE_KEY) != token:
            if time.perf_counter() - began > timeout:
                sys.exit(f"The last empty task did not run within {timeout:.0f} s.")
            time.sleep(0.01)
        return time.perf_counter() - began
    finally:
        app.control.cancel_consumer(QUEUE, reply=True, timeout=2)


def recent_pipeline(limit: int = 500) -> float | None:
    """Median pipeline seconds of the newest successful jobs, if there are any."""
    rows = (
        Job.objects.filter(status=Job.Status.SUCCESS, end_time__isnull=False)
        .order_by("-end_time")
        .values_list("timings", flat=True)[:limit]
    )
    totals = [sum(timings.values()) for timings in rows if timings]
    return statistics.median(totals) if totals else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=3000, help="Tasks per round.")
    parser.add_argument("--repeat", type=int, default=3, help="Rounds.")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    if args.tasks < 1 or args.repeat < 1:
        parser.error("--tasks and --repeat must be at least 1")
    slots = worker_slots()
    per_slot = []
    for number in range(1, args.repeat + 1):
        seconds = one_round(args.tasks, args.timeout)
        per_slot.append(seconds * slots / args.tasks)
        print(
            f"round {number}: {args.tasks} empty tasks in {seconds:.2f} s on {slots} "
            f"slots = {args.tasks / seconds:.0f} tasks/s, "
            f"{per_slot[-1] * 1000:.2f} ms of a slot per task"
        )
    floor = statistics.median(per_slot)
    print(f"Celery's floor: {floor * 1000:.2f} ms of a slot per task (median)")
    pipeline = recent_pipeline()
    if pipeline:
        print(
            f"newest jobs: median pipeline {pipeline * 1000:.1f} ms; this floor alone "
            f"would be {floor / (pipeline + floor):.1%} of such a job's time on a slot"
        )


if __name__ == "__main__":
    main()
