"""Measuring recognition accuracy on a labelled folder of photos.

Plain functions over the pipeline: the photos are encoded once with the options the
workers use, then every decision rule and tolerance is replayed on the encodings. The
gallery is built in memory and never touches the enrolled people.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .pipeline import (
    MATCH_RULES,
    DetectOptions,
    Gallery,
    ImageError,
    detect_faces,
    encode_faces,
    encode_single_face,
    load_image,
)

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
RULES = MATCH_RULES
TOLERANCES = tuple(round(0.30 + 0.01 * i, 2) for i in range(36))  # 0.30 … 0.65


def image_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix.lower() in IMAGE_SUFFIXES
        and not p.name.startswith(".")
    )


# --- The data set ------------------------------------------------------------------


@dataclass
class Dataset:
    enrol: dict[str, list[Path]] = field(default_factory=dict)
    probes: list[tuple[Path, str]] = field(default_factory=list)
    strangers: list[Path] = field(default_factory=list)
    noface: list[Path] = field(default_factory=list)
    group: list[Path] = field(default_factory=list)


def load_dataset(root: Path) -> Dataset:
    """A folder laid out like ../shared/faces, or a plain <person>/<image> folder.

    A plain folder is split deterministically (by a digest of each file name): a
    person's first photo is enrolled and the others are probes; people with a single
    photo are not enrolled and serve as strangers.
    """
    if (root / "known").is_dir():
        return Dataset(
            enrol={
                d.name: image_files(d)
                for d in sorted((root / "known").iterdir())
                if d.is_dir() and image_files(d)
            },
            probes=[
                (p, p.relative_to(root / "probe").parts[0])
                for p in image_files(root / "probe")
            ],
            strangers=image_files(root / "unknown"),
            noface=image_files(root / "noface"),
            group=image_files(root / "group"),
        )
    dataset = Dataset()
    for person_dir in sorted(d for d in root.iterdir() if d.is_dir()):
        photos = sorted(
            image_files(person_dir),
            key=lambda p: hashlib.sha1(p.name.encode()).hexdigest(),  # noqa: S324
        )
        if len(photos) == 1:
            dataset.strangers.append(photos[0])
        elif photos:
            dataset.enrol[person_dir.name] = photos[:1]
            dataset.probes += [(p, person_dir.name) for p in photos[1:]]
    return dataset


# --- Encoding ----------------------------------------------------------------------


@dataclass
class Encoded:
    """What the pipeline found in the data set, computed once."""

    people: list[str]
    enrol_owner: np.ndarray  # person index per enrolled photo
    enrol_vectors: np.ndarray  # (E, 128)
    enrol_refused: list[tuple[str, str]]
    probe_owner: np.ndarray  # person index per probe (-1 when not enrolled)
    probe_vectors: np.ndarray  # (P, 128), one face per probe photo (the largest)
    probe_missed: list[str]
    stranger_vectors: np.ndarray
    stranger_missed: list[str]
    noface_found: dict[str, int]
    group_vectors: np.ndarray
    group_faces: dict[str, int]  # faces found per group photo, in photo order
    group_widths: np.ndarray  # width in pixels of each group face


def largest_face_encoding(
    path: Path, detect: DetectOptions, max_pixels: int
) -> np.ndarray | None:
    rgb = load_image(path.read_bytes(), max_pixels)
    boxes = detect_faces(rgb, detect)
    if not boxes:
        return None
    largest = max(boxes, key=lambda b: (b[2] - b[0]) * (b[1] - b[3]))
    return encode_faces(rgb, [largest])[0]


def _stack(vectors: list[np.ndarray]) -> np.ndarray:
    return np.vstack(vectors) if vectors else np.empty((0, 128))


def encode_dataset(
    dataset: Dataset,
    detect: DetectOptions,
    max_pixels: int,
    progress: Callable[[str], None] = lambda _: None,
) -> Encoded:
    people = sorted(dataset.enrol)
    index = {name: i for i, name in enumerate(people)}
    owners, vectors, refused = [], [], []
    for name in people:
        for path in dataset.enrol[name]:
            try:
                _, vector = encode_single_face(
                    path.read_bytes(), detect=detect, max_pixels=max_pixels
                )
            except ImageError as exc:
                refused.append((str(path), str(exc)))
                continue
            owners.append(index[name])
            vectors.append(vector)
    progress(f"enrolled {len(vectors)} photos of {len(people)} people")

    probe_owner, probe_vectors, probe_missed = [], [], []
    for path, name in dataset.probes:
        vector = largest_face_encoding(path, detect, max_pixels)
        if vector is None:
            probe_missed.append(str(path))
            continue
        probe_owner.append(index.get(name, -1))
        probe_vectors.append(vector)
    progress(f"encoded {len(probe_vectors)} probes")

    stranger_vectors, stranger_missed = [], []
    for path in dataset.strangers:
        vector = largest_face_encoding(path, detect, max_pixels)
        if vector is None:
            stranger_missed.append(str(path))
        else:
            stranger_vectors.append(vector)

    noface_found = {
        p.name: len(detect_faces(load_image(p.read_bytes(), max_pixels), detect))
        for p in dataset.noface
    }
    group_vectors, group_faces, group_widths = [], {}, []
    for path in dataset.group:
        rgb = load_image(path.read_bytes(), max_pixels)
        boxes = detect_faces(rgb, detect)
        group_faces[path.name] = len(boxes)
        group_widths += [box[1] - box[3] for box in boxes]
        group_vectors += encode_faces(rgb, boxes)
    progress("encoded strangers, no-face and group photos")
    return Encoded(
        people=people,
        enrol_owner=np.array(owners, dtype=int),
        enrol_vectors=_stack(vectors),
        enrol_refused=refused,
        probe_owner=np.array(probe_owner, dtype=int),
        probe_vectors=_stack(probe_vectors),
        probe_missed=probe_missed,
        stranger_vectors=_stack(stranger_vectors),
        stranger_missed=stranger_missed,
        noface_found=noface_found,
        group_vectors=_stack(group_vectors),
        group_faces=group_faces,
        group_widths=np.array(group_widths, dtype=int),
    )


# --- Decision rules ----------------------------------------------------------------


def person_distances(
    queries: np.ndarray, vectors: np.ndarray, owners: np.ndarray, people: int, rule: str
) -> np.ndarray:
    """Distance from each query to each person (Q×people), as the workers match.

    People without an enrolled photo are infinitely far.
    """
    result = np.full((len(queries), people), np.inf)
    if len(queries) == 0 or len(vectors) == 0:
        return result
    gallery = Gallery(
        ((int(o), str(o), v) for o, v in zip(owners, vectors, strict=True)), rule=rule
    )
    result[:, gallery.person_ids] = gallery.person_distances(queries)
    return result


@dataclass(frozen=True)
class Outcome:
    tolerance: float
    correct: int
    wrong: int
    rejected: int
    strangers_accepted: int
    strangers: int
    far: float  # share of stranger searches that named someone

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def decide(distances: np.ndarray, tolerance: float, margin: float) -> np.ndarray:
    """The person index named for each row, or -1 (unknown or ambiguous)."""
    if distances.shape[1] == 0:
        return np.full(len(distances), -1)
    order = np.argsort(distances, axis=1)
    best = order[:, 0]
    best_d = np.take_along_axis(distances, order[:, :1], axis=1)[:, 0]
    named = best_d <= tolerance
    if distances.shape[1] > 1 and margin > 0:
        second_d = np.take_along_axis(distances, order[:, 1:2], axis=1)[:, 0]
        named &= (second_d - best_d) >= margin
    return np.where(named, best, -1)


@dataclass
class Searches:
    """Per-person distances for every search, under one rule."""

    probes: np.ndarray  # probes of enrolled people, against everyone
    owners: np.ndarray
    # Stranger photos, outsiders' probes, then each probe with its own person removed.
    strangers: np.ndarray
    outsiders: int  # how many leading rows of `strangers` are real strangers


def searches(encoded: Encoded, rule: str) -> Searches:
    people = len(encoded.people)
    args = (encoded.enrol_vectors, encoded.enrol_owner, people, rule)
    enrolled = encoded.probe_owner >= 0
    probes = person_distances(encoded.probe_vectors[enrolled], *args)
    owners = encoded.probe_owner[enrolled]
    # Leave one person out: a probe searched without its own person is a stranger.
    left_out = probes.copy()
    left_out[np.arange(len(owners)), owners] = np.inf
    outsiders = person_distances(encoded.probe_vectors[~enrolled], *args)
    strangers = person_distances(encoded.stranger_vectors, *args)
    return Searches(
        probes,
        owners,
        np.vstack([strangers, outsiders, left_out]),
        len(strangers) + len(outsiders),
    )


def outcome(
    s: Searches, tolerance: float, margin: float, real_strangers: int
) -> Outcome:
    named = decide(s.probes, tolerance, margin)
    stranger_named = decide(s.strangers, tolerance, margin) >= 0
    return Outcome(
        tolerance=tolerance,
        correct=int(np.sum(named == s.owners)),
        wrong=int(np.sum((named >= 0) & (named != s.owners))),
        rejected=int(np.sum(named < 0)),
        strangers_accepted=int(np.sum(stranger_named[:real_strangers])),
        strangers=real_strangers,
        far=float(stranger_named.mean()) if len(stranger_named) else 0.0,
    )


def table(
    s: Searches,
    margin: float,
    real_strangers: int,
    tolerances: Iterable[float] = TOLERANCES,
) -> list[Outcome]:
    return [outcome(s, t, margin, real_strangers) for t in tolerances]


def recommend(rows: list[Outcome], target_far: float) -> Outcome | None:
    """The largest tolerance whose false-accept rate stays within the target."""
    within = [row for row in rows if row.far <= target_far]
    return max(within, key=lambda row: row.tolerance) if within else None


def group_names(
    encoded: Encoded, rule: str, tolerance: float, margin: float, min_size: int
) -> dict[str, list[str]]:
    """The people named in each group photo (faces under min_size are never named)."""
    distances = person_distances(
        encoded.group_vectors,
        encoded.enrol_vectors,
        encoded.enrol_owner,
        len(encoded.people),
        rule,
    )
    decided = decide(distances, tolerance, margin)
    named = iter(np.where(encoded.group_widths < min_size, -1, decided))
    return {
        photo: sorted(
            encoded.people[i] for i in (next(named) for _ in range(n)) if i >= 0
        )
        for photo, n in encoded.group_faces.items()
    }


def distance_sets(s: Searches) -> tuple[np.ndarray, np.ndarray]:
    """Genuine distances (probe to own person) and impostor distances (to others)."""
    genuine = s.probes[np.arange(len(s.owners)), s.owners]
    mask = np.ones_like(s.probes, dtype=bool)
    mask[np.arange(len(s.owners)), s.owners] = False
    real = s.strangers[: s.outsiders]
    impostor = np.concatenate([s.probes[mask], real[np.isfinite(real)]])
    return genuine, impostor


# --- Plot --------------------------------------------------------------------------


def plot_distributions(
    genuine: np.ndarray, impostor: np.ndarray, tolerance: float, path: Path
) -> None:
    """A PNG histogram of genuine (green) and impostor (red) distances (OpenCV)."""
    width, height, pad = 900, 420, 50
    image = np.full((height, width, 3), 255, np.uint8)
    bins = np.linspace(0.0, 1.2, 61)
    plot_w, plot_h = width - 2 * pad, height - 2 * pad
    series = [(genuine, (60, 160, 60)), (impostor, (60, 60, 210))]
    densities = [np.histogram(d, bins)[0] / max(len(d), 1) for d, _ in series]
    top = max((float(h.max()) for h in densities if h.size), default=1.0) or 1.0
    bar = plot_w / (len(bins) - 1)
    for (_, color), density in zip(series, densities, strict=True):
        overlay = image.copy()
        for i, value in enumerate(density):
            x0 = int(pad + i * bar)
            y0 = int(height - pad - value / top * plot_h)
            cv2.rectangle(
                overlay, (x0, y0), (int(x0 + bar) - 1, height - pad), color, -1
            )
        image = cv2.addWeighted(overlay, 0.55, image, 0.45, 0)
    cv2.line(image, (pad, height - pad), (width - pad, height - pad), (0, 0, 0), 1)
    for tick in np.arange(0.0, 1.21, 0.2):
        x = int(pad + tick / 1.2 * plot_w)
        cv2.line(image, (x, height - pad), (x, height - pad + 5), (0, 0, 0), 1)
        cv2.putText(
            image, f"{tick:.1f}", (x - 12, height - pad + 22), 0, 0.45, (0, 0, 0), 1
        )
    x = int(pad + tolerance / 1.2 * plot_w)
    cv2.line(image, (x, pad), (x, height - pad), (0, 0, 0), 1)
    labels = [
        (f"genuine ({len(genuine)})", (60, 160, 60)),
        (f"impostor ({len(impostor)})", (60, 60, 210)),
        (f"tolerance {tolerance:.2f}", (0, 0, 0)),
    ]
    for i, (text, color) in enumerate(labels):
        cv2.putText(
            image, text, (width - 260, pad + 20 * i), 0, 0.5, color, 1, cv2.LINE_AA
        )
    cv2.putText(
        image, "face distance", (width // 2 - 50, height - 10), 0, 0.5, (0, 0, 0), 1
    )
    cv2.imwrite(str(path), image)


# --- Calibration from the gallery alone ------------------------------------------


@dataclass(frozen=True)
class GalleryCalibration:
    tolerance: float | None  # None: no tolerance met the target
    far: float
    genuine_accept: float | None  # share of leave-one-out genuine searches accepted
    people: int
    genuine_pairs: int
    impostor_searches: int
    per_person: dict[int, float]


def calibrate_gallery(
    rows: list[tuple[int, np.ndarray]],
    rule: str,
    target_far: float,
    bounds: tuple[float, float],
    min_photos: int = 3,
) -> GalleryCalibration:
    """Estimate the tolerance for a false-accept rate from the enrolled photos alone.

    Impostor searches: every photo searched against the gallery without its own
    person (each is then a stranger). Genuine searches: every photo of a person with
    two or more photos, searched against that person's other photos. The tolerance is
    the largest one (within `bounds`) whose impostor acceptance stays within the
    target; a person with at least `min_photos` photos also gets their own, from the
    impostor distances to them alone.
    """
    owners = np.array([pid for pid, _ in rows], dtype=int)
    vectors = np.vstack([v for _, v in rows]) if rows else np.empty((0, 128))
    people = sorted(set(owners.tolist()))
    if len(people) < 2:
        return GalleryCalibration(None, 0.0, None, len(people), 0, 0, {})
    columns = {pid: i for i, pid in enumerate(people)}
    own = np.array([columns[o] for o in owners])
    everyone = person_distances(vectors, vectors, own, len(people), rule)
    impostor = everyone.copy()
    impostor[np.arange(len(owners)), own] = np.inf
    nearest_stranger = impostor.min(axis=1)
    genuine = []
    for i, (pid, _) in enumerate(rows):
        others = [j for j, o in enumerate(owners) if o == pid and j != i]
        if others:
            d = person_distances(
                vectors[i : i + 1], vectors[others], np.zeros(len(others), int), 1, rule
            )
            genuine.append(float(d[0, 0]) if np.isfinite(d[0, 0]) else None)
    genuine = np.array([g for g in genuine if g is not None])
    tolerance = largest_within(nearest_stranger, target_far, bounds)
    per_person = {}
    for pid in people:
        if np.sum(owners == pid) >= min_photos:
            column = impostor[owners != pid, columns[pid]]
            mine = largest_within(column, target_far, bounds)
            if mine is not None:
                per_person[pid] = mine
    far = float(np.mean(nearest_stranger <= tolerance)) if tolerance else 0.0
    accept = (
        float(np.mean(genuine <= tolerance)) if tolerance and len(genuine) else None
    )
    return GalleryCalibration(
        tolerance, far, accept, len(people), len(genuine), len(owners), per_person
    )


def largest_within(
    distances: np.ndarray, target: float, bounds: tuple[float, float]
) -> float | None:
    """The largest tolerance in bounds (0.01 steps) accepting at most `target`."""
    low, high = bounds
    steps = np.round(np.arange(high, low - 1e-9, -0.01), 2)
    for tolerance in steps:
        if np.mean(distances <= tolerance) <= target:
            return float(tolerance)
    return None
