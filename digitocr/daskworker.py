"""What runs on a Dask worker for ``dask.read``: the model loaded once per worker thread (or
taken from a preload that started as the worker joined), the process set up for reading
(glibc's malloc thresholds, quiet decoders, thread limits, the client's plugins), and the
task that reads a chunk of files."""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any

from .daskcluster import import_distributed
from .io import QUIET_ENV, quiet_decoders
from .pipeline import Reader, limit_threads, read_files, resolve_classifier
from .results import PageResult

#: glibc's own ceilings for its dynamic mmap and trim thresholds (64-bit), restored in a worker
#: whose ``MALLOC_TRIM_THRESHOLD_`` is fixed (Dask's nanny sets 65536 by default): a fixed
#: threshold turns the dynamic ones off, so that every page image (megabytes) is mmapped and
#: unmapped again; on 40 sample pages that cost 1.4 s of system time, 45 % more CPU per page
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 64 << 20
#: glibc's ``mallopt`` parameters (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3


# per worker thread: the models it loaded, by what names them (see ``worker_reader``)
_local = threading.local()
_malloc_tuned = False
# per worker process: models a preload (``preload_plugin``) loaded that no thread took yet,
# and the loads under way, by the same key as ``worker_reader``'s
_spare: dict[tuple[str, tuple[str, ...]], Reader] = {}
_loading: dict[tuple[str, tuple[str, ...]], threading.Event] = {}
# ... and the models a thread of this process already holds (no preload again: a later batch)
_held: set[tuple[str, tuple[str, ...]]] = set()
_spare_lock = threading.Lock()


def tune_malloc() -> None:
    """Once per worker process: glibc's dynamic thresholds' ceilings when the environment
    fixed the trim threshold (``MMAP_THRESHOLD``); nothing elsewhere (not glibc, not set)."""
    global _malloc_tuned
    if _malloc_tuned or not os.environ.get("MALLOC_TRIM_THRESHOLD_"):
        return
    _malloc_tuned = True
    import ctypes
    import ctypes.util

    with contextlib.suppress(OSError, AttributeError, TypeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)



def load_reader(model: str, threads: int, plugin_list: list[tuple[str, Any]]) -> Reader:
    """Load ``model`` in a worker, the process set up for it first (once)."""
    tune_malloc()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if os.environ.get(QUIET_ENV):
        quiet_decoders()
    if threads:
        limit_threads(threads)
    if plugin_list:
        from .plugins import restore_plugins

        restore_plugins(plugin_list)
    return resolve_classifier(model)


def _key(model: str, plugin_list: list[tuple[str, Any]]) -> tuple[str, tuple[str, ...]]:
    return (model, tuple(name for name, _ in plugin_list))


def preload(model: str, threads: int, plugin_list: list[tuple[str, Any]]) -> None:
    """Load ``model`` for the first worker thread that asks (``worker_reader``), in the
    background of a worker; a model that fails to load is left for that thread to report."""
    key = _key(model, plugin_list)
    with _spare_lock:
        if key in _spare or key in _loading or key in _held:
            return
        done = _loading[key] = threading.Event()
    try:
        reader = load_reader(model, threads, plugin_list)
    except Exception:  # the task loads it again, and fails with the reason
        pass
    else:
        with _spare_lock:
            _spare[key] = reader
    finally:
        with _spare_lock:
            del _loading[key]
        done.set()


def worker_reader(model: str | Reader, threads: int,
                  plugin_list: list[tuple[str, Any]]) -> Reader:
    """The model this worker thread reads with, loaded on its first chunk (or taken from a
    preload) and kept. Per thread, since a model is not for sharing between threads
    (``digitocr.Reader``)."""
    if not isinstance(model, str):
        return model
    cache: dict[tuple[str, tuple[str, ...]], Reader] | None = getattr(_local, "models", None)
    if cache is None:
        cache = _local.models = {}
    key = _key(model, plugin_list)
    if key not in cache:
        with _spare_lock:
            loading = _loading.get(key)
        if loading is not None:  # a preload under way: sooner done than a load of our own
            loading.wait()
        with _spare_lock:
            spare = _spare.pop(key, None)
        cache[key] = spare if spare is not None else load_reader(model, threads, plugin_list)
        with _spare_lock:
            _held.add(key)
    return cache[key]


def preload_plugin(model: str, threads: int, plugin_list: list[tuple[str, Any]]) -> Any:
    """A ``WorkerPlugin`` that starts loading ``model`` on each worker as it joins (in a
    thread, so that the worker takes tasks meanwhile)."""
    import_distributed()
    from distributed.diagnostics.plugin import WorkerPlugin

    class Preload(WorkerPlugin):
        idempotent = False

        def setup(self, worker: Any) -> None:
            threading.Thread(target=preload, args=(model, threads, plugin_list),
                             name="digitocr-preload", daemon=True).start()

    return Preload()


def read_chunk(paths: list[str], model: str | Reader, opts: Any, threads: int,
               plugin_list: list[tuple[str, Any]]) -> list[PageResult]:
    """A task: every page of ``paths``, read on a worker as a local run reads them."""
    return list(read_files(paths, worker_reader(model, threads, plugin_list), opts))
