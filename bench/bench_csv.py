"""The CSV export of a campaign's 1,000,000 messages, downloaded through the app's HTTP API.

Served as production serves it (gunicorn with a worker per core and 16 threads, bench/stack.py)
and, side by side in the same run, by the threaded development server the tests and
bench/bench_pages.py use, so the two figures compare the servers on the same export. The
dataset is bench/bench_pages.py's: one shop, one campaign of a million messages with its mix of
outcomes (3 % of them with a number to suggest).

Target (issue 13): under 10 s, in constant memory. The time is the median of three downloads
through gunicorn (the first, reported too, comes right after the million rows are loaded).
Memory is read from /proc: the largest peak resident size of the gunicorn workers before and
after the downloads (a worker's peak never goes down, so the difference is what the exports
added), against the file's size.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from unittest.mock import patch

import psutil
import requests

from bench.figures import Figure, load_average
from core.db import libpq_url

MEBIBYTE = 1 << 20
DOWNLOADS = 3  # through gunicorn; the figure is their median


def run() -> list[Figure]:
    from bench.bench_pages import MESSAGES, _populate
    from bench.stack import app_environment, bench_database, bench_redis_url

    with bench_database() as url, patch.dict(os.environ, DATABASE_URL=url):
        started = time.perf_counter()
        _, big = _populate(libpq_url(url))
        figures = [Figure("csv_dataset_build_seconds", round(time.perf_counter() - started, 1), "s")]
        figures += _gunicorn_figures(app_environment(url, bench_redis_url()), big, MESSAGES)
        figures += _dev_server_figures(url, big, MESSAGES)
    return figures


def _gunicorn_figures(env: dict[str, str], big: int, expected: int) -> list[Figure]:
    from bench.stack import GUNICORN_THREADS, gunicorn

    with gunicorn(env, threads=GUNICORN_THREADS) as base:
        workers = _workers(base)
        before = _peak_rss(workers)
        load = load_average()
        downloads = [_download(base, big) for _ in range(DOWNLOADS)]
        after = _peak_rss(workers)
    rows, size, first = downloads[0]
    seconds = statistics.median(s for _, _, s in downloads)
    return [
        Figure("csv_export_load_average_1m", load, "load"),
        Figure("csv_export_rows", rows, "rows", f"== {expected}"),
        Figure("csv_export_first_seconds", round(first, 1), "s"),
        Figure("csv_export_seconds", round(seconds, 1), "s", "< 10"),
        Figure("csv_export_rows_per_second", round(rows / seconds), "rows/s"),
        Figure("csv_export_megabytes", round(size / 1e6, 1), "MB"),
        Figure("csv_export_end_load_average_1m", load_average(), "load"),
        Figure("csv_export_worker_peak_rss_before", round(before / MEBIBYTE, 1), "MiB"),
        Figure("csv_export_worker_peak_rss_after", round(after / MEBIBYTE, 1), "MiB"),
        Figure("csv_export_worker_rss_growth", round((after - before) / MEBIBYTE, 1), "MiB"),
        Figure("csv_export_worker_rss_growth_per_file_size", round((after - before) / size, 3), "ratio"),
    ]


def _dev_server_figures(url: str, big: int, expected: int) -> list[Figure]:
    """The same download from the development server (one process, a thread per request)."""
    import logging

    from tests.browser import serve
    from web import create_app

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = create_app({"APP_ENV": "test", "DATABASE_URL": url})
    with serve(app) as base:
        load = load_average()
        rows, _, seconds = _download(base, big)
    return [
        Figure("csv_export_dev_server_load_average_1m", load, "load"),
        Figure("csv_export_dev_server_rows", rows, "rows", f"== {expected}"),
        Figure("csv_export_dev_server_seconds", round(seconds, 1), "s"),
    ]


def _download(base: str, big: int) -> tuple[int, int, float]:
    """Download the campaign's CSV as a browser would; return (rows, bytes, seconds)."""
    from bench.bench_pages import SHOP
    from bench.stack import BENCH_SECRETS
    from tests.tokens import session_token

    token = session_token(SHOP, exp=int(time.time()) + 3600, secret=BENCH_SECRETS["SHOPIFY_API_SECRET"])
    lines, size = 0, 0
    started = time.perf_counter()
    with requests.get(
        f"{base}/api/campaigns/{big}/messages.csv", headers={"Authorization": f"Bearer {token}"}, stream=True
    ) as response:
        response.raise_for_status()
        for chunk in response.iter_content(chunk_size=1 << 20):
            lines += chunk.count(b"\n")
            size += len(chunk)
    # The bench's cells hold no line breaks: a line is a row, after the header.
    return lines - 1, size, time.perf_counter() - started


def _workers(base: str) -> list[psutil.Process]:
    """The gunicorn workers serving ``base`` (their command line names its port)."""
    bind = base.removeprefix("http://")
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if bind in (process.info["cmdline"] or []):
            found.append(process)
    master = {p.pid for p in found if p.ppid() not in {q.pid for q in found}}
    workers = [p for p in found if p.pid not in master]
    if not workers:
        raise RuntimeError(f"no gunicorn worker found for {base}")
    return workers


def _peak_rss(workers: list[psutil.Process]) -> int:
    """The largest peak resident size (VmHWM) among ``workers``, in bytes."""
    peaks = []
    for worker in workers:
        status = Path(f"/proc/{worker.pid}/status").read_text()
        kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
        peaks.append(int(kib) * 1024)
    return max(peaks)
