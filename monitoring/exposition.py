"""/metrics in the Prometheus text format.

Two kinds of figures: what the workers recorded in Redis (recorder: finished jobs,
durations, stage timings, verdicts), and gauges read at scrape time (jobs by status
and queue, dead letters, queue depths, unacknowledged messages, workers online, the
gallery's size). Whatever cannot be read is left out and its *_up gauge says 0: a
scrape answers even when Redis is down.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from django.db.models import Count
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

from recognition.models import Job, KnownFace

from . import metrics, queues, recorder
from .recorder import Counter, Histogram

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def render() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FaceSiteCollector())
    return generate_latest(registry)


class FaceSiteCollector:
    """A prometheus_client collector: every figure is read when scraped."""

    def collect(self) -> Iterator[Metric]:
        recorded = recorder.read()
        yield gauge("facesite_metrics_store_up", "1 when Redis answered.", recorded)
        if recorded is not None:
            for histogram in recorder.HISTOGRAMS:
                yield histogram_family(histogram, recorded)
            for counter in recorder.COUNTERS:
                yield counter_family(counter, recorded)
        yield from job_gauges()
        yield from queue_gauges()
        yield from gallery_gauges()


def gauge(name: str, documentation: str, value: object) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=0 if value is None else 1)


def series(prefix: str, recorded: dict[str, float]) -> dict[tuple, dict[str, float]]:
    """The recorded fields of one metric, grouped by label values."""
    grouped: dict[tuple, dict[str, float]] = defaultdict(dict)
    for key, value in recorded.items():
        name, labels, suffix = key.split("|")
        if name == prefix:
            grouped[tuple(labels.split(","))][suffix] = value
    return grouped


def histogram_family(
    histogram: Histogram, recorded: dict[str, float]
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(
        histogram.name, histogram.help, labels=histogram.labels
    )
    for labels, fields in sorted(series(histogram.name, recorded).items()):
        total, buckets = 0.0, []
        for index, bound in enumerate((*histogram.buckets, float("inf"))):
            total += fields.get(f"b{index}", 0.0)
            buckets.append((floatToGoString(bound), total))
        family.add_metric(list(labels), buckets, fields.get("sum", 0.0))
    return family


def counter_family(counter: Counter, recorded: dict[str, float]) -> Metric:
    family = CounterMetricFamily(counter.name, counter.help, labels=counter.labels)
    for labels, fields in sorted(series(counter.name, recorded).items()):
        family.add_metric(list(labels), fields.get("total", 0.0))
    return family


def job_gauges() -> Iterator[Metric]:
    from recognition.tasks import ROUTES

    family = GaugeMetricFamily(
        "facesite_jobs",
        "Jobs in the database by status and queue.",
        labels=["status", "queue"],
    )
    counts = dict.fromkeys(
        (
            (status, queue)
            for status in Job.Status.values
            for queue, _ in ROUTES.values()
        ),
        0,
    )
    rows = (
        Job.objects.order_by().values_list("status", "priority").annotate(n=Count("pk"))
    )
    for status, priority, count in rows:
        queue = ROUTES.get(priority, ("default", 0))[0]
        counts[(status, queue)] = counts.get((status, queue), 0) + count
    for (status, queue), count in sorted(counts.items()):
        family.add_metric([status, queue], count)
    yield family
    dead = sum(n for (status, _), n in counts.items() if status == Job.Status.DEAD)
    yield GaugeMetricFamily(
        "facesite_dead_letters", "Dead-lettered jobs waiting for a retry.", value=dead
    )


def queue_gauges() -> Iterator[Metric]:
    depths = queues.queue_depths()
    yield gauge("facesite_broker_up", "1 when the broker answered.", depths)
    if depths is not None:
        family = GaugeMetricFamily(
            "facesite_queue_depth", "Messages waiting per queue.", labels=["queue"]
        )
        for name, depth in sorted(depths.items()):
            family.add_metric([name], depth)
        yield family
        unacked = queues.unacked_count()
        if unacked is not None:
            yield GaugeMetricFamily(
                "facesite_queue_unacked",
                "Messages delivered to workers and not yet acknowledged.",
                value=unacked,
            )
    answer = metrics.workers_online()
    if answer["broker"]:
        yield GaugeMetricFamily(
            "facesite_workers_online",
            "Celery workers that answered a ping.",
            value=len(answer["workers"]),
        )


def gallery_gauges() -> Iterator[Metric]:
    size = KnownFace.objects.aggregate(
        encodings=Count("pk"), people=Count("person", distinct=True)
    )
    yield GaugeMetricFamily(
        "facesite_gallery_people",
        "People with at least one enrolled face.",
        value=size["people"],
    )
    yield GaugeMetricFamily(
        "facesite_gallery_encodings",
        "Enrolled face encodings.",
        value=size["encodings"],
    )
