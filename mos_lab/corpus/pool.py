"""Warm local Dask pools, kept and reused between jobs in one Python process.

A local cluster costs 2-5 s to start and each new worker process pays mos_lab's imports
and first-call set-up (~1 s) on its first file; a notebook running several jobs in a row
pays that once instead of once per job. One pool is kept at a time (asking for another
worker count replaces it), since idle workers hold memory. Workers import the task modules
when they start (a worker plugin), so the first batch is timed like every other. Pools are
closed when the interpreter exits, or at once with :func:`close_pools`.
"""

from __future__ import annotations

import atexit
import logging
import threading
from typing import Any

from mos_lab.corpus.errors import need
from mos_lab.corpus.warm import WARM_MODULES

# A local cluster's own timers, slowed: measured here, an idle 2-worker cluster used 0.32 s
# of CPU in 5 s with Dask's defaults and 0.07 s with these (on 2 shared cores that is CPU
# the tasks lose, and each wake-up in a worker takes the GIL from its running task).
QUIET = {
    # the statistical profiler samples each task thread every 10 ms: ~5-10% of a job's
    # CPU on analyses of a few ms per file, for a dashboard nobody reads here
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "500ms",  # blocked-loop check, 20 ms by default
    "distributed.admin.system-monitor.interval": "2s",  # dashboard's CPU/memory, 500 ms
    "distributed.worker.memory.monitor-interval": "500ms",  # memory limits, 100 ms
}

_lock = threading.Lock()


def quiet_cluster() -> Any:
    """A context in which a LocalCluster made starts with :data:`QUIET`'s settings."""
    return need("dask").config.set(QUIET)

_pools: dict[int, tuple[Any, Any]] = {}  # workers -> (LocalCluster, Client)

def _alive(client: Any) -> bool:
    """Whether a pooled client still talks to a running scheduler with workers."""
    try:
        return client.status == "running" and bool(
            client.scheduler_info().get("workers"))
    except Exception:  # a closed or broken cluster is rebuilt, never reused
        return False


def pool(workers: int) -> Any:
    """The warm local client with ``workers`` single-threaded worker processes (made once,
    replacing a pool of another size)."""
    if workers < 1:
        raise ValueError(f"workers: {workers} must be at least 1")
    distributed = need("distributed")
    with _lock:
        held = _pools.get(workers)
        if held is not None and _alive(held[1]):
            return held[1]
        for n in list(_pools):  # one warm pool at a time: idle workers hold memory
            _close(_pools.pop(n))
        with quiet_cluster():
            cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                               processes=True, dashboard_address=":0",
                                               silence_logs=logging.ERROR)
        client = distributed.Client(cluster, set_as_default=False)
        from mos_lab.corpus._plugin import Warm

        client.register_plugin(Warm(WARM_MODULES))
        _pools[workers] = (cluster, client)
        return client


def _close(held: tuple[Any, Any]) -> None:
    """Close one pooled client and its cluster, ignoring one that is already gone."""
    cluster, client = held
    for part in (client, cluster):
        try:
            part.close()
        except Exception:  # closing at exit must not raise over the user's own error
            logging.getLogger(__name__).debug("closing a corpus pool failed", exc_info=True)


def close_pools() -> int:
    """Close every pooled cluster now (they are otherwise closed at exit); returns how many."""
    with _lock:
        held = list(_pools.values())
        _pools.clear()
    for h in held:
        _close(h)
    return len(held)


atexit.register(close_pools)
