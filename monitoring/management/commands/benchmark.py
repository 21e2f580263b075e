"""Time a folder in one process, through the queue, and with the face_recognition CLI.

Sequential and distributed runs reuse the recognize command's steps (prepare a job
per file, run it here or queue it on the bulk queue, wait for the rows), so the
figures are those of the real service. --peer runs the `face_recognition` command
line tool with as many processes as there are worker slots, on the same images and
the same enrolled people, and compares throughput, faces and names.
"""

from __future__ import annotations

import json
import statistics
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from monitoring import peer
from monitoring.models import PerformanceStat
from recognition import options
from recognition.management.commands import recognize as runner
from recognition.models import Job

Mode = PerformanceStat.Mode


@dataclass
class Run:
    """One timed pass over the folder in one mode."""

    mode: str
    workers: int
    seconds: float
    items: list[runner.Item] = field(repr=False)

    @property
    def jobs(self) -> list[Job]:
        return [item.job for item in self.items if item.job is not None]

    @property
    def images(self) -> int:
        return len(self.items)

    @property
    def per_second(self) -> float:
        return self.images / self.seconds if self.seconds else 0.0

    @property
    def faces(self) -> int:
        return sum(job.face_count for job in self.jobs if job.status == "SUCCESS")

    @property
    def failures(self) -> int:
        return runner.count_failures([item.result() for item in self.items])

    def pipeline_seconds(self) -> float:
        """Time spent in the pipeline's stages, summed over the jobs."""
        return sum(sum(job.timings.values()) for job in self.jobs if job.timings)

    def job_seconds(self) -> float:
        """Claim-to-finish time summed over the jobs (pipeline plus bookkeeping)."""
        return sum(job.duration or 0.0 for job in self.jobs)

    def gaps(self) -> list[float]:
        """Seconds a worker slot spent between finishing a job and claiming the next.

        Slots are not recorded, so each job is given to the slot that became free
        last before it started: the shortest gaps the timestamps allow.
        """
        timed = [job for job in self.jobs if job.start_time and job.end_time]
        free: list[datetime] = []
        gaps = []
        for job in sorted(timed, key=lambda job: job.start_time):
            ready = [end for end in free if end <= job.start_time]
            if ready:
                free.remove(max(ready))
                gaps.append((job.start_time - max(ready)).total_seconds())
            free.append(job.end_time)
        return gaps

    def per_job(self) -> dict[str, float]:
        """Median seconds per job: pipeline, bookkeeping, and the gap between jobs;
        their sum outside the pipeline as a share of the pipeline and of the job's
        whole time on its slot (pipeline, bookkeeping and gap)."""
        done = [job for job in self.jobs if job.timings and job.duration is not None]
        if not done:
            return {}
        pipeline = statistics.median(sum(job.timings.values()) for job in done)
        bookkeeping = statistics.median(
            job.duration - sum(job.timings.values()) for job in done
        )
        gaps = self.gaps()
        gap = statistics.median(gaps) if gaps else 0.0
        whole = pipeline + bookkeeping + gap
        return {
            "pipeline": pipeline,
            "bookkeeping": bookkeeping,
            "gap": gap,
            "share": (bookkeeping + gap) / pipeline if pipeline else 0.0,
            "share_of_job": (bookkeeping + gap) / whole if whole else 0.0,
        }

    def overheads(self) -> dict[str, float]:
        """Shares of the workers' time not spent in the pipeline.

        bookkeeping: inside the task but outside the stages (reading the upload,
        the gallery check, saving the result, the row updates), of job time.
        queue: worker slots idle or moving messages, of wall time × slots.
        """
        job, pipeline = self.job_seconds(), self.pipeline_seconds()
        capacity = self.seconds * self.workers
        return {
            "bookkeeping": 1 - pipeline / job if job else 0.0,
            "queue": 1 - job / capacity if capacity else 0.0,
            "total": 1 - pipeline / capacity if capacity else 0.0,
        }

    def summary(self) -> dict:
        return {
            "mode": self.mode,
            "images": self.images,
            "workers": self.workers,
            "seconds": round(self.seconds, 3),
            "images_per_second": round(self.per_second, 3),
            "faces": self.faces,
            "failures": self.failures,
            "pipeline_seconds_per_image": round(
                self.pipeline_seconds() / max(1, len(self.jobs)), 4
            ),
            "overheads": {k: round(v, 4) for k, v in self.overheads().items()},
            "per_job_medians": {k: round(v, 4) for k, v in self.per_job().items()},
        }


class Command(BaseCommand):
    help = (
        "Recognise every image under DIR sequentially (in this process) and "
        "distributed (through the queue and the running workers); record a "
        "performance row per run and print images/s, faces and the ratio. --peer "
        "also runs the face_recognition CLI on the same images and people."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", help="A folder of images (jpg, png, webp).")
        parser.add_argument(
            "--repeat", type=int, default=1, help="Runs per mode (default 1)."
        )
        parser.add_argument(
            "--peer",
            action="store_true",
            help="Also run the face_recognition CLI with --cpus = worker slots.",
        )
        parser.add_argument(
            "--modes",
            default="sequential,distributed",
            help="Comma-separated modes to run (default both).",
        )
        parser.add_argument(
            "--timeout",
            type=float,
            default=1800.0,
            help="Seconds to wait for the workers per distributed run.",
        )
        parser.add_argument(
            "--json", action="store_true", help="Print one JSON summary at the end."
        )

    def handle(self, *args: object, **opts: object) -> None:
        self.quiet = bool(opts["json"])
        root = Path(str(opts["directory"])).expanduser().resolve()
        modes = parse_modes(str(opts["modes"]))
        repeat = int(opts["repeat"])
        if repeat < 1:
            raise CommandError("--repeat must be at least 1.")
        images = runner.find_images(root)
        slots = (
            runner.check_workers() if Mode.DISTRIBUTED in modes or opts["peer"] else 0
        )
        self.say(
            f"Benchmark: {len(images)} images under {root}, {repeat} run(s) per mode"
        )
        runs: dict[str, list[Run]] = {mode: [] for mode in modes}
        # Modes alternate run by run, so a change in the machine's load over the
        # benchmark falls on both alike.
        for number in range(1, repeat + 1):
            for mode in modes:
                run = self.run_mode(mode, images, root, slots, float(opts["timeout"]))
                runs[mode].append(run)
                self.say(describe_run(run, number))
        report = {
            "source": str(root),
            "runs": {m: [r.summary() for r in rs] for m, rs in runs.items()},
        }
        report["ratio"] = self.ratio(runs)
        if opts["peer"]:
            best = best_run(runs.get(Mode.DISTRIBUTED) or runs.get(Mode.SEQUENTIAL))
            report["peer"] = self.compare_with_peer(best, images, root, slots)
        if opts["json"]:
            self.stdout.write(json.dumps(report, indent=2, default=str))

    def say(self, line: str) -> None:
        if not self.quiet:
            self.stdout.write(line)

    def run_mode(
        self, mode: str, images: list[Path], root: Path, slots: int, timeout: float
    ) -> Run:
        workers = runner.load_locally() if mode == Mode.SEQUENTIAL else slots
        submission, here = uuid.uuid4(), "benchmark@local"
        started, began = time.perf_counter(), timezone.now()
        items = []
        for path in images:
            item = runner.prepare(path, root, submission)
            if item.job is not None and mode == Mode.SEQUENTIAL:
                runner.run_locally(item.job, here)
            elif item.job is not None:
                runner.queue(item.job)
            items.append(item)
        unfinished = runner.wait_for(items, timeout) if mode == Mode.DISTRIBUTED else []
        seconds = time.perf_counter() - started
        if mode == Mode.DISTRIBUTED and not unfinished:
            seconds = min(seconds, until_last_end(items, began))
        if unfinished:
            raise CommandError(
                f"{len(unfinished)} of {len(items)} jobs did not finish within "
                f"{timeout:g} s; no figures recorded for this run."
            )
        run = Run(mode, workers, seconds, items)
        runner.record_stat([i.result() for i in items], mode, seconds, workers, root)
        return run

    def ratio(self, runs: dict[str, list[Run]]) -> float | None:
        """Distributed over sequential images/s, best run of each mode.

        On a machine shared with other work, other processes only ever slow a run
        down, so the best of several runs is the figure least disturbed by them
        (what timeit does); the medians are printed beside it.
        """
        sequential, distributed = runs.get(Mode.SEQUENTIAL), runs.get(Mode.DISTRIBUTED)
        if not sequential or not distributed:
            return None
        seq, dist = best_run(sequential).per_second, best_run(distributed).per_second
        ratio = dist / seq if seq else 0.0
        seq_median = statistics.median(r.per_second for r in sequential)
        dist_median = statistics.median(r.per_second for r in distributed)
        self.say(
            f"distributed / sequential: {ratio:.2f}x ({dist:.2f} / {seq:.2f} images/s, "
            f"best of {len(distributed)} runs each; medians {dist_median:.2f} / "
            f"{seq_median:.2f}; {distributed[0].workers} worker slots)"
        )
        return round(ratio, 3)

    def compare_with_peer(
        self, ours: Run, images: list[Path], root: Path, slots: int
    ) -> dict:
        cpus = max(1, slots)
        tolerance = options.tolerance()
        self.say(
            f"peer: face_recognition CLI --cpus {cpus} --tolerance {tolerance:g} "
            "(HOG, upsample 1, full-size images up to 1600 px)"
        )
        result = peer.run_cli(images, root, cpus, tolerance)
        comparison = peer.compare(ours, result, peer.ground_truth(root))
        for line in peer.describe(ours, result, comparison):
            self.say("  " + line)
        return comparison


def until_last_end(items: list[runner.Item], began: datetime) -> float:
    """Seconds from the first upload to the end of the last job.

    The command notices the end by polling every half second; the workers' own end
    times say when the work was done, without that polling delay.
    """
    ends = [item.job.end_time for item in items if item.job and item.job.end_time]
    return max((max(ends) - began).total_seconds(), 1e-6) if ends else float("inf")


def parse_modes(text: str) -> list[str]:
    modes = [mode.strip() for mode in text.split(",") if mode.strip()]
    unknown = [mode for mode in modes if mode not in Mode.values]
    if unknown or not modes:
        raise CommandError(f"--modes takes {', '.join(Mode.values)}; got {text!r}.")
    return modes


def best_run(runs: list[Run]) -> Run:
    return max(runs, key=lambda run: run.per_second)


def describe_run(run: Run, number: int) -> str:
    overheads = run.overheads()
    line = (
        f"{run.mode:<11} run {number}: {run.images} images in {run.seconds:.1f} s = "
        f"{run.per_second:.2f} images/s with {run.workers} process"
        f"{'es' if run.workers != 1 else ''}; {run.faces} faces, "
        f"{run.failures} failures; pipeline "
        f"{run.pipeline_seconds() / max(1, len(run.jobs)):.3f} s/image"
    )
    if run.mode == Mode.DISTRIBUTED:
        line += (
            f"\n{'':<11} overhead: of all worker time (wall x slots) "
            f"{overheads['total']:.1%} outside the pipeline (bookkeeping in the task "
            f"{overheads['bookkeeping']:.1%} of job time, slots idle or between jobs "
            f"{overheads['queue']:.1%})"
        )
        each = run.per_job()
        if each:
            line += (
                f"\n{'':<11} per job (medians): pipeline "
                f"{each['pipeline'] * 1000:.0f} ms, bookkeeping "
                f"{each['bookkeeping'] * 1000:.1f} ms, between jobs on a slot "
                f"{each['gap'] * 1000:.1f} ms = {each['share']:.1%} of pipeline time, "
                f"{each['share_of_job']:.1%} of job time"
            )
    if run.failures:
        line += (
            f"\n{'':<11} WARNING: {run.failures} image(s) failed; see "
            "`manage.py recognize DIR` for the reasons. Failed images make the "
            "figures incomparable."
        )
    return line
