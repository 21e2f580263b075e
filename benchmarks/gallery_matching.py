"""Time matching faces against galleries of 1k, 10k, 100k and 1M encodings.

Builds recognition.pipeline.Gallery from random 128-d vectors (two photos per person,
as enrolment usually gives) and times match_faces for one face and for a photo of
five faces, with each matching rule. Prints the median and p95 of repeated calls and
the matrix's memory. No Django, Redis or database needed.

Matching one face is a matrix-vector product that streams the whole matrix from
memory, so its time follows the matrix's bytes. The service keeps the matrix in
float32 (Gallery's default); the float64 rows time the same code on a float64
matrix, and the script checks on thousands of probes that float32 names the same
people with the same verdicts as float64.

    python benchmarks/gallery_matching.py
    python benchmarks/gallery_matching.py --sizes 1000,100000 --rules nearest
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recognition.pipeline import MATCH_RULES, Gallery, match_faces  # noqa: E402

PHOTOS_PER_PERSON = 2
SPREAD = 0.09  # between people: about 1.4 apart, like strangers' encodings
PHOTO_SPREAD = 0.02  # between photos of one person: about 0.3 apart


KINDS = {"float64": np.float64, "float32": np.float32}


def vectors(size: int, seed: int = 6) -> np.ndarray:
    """Row i is a photo of person i // PHOTOS_PER_PERSON: their centre plus noise."""
    rng = np.random.default_rng(seed)
    people = -(-size // PHOTOS_PER_PERSON)
    centres = rng.normal(0.0, SPREAD, size=(people, 128))
    photos = np.repeat(centres, PHOTOS_PER_PERSON, axis=0)[:size]
    return photos + rng.normal(0.0, PHOTO_SPREAD, size=(size, 128))


def build(kind: str, data: np.ndarray, rule: str) -> tuple[Gallery, float]:
    rows = (
        (i // PHOTOS_PER_PERSON, f"person {i // PHOTOS_PER_PERSON}", data[i])
        for i in range(len(data))
    )
    started = time.perf_counter()
    gallery = Gallery(rows, rule=rule, dtype=KINDS[kind])
    return gallery, time.perf_counter() - started


def timed(gallery: Gallery, probes: list, repeat: int) -> list[float]:
    boxes = [(0, 100, 100, 0)] * len(probes)
    match_faces(boxes, probes, gallery, 0.6)  # warm-up
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        match_faces(boxes, probes, gallery, 0.6, limit=3, margin=0.05)
        times.append((time.perf_counter() - started) * 1000)
    return times


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def timing_table(sizes: list[int], rules: list[str], kinds: list[str], repeat: int):
    print(
        f"{'encodings':>10} {'rule':>9} {'dtype':>8} {'build s':>8} {'MB':>6} "
        f"{'1 face p50':>11} {'p95':>6} {'5 faces p50':>12} {'p95':>6}  (ms)"
    )
    rng = np.random.default_rng(7)
    for size in sizes:
        data = vectors(size)
        one = [rng.normal(0.0, SPREAD, 128)]
        five = [rng.normal(0.0, SPREAD, 128) for _ in range(5)]
        runs = max(10, repeat // max(1, size // 100_000))
        for rule in rules:
            for kind in kinds:
                gallery, seconds = build(kind, data, rule)
                t1, t5 = timed(gallery, one, runs), timed(gallery, five, runs)
                print(
                    f"{size:>10,} {rule:>9} {kind:>8} {seconds:>8.2f} "
                    f"{gallery.matrix.nbytes / 2**20:>6.0f} "
                    f"{statistics.median(t1):>11.2f} {percentile(t1, 0.95):>6.2f} "
                    f"{statistics.median(t5):>12.2f} {percentile(t5, 0.95):>6.2f}",
                    flush=True,
                )
                del gallery


def agreement(size: int, probes: int, rules: list[str]) -> None:
    """float32 against float64 on probes near enrolled photos and on strangers."""
    data = vectors(size)
    rng = np.random.default_rng(8)
    near = data[rng.integers(0, size, probes // 2)] + rng.normal(
        0.0, PHOTO_SPREAD, (probes // 2, 128)
    )
    strangers = rng.normal(0.0, SPREAD, (probes - probes // 2, 128))
    faces = list(np.vstack([near, strangers]))
    boxes = [(0, 100, 100, 0)] * len(faces)
    for rule in rules:
        results = {}
        for kind in KINDS:
            gallery, _ = build(kind, data, rule)
            results[kind] = match_faces(boxes, faces, gallery, 0.6, 3, 0.05)
        same = sum(
            a.verdict == b.verdict
            and [c.person_id for c in a.candidates]
            == [c.person_id for c in b.candidates]
            for a, b in zip(results["float64"], results["float32"], strict=True)
        )
        gap = max(
            abs(x.distance - y.distance)
            for a, b in zip(results["float64"], results["float32"], strict=True)
            for x, y in zip(a.candidates, b.candidates, strict=True)
        )
        matched = sum(face.verdict == "match" for face in results["float64"])
        print(
            f"{rule:>9}: same verdict and candidates for {same} of {len(faces)} faces "
            f"({matched} matches); largest distance difference {gap:.4f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--rules", default=",".join(MATCH_RULES))
    parser.add_argument("--dtypes", default="float64,float32")
    parser.add_argument("--repeat", type=int, default=100)
    parser.add_argument("--check-probes", type=int, default=4000)
    args = parser.parse_args()
    rules = args.rules.split(",")
    print(
        f"numpy {np.__version__}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}"
        f", {PHOTOS_PER_PERSON} photos per person"
    )
    sizes = [int(size) for size in args.sizes.split(",")]
    timing_table(sizes, rules, args.dtypes.split(","), args.repeat)
    if args.check_probes:
        print(
            f"\nfloat32 against float64, 100,000 encodings, {args.check_probes} faces:"
        )
        agreement(100_000, args.check_probes, rules)
    return 0


if __name__ == "__main__":
    sys.exit(main())
