"""Where a job's time goes outside the pipeline, from timestamps a worker writes.

1. Start the worker with this module included; it then appends one line per event
   (task received by the main process; task_prerun and task_postrun in the pool
   process) to the file FACESITE_TIMELINE names:

       FACESITE_TIMELINE=/tmp/timeline.log .venv/bin/celery -A facesite worker \\
           --concurrency 2 -Q high,default,bulk --include benchmarks.task_timeline

2. Run jobs through it (`manage.py benchmark DIR --modes distributed`), then

       .venv/bin/python benchmarks/task_timeline.py /tmp/timeline.log

   prints, as medians over the jobs, each step of a job's life on its pool process:
   from task_prerun to the claim (claiming the row), the claim to the finish less
   the pipeline's stages (the task's own bookkeeping: reading the row and the
   upload, the gallery check, the result image, the row update), the finish to
   this module's task_postrun receiver (observations, commit, and the metrics
   receiver, which FaceSite connects first), and from there to the next task_prerun
   on the same process (Celery's own: the result back to the main process, the
   acknowledgement, the next message handed over).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

from celery.signals import task_postrun, task_prerun, task_received

ROOT = Path(__file__).resolve().parent.parent


def _write(kind: str, task_id: str) -> None:
    path = os.environ.get("FACESITE_TIMELINE")
    if path:
        with open(path, "a") as log:
            log.write(f"{time.time():.6f} {os.getpid()} {kind} {task_id}\n")


@task_received.connect
def _received(request: object = None, **kwargs: object) -> None:
    _write("received", request.id)


@task_prerun.connect
def _prerun(task_id: str = "", **kwargs: object) -> None:
    _write("prerun", task_id)


@task_postrun.connect
def _postrun(task_id: str = "", **kwargs: object) -> None:
    _write("postrun", task_id)


def read_events(path: Path) -> tuple[dict[str, dict[str, float]], dict[str, str]]:
    """Per task id, event → time; and the pool process that ran each task."""
    events: dict[str, dict[str, float]] = defaultdict(dict)
    process: dict[str, str] = {}
    for line in path.read_text().splitlines():
        stamp, pid, kind, task_id = line.split()
        events[task_id][kind] = float(stamp)
        if kind == "prerun":
            process[task_id] = pid
    return events, process


def steps(path: Path) -> dict[str, list[float]]:
    """Seconds of each step, one value per job (the last step per pair of jobs)."""
    from recognition.models import Job

    events, process = read_events(path)
    jobs = Job.objects.filter(task_id__in=list(process), start_time__isnull=False)
    runs = sorted(
        (process[job.task_id], events[job.task_id]["prerun"], job)
        for job in jobs
        if "postrun" in events[job.task_id] and job.end_time and job.timings
    )
    found: dict[str, list[float]] = defaultdict(list)
    for (pid, _, job), following in zip(runs, [*runs[1:], None], strict=True):
        seen = events[job.task_id]
        start, end = job.start_time.timestamp(), job.end_time.timestamp()
        pipeline = sum(job.timings.values())
        found["prerun -> claim"].append(start - seen["prerun"])
        found["pipeline"].append(pipeline)
        found["claim -> finish, less the pipeline"].append(end - start - pipeline)
        found["finish -> postrun"].append(seen["postrun"] - end)
        if following is not None and following[0] == pid:
            found["postrun -> next prerun"].append(following[1] - seen["postrun"])
    return found


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "facesite.settings")
    import django

    django.setup()
    found = steps(Path(sys.argv[1]))
    if not found:
        sys.exit("No finished job of that log is in this database.")
    print(f"{len(found['pipeline'])} jobs; medians:")
    for name, values in found.items():
        print(f"  {name:<36} {statistics.median(values) * 1000:7.2f} ms")


if __name__ == "__main__":
    main()
