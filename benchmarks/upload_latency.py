"""Latency of the upload POST under concurrent clients, against a running server.

Each client is a thread with its own session: it fetches the upload page once for
its CSRF cookie, then posts one photo at a time (as the upload page's script does,
asking for JSON) and times each POST until the whole answer is in. Prints p50, p95,
p99 and max latency, throughput and errors. Every POST creates a job and queues it.

Uploading needs an account: pass --login USER:PASSWORD (each client signs in through
the login form first), or --api-key KEY to post to the REST API's /api/v1/recognitions
instead (its throttle, FACESITE_API_THROTTLE_RATES, then applies).

By default each client posts again as soon as it has its answer (a closed loop: the
server's saturation throughput, where latency is mostly waiting in line). With
--interval each client posts once per that many seconds, as people uploading do.

    python benchmarks/upload_latency.py --url http://127.0.0.1:8000 --clients 20
    python benchmarks/upload_latency.py --clients 20 --interval 1

See benchmarks/README.md for starting a server against a Redis and database of the
benchmark's own.
"""

from __future__ import annotations

import argparse
import io
import math
import random
import statistics
import sys
import threading
import time
from pathlib import Path

import requests


def photo(path: str | None) -> bytes:
    if path:
        return Path(path).read_bytes()
    from PIL import Image
    from skimage import data

    buffer = io.BytesIO()
    Image.fromarray(data.astronaut()).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def log_in(session: requests.Session, url: str, login: str) -> None:
    """Sign in through the login form, as a person does (USER:PASSWORD)."""
    user, _, password = login.partition(":")
    page = session.get(url + "/accounts/login/", timeout=30)
    page.raise_for_status()
    answer = session.post(
        url + "/accounts/login/",
        data={
            "username": user,
            "password": password,
            "csrfmiddlewaretoken": session.cookies.get("csrftoken", ""),
        },
        headers={"Referer": page.url},
        timeout=30,
    )
    if "sessionid" not in session.cookies:
        raise RuntimeError(f"login as {user!r} failed (HTTP {answer.status_code})")


def form_upload(session: requests.Session, url: str, image: bytes) -> str | None:
    """POST the upload form as the page's script does; an error text or None."""
    headers = {
        "X-CSRFToken": session.cookies.get("csrftoken", ""),
        "Accept": "application/json",
        "Referer": url + "/",
    }
    files = {"images": ("photo.jpg", image, "image/jpeg")}
    response = session.post(url + "/", files=files, headers=headers, timeout=60)
    if response.status_code != 200 or not response.json().get("accepted"):
        return f"HTTP {response.status_code}: {response.text[:200]}"
    return None


def api_upload(session: requests.Session, url: str, image: bytes) -> str | None:
    """POST /api/v1/recognitions with the session's API key; an error text or None."""
    files = {"image": ("photo.jpg", image, "image/jpeg")}
    response = session.post(url + "/api/v1/recognitions", files=files, timeout=60)
    if response.status_code not in (200, 201, 202):
        return f"HTTP {response.status_code}: {response.text[:200]}"
    return None


def client(
    url: str, image: bytes, args: argparse.Namespace, results: list, errors: list
) -> None:
    session = requests.Session()
    if args.api_key:
        session.headers["Authorization"] = f"Api-Key {args.api_key}"
        upload = api_upload
    else:
        if args.login:
            log_in(session, url, args.login)
        session.get(url + "/", timeout=30).raise_for_status()  # the CSRF cookie
        upload = form_upload
    time.sleep(random.uniform(0, args.interval))  # clients do not start in step
    for _ in range(args.requests):
        started = time.perf_counter()
        try:
            error = upload(session, url, image)
        except (requests.RequestException, ValueError) as exc:
            error = str(exc)
        if error:
            errors.append(error)
        else:
            results.append(time.perf_counter() - started)
        time.sleep(max(0.0, args.interval - (time.perf_counter() - started)))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))
    return ordered[rank]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=25, help="per client")
    parser.add_argument("--image", help="a photo to upload (default: astronaut)")
    parser.add_argument(
        "--login", help="USER:PASSWORD to sign in with (uploads need a login)"
    )
    parser.add_argument(
        "--api-key", help="post to /api/v1/recognitions with this key instead"
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=0.0,
        help="seconds between one client's uploads (default 0: back to back)",
    )
    args = parser.parse_args()
    url = args.url.rstrip("/")
    image = photo(args.image)
    results: list[float] = []
    errors: list[str] = []
    threads = [
        threading.Thread(
            target=client,
            args=(url, image, args, results, errors),
        )
        for _ in range(args.clients)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    total = args.clients * args.requests
    pace = f"one per {args.interval:g} s each" if args.interval else "back to back"
    target = url + ("/api/v1/recognitions" if args.api_key else "/")
    print(
        f"{args.clients} clients x {args.requests} uploads ({pace}) of "
        f"{len(image):,} bytes to {target} in {wall:.1f} s "
        f"({len(results) / wall:.1f} uploads/s)"
    )
    if results:
        ms = [value * 1000 for value in results]
        p50, p95, p99 = (percentile(ms, q) for q in (0.50, 0.95, 0.99))
        print(
            f"latency ms: p50 {p50:.1f}  p95 {p95:.1f}  p99 {p99:.1f}"
            f"  max {max(ms):.1f}  mean {statistics.fmean(ms):.1f}"
        )
    missing = total - len(results) - len(errors)
    print(
        f"errors: {len(errors)} of {total}"
        + (f", {missing} never sent" if missing else "")
    )
    for error in errors[:5]:
        print(f"  {error}")
    return 1 if errors or missing else 0


if __name__ == "__main__":
    sys.exit(main())
