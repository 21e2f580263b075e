"""Folder batches for the management commands: which files to take, what to report."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from .models import Job

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp"})


def is_hidden(path: Path, root: Path) -> bool:
    """True when the file or any folder between root and it starts with a dot."""
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def relative_name(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def walk_files(root: Path) -> Iterator[Path]:
    """Every visible file under root, recursively, in a stable (sorted) order."""
    found = (
        path for path in root.rglob("*") if path.is_file() and not is_hidden(path, root)
    )
    yield from sorted(found, key=lambda path: relative_name(path, root))


def list_images(root: Path) -> list[Path]:
    """The visible image files (by extension, any case) under root, sorted."""
    return [
        path for path in walk_files(root) if path.suffix.lower() in IMAGE_EXTENSIONS
    ]


def job_faces(job: Job) -> list[dict]:
    return [
        {
            "name": face.get("name"),
            "distance": face.get("distance"),
            "box": face.get("box"),
        }
        for face in job.faces
    ]


def job_result(path: str, job: Job) -> dict:
    """The report object of one image that became a job."""
    return {
        "path": path,
        "status": job.status,
        "error": job.error or None,
        "faces": job_faces(job) if job.status == Job.Status.SUCCESS else [],
        "job_id": job.pk,
        "duration": job.duration,
    }


def refused_result(path: str, error: str) -> dict:
    """The report object of a file refused before any job was made for it."""
    return {
        "path": path,
        "status": Job.Status.FAILURE.value,
        "error": error,
        "faces": [],
        "job_id": None,
        "duration": None,
    }


def describe_faces(faces: list[dict]) -> str:
    """One line of names and distances, e.g. "Tony_Blair (0.41), Unknown (0.72)"."""
    if not faces:
        return "no faces"
    return ", ".join(_describe_face(face) for face in faces)


def _describe_face(face: dict) -> str:
    name = face.get("name") or "Unknown"
    distance = face.get("distance")
    return name if distance is None else f"{name} ({distance:.2f})"


def describe_result(result: dict) -> str:
    """The human line of one image: path, status, then faces or the error."""
    detail = result["error"] if result["error"] else describe_faces(result["faces"])
    return f"{result['path']}  {result['status']}  {detail}"
