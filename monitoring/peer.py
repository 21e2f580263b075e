"""The face_recognition command-line tool as a peer for `manage.py benchmark --peer`.

The CLI wants a folder of known images named after their person and a flat folder of
images to check; it prints `file,name,distance` for every known image a face is
within the tolerance of (so a face can print several lines), `unknown_person` for a
face near nobody, and `no_persons_found` for an image without faces. Faces are
therefore counted in a second run with no known people, where every face prints
exactly one `unknown_person` line; that run also times detection and encoding alone.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from django.core.management.base import CommandError
from PIL import Image

from recognition import batch
from recognition.models import KnownFace

if TYPE_CHECKING:
    from monitoring.management.commands.benchmark import Run

CLI_EXTENSIONS = (".jpg", ".jpeg", ".png")  # the CLI's own file filter
NOT_A_NAME = ("unknown_person", "no_persons_found")
CLI_TIMEOUT = 3600


@dataclass
class CliResult:
    cpus: int
    seconds: float  # with the known-people scan, as a user runs it
    seconds_bare: float  # no known people: startup, detection and encoding only
    images: int
    known_photos: int
    known_missing: int = 0  # enrolled photos not kept, so not given to the CLI
    names: dict[str, set[str]] = field(default_factory=dict)
    faces: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def cli_path() -> str:
    beside = Path(sys.executable).parent / "face_recognition"
    found = str(beside) if beside.exists() else shutil.which("face_recognition")
    if not found:
        raise CommandError("The face_recognition command is not installed.")
    return found


def export_known(folder: Path) -> tuple[dict[str, str], int]:
    """One file per enrolled photo, named <person>-<n>: (stem -> person, photos that
    are no longer kept, which the CLI cannot be given)."""
    folder.mkdir(parents=True)
    people: dict[str, str] = {}
    missing = 0
    faces = KnownFace.objects.select_related("person").order_by("person__name", "id")
    for index, face in enumerate(faces, start=1):
        slug = re.sub(r"[^A-Za-z0-9_]+", "_", face.person.name)[:60] or "person"
        stem = f"{slug}-{index}"
        try:
            write_known(face, folder / stem)
        except (FileNotFoundError, ValueError):
            # FACESITE_KEEP_ENROLMENT_PHOTOS off: only the encoding was kept.
            missing += 1
            continue
        people[stem] = face.person.name
    return people, missing


def write_known(face: KnownFace, base: Path) -> None:
    if not face.image:
        raise ValueError("the photo was not kept")
    extension = Path(face.image.name).suffix.lower()
    with face.image.open("rb") as handle:
        data = handle.read()
    if extension in CLI_EXTENSIONS:
        base.with_suffix(extension).write_bytes(data)
        return
    # The CLI only reads jpg and png: convert anything else (WebP) to PNG.
    with Image.open(io.BytesIO(data)) as image:
        image.save(base.with_suffix(".png"))


def link_images(images: list[Path], root: Path, folder: Path) -> tuple[dict, list]:
    """A flat folder of links to the images the CLI can read; link name -> path."""
    folder.mkdir(parents=True)
    names, skipped = {}, []
    for index, path in enumerate(images):
        relative = batch.relative_name(path, root)
        if path.suffix.lower() not in CLI_EXTENSIONS:
            skipped.append(relative)
            continue
        link = folder / f"{index:06d}{path.suffix.lower()}"
        os.symlink(path, link)
        names[link.name] = relative
    return names, skipped


def run_once(known: Path, images: Path, cpus: int, tolerance: float) -> tuple:
    command = [
        cli_path(),
        "--cpus", str(cpus),
        "--tolerance", repr(tolerance),
        "--show-distance", "true",
        str(known), str(images),
    ]  # fmt: skip
    env = os.environ | {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    started = time.perf_counter()
    done = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=CLI_TIMEOUT
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise CommandError(
            f"face_recognition exited with {done.returncode}: {done.stderr[-2000:]}"
        )
    return done.stdout.splitlines(), seconds


def parse(lines: list[str], links: dict[str, str]) -> tuple[dict, list[str]]:
    """(link name -> [name per line]) and the CLI's warnings."""
    printed: dict[str, list[str]] = {name: [] for name in links}
    warnings = []
    for line in lines:
        if line.startswith("WARNING"):
            warnings.append(line)
            continue
        parts = line.rsplit(",", 2)
        if len(parts) == 3 and Path(parts[0]).name in printed:
            printed[Path(parts[0]).name].append(parts[1])
    return printed, warnings


def run_cli(images: list[Path], root: Path, cpus: int, tolerance: float) -> CliResult:
    with tempfile.TemporaryDirectory(prefix="facesite-peer-") as tmp:
        folder = Path(tmp)
        people, missing = export_known(folder / "known")
        links, skipped = link_images(images, root, folder / "images")
        (folder / "nobody").mkdir()
        named, seconds = run_once(folder / "known", folder / "images", cpus, tolerance)
        counted, bare = run_once(folder / "nobody", folder / "images", cpus, tolerance)
    by_link, warnings = parse(named, links)
    counts, _ = parse(counted, links)
    return CliResult(
        cpus=cpus,
        seconds=seconds,
        seconds_bare=bare,
        images=len(links),
        known_photos=len(people),
        known_missing=missing,
        names={
            links[link]: {people.get(n, n) for n in printed if n not in NOT_A_NAME}
            for link, printed in by_link.items()
        },
        faces={
            links[link]: sum(n == "unknown_person" for n in printed)
            for link, printed in counts.items()
        },
        warnings=warnings,
        skipped=skipped,
    )


def our_results(run: Run) -> dict[str, tuple[int, set[str]]]:
    results = {}
    for item in run.items:
        job = item.job
        ok = job is not None and job.status == "SUCCESS"
        names = {f["name"] for f in job.faces if f.get("name")} if ok else set()
        results[item.path] = (job.face_count if ok else 0, names)
    return results


def ground_truth(root: Path) -> dict[str, set[str]]:
    """Who is in each photo, where a MANIFEST.csv (as in ../shared/faces) says so.

    known/ and probe/ photos show their person; unknown/ and noface/ photos show
    nobody enrolled; group/ photos are not labelled per face and are left out.
    """
    manifest = root / "MANIFEST.csv"
    if not manifest.is_file():
        return {}
    truth = {}
    with manifest.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            folder = row["path"].split("/", 1)[0]
            if folder in ("known", "probe") and row.get("person"):
                truth[row["path"]] = {row["person"]}
            elif folder in ("unknown", "noface"):
                truth[row["path"]] = set()
    return truth


def correct(names: dict[str, set[str]], truth: dict[str, set[str]]) -> int:
    return sum(names.get(path, set()) == expected for path, expected in truth.items())


def compare(ours: Run, cli: CliResult, truth: dict[str, set[str]]) -> dict:
    mine = our_results(ours)
    paths = sorted(set(cli.faces) & set(mine))
    truth = {path: names for path, names in truth.items() if path in paths}
    more = [p for p in paths if mine[p][0] > cli.faces[p]]
    fewer = [p for p in paths if mine[p][0] < cli.faces[p]]
    differ = [p for p in paths if mine[p][1] != cli.names.get(p, set())]
    cli_rate = cli.images / cli.seconds if cli.seconds else 0.0
    bare_rate = cli.images / cli.seconds_bare if cli.seconds_bare else 0.0
    return {
        "images": len(paths),
        "cli_cpus": cli.cpus,
        "cli_known_photos": cli.known_photos,
        "known_photos_not_kept": cli.known_missing,
        "cli_seconds": round(cli.seconds, 3),
        "cli_seconds_without_known_scan": round(cli.seconds_bare, 3),
        "cli_images_per_second": round(cli_rate, 3),
        "cli_images_per_second_without_known_scan": round(bare_rate, 3),
        "ours_mode": ours.mode,
        "ours_images_per_second": round(ours.per_second, 3),
        "ratio": round(ours.per_second / cli_rate, 3) if cli_rate else None,
        "ratio_without_known_scan": (
            round(ours.per_second / bare_rate, 3) if bare_rate else None
        ),
        "faces_ours": sum(mine[p][0] for p in paths),
        "faces_cli": sum(cli.faces[p] for p in paths),
        "faces_same_count": len(paths) - len(more) - len(fewer),
        "faces_more": more,
        "faces_fewer": fewer,
        "names_same": len(paths) - len(differ),
        "names_ours": sorted(set().union(*(mine[p][1] for p in paths))),
        "names_cli": sorted(set().union(*(cli.names.get(p, set()) for p in paths))),
        "labelled_images": len(truth),
        "names_correct_ours": correct({p: mine[p][1] for p in paths}, truth),
        "names_correct_cli": correct(cli.names, truth),
        "names_differ": [
            {"path": p, "ours": sorted(mine[p][1]), "cli": sorted(cli.names[p])}
            for p in differ
        ],
        "cli_warnings": cli.warnings,
        "skipped": cli.skipped,
    }


def describe(ours: Run, cli: CliResult, c: dict) -> list[str]:
    lines = [
        f"CLI with its scan of {c['cli_known_photos']} known photos: "
        f"{c['images']} images in {c['cli_seconds']:.1f} s = "
        f"{c['cli_images_per_second']:.2f} images/s",
        f"CLI detection and encoding only (no known people): "
        f"{c['cli_seconds_without_known_scan']:.1f} s = "
        f"{c['cli_images_per_second_without_known_scan']:.2f} images/s",
        f"FaceSite {c['ours_mode']}: {c['ours_images_per_second']:.2f} images/s = "
        f"{c['ratio']:.2f}x the CLI ({c['ratio_without_known_scan']:.2f}x the CLI "
        "without its known-people scan)",
        f"faces: FaceSite {c['faces_ours']}, CLI {c['faces_cli']}; the same count on "
        f"{c['faces_same_count']} of {c['images']} images "
        f"(FaceSite more on {len(c['faces_more'])}, fewer on {len(c['faces_fewer'])})",
        f"names: the same set on {c['names_same']} of {c['images']} images; "
        f"FaceSite named {len(c['names_ours'])} people, the CLI "
        f"{len(c['names_cli'])}",
    ]
    if c["labelled_images"]:
        lines.append(
            f"right names where MANIFEST.csv says who is shown: FaceSite "
            f"{c['names_correct_ours']}, CLI {c['names_correct_cli']} of "
            f"{c['labelled_images']} images"
        )
    for path in c["faces_fewer"][:10]:
        lines.append(f"  fewer faces: {path}")
    for diff in c["names_differ"][:15]:
        lines.append(
            f"  names differ: {diff['path']}: FaceSite {diff['ours'] or '-'}, "
            f"CLI {diff['cli'] or '-'}"
        )
    if c["known_photos_not_kept"]:
        lines.append(
            f"  {c['known_photos_not_kept']} enrolled photo(s) are no longer kept "
            "(FACESITE_KEEP_ENROLMENT_PHOTOS off): the CLI knows fewer photos, and "
            "the names cannot agree"
        )
    lines += [f"  CLI: {w}" for w in c["cli_warnings"][:5]]
    if c["skipped"]:
        lines.append(f"  {len(c['skipped'])} file(s) the CLI cannot read were left out")
    return lines
