"""A forked child (RQ's work horse, a gunicorn worker) never speaks on a connection it inherited.

Two processes on one PostgreSQL socket corrupt or block each other, and a connection that one of
the parent's threads was using at the moment of the fork stays locked in the child forever (the
child's copy of the lock has no thread to release it). Each test forks while the parent holds a
connection's lock, as a thread in the middle of a statement does, lets the child drop what it
inherited and do its own database work, and checks that the child ends promptly and the parent's
connection still answers.
"""

from __future__ import annotations

import gc
import os
import signal
import time
import traceback
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text

from core.db import get_engine
from core.inbox import writer as inbox_writer
from tests import meta

CHILD_DEADLINE_S = 30


def _run_in_child(work) -> int:
    """Fork, run ``work`` in the child, and return the child's exit status (killing it if stuck)."""
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        status = 1
        try:
            work()
            status = 0
        except BaseException:
            traceback.print_exc()  # pytest shows the child's stderr with the failure
        finally:
            os._exit(status)
    deadline = time.monotonic() + CHILD_DEADLINE_S
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError(f"the forked child was still running after {CHILD_DEADLINE_S} s")


@contextmanager
def _in_use(connection):
    """Hold ``connection``'s lock, as a parent thread does while it runs a statement on it."""
    with connection.lock:
        yield


def _count_inbox(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM inbox_events")).scalar_one()


def test_a_child_forked_after_webhooks_drops_the_writers_connection_and_opens_its_own(
    app, client, service_urls
):
    """After the parent served a webhook, a child stores a body of its own and exits at once."""
    assert (
        meta.post(client, meta.statuses_body("111", meta.status("wamid.parent", "sent", 1))).status_code
        == 200
    )

    def child_work():
        with app.app_context():  # the writer's after-commit step queues a drain for the app
            inbox_writer.writer("meta").store("meta", b'{"from": "the child"}')
        gc.collect()  # whatever the child inherited and dropped is finalised now

    with _in_use(inbox_writer.writer("meta")._connection):
        assert _run_in_child(child_work) == 0
    assert (
        meta.post(client, meta.statuses_body("111", meta.status("wamid.parent", "read", 2))).status_code
        == 200
    )
    assert _count_inbox(get_engine(service_urls["database_url"])) == 3


def test_a_child_that_drops_a_checked_out_pool_connection_leaves_the_parents_session_alone(service_urls):
    """A pool connection the parent holds at the fork is not reset from the child when dropped there."""
    engine = get_engine(service_urls["database_url"])
    held = [engine.raw_connection()]  # a list, so the child can drop the last reference
    held[0].cursor().execute("SELECT 1")

    def child_work():
        held.clear()
        gc.collect()
        with engine.connect() as own:  # the child's own connection works
            assert own.execute(text("SELECT 2")).scalar_one() == 2

    try:
        with _in_use(held[0].driver_connection):
            assert _run_in_child(child_work) == 0
        cursor = held[0].cursor()
        cursor.execute("SELECT 3")
        assert cursor.fetchone() == (3,)
    finally:
        held[0].close()


def test_stopping_a_horse_that_has_not_left_the_workers_process_group_kills_only_the_horse(service_urls):
    """A horse killed before its setpgrp() dies alone; the worker (here, this test run) lives on."""
    from jobs.queues import all_queues
    from jobs.worker import Worker

    queues = all_queues()
    worker = Worker(queues, connection=queues[0].connection)
    pid = os.fork()
    if pid == 0:  # a horse still in its parent's process group
        time.sleep(CHILD_DEADLINE_S)
        os._exit(0)
    worker._horse_pid = pid
    assert os.getpgid(pid) == os.getpgrp()
    worker.kill_horse()
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL


def _kill_children_after(seconds: float, done) -> None:
    """A watchdog: if ``done`` is not set in time, kill this process's children (a work horse
    left waiting), so the test fails instead of hanging."""
    if done.wait(seconds):
        return
    while not done.is_set():  # every horse from now on is killed: the burst then ends at once
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == os.getpid():  # its parent is this process
                    os.kill(int(stat.parent.name), signal.SIGKILL)
            except (OSError, ValueError, IndexError):
                continue  # gone meanwhile
        done.wait(0.2)


def test_a_horse_forked_while_another_thread_logs_is_not_left_waiting(run_jobs):
    """A thread writes log lines without pause through a handler every logger reaches, while
    the worker forks a horse per job, and each horse logs through that handler at once (RQ's
    "Job OK"): a horse forked in the middle of a write would wait forever on the stream lock it
    copied. jobs/worker.py forks only between writes, so every job finishes."""
    import logging
    import threading

    from jobs.queues import DEFAULT, queue

    handler = logging.FileHandler(os.devnull)
    root, noise = logging.getLogger(), logging.getLogger("tests.fork_noise")
    noise.setLevel(logging.INFO)
    root.addHandler(handler)
    writing, done = threading.Event(), threading.Event()
    writing.set()

    def write() -> None:
        while writing.is_set():
            noise.info("a line written while the worker forks")

    writer = threading.Thread(target=write, name="log-writer", daemon=True)
    watchdog = threading.Thread(target=_kill_children_after, args=(120, done), daemon=True)
    jobs = [queue(DEFAULT).enqueue("posix.getpid") for _ in range(25)]
    try:
        writer.start()
        watchdog.start()
        run_jobs()  # RQ's worker sets signal handlers: it runs on the main thread
    finally:
        done.set()
        writing.clear()
        writer.join(timeout=10)
        root.removeHandler(handler)
        handler.close()
    statuses = [job.get_status(refresh=True) for job in jobs]
    assert statuses == ["finished"] * len(jobs), "a work horse was left waiting on a lock it inherited"
