"""How much faster two processes run the pipeline than one, with nothing around it.

`manage.py benchmark` compares a folder run through the queue on two worker processes
with the same folder run in one process. This script measures the ceiling of that
ratio on the machine: the pipeline as a job runs it (processing.recognize_photo:
decode, detect, encode, match against the enrolled gallery, annotate) on the same
images, in one process and then split between two, with no queue, no database writes
and no uploads. Each process loads the
models and runs a few images before its clock starts, as a worker does.

    .venv/bin/python benchmarks/two_processes.py [FOLDER] [--repeat 3]

It reads the gallery from the database DATABASE_URL names (enrol the people first,
as for `manage.py benchmark`) and prints images/s for one and for two processes in
each round, then the best and median ratio.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "facesite.settings")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django  # noqa: E402

django.setup()

from recognition import gallery, options  # noqa: E402
from recognition.management.commands.recognize import find_images  # noqa: E402
from recognition.pipeline import load_models  # noqa: E402
from recognition.processing import recognize_photo  # noqa: E402

DEFAULT_FOLDER = Path(__file__).resolve().parent.parent.parent / "shared" / "faces"
WARM_UP = 3


def run_images(images: list[bytes], current: object) -> None:
    for data in images:
        recognize_photo(data, current)


def worker(images: list[bytes], ready: object, go: object, done: object) -> None:
    load_models(options.detect_options().detector)
    current = gallery.current()
    run_images(images[:WARM_UP], current)
    ready.release()
    go.wait()
    run_images(images, current)
    done.put(time.perf_counter())


def timed_round(images: list[bytes], processes: int) -> float:
    """Seconds from the start signal until the last process is done."""
    context = multiprocessing.get_context("fork")
    ready, go, done = context.Semaphore(0), context.Event(), context.Queue()
    shares = [images[i::processes] for i in range(processes)]
    children = [
        context.Process(target=worker, args=(share, ready, go, done))
        for share in shares
    ]
    for child in children:
        child.start()
    for _ in children:
        ready.acquire()
    start = time.perf_counter()
    go.set()
    ends = [done.get() for _ in children]
    for child in children:
        child.join()
    return max(ends) - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    images = [path.read_bytes() for path in find_images(args.folder.resolve())]
    if not images:
        sys.exit(f"No images under {args.folder}")
    print(f"{len(images)} images under {args.folder}, {args.repeat} rounds")
    ratios = []
    # One and two processes alternate, so a change in the machine's load falls on
    # both alike.
    for number in range(1, args.repeat + 1):
        one = len(images) / timed_round(images, 1)
        two = len(images) / timed_round(images, 2)
        ratios.append(two / one)
        print(
            f"round {number}: one process {one:.2f} images/s, two processes "
            f"{two:.2f} images/s = {two / one:.2f}x"
        )
    print(
        f"two processes / one: best {max(ratios):.2f}x, median "
        f"{statistics.median(ratios):.2f}x (the pipeline alone: no queue, database "
        "or uploads)"
    )


if __name__ == "__main__":
    main()
