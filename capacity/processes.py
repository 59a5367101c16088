"""Worker processes that end with the process that started them.

A worker of a pool (the figure drawer's, :mod:`capacity.figures`; the level workers,
:mod:`capacity.optimize.parallel`) is stopped by its pool when the command ends normally or by an
exception. When the command is killed outright (SIGKILL, a notebook kernel restarted, the kernel's
out-of-memory killer), nothing stops them: a solver worker would go on using a core until its time
limit. :func:`exit_with_parent` (the figure drawer's workers) asks the operating system to end a
worker then; :func:`watch_parent` (the level workers) has the worker notice it itself.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

__all__ = ["exit_with_parent", "watch_parent"]


def exit_with_parent() -> None:
    """End this worker when the process that started it dies, even by SIGKILL.

    Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` (no thread needed; the signal comes when the thread
    that started the worker ends, which for a pool's workers is the pool's end or the process's),
    and if that parent is already gone, exit now. The worker also drops any SIGTERM handler
    inherited through ``fork`` (the command line's turns SIGTERM into an exception), so SIGTERM ends
    it too. Elsewhere the pool still ends its workers on every normal exit.
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # no C library handle: keep the default
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def watch_parent(interval: float = 0.5) -> None:
    """End this worker within ``interval`` seconds of the death of the process that started it.

    For a :class:`multiprocessing.pool.Pool`'s workers, where :func:`exit_with_parent` would be
    wrong: the pool replaces a dead worker from its handler thread, and ``PR_SET_PDEATHSIG`` ends
    such a replacement when that thread ends, which is at the pool's termination, possibly while
    the worker holds the pool's task-queue lock; the termination then waits for the lock forever.
    A daemon thread here compares the parent's process id every ``interval`` seconds instead
    (HiGHS releases Python's lock while it solves, so the thread runs during a solve).
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, name="capacity-watch-parent", daemon=True).start()
