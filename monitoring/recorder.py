"""Job metrics that workers record in Redis, so they add up across processes.

Every worker process adds to one Redis hash with HINCRBYFLOAT, from a script that
also makes sure each finish is counted once; both are atomic: ten processes on three
machines end with the same totals as one would. The hash lives in the broker's Redis
(the app's broker URL), which every worker already reaches; /metrics reads it back
in one HGETALL. Histogram buckets are stored per bucket (not cumulative) and summed
into Prometheus' cumulative form when read.
"""

from __future__ import annotations

import logging
import threading
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass

import redis

from recognition.models import Job

logger = logging.getLogger(__name__)

HASH_KEY = "facesite:metrics"
SEEN_PREFIX = "facesite:metrics:seen:"
SEEN_SECONDS = 7 * 86400
SOCKET_TIMEOUT = 1.0
STAGES = ("decode", "detect", "encode", "match", "annotate")
VERDICTS = ("match", "unknown", "ambiguous")


@dataclass(frozen=True)
class Histogram:
    name: str
    help: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...]  # upper bounds, ascending; +Inf is implied

    def bucket_index(self, value: float) -> int:
        """The first bucket whose upper bound holds the value (len = +Inf)."""
        return bisect_left(self.buckets, value)


@dataclass(frozen=True)
class Counter:
    name: str
    help: str
    labels: tuple[str, ...]


JOB_DURATION = Histogram(
    "facesite_job_duration_seconds",
    "Seconds from a worker's claim to the job's final state.",
    ("queue", "status"),
    (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300),
)
STAGE_DURATION = Histogram(
    "facesite_job_stage_duration_seconds",
    "Seconds per pipeline stage of a successful job.",
    ("stage",),
    (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
QUEUE_WAIT = Histogram(
    "facesite_job_queue_wait_seconds",
    "Seconds from a job's creation to a worker's claim.",
    ("queue",),
    (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800),
)
JOBS_FINISHED = Counter(
    "facesite_jobs_finished",
    "Jobs that reached a final state in a worker.",
    ("queue", "status"),
)
FACES = Counter(
    "facesite_faces_recognized",
    "Faces found in successful jobs, by verdict.",
    ("verdict",),
)
HISTOGRAMS = (JOB_DURATION, STAGE_DURATION, QUEUE_WAIT)
COUNTERS = (JOBS_FINISHED, FACES)

# KEYS: the job's "seen" key, the hash. ARGV: the seen key's lifetime, then field,
# amount pairs. Integral amounts stay integers (HINCRBYFLOAT writes "2", not "2.0").
RECORD_ONCE = """
if not redis.call('SET', KEYS[1], 1, 'NX', 'EX', ARGV[1]) then return 0 end
for i = 2, #ARGV, 2 do redis.call('HINCRBYFLOAT', KEYS[2], ARGV[i], ARGV[i + 1]) end
return 1
"""

_clients: dict[str, redis.Redis] = {}
_clients_lock = threading.Lock()


def client() -> redis.Redis:
    """A Redis client for the broker the app uses now (tests repoint the app)."""
    from facesite import celery_app

    url = celery_app.conf.broker_url
    with _clients_lock:
        if url not in _clients:
            _clients[url] = redis.Redis.from_url(
                url,
                socket_timeout=SOCKET_TIMEOUT,
                socket_connect_timeout=SOCKET_TIMEOUT,
                decode_responses=True,
            )
        return _clients[url]


def field(name: str, labels: Iterable[str], suffix: str) -> str:
    """The hash field of one series: name|label values|suffix."""
    return f"{name}|{','.join(labels)}|{suffix}"


def queue_of(job: Job) -> str:
    from recognition.tasks import ROUTES

    route = ROUTES.get(job.priority)
    return route[0] if route else "default"


def face_verdict(face: dict) -> str:
    verdict = face.get("verdict")
    if verdict in VERDICTS:
        return verdict
    return "match" if face.get("name") else "unknown"


def increments(job: Job) -> list[tuple[str, float]]:
    """The (field, amount) pairs one finished job adds to the hash."""
    queue, status = queue_of(job), str(job.status)
    pairs = [(field(JOBS_FINISHED.name, (queue, status), "total"), 1)]
    if job.duration is not None:
        pairs += observe(JOB_DURATION, (queue, status), job.duration)
    if job.start_time and job.created_at:
        wait = max(0.0, (job.start_time - job.created_at).total_seconds())
        pairs += observe(QUEUE_WAIT, (queue,), wait)
    if job.status == Job.Status.SUCCESS:
        for stage, seconds in (job.timings or {}).items():
            if stage in STAGES:
                pairs += observe(STAGE_DURATION, (stage,), float(seconds))
        for face in job.faces or []:
            pairs.append((field(FACES.name, (face_verdict(face),), "total"), 1))
    return pairs


def observe(
    histogram: Histogram, labels: tuple[str, ...], value: float
) -> list[tuple[str, float]]:
    index = histogram.bucket_index(value)
    return [
        (field(histogram.name, labels, f"b{index}"), 1),
        (field(histogram.name, labels, "count"), 1),
        (field(histogram.name, labels, "sum"), float(value)),
    ]


def record_job(job: Job) -> bool:
    """Add a finished job to the shared metrics, once per finish.

    Returns False when the job is not final, was already recorded (a redelivered
    task, or a second call), or Redis is unreachable: metrics must never fail a job.
    """
    if not job.is_final:
        return False
    finished = job.end_time.timestamp() if job.end_time else 0
    pairs = [str(value) for pair in increments(job) for value in pair]
    try:
        # One round trip a job: the first recorder of this finish wins, atomically.
        recorded = client().eval(
            RECORD_ONCE,
            2,
            f"{SEEN_PREFIX}{job.pk}:{finished}",
            HASH_KEY,
            SEEN_SECONDS,
            *pairs,
        )
    except redis.RedisError as exc:
        logger.warning("Metrics for job %s not recorded: %s", job.pk, exc)
        return False
    return bool(recorded)


def read() -> dict[str, float] | None:
    """Every recorded field and its value; None when Redis cannot be reached."""
    try:
        raw = client().hgetall(HASH_KEY)
    except redis.RedisError as exc:
        logger.warning("Recorded metrics unavailable: %s", exc)
        return None
    return {name: float(value) for name, value in raw.items()}


def reset() -> None:
    """Forget every recorded figure (tests, or an operator starting afresh)."""
    store = client()
    store.delete(HASH_KEY)
    for key in store.scan_iter(f"{SEEN_PREFIX}*", count=1000):
        store.delete(key)
