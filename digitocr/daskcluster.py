"""Reaching a Dask cluster: a client of a remote scheduler, or a ``LocalCluster`` whose workers
fork from a forkserver that imported the reading code once (``prestart``); and the check that
Dask is installed at all."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .errors import ClusterError
from .pipeline import default_workers

if TYPE_CHECKING:
    from distributed import Client

#: seconds to wait for a remote scheduler before giving up
CONNECT_TIMEOUT = 30.0
#: ``--scheduler local``: the value that starts a ``LocalCluster`` on this machine
LOCAL = "local"

#: modules the forkserver of ``--scheduler local`` imports once, so that each worker forked
#: from it starts with them (instead of importing them anew in each spawned worker)
FORKSERVER_PRELOAD = ("distributed", "digitocr.dask", "digitocr.pipeline", "onnxruntime")

# the environment the forkserver started with (None: not started by ``prestart``)
_forkserver_env: dict[str, str] | None = None


def import_distributed() -> Any:
    """The ``distributed`` package, or a ``ClusterError`` naming the extra to install."""
    try:
        import distributed
    except ImportError as exc:
        raise ClusterError("reading on Dask needs dask[distributed] "
                           "(pip install 'digitocr[dask]')") from exc
    return distributed



#: INFO lines on workers joining and leaving are not the reader's business)
LOCAL_LOG_LEVEL = logging.ERROR


@contextlib.contextmanager
def _quiet_logs() -> Iterator[None]:
    log = logging.getLogger("distributed")
    level = log.level
    log.setLevel(LOCAL_LOG_LEVEL)
    try:
        yield
    finally:
        log.setLevel(level)


def prestart() -> bool:
    """Start the forkserver a ``LocalCluster``'s workers are forked from (once per process),
    importing ``FORKSERVER_PRELOAD`` in the background; False where there is no forkserver
    (Windows: the workers are spawned)."""
    global _forkserver_env
    if _forkserver_env is not None:
        return True
    import multiprocessing
    import multiprocessing.forkserver

    try:
        ctx = multiprocessing.get_context("forkserver")
    except ValueError:
        return False
    ctx.set_forkserver_preload(list(FORKSERVER_PRELOAD))
    multiprocessing.forkserver.ensure_running()
    _forkserver_env = dict(os.environ)
    return True


def _local_cluster_env() -> dict[str, str]:
    """What a forked worker must be given of this process's environment: what changed since
    the forkserver started (a worker's spawned process would have had it)."""
    base = _forkserver_env or {}
    return {k: v for k, v in os.environ.items() if base.get(k) != v}


@contextlib.contextmanager
def connect(scheduler: str, workers: int | None = None) -> Iterator[Client]:
    """A client of the cluster at ``scheduler`` (``tcp://HOST:8786``), or of a new
    ``LocalCluster`` of ``workers`` processes (one thread each; default: one per core) for
    ``"local"``; closed (and a local cluster shut down) on leaving."""
    if scheduler == LOCAL:
        forked = prestart()  # first: it imports while this process imports Dask
        distributed = import_distributed()
        import dask

        n = workers or default_workers()
        method = {"distributed.worker.multiprocessing-method": "forkserver"} if forked else {}
        if forked:  # else Dask would import every package it knows of here, for its preload
            import distributed.utils as dutils

            dutils._forkserver_preload_set = True
        # its HTTP server on a free port: a fixed one may be taken (another cluster here)
        with _quiet_logs(), dask.config.set(method), distributed.LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                silence_logs=LOCAL_LOG_LEVEL, env=_local_cluster_env()
        ) as cluster, distributed.Client(cluster) as client:
            yield client
        return
    distributed = import_distributed()
    try:
        client = distributed.Client(scheduler, timeout=CONNECT_TIMEOUT)
    except (OSError, ValueError, TypeError) as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {scheduler} ({exc})") from exc
    with client:
        yield client


def local_threads(workers: int | None) -> int:
    """Inference threads per worker of a ``LocalCluster`` of ``workers``: the cores shared."""
    return max(1, default_workers() // (workers or default_workers()))
