"""Recognise every image under a folder, in this process or on the Celery workers."""

from __future__ import annotations

import json
import logging
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError, CommandParser
from kombu.exceptions import OperationalError as BrokerError
from kombu.utils.url import maybe_sanitize_url
from redis.exceptions import RedisError

from facesite import celery_app
from monitoring.models import PerformanceStat
from recognition import batch, options, processing
from recognition.models import Job
from recognition.pipeline import load_models
from recognition.tasks import enqueue
from recognition.uploads import UploadError, create_job, read_upload

logger = logging.getLogger(__name__)

Mode = PerformanceStat.Mode
POLL_SECONDS = 0.5
NO_WORKERS = (
    "No Celery worker answered. Start the workers (`make run`, or "
    "`celery -A facesite worker` in another terminal) or use --mode sequential."
)


@dataclass
class Item:
    """One file of the run: the job made for it, or why none was made."""

    path: str
    job: Job | None = None
    error: str | None = None

    def result(self) -> dict:
        if self.job is None:
            return batch.refused_result(self.path, self.error or "refused")
        result = batch.job_result(self.path, self.job)
        if not self.job.is_final and self.error:
            result["error"] = self.error
        return result


class Command(BaseCommand):
    help = (
        "Recognise the faces in every image under DIR (recursively), in this "
        "process (sequential) or through the queue and its workers (distributed), "
        "and record the run's performance."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", help="A folder of images (jpg, png, webp).")
        parser.add_argument("--mode", choices=Mode.values, default=Mode.SEQUENTIAL)
        parser.add_argument(
            "--json",
            action="store_true",
            help="Print only a JSON array with one object per image.",
        )
        parser.add_argument(
            "--timeout",
            type=float,
            default=600.0,
            help="Distributed mode: seconds to wait for the workers (default 600).",
        )

    def handle(self, *args: object, **opts: object) -> None:
        root = Path(str(opts["directory"])).expanduser()
        images = find_images(root)
        mode, as_json, timeout = str(opts["mode"]), bool(opts["json"]), opts["timeout"]
        self.stream = mode == Mode.SEQUENTIAL and not as_json
        workers = check_workers() if mode == Mode.DISTRIBUTED else load_locally()
        started = time.perf_counter()
        items = self.submit(images, root, mode)
        unfinished = wait_for(items, float(timeout)) if mode == Mode.DISTRIBUTED else []
        total = time.perf_counter() - started
        results = [item.result() for item in items]
        if not unfinished:
            record_stat(results, mode, total, workers, root)
        self.report(results, as_json, summary(results, mode, total, workers))
        if unfinished:
            raise CommandError(
                f"{len(unfinished)} of {len(items)} jobs did not finish within "
                f"{timeout:g} s; are the workers busy or stopped? They keep running "
                "and record their results."
            )

    def submit(self, images: list[Path], root: Path, mode: str) -> list[Item]:
        submission, worker = uuid.uuid4(), f"local@{socket.gethostname()}"
        items = []
        for path in images:
            item = prepare(path, root, submission)
            if item.job is not None and mode == Mode.SEQUENTIAL:
                run_locally(item.job, worker)
            elif item.job is not None:
                queue(item.job)
            if self.stream:
                self.stdout.write(batch.describe_result(item.result()))
            items.append(item)
        return items

    def report(self, results: list[dict], as_json: bool, line: str) -> None:
        if as_json:
            self.stdout.write(json.dumps(results, indent=2))
            return
        if not self.stream:
            for result in results:
                self.stdout.write(batch.describe_result(result))
        self.stdout.write(line)


def find_images(root: Path) -> list[Path]:
    if not root.exists():
        raise CommandError(f"{root} does not exist.")
    if not root.is_dir():
        raise CommandError(f"{root} is not a folder.")
    images = batch.list_images(root)
    if not images:
        extensions = ", ".join(sorted(batch.IMAGE_EXTENSIONS))
        raise CommandError(f"{root} holds no image files ({extensions}).")
    return images


def prepare(path: Path, root: Path, submission: uuid.UUID) -> Item:
    """Read one file and make its PENDING job, or say why it was refused."""
    name = batch.relative_name(path, root)
    try:
        with path.open("rb") as handle:
            data = read_upload(File(handle, name=name))
    except UploadError as exc:
        return Item(name, error=str(exc))
    except OSError as exc:
        return Item(name, error=f"Cannot read the file: {exc.strerror or exc}")
    # The command runs in autocommit mode: the row is committed when this returns,
    # before any worker can be asked to look for it. Folder runs go to the bulk
    # queue, behind interactive uploads (a sequential run ignores the priority).
    return Item(name, job=create_job(data, name, submission, Job.Priority.LOW))


def run_locally(job: Job, worker: str) -> None:
    if job.claim(worker):
        try:
            processing.process(job)
        except Exception as exc:  # noqa: BLE001 - one bad image must not stop the run
            logger.exception("Job %s failed unexpectedly", job.pk)
            job.mark_failed(f"Unexpected error: {exc}")
    job.refresh_from_db()


def load_locally() -> int:
    """Load the models before the clock starts, as workers do when they start."""
    load_models(options.detect_options().detector)
    return 1


def check_workers() -> int:
    """The number of worker processes ready; CommandError when none or no Redis."""
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(
                max_retries=1, interval_start=0, interval_step=0, timeout=3
            )
            replies = celery_app.control.ping(timeout=2, connection=conn)
            if not replies:
                raise CommandError(NO_WORKERS)
            return worker_slots(conn, replies)
    except (BrokerError, RedisError, OSError) as exc:
        where = maybe_sanitize_url(celery_app.conf.broker_url)
        raise CommandError(
            f"Cannot reach Redis at {where} ({exc}). "
            "Start it (`make run` starts one) or set REDIS_URL."
        ) from None


def worker_slots(conn: object, replies: list[dict]) -> int:
    """The summed pool sizes of the workers that answered, else their number."""
    names = [name for reply in replies for name in reply]
    inspector = celery_app.control.inspect(
        destination=names, timeout=1, connection=conn
    )
    stats = inspector.stats() or {}
    slots = sum(
        int(stat.get("pool", {}).get("max-concurrency") or 0) for stat in stats.values()
    )
    return slots or len(names)


def queue(job: Job) -> None:
    if not enqueue(job):
        raise CommandError(
            f"Redis stopped answering while queueing {job.filename}. The jobs made "
            "so far stay PENDING and are queued again once it is back."
        )


def wait_for(items: list[Item], timeout: float) -> list[Item]:
    """Poll the job rows until all are final; the items still unfinished at timeout."""
    jobs = {item.job.pk: item for item in items if item.job is not None}
    pending = Job.objects.filter(pk__in=list(jobs)).exclude(
        status__in=Job.FINAL_STATUSES
    )
    deadline = time.monotonic() + timeout
    while pending.exists() and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
    for pk, job in Job.objects.in_bulk(list(jobs)).items():
        jobs[pk].job = job
    unfinished = [item for item in jobs.values() if not item.job.is_final]
    for item in unfinished:
        item.error = f"Not finished within {timeout:g} s."
    return unfinished


def summary(results: list[dict], mode: str, total: float, workers: int) -> str:
    count = len(results)
    faces = sum(len(result["faces"]) for result in results)
    failures = count_failures(results)
    unfinished = sum(result["status"] not in Job.FINAL_STATUSES for result in results)
    return (
        f"{plural(count, 'image')} in {total:.1f} s "
        f"({total / count:.2f} s per image), {mode}, "
        f"{plural(workers, 'worker process', 'worker processes')}; "
        f"{plural(faces, 'face')}, {plural(failures, 'failure')}"
        + (f", {unfinished} unfinished" if unfinished else "")
    )


def count_failures(results: list[dict]) -> int:
    """Images that ended badly: refused, failed or dead-lettered."""
    return sum(
        result["status"] in Job.FINAL_STATUSES
        and result["status"] != Job.Status.SUCCESS
        for result in results
    )


def plural(count: int, singular: str, several: str = "") -> str:
    return f"{count} {singular if count == 1 else several or singular + 's'}"


def record_stat(
    results: list[dict], mode: str, total: float, workers: int, root: Path
) -> PerformanceStat:
    return PerformanceStat.objects.create(
        mode=mode,
        num_images=len(results),
        total_time=total,
        avg_time=total / len(results),
        num_workers=workers,
        faces_found=sum(len(result["faces"]) for result in results),
        failures=count_failures(results),
        source=str(root)[:500],
    )
