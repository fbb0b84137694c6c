"""The worker processes ``read(workers=N)`` reads in: each worker is set up once (plugins,
thread limits, dying with its parent, the model loaded), files go out in chunks, and pages
come back in input order; Ctrl-C or a consumer that stops kills the pool at once."""

from __future__ import annotations

import contextlib
import os
import sys
from collections import deque
from collections.abc import Callable, Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .backends import Classifier, Reader, StringReader
from .fields import ReadOptions
from .io import QUIET_ENV, quiet_decoders
from .readpages import BATCH_PAGES, read_files, resolve_classifier
from .results import PageResult

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor
else:
    def ProcessPoolExecutor(*args: Any, **kwargs: Any) -> Any:
        """``concurrent.futures.ProcessPoolExecutor``, imported when a pool is made: it and
        multiprocessing cost a one-page read some 50 ms of CPU (tests patch this name)."""
        from concurrent.futures import ProcessPoolExecutor as pool

        return pool(*args, **kwargs)

#: ``read``'s progress callback: (files done, files in all, the file just done)
Progress = Callable[[int, int, str], None]

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
    """One chunk's pages, read in this worker with the model ``_init_worker`` loaded."""
    assert _worker_model is not None and _worker_opts is not None
    return list(read_files(paths, _worker_model, _worker_opts))


def read_in_pool(files: list[str], model: str | Path | Reader, opts: ReadOptions, workers: int,
                 progress: Progress | None = None) -> Generator[PageResult, None, None]:
    """Every page of ``files``, in input order, read by up to ``workers`` worker processes;
    ``progress`` follows each file."""
    total = len(files)
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
    cv_threads = _fork_opencv_threads(threads) if method == "fork" else None
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
            yield from fut.result()
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
    finally:
        if cv_threads is not None:
            # the module already imported: a generator left unfinished is closed at exit,
            # when an import fails
            cv2 = sys.modules.get("cv2")
            if cv2 is not None:
                with contextlib.suppress(Exception):
                    cv2.setNumThreads(cv_threads)
    pool.shutdown()


def _fork_opencv_threads(n: int) -> int:
    """Give OpenCV ``n`` threads in this process, so that workers forked from it inherit that
    (a forked child cannot resize the pool itself: it may hang), and return the old count.
    N workers with a thread per core each contend for the cores (7 % slower on 2 cores)."""
    import cv2

    old = int(cv2.getNumThreads())
    cv2.setNumThreads(n)
    return old


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

