"""``read()``: files → pages → fields → one batched classification per page → PageResults.

Finding a page's fields and classifying every crop of a page in one ``predict_proba`` call
live in ``fields`` (with the templates and ``ReadOptions``), drawing ``--annotate``'s pictures
in ``annotate``. A file that cannot be read becomes
an error record and the batch goes on. With ``workers > 1`` files are
read in a process pool and results still come back in input order.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import orientation
from .annotate import (  # noqa: F401  (pipeline.X for tests and bench)
    ANNOTATE_MIN_SIDE,
    FIELD_COLOUR,
    GLYPH_COLOUR,
    REVIEW_COLOUR,
    SEPARATOR_COLOUR,
    UNSURE_COLOUR,
    annotate,
    annotation_path,
)
from .backends import Classifier, Reader, StringReader, load_reader
from .combined import AutoReader
from .combined import read_fields as read_combined
from .errors import DigitOCRError, InputError

# the fields' names, still reachable as pipeline.X (the CLI, reader.py, bench/, tests use them)
from .fields import (  # noqa: F401
    GLYPH_BONUS,
    MAX_TEMPLATE_COORD,
    ReadOptions,
    Template,
    TemplateField,
    classify_fields,
    classify_pages,
    find_fields,
    get_segmenter,
    layouts,
    load_template,
    log_choices,
)
from .io import (
    DEFAULT_DPI,
    MAX_PIXELS,
    QUIET_ENV,
    FileTimeout,
    Page,
    deadline,
    expand_inputs,
    load_bytes,
    load_pages,
    quiet_decoders,
)
from .register import Registration
from .results import Field, PageResult
from .segment import FieldCrops, SegmentOptions, SegmentRules, load_rules
from .templates import align, finish, unregistered

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor
else:
    def ProcessPoolExecutor(*args: Any, **kwargs: Any) -> Any:
        """``concurrent.futures.ProcessPoolExecutor``, imported when a pool is made: it and
        multiprocessing cost a one-page read some 50 ms of CPU (tests patch this name)."""
        from concurrent.futures import ProcessPoolExecutor as pool

        return pool(*args, **kwargs)

#: seconds past ``--timeout-per-file`` before the alarm stops a decoder: pdf2image's own
#: timeout, which also kills pdftoppm, gets to fire first
TIMEOUT_GRACE = 2.0
Progress = Callable[[int, int, str], None]


# ------------------------------------------------------------------ one page


def _upright(page: Page, opts: ReadOptions) -> tuple[np.ndarray, orientation.Estimate]:
    """The page's image to read (turned upright when it was found turned) and the estimate."""
    est = orientation.estimate(page.image) if opts.orientation else orientation.UPRIGHT
    image = orientation.upright(page.image, est.angle) if orientation.should_turn(est) else (
        page.image)
    return image, est


def read_page(page: Page, classifier: Reader, opts: ReadOptions) -> PageResult:
    """Segment, classify and assemble one decoded page (a string reader reads whole fields)."""
    image, est = _upright(page, opts)
    image, reg = align(image, opts.template)  # onto the template's reference page, if it has one
    if reg is not None and not reg.ok:
        return unregistered(page.file, page.page, page.width, page.height, reg)
    if isinstance(classifier, AutoReader):
        fields = read_combined(image, classifier, opts)
    elif isinstance(classifier, StringReader):
        from .strings import read_fields

        fields = read_fields(image, classifier, opts)
    else:
        fields = classify_fields(find_fields(image, opts), classifier, opts)
    result = orientation.restore(finish(
        PageResult(page.file, page.page, page.width, page.height, fields), opts.template, reg,
        opts.min_confidence), est)
    if opts.annotate is not None:
        annotate(page, result, opts.annotate, opts.annotate_root, opts.min_confidence,
                 opts.explain)
    return result


def read_image(image: np.ndarray, classifier: Reader, opts: ReadOptions | None = None,
               name: str = "<array>") -> PageResult:
    """Read one in-memory image (uint8/uint16/float gray or RGB)."""
    from PIL import Image

    from .io import pil_to_array

    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        arr = pil_to_array(Image.fromarray(arr))
    return read_page(Page(name, 1, arr), classifier, opts or ReadOptions())


def _pages(path: str, opts: ReadOptions, data: bytes | None = None
           ) -> Iterator[Page | PageResult]:
    """Decode the pages of one file (or of ``data``, its bytes, named ``path``), one at a time;
    what cannot be decoded is an error record."""
    kw: dict[str, Any] = {"dpi": opts.dpi, "max_pixels": opts.max_pixels, "gray": opts.gray,
          "timeout": opts.timeout}
    pages = load_pages(path, **kw) if data is None else load_bytes(data, path, **kw)
    n = 0
    name = "<stdin>" if path == "-" and data is None else path
    start = time.monotonic()
    while True:
        try:
            # the file's whole budget, less what its earlier pages took; a little grace so
            # that pdf2image's own timeout (which kills pdftoppm) fires first
            left = opts.timeout - (time.monotonic() - start) if opts.timeout else None
            with deadline(None if left is None else max(left, 0.0) + TIMEOUT_GRACE, name):
                page = next(pages)
        except StopIteration:
            return
        except InputError as exc:
            yield PageResult(name, n + 1 if n else 0, error=str(exc))
            return
        except Exception as exc:  # a decoder bug must not stop a batch of 10,000 files
            yield PageResult(name, n + 1 if n else 0, error=f"{name}: cannot decode ({exc!r})")
            return
        n += 1
        yield page


def _page_failed(page: Page, exc: Exception) -> PageResult:
    return PageResult(page.file, page.page, page.width, page.height,
                      error=f"{page.file}: page {page.page} failed ({exc!r})")


def read_file(path: str, classifier: Reader, opts: ReadOptions, data: bytes | None = None
              ) -> Iterator[PageResult]:
    """Every page of one file (or of ``data``, its bytes in memory, named ``path``); a file or
    page that cannot be read becomes an error record."""
    for page in _pages(path, opts, data):
        if isinstance(page, PageResult):
            yield page
            continue
        try:
            with deadline(opts.timeout, page.file):
                result = read_page(page, classifier, opts)
        except FileTimeout as exc:  # the file's time is up: its later pages are not read
            yield PageResult(page.file, page.page, page.width, page.height, error=str(exc))
            return
        except DigitOCRError:
            raise
        except Exception as exc:
            yield _page_failed(page, exc)
            continue
        yield result  # outside the deadline: the caller's time is not this file's


# ------------------------------------------------------------------ batches of pages

#: pages whose crops go to the classifier together: one inference call for many small files
#: (amount crops) instead of one each; bounded so that memory stays flat on any batch size
BATCH_PAGES = 32
BATCH_CROPS = 512


@dataclass
class _Segmented:
    """A page segmented and waiting for its batch's classification (no page pixels kept)."""

    file: str
    page: int
    width: int
    height: int
    fields: list[FieldCrops]
    image: np.ndarray | None = None  # kept only for --annotate
    turn: orientation.Estimate = orientation.UPRIGHT
    reg: Registration | None = None  # how the page registered to the template


def _segment_file(path: str, opts: ReadOptions) -> Iterator[PageResult | _Segmented]:
    """Decode and segment every page of one file; what cannot be read becomes an error record."""
    for page in _pages(path, opts):
        if isinstance(page, PageResult):
            yield page
            continue
        try:
            with deadline(opts.timeout, page.file):
                image, est = _upright(page, opts)
                image, reg = align(image, opts.template)
                fields = find_fields(image, opts) if reg is None or reg.ok else []
        except FileTimeout as exc:  # the file's time is up: its later pages are not read
            yield PageResult(page.file, page.page, page.width, page.height, error=str(exc))
            return
        except DigitOCRError:
            raise
        except Exception as exc:
            yield _page_failed(page, exc)
            continue
        if reg is not None and not reg.ok:
            yield unregistered(page.file, page.page, page.width, page.height, reg)
            continue
        keep = page.image if opts.annotate is not None else None
        yield _Segmented(page.file, page.page, page.width, page.height, fields, keep, est, reg)


def _crop_count(fields: list[FieldCrops]) -> int:
    return sum(len(opt) for f in fields for s in f.segments for opt in s.options)


def read_files(paths: Iterable[str], classifier: Reader, opts: ReadOptions,
               done: Callable[[str], None] | None = None) -> Iterator[PageResult]:
    """Every page of every file, in order; the crops of up to ``BATCH_PAGES`` pages (and about
    ``BATCH_CROPS`` crops) are classified in one call. ``done(path)`` follows each file."""
    if not isinstance(classifier, Classifier):  # a whole-field reader: page by page
        for path in paths:
            yield from read_file(path, classifier, opts)
            if done:
                done(path)
        return
    held: list[PageResult | _Segmented | str] = []
    pages = crops = 0
    for path in paths:
        for item in _segment_file(path, opts):
            held.append(item)
            if isinstance(item, _Segmented):
                pages += 1
                crops += _crop_count(item.fields)
                if pages >= BATCH_PAGES or crops >= BATCH_CROPS:
                    yield from _flush(held, classifier, opts, done)
                    held, pages, crops = [], 0, 0
        held.append(path)  # the file is complete once everything before this is out
    yield from _flush(held, classifier, opts, done)


def _flush(held: list[PageResult | _Segmented | str], classifier: Classifier,
           opts: ReadOptions, done: Callable[[str], None] | None) -> Iterator[PageResult]:
    segs = [it for it in held if isinstance(it, _Segmented)]
    results: list[list[Field]] | None = None
    if segs:
        try:
            results = classify_pages([it.fields for it in segs], classifier, opts)
        except DigitOCRError:
            raise
        except Exception:
            results = None  # page by page below, so that the error lands on its own page
    k = 0
    for it in held:
        if isinstance(it, str):
            if done:
                done(it)
            continue
        if isinstance(it, PageResult):
            yield it
            continue
        try:
            fields = results[k] if results is not None else classify_fields(
                it.fields, classifier, opts)
            result = orientation.restore(finish(
                PageResult(it.file, it.page, it.width, it.height, fields), opts.template, it.reg,
                opts.min_confidence), it.turn)
            if opts.annotate is not None and it.image is not None:
                annotate(Page(it.file, it.page, it.image), result, opts.annotate,
                         opts.annotate_root, opts.min_confidence, opts.explain)
        except DigitOCRError:
            raise
        except Exception as exc:
            result = PageResult(it.file, it.page, it.width, it.height,
                                error=f"{it.file}: page {it.page} failed ({exc!r})")
        k += 1
        yield result


# ------------------------------------------------------------------ workers

#: with the default worker count, smaller batches are read in-process: starting a worker
#: (TensorFlow import, model load: seconds) costs more than reading a few pages
POOL_MIN_FILES = 16

#: prctl option: the signal a process gets when its parent dies (linux/prctl.h)
PR_SET_PDEATHSIG = 1

_worker_model: Reader | None = None
_worker_opts: ReadOptions | None = None


def default_workers() -> int:
    """The number of CPU cores this process may run on (``--workers``'s default)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def limit_threads(n: int, opencv: bool = True) -> None:
    """Cap ONNX Runtime's, TensorFlow's, OpenCV's and BLAS's threads in this process at ``n``.

    Each worker process runs its own TensorFlow; left alone, every one of them would start a
    thread per core for its kernels, and N workers on N cores would fight over N x N threads.
    The environment variables must be set before TensorFlow starts (workers call this first).
    """
    for var in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS",
                "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)
    from . import onnxrun

    onnxrun.set_threads(n)
    if opencv:  # not in a forked child: resizing the thread pool it inherited can hang
        import cv2

        cv2.setNumThreads(n)
    if "tensorflow" in sys.modules:
        tf = sys.modules["tensorflow"]
        try:
            tf.config.threading.set_intra_op_parallelism_threads(n)
            tf.config.threading.set_inter_op_parallelism_threads(n)
        except (RuntimeError, AttributeError):  # TensorFlow already running: too late
            pass


def _die_with_parent(parent: int) -> None:
    """Linux: the kernel kills this worker when its parent dies, even by SIGKILL; Ctrl-C is
    the parent's to handle (it kills the pool), not a traceback in every worker."""
    import ctypes
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL))
    if parent and os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _init_worker(model: str | Reader, opts: ReadOptions, threads: int = 0,
                 forked: bool = False, parent: int = 0,
                 plugin_list: list[tuple[str, Any]] | None = None) -> None:
    """Set up one worker: ``plugin_list`` (``plugins.worker_plugins``) brings the plugins the
    parent registered in-process or by ``--plugins``, which a spawned worker would not load
    by itself (a forked one has them already), before the model that may need them."""
    global _worker_model, _worker_opts
    _die_with_parent(parent)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if os.environ.get(QUIET_ENV):
        quiet_decoders()
    if threads:
        limit_threads(threads, opencv=not forked)
    if plugin_list:
        from .plugins import restore_plugins

        restore_plugins(plugin_list)
    _worker_model = resolve_classifier(model)
    _worker_opts = opts


def _work(paths: list[str]) -> list[PageResult]:
    assert _worker_model is not None and _worker_opts is not None
    return list(read_files(paths, _worker_model, _worker_opts))


def resolve_classifier(model: str | Path | Reader) -> Reader:
    """A Classifier or StringReader from a model name, a model directory, or an instance."""
    return model if isinstance(model, (Classifier, StringReader)) else load_reader(str(model))


#: the model ``read`` uses when none is named
DEFAULT_MODEL = "auto"


def review_threshold(model: str | Path | Reader) -> float:
    """The model's own ``--min-confidence`` default (``config.min_confidence`` in its metadata,
    chosen on real held-out data), 0 when it names none."""
    if isinstance(model, (Classifier, StringReader)):
        config = (getattr(model, "metadata", None) or {}).get("config", model.options)
    else:
        from .backends import read_metadata, resolve_model_dir

        config = read_metadata(resolve_model_dir(str(model))).get("config", {})
    value = config.get("min_confidence", 0.0) if isinstance(config, dict) else 0.0
    return float(value) if isinstance(value, (int, float)) and 0 <= value <= 1 else 0.0


def read_options(
    layout: str = "auto",
    *,
    min_confidence: float = 0.0,
    template: Template | str | Path | None = None,
    annotate: str | Path | None = None,
    dpi: int = DEFAULT_DPI,
    polarity: str = "auto",
    deskew: bool = True,
    max_pixels: int = MAX_PIXELS,
    timeout_per_file: float | None = None,
    orientation: bool = True,
    annotate_root: str = "",
    rules: SegmentRules | str | Path | None = None,
    explain: bool = False,
    include_printed: bool = False,
) -> ReadOptions:
    """Checked ``ReadOptions`` from ``read``'s keywords: an unknown layout, a bad template or
    rules file fails here, before any file is read; the ``annotate`` folder is made.
    ``rules``: the segmentation rules (or a ``--rules`` JSON file of overrides); ``explain``
    keeps how each segment's reading was chosen (``Field.choices``); ``include_printed``
    reads a table's printed columns too (``segment.tables``)."""
    get_segmenter(layout)  # fail early on an unknown layout
    tmpl = template if isinstance(template, Template) or template is None else load_template(
        template)
    if tmpl is not None:
        for tf in tmpl.fields:
            if tf.layout != "auto":
                get_segmenter(tf.layout)
    ann = Path(annotate) if annotate is not None else None
    if ann is not None:
        ann.mkdir(parents=True, exist_ok=True)
    return ReadOptions(layout=layout, min_confidence=min_confidence, dpi=dpi,
                       max_pixels=max_pixels, polarity=polarity, deskew=deskew, template=tmpl,
                       annotate=ann, annotate_root=annotate_root if ann else "",
                       timeout=timeout_per_file or None, orientation=orientation,
                       segment=SegmentOptions(rules=_rules(rules)), explain=explain,
                       include_printed=include_printed)


def _rules(rules: SegmentRules | str | Path | None) -> SegmentRules:
    if isinstance(rules, SegmentRules):
        return rules
    return SegmentRules() if rules is None else load_rules(rules)


def read(
    paths: str | Path | Iterable[str | Path],
    model: str | Path | Reader = DEFAULT_MODEL,
    layout: str = "auto",
    *,
    min_confidence: float | None = None,
    template: Template | str | Path | None = None,
    annotate: str | Path | None = None,
    workers: int | None = 1,
    dpi: int = DEFAULT_DPI,
    polarity: str = "auto",
    deskew: bool = True,
    max_pixels: int = MAX_PIXELS,
    progress: Progress | None = None,
    timeout_per_file: float | None = None,
    orientation: bool = True,
    rules: SegmentRules | str | Path | None = None,
    explain: bool = False,
    include_printed: bool = False,
) -> Iterator[PageResult]:
    """Read digits from files (directories expand to their images and PDFs; ``-`` is stdin).

    ``paths`` is one path (a ``str`` is always a path) or several. Yields one PageResult per
    page, in input order, with ``error`` set on pages or files that
    could not be read. ``workers=None`` means one worker process per core, with small batches
    (under ``POOL_MIN_FILES`` files) read in this process. ``min_confidence=None`` takes the
    model's own review threshold (``review_threshold``). ``orientation`` turns pages found
    sideways or upside down upright before reading them (``digitocr.orientation``). ``rules``
    tunes segmentation (``segment.SegmentRules``, or a JSON file of overrides). ``explain``
    logs each page's segment choices as it is yielded (``fields.log_choices``: the debug
    messages of logger ``digitocr.fields``; per-digit readings only). A table's printed
    columns (row numbers, names) are left out unless ``include_printed``. Every record
    carries the run's ``provenance`` (digitocr's version, the model and its checksum, the
    layout).
    """
    from .provenance import provenance

    prov = provenance(model, layout)  # also: a bad model fails here, before any reading
    if min_confidence is None:
        min_confidence = review_threshold(model)
    files = expand_inputs(paths)
    opts = read_options(layout, min_confidence=min_confidence, template=template,
                        annotate=annotate, dpi=dpi, polarity=polarity, deskew=deskew,
                        max_pixels=max_pixels, timeout_per_file=timeout_per_file,
                        orientation=orientation, annotate_root=_common_folder(files),
                        rules=rules, explain=explain, include_printed=include_printed)
    total = len(files)
    auto = workers is None
    workers = default_workers() if workers is None else workers
    if workers <= 1 or total <= 1 or "-" in files or (auto and total < POOL_MIN_FILES):
        classifier = resolve_classifier(model)
        count = 0

        def done(path: str) -> None:
            nonlocal count
            count += 1
            if progress:
                progress(count, total, path)

        for page in read_files(files, classifier, opts, done):
            page.provenance = prov
            if explain:
                log_choices(page)
            yield page
        return
    if not isinstance(model, (Classifier, StringReader)):
        from .backends import read_metadata, resolve_model_dir

        read_metadata(resolve_model_dir(str(model)))  # a bad --model fails before the pool
        model = str(model)
    method = "fork" if "tensorflow" not in sys.modules and os.name == "posix" else "spawn"
    import multiprocessing

    ctx = multiprocessing.get_context(method)
    # files go out in chunks (fewer round trips, batched inference inside each worker), small
    # enough that every worker gets several and results come back steadily
    size = max(1, min(BATCH_PAGES, total // (workers * 8)))
    all_chunks = [files[i : i + size] for i in range(0, total, size)]
    workers = min(workers, len(all_chunks))  # never more processes than work to give them
    threads = max(1, default_workers() // workers)
    chunks = iter(all_chunks)
    from .plugins import worker_plugins

    # a spawned worker unpickles these; an object that cannot be pickled fails here, named
    plugin_list = worker_plugins(picklable=method == "spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                               initargs=(model, opts, threads, method == "fork", os.getpid(),
                                         plugin_list))
    try:
        pending: deque[tuple[list[str], Future[list[PageResult]]]] = deque()
        finished = 0
        for chunk in chunks:
            pending.append((chunk, pool.submit(_work, chunk)))
            if len(pending) >= workers * 2:
                break
        while pending:
            chunk, fut = pending.popleft()
            for page in fut.result():
                page.provenance = prov
                if explain:
                    log_choices(page)
                yield page
            for path in chunk:
                finished += 1
                if progress:
                    progress(finished, total, path)
            nxt = next(chunks, None)
            if nxt is not None:
                pending.append((nxt, pool.submit(_work, nxt)))
    except BaseException:  # Ctrl-C, SIGTERM, the consumer gone: stop now, wait for nothing
        _kill_pool(pool)
        raise
    pool.shutdown()


def _kill_pool(pool: ProcessPoolExecutor) -> None:
    """Kill the workers and drop queued work: ``shutdown(wait=True)`` would wait for every
    running chunk (and a second Ctrl-C there used to hang)."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    for proc in procs:
        with contextlib.suppress(Exception):
            proc.kill()
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        with contextlib.suppress(Exception):
            proc.join(1)


# ------------------------------------------------------------------ annotation


def _common_folder(files: list[str]) -> str:
    """The deepest folder holding every input file (stdin aside)."""
    dirs = [os.path.dirname(os.path.abspath(f)) for f in files if f != "-"]
    try:
        return os.path.commonpath(dirs) if dirs else ""
    except ValueError:  # different drives (Windows)
        return ""
