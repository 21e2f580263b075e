"""Health checks as plain functions: each returns a detail line or raises CheckFailed.

LIVENESS is cheap (the process answers and reaches its database); READINESS is what
a load balancer or an operator needs before sending work: database, Redis, a worker
answering, writable storage with free space, migrations applied, face models present.
The face-model check does not load dlib's networks in the web process (1.5 s and
140 MB): it imports dlib and checks that each model file is there and readable, and
that the encoder's file reads as the network recognition.encoder runs (30 ms, once
per process and file version).
"""

from __future__ import annotations

import importlib.util
import shutil
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

from . import metrics, recorder

ENCODER_FILE = "dlib_face_recognition_resnet_model_v1.dat"
MODEL_FILES = (
    "shape_predictor_68_face_landmarks.dat",
    "shape_predictor_5_face_landmarks.dat",
    ENCODER_FILE,
)
_migrations_done: dict[str, bool] = {}
_encoders_read: set[tuple[str, int, int]] = set()


class CheckFailed(Exception):
    """The check ran and found a problem; the message says which."""


@dataclass(frozen=True)
class Result:
    name: str
    ok: bool
    detail: str
    seconds: float

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "detail": self.detail,
            "ms": round(self.seconds * 1000, 1),
        }


def database() -> str:
    connection = connections[DEFAULT_DB_ALIAS]
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return f"{connection.vendor} answers"


def redis() -> str:
    started = time.perf_counter()
    recorder.client().ping()
    return f"PING answered in {(time.perf_counter() - started) * 1000:.1f} ms"


def workers() -> str:
    answer = metrics.ping_workers(settings.FACESITE_HEALTH_PING_TIMEOUT)
    if not answer["broker"]:
        raise CheckFailed(f"broker unreachable: {answer['error']}")
    if not answer["workers"]:
        raise CheckFailed(
            f"no worker answered a ping within "
            f"{settings.FACESITE_HEALTH_PING_TIMEOUT:g} s"
        )
    return f"{len(answer['workers'])} answered: {', '.join(answer['workers'])}"


def storage() -> str:
    name = default_storage.save(
        f"temp/health-{uuid.uuid4().hex}.txt", ContentFile(b"ok")
    )
    try:
        with default_storage.open(name, "rb") as handle:
            if handle.read() != b"ok":
                raise CheckFailed(f"{name} did not read back what was written")
    finally:
        default_storage.delete(name)
    return f"wrote, read and deleted {name}"


def disk() -> str:
    try:
        where = Path(default_storage.path(""))
    except NotImplementedError:
        return "remote storage: no local disk to measure"
    where.mkdir(parents=True, exist_ok=True)
    free_mb = shutil.disk_usage(where).free / 2**20
    floor = settings.FACESITE_HEALTH_MIN_FREE_MB
    detail = f"{free_mb:,.0f} MB free under {where} (minimum {floor:,} MB)"
    if free_mb < floor:
        raise CheckFailed(detail)
    return detail


def migrations() -> str:
    # Applied migrations do not come undone while a process runs: once clean, the
    # (50 ms) migration graph is not loaded again by this process.
    if _migrations_done.get(DEFAULT_DB_ALIAS):
        return "all applied"
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        names = ", ".join(f"{m.app_label}.{m.name}" for m, _ in plan[:5])
        raise CheckFailed(f"{len(plan)} unapplied: {names}")
    _migrations_done[DEFAULT_DB_ALIAS] = True
    return "all applied"


def face_models() -> str:
    if importlib.util.find_spec("dlib") is None:
        raise CheckFailed("dlib is not installed")
    import dlib

    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise CheckFailed("face_recognition_models is not installed")
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    missing = [name for name in MODEL_FILES if not readable(folder / name)]
    if missing:
        raise CheckFailed(f"missing or unreadable in {folder}: {', '.join(missing)}")
    encoder_network(folder / ENCODER_FILE)
    return f"dlib {dlib.__version__}; {len(MODEL_FILES)} model files in {folder}"


def encoder_network(path: Path) -> None:
    """CheckFailed unless the file holds the ResNet recognition.encoder runs. Read
    once per version of the file; the weights are not kept in this process."""
    from recognition import encoder

    stat = path.stat()
    version = (str(path), stat.st_size, stat.st_mtime_ns)
    if version in _encoders_read:
        return
    try:
        encoder.build(path.read_bytes())
    except encoder.ModelFormatError as exc:
        raise CheckFailed(f"{path.name}: not the face encoder ({exc})") from None
    _encoders_read.add(version)


def readable(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return bool(handle.read(16))
    except OSError:
        return False


Check = Callable[[], str]
LIVENESS: dict[str, Check] = {"database": database}
READINESS: dict[str, Check] = {
    "database": database,
    "redis": redis,
    "workers": workers,
    "storage": storage,
    "disk": disk,
    "migrations": migrations,
    "face_models": face_models,
}


def run(name: str, check: Check) -> Result:
    started = time.perf_counter()
    try:
        detail, ok = check(), True
    except Exception as exc:  # noqa: BLE001 - a failing check is an answer, not a 500
        detail, ok = (str(exc) or type(exc).__name__)[:500], False
    return Result(name, ok, detail, time.perf_counter() - started)


def run_all(checks: dict[str, Check]) -> list[Result]:
    return [run(name, check) for name, check in checks.items()]


def report(results: Iterable[Result]) -> dict:
    """The JSON body of a health endpoint: overall status and one entry per check."""
    results = list(results)
    healthy = all(result.ok for result in results)
    return {
        "status": "ok" if healthy else "fail",
        "checks": {result.name: result.as_dict() for result in results},
    }
