"""Reading on a Dask cluster (``read --scheduler``): past one machine, same records.

``read(paths, client)`` sends chunks of files to the cluster's workers and yields their pages
in input order, as ``pipeline.read`` does: each chunk is read by ``pipeline.read_files``, the
same code as a local run, so that the records are the same to the byte. Each worker thread
loads the model once (``_worker_reader`` keeps it) and the plugins this process has travel
with each chunk (``plugins.worker_plugins``). At most ``in_flight`` chunks are out at a time,
so memory stays flat on any batch.

A file that cannot be read is an error record, as locally. A worker that dies while reading a
chunk (killed, out of memory, a crash in a decoder) gets the chunk re-run on another worker
by the scheduler (``distributed.scheduler.allowed-failures`` times); when it still fails
(``KilledWorker``), each of its files is tried alone, and a file that still kills its worker
becomes an error record: nothing is lost, and a result is taken once, so nothing is read
twice into the output.

Before the first chunk goes out, a worker plugin (``_preload_plugin``) starts loading the model
on every worker, so that it loads while the client sends the chunks. ``--scheduler local``
forks its workers from a forkserver that imported Dask and digitocr's reading code once
(``FORKSERVER_PRELOAD``), started before this process imports Dask itself: a cold local run
does not pay those imports in each worker.

Workers need digitocr (same version) and the model, and must see the input files at the same
paths (a shared or network file system). Tasks run in worker threads, where ``io.deadline``'s
alarm cannot fire: ``timeout_per_file`` bounds PDF rendering only (pdftoppm's own timeout).
Dask is the optional extra ``dask``; nothing here imports it until it is used, and ``import
digitocr`` never does.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .backends import Classifier, StringReader
from .errors import ClusterError, InputError
from .fields import Template
from .io import DEFAULT_DPI, MAX_PIXELS, QUIET_ENV, STDIN, expand_inputs, quiet_decoders
from .pipeline import (
    BATCH_PAGES,
    DEFAULT_MODEL,
    Progress,
    Reader,
    _common_folder,
    default_workers,
    limit_threads,
    read_files,
    read_options,
    resolve_classifier,
    review_threshold,
)
from .results import PageResult
from .segment import SegmentRules

if TYPE_CHECKING:
    from distributed import Client

#: chunks out on the cluster per worker thread: enough that no worker waits for the next one,
#: few enough that results held for in-order output stay few
IN_FLIGHT_PER_THREAD = 2
#: chunks per worker thread a batch is cut into (as ``pipeline.read``'s pool): small enough
#: that work spreads evenly, large enough for batched inference
CHUNKS_PER_THREAD = 8
#: seconds to wait for a remote scheduler before giving up
CONNECT_TIMEOUT = 30.0
#: ``--scheduler local``: the value that starts a ``LocalCluster`` on this machine
LOCAL = "local"

#: glibc's own ceilings for its dynamic mmap and trim thresholds (64-bit), restored in a worker
#: whose ``MALLOC_TRIM_THRESHOLD_`` is fixed (Dask's nanny sets 65536 by default): a fixed
#: threshold turns the dynamic ones off, so that every page image (megabytes) is mmapped and
#: unmapped again; on 40 sample pages that cost 1.4 s of system time, 45 % more CPU per page
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 64 << 20
#: glibc's ``mallopt`` parameters (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3

#: modules the forkserver of ``--scheduler local`` imports once, so that each worker forked
#: from it starts with them (instead of importing them anew in each spawned worker)
FORKSERVER_PRELOAD = ("distributed", "digitocr.dask", "digitocr.pipeline", "onnxruntime")
#: the name ``read`` registers its model-preloading worker plugin under (one per cluster)
PRELOAD_PLUGIN = "digitocr-preload"

# per worker thread: the models it loaded, by what names them (see ``_worker_reader``)
_local = threading.local()
_malloc_tuned = False
# per worker process: models a preload (``_preload_plugin``) loaded that no thread took yet,
# and the loads under way, by the same key as ``_worker_reader``'s
_spare: dict[tuple[str, tuple[str, ...]], Reader] = {}
_loading: dict[tuple[str, tuple[str, ...]], threading.Event] = {}
# ... and the models a thread of this process already holds (no preload again: a later batch)
_held: set[tuple[str, tuple[str, ...]]] = set()
_spare_lock = threading.Lock()
# the environment the forkserver started with (None: not started by ``prestart``)
_forkserver_env: dict[str, str] | None = None


def _tune_malloc() -> None:
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


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise ClusterError("reading on Dask needs dask[distributed] "
                           "(pip install 'digitocr[dask]')") from exc
    return distributed


def _load(model: str, threads: int, plugin_list: list[tuple[str, Any]]) -> Reader:
    """Load ``model`` in a worker, the process set up for it first (once)."""
    _tune_malloc()
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


def _preload(model: str, threads: int, plugin_list: list[tuple[str, Any]]) -> None:
    """Load ``model`` for the first worker thread that asks (``_worker_reader``), in the
    background of a worker; a model that fails to load is left for that thread to report."""
    key = _key(model, plugin_list)
    with _spare_lock:
        if key in _spare or key in _loading or key in _held:
            return
        done = _loading[key] = threading.Event()
    try:
        reader = _load(model, threads, plugin_list)
    except Exception:  # the task loads it again, and fails with the reason
        pass
    else:
        with _spare_lock:
            _spare[key] = reader
    finally:
        with _spare_lock:
            del _loading[key]
        done.set()


def _worker_reader(model: str | Reader, threads: int,
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
        cache[key] = spare if spare is not None else _load(model, threads, plugin_list)
        with _spare_lock:
            _held.add(key)
    return cache[key]


def _preload_plugin(model: str, threads: int, plugin_list: list[tuple[str, Any]]) -> Any:
    """A ``WorkerPlugin`` that starts loading ``model`` on each worker as it joins (in a
    thread, so that the worker takes tasks meanwhile)."""
    _import_distributed()
    from distributed.diagnostics.plugin import WorkerPlugin

    class Preload(WorkerPlugin):
        idempotent = False

        def setup(self, worker: Any) -> None:
            threading.Thread(target=_preload, args=(model, threads, plugin_list),
                             name="digitocr-preload", daemon=True).start()

    return Preload()


def _read_chunk(paths: list[str], model: str | Reader, opts: Any, threads: int,
                plugin_list: list[tuple[str, Any]]) -> list[PageResult]:
    """A task: every page of ``paths``, read on a worker as a local run reads them."""
    return list(read_files(paths, _worker_reader(model, threads, plugin_list), opts))


def _lost(path: str) -> PageResult:
    return PageResult(path, 0, error=f"{path}: the Dask worker reading it died every time it "
                      "was tried (out of memory, or a crash while decoding it)")


def read(
    paths: str | Path | Iterable[str | Path],
    client: Client,
    model: str | Path | Reader = DEFAULT_MODEL,
    layout: str = "auto",
    *,
    min_confidence: float | None = None,
    template: Template | str | Path | None = None,
    annotate: str | Path | None = None,
    dpi: int = DEFAULT_DPI,
    polarity: str = "auto",
    deskew: bool = True,
    max_pixels: int = MAX_PIXELS,
    progress: Progress | None = None,
    timeout_per_file: float | None = None,
    orientation: bool = True,
    rules: SegmentRules | str | Path | None = None,
    include_printed: bool = False,
    chunk_files: int | None = None,
    in_flight: int | None = None,
    threads: int = 1,
) -> Iterator[PageResult]:
    """``digitocr.read`` on the cluster ``client`` is connected to: one PageResult per page,
    in input order, each with the run's provenance.

    ``chunk_files`` files go out per task (default: as ``pipeline.read``'s pool cuts them);
    at most ``in_flight`` tasks at a time (default ``IN_FLIGHT_PER_THREAD`` per worker
    thread). ``threads`` caps each worker thread's inference threads (ONNX Runtime, OpenCV).
    A model object (not a name) is sent to each worker once (``Client.scatter``).
    """
    distributed = _import_distributed()
    from .provenance import provenance

    prov = provenance(model, layout)  # a bad model fails here, before the cluster works
    if min_confidence is None:
        min_confidence = review_threshold(model)
    files = expand_inputs(paths)
    if STDIN in files:
        raise InputError("standard input (-) cannot be read on a Dask cluster: give files")
    opts = read_options(layout, min_confidence=min_confidence, template=template,
                        annotate=annotate, dpi=dpi, polarity=polarity, deskew=deskew,
                        max_pixels=max_pixels, timeout_per_file=timeout_per_file,
                        orientation=orientation, annotate_root=_common_folder(files),
                        rules=rules, include_printed=include_printed)
    if not files:
        return
    from .plugins import worker_plugins

    plugin_list = worker_plugins(picklable=True)
    nthreads = max(1, sum(client.nthreads().values()))
    size = chunk_files or max(1, min(BATCH_PAGES, len(files) // (nthreads * CHUNKS_PER_THREAD)))
    chunks = iter([files[i : i + size] for i in range(0, len(files), size)])
    limit = in_flight or nthreads * IN_FLIGHT_PER_THREAD
    ref: Any = model
    if isinstance(model, (Classifier, StringReader)):
        ref = client.scatter(model, broadcast=True, hash=False)
    else:
        ref = str(model)

    if isinstance(ref, str):  # the model loads on every worker while the chunks go out
        with contextlib.suppress(Exception):  # an old or odd cluster: loaded on first chunk
            client.register_plugin(_preload_plugin(ref, threads, plugin_list),
                                   name=PRELOAD_PLUGIN)

    def submit(chunk: list[str]) -> Any:
        return client.submit(_read_chunk, chunk, ref, opts, threads, plugin_list, pure=False)

    def result(chunk: list[str], fut: Any) -> list[PageResult]:
        try:
            pages: list[PageResult] = fut.result()
            return pages
        except distributed.KilledWorker:
            if len(chunk) == 1:
                return [_lost(chunk[0])]
            # each file alone: only the one that kills its worker becomes an error record
            return [p for path in chunk for p in result([path], submit([path]))]

    pending: deque[tuple[list[str], Any]] = deque()
    finished = 0
    try:
        for chunk in chunks:
            pending.append((chunk, submit(chunk)))
            if len(pending) >= limit:
                break
        while pending:
            chunk, fut = pending.popleft()
            pages = result(chunk, fut)
            del fut  # released: the cluster forgets the result
            nxt = next(chunks, None)
            if nxt is not None:  # before yielding: the cluster works while we write
                pending.append((nxt, submit(nxt)))
            for page in pages:
                page.provenance = prov
                yield page
            for path in chunk:
                finished += 1
                if progress:
                    progress(finished, len(files), path)
    finally:  # stopped early (an error, Ctrl-C, the consumer gone): drop what is queued
        if pending:
            with contextlib.suppress(Exception):
                client.cancel([f for _, f in pending], force=True)


def _chunk_frame(paths: list[str], model: str | Reader, opts: Any, threads: int,
                 plugin_list: list[tuple[str, Any]], prov: Any) -> Any:
    """A task of ``fields_frame``: the rows of ``paths`` (``writers.field_rows``)."""
    import pandas as pd

    from .writers import field_rows

    rows = []
    for page in _read_chunk(paths, model, opts, threads, plugin_list):
        page.provenance = prov
        rows.extend(field_rows(page))
    return pd.DataFrame(rows, columns=list(FRAME_DTYPES)).astype(FRAME_DTYPES)


#: ``fields_frame``'s columns (``writers.CSV_COLUMNS``) and their pandas types; the box and
#: ``valid`` are nullable (a page with no field has none; a field without rules, no ``valid``)
FRAME_DTYPES: dict[str, str] = {
    "file": "object", "page": "int64", "field": "object", "text": "object",
    "confidence": "float64", "needs_review": "bool", "x": "Int64", "y": "Int64", "w": "Int64",
    "h": "Int64", "error": "object", "value": "object", "valid": "boolean",
    "style": "object", "row": "Int64", "col": "Int64", "digitocr": "object", "model": "object",
    "model_sha256": "object", "layout": "object"}


def fields_frame(
    paths: str | Path | Iterable[str | Path],
    model: str | Path = DEFAULT_MODEL,
    layout: str = "auto",
    *,
    min_confidence: float | None = None,
    chunk_files: int = BATCH_PAGES,
    threads: int = 1,
    **options: Any,
) -> Any:
    """A lazy ``dask.dataframe.DataFrame`` of the fields of ``paths``, one row per field as
    ``read --format csv`` has them (a page with no field, or that failed, has one row):
    ``FRAME_DTYPES``. One partition per ``chunk_files`` files, read when computed, on the
    cluster of the current ``distributed.Client`` (or Dask's default scheduler). ``options``
    are ``read``'s (``template``, ``dpi``, ``polarity``, ...)."""
    try:
        import dask
        import dask.dataframe as dd
        import pandas as pd
    except ImportError as exc:
        raise ClusterError("fields_frame needs dask[dataframe] "
                           "(pip install 'digitocr[dask]')") from exc
    from .plugins import worker_plugins
    from .provenance import provenance

    prov = provenance(model, layout)
    if min_confidence is None:
        min_confidence = review_threshold(model)
    files = expand_inputs(paths)
    if STDIN in files:
        raise InputError("standard input (-) cannot be read on a Dask cluster: give files")
    opts = read_options(layout, min_confidence=min_confidence,
                        annotate_root=_common_folder(files), **options)
    plugin_list = worker_plugins(picklable=True)
    task = dask.delayed(_chunk_frame, pure=False)
    parts = [task(files[i : i + chunk_files], str(model), opts, threads, plugin_list, prov)
             for i in range(0, len(files), chunk_files)]
    meta = pd.DataFrame({c: pd.Series(dtype=t) for c, t in FRAME_DTYPES.items()})
    return dd.from_delayed(parts, meta=meta, verify_meta=False)


#: what a ``LocalCluster``'s scheduler, in this process, logs on stderr: its errors only (its
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
        distributed = _import_distributed()
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
    distributed = _import_distributed()
    try:
        client = distributed.Client(scheduler, timeout=CONNECT_TIMEOUT)
    except (OSError, ValueError, TypeError) as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {scheduler} ({exc})") from exc
    with client:
        yield client


def local_threads(workers: int | None) -> int:
    """Inference threads per worker of a ``LocalCluster`` of ``workers``: the cores shared."""
    return max(1, default_workers() // (workers or default_workers()))
