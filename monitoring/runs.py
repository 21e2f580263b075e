"""The performance page's figures: timed runs, sequential against distributed."""

from __future__ import annotations

from monitoring.models import PerformanceStat

PAGE_ROWS = 200


def stat_point(stat: PerformanceStat) -> dict:
    return {
        "id": stat.pk,
        "t": stat.timestamp,
        "mode": stat.mode,
        "num_images": stat.num_images,
        "num_workers": stat.num_workers,
        "total_time": stat.total_time,
        "avg_time": stat.avg_time,
        "images_per_second": round(stat.images_per_second, 3),
        "faces_found": stat.faces_found,
        "failures": stat.failures,
        "source": stat.source,
    }


def latest_ratio(points: list[dict]) -> dict | None:
    """The newest distributed run against the newest sequential run of its folder."""
    distributed = next((p for p in points if p["mode"] == "distributed"), None)
    if distributed is None:
        return None
    sequential = next(
        (
            p
            for p in points
            if p["mode"] == "sequential" and p["source"] == distributed["source"]
        ),
        None,
    )
    if sequential is None or not sequential["images_per_second"]:
        return None
    return {
        "sequential": sequential,
        "distributed": distributed,
        "ratio": round(
            distributed["images_per_second"] / sequential["images_per_second"], 2
        ),
    }


def page() -> dict:
    stats = PerformanceStat.objects.all()[:PAGE_ROWS]
    points = [stat_point(stat) for stat in stats]
    return {
        "rows": points,
        "chart": list(reversed(points)),
        # Newest first: the page plots the folder of the latest run by default.
        "sources": list(dict.fromkeys(p["source"] for p in points)),
        "comparison": latest_ratio(points),
        "limit": PAGE_ROWS,
    }
