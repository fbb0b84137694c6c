"""Reading on a Dask cluster (``read --scheduler``): past one machine, same records.

``read(paths, client)`` sends chunks of files to the cluster's workers and yields their pages
in input order, as ``pipeline.read`` does: each chunk is read by ``pipeline.read_files``, the
same code as a local run, so that the records are the same to the byte. Each worker thread
loads the model once (``worker_reader`` keeps it) and the plugins this process has travel
with each chunk (``plugins.worker_plugins``). At most ``in_flight`` chunks are out at a time,
so memory stays flat on any batch.

A file that cannot be read is an error record, as locally. A worker that dies while reading a
chunk (killed, out of memory, a crash in a decoder) gets the chunk re-run on another worker
by the scheduler (``distributed.scheduler.allowed-failures`` times); when it still fails
(``KilledWorker``), each of its files is tried alone, and a file that still kills its worker
becomes an error record: nothing is lost, and a result is taken once, so nothing is read
twice into the output.

Before the first chunk goes out, a worker plugin (``preload_plugin``) starts loading the model
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
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .backends import Classifier, StringReader
from .daskcluster import (
    CONNECT_TIMEOUT,
    FORKSERVER_PRELOAD,
    LOCAL,
    LOCAL_LOG_LEVEL,
    connect,
    import_distributed,
    local_threads,
    prestart,
)
from .daskworker import (
    M_MMAP_THRESHOLD,
    M_TRIM_THRESHOLD,
    MMAP_THRESHOLD,
    TRIM_THRESHOLD,
    _spare,
    preload_plugin,
    read_chunk,
)
from .errors import ClusterError, InputError
from .fields import Template
from .io import DEFAULT_DPI, MAX_PIXELS, STDIN, expand_inputs
from .pipeline import (
    BATCH_PAGES,
    DEFAULT_MODEL,
    Progress,
    Reader,
    _common_folder,
    read_options,
    review_threshold,
)
from .results import PageResult
from .segment import SegmentRules

if TYPE_CHECKING:
    from distributed import Client

#: the names these had before the worker side moved to ``daskworker`` (tests reach for them)
_preload_plugin = preload_plugin

__all__ = [
    "CHUNKS_PER_THREAD",
    "CONNECT_TIMEOUT",
    "FORKSERVER_PRELOAD",
    "FRAME_DTYPES",
    "IN_FLIGHT_PER_THREAD",
    "LOCAL",
    "LOCAL_LOG_LEVEL",
    "MMAP_THRESHOLD",
    "M_MMAP_THRESHOLD",
    "M_TRIM_THRESHOLD",
    "PRELOAD_PLUGIN",
    "TRIM_THRESHOLD",
    "_preload_plugin",
    "_spare",
    "connect",
    "fields_frame",
    "local_threads",
    "prestart",
    "read",
]


#: chunks out on the cluster per worker thread: enough that no worker waits for the next one,
#: few enough that results held for in-order output stay few
IN_FLIGHT_PER_THREAD = 2
#: chunks per worker thread a batch is cut into (as ``pipeline.read``'s pool): small enough
#: that work spreads evenly, large enough for batched inference
CHUNKS_PER_THREAD = 8

#: the name ``read`` registers its model-preloading worker plugin under (one per cluster)
PRELOAD_PLUGIN = "digitocr-preload"


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
    full_resolution: bool = False,
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
    distributed = import_distributed()
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
                        rules=rules, include_printed=include_printed,
                        full_resolution=full_resolution)
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
            client.register_plugin(preload_plugin(ref, threads, plugin_list),
                                   name=PRELOAD_PLUGIN)

    def submit(chunk: list[str]) -> Any:
        return client.submit(read_chunk, chunk, ref, opts, threads, plugin_list, pure=False)

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
    for page in read_chunk(paths, model, opts, threads, plugin_list):
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
