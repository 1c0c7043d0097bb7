"""``python -m jobs.worker [--burst]``: one RQ worker on every queue, with the scheduler.

``--burst`` works until nothing is queued or due, then exits: RQ's own burst mode moves due
scheduled jobs only once, at start, so we go round again while jobs keep falling due (a job
that schedules a follow-up a moment later is still finished before we exit).
"""

from __future__ import annotations

import argparse
import errno
import gc
import logging
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import rq
from rq.registry import ScheduledJobRegistry

from core.ops.embedded import start_embedded_services_unless_production
from core.settings import get_settings
from jobs import (  # noqa: F401  (loaded before RQ forks its work horses)
    customer_import,
    dispatch,
    health,
    launch,
    monitor,
    orders,
    privacy,
    reconcile,
    shopify,
    webhooks,
)
from jobs.periodic import QuietPeriodicJobs, schedule_periodic_jobs
from jobs.queues import all_queues

log = logging.getLogger("jobs.worker")

MAX_BURST_ROUNDS = 1000


class Worker(rq.Worker):
    """RQ's forking worker, except that stopping a work horse never signals the worker's own group.

    RQ kills a horse by its process group, which the horse makes its own only after the fork
    has run every at-fork handler. A horse stopped before that moment (a job timeout, a stop
    command) still shares the worker's group, so RQ's ``killpg`` would kill the worker and
    whatever started it (a test run, CI's shell) along with it.
    """

    def fork_work_horse(self, job, queue) -> None:
        """Fork while no thread of this process is inside a log handler.

        A handler writes to its stream under the stream's own lock, and a fork copies that lock
        as it is: a horse forked while another thread was writing (RQ's command listener; in
        the tests, the app served from a thread of the test process) would wait on it forever
        at its first log line. Holding every handler's lock across the fork waits for such a
        write to end; logging then gives the child fresh handler locks of its own."""
        with _log_handlers_held():
            super().fork_work_horse(job, queue)

    def kill_horse(self, sig: signal.Signals = signal.SIGKILL) -> None:
        try:
            group = os.getpgid(self.horse_pid)
            if group == os.getpgrp():
                os.kill(self.horse_pid, sig)
            else:
                os.killpg(group, sig)
        except OSError as error:
            if error.errno != errno.ESRCH:  # a horse that is already gone is what we wanted
                raise


@contextmanager
def _log_handlers_held() -> Iterator[None]:
    """Every handler of every logger, each locked (in one order) until the block ends."""
    loggers = [logging.getLogger()] + [
        logger for logger in logging.Logger.manager.loggerDict.values() if isinstance(logger, logging.Logger)
    ]
    handlers = list({id(h): h for logger in loggers for h in logger.handlers}.values())
    for handler in handlers:
        handler.acquire()
    try:
        yield
    finally:
        for handler in reversed(handlers):
            handler.release()


def _due_jobs(queues) -> int:
    return sum(len(ScheduledJobRegistry(queue=q).get_jobs_to_schedule()) for q in queues)


def run_worker(*, burst: bool, name: str | None = None, worker_class: type[Worker] = Worker) -> None:
    queues = all_queues()
    _quiet_periodic_jobs()
    schedule_periodic_jobs()
    worker = worker_class(queues, connection=queues[0].connection, name=name)
    if not burst:
        worker.work(with_scheduler=True)
        return
    for _ in range(MAX_BURST_ROUNDS):
        worker.work(burst=True, with_scheduler=True)
        if not _due_jobs(queues) and not any(q.count for q in queues):
            return
    log.warning("burst stopped after %d rounds with jobs still due", MAX_BURST_ROUNDS)


def _quiet_periodic_jobs() -> None:
    logger = logging.getLogger("rq.worker")
    if not any(isinstance(f, QuietPeriodicJobs) for f in logger.filters):
        logger.addFilter(QuietPeriodicJobs())


def quiet_routine_job_lines() -> None:
    """RQ's own INFO lines (each job picked up, OK, its result kept; the scheduler's rounds) off:
    under `make run` they would bury the web server's requests. A failing job is logged at
    WARNING or above, which stays, and so do the jobs' own log lines (other loggers)."""
    for name in ("rq.worker", "rq.scheduler", "rq.job", "rq.queue"):
        logging.getLogger(name).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.worker", description=__doc__.split("\n")[0])
    parser.add_argument("--burst", action="store_true", help="exit when nothing is queued or due")
    parser.add_argument("--name", help="worker name (default: RQ's)")
    parser.add_argument(
        "--quiet-jobs", action="store_true", help="leave out RQ's routine lines for each job (errors stay)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.quiet_jobs:
        quiet_routine_job_lines()
    start_embedded_services_unless_production()
    get_settings()  # a production start with a missing secret stops here, naming it
    # Every job runs in a work horse forked from this process. What exists now (the imported
    # modules, about a hundred thousand objects) lives as long as the worker, so the garbage
    # collector need never scan it: frozen, a horse's collections skip it, and its memory pages
    # stay shared with the worker instead of being copied when a collection touches them (about
    # 0.1 s of CPU saved per job on this machine). Only here, not in run_worker: the tests run
    # that in their own process, whose objects do not all live for ever.
    gc.freeze()
    run_worker(burst=args.burst, name=args.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
