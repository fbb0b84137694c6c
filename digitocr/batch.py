"""``digitocr read``'s batch: its options checked against each other, the files read (in this
process, in worker processes or on a Dask cluster) and written as they come, with a progress
bar, an error line per failed file and ``--resume``'s journal."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from typing import Any

import click

from .console import debug_log, echo_err, stop_on_signals


def read_batch(
    paths: Sequence[str], *, model: str, layout: str, fmt: str | None, per_page: bool,
    output: str | None, resume: bool, scheduler: str | None, min_confidence: float | None,
    workers: int | None, template: str | None, annotate: str | None, dpi: int, polarity: str,
    deskew: bool, max_pixels: int, timeout_per_file: float, quiet: bool,
    rules: str | None, debug: bool, include_printed: bool = False,
    full_resolution: bool = False,
) -> int:
    """``digitocr read``'s run, from its options: the number of files that failed (each has an
    error record). A bad combination of options is a ``click.UsageError``, before any file is
    read; so is an output that cannot be written."""
    from .errors import OutputError
    from .io import STDIN, expand_inputs
    from .pipeline import layouts, load_template
    from .pipeline import read as read_files
    from .plugins import get_writers
    from .segment import load_rules
    from .writers import (
        check_output,
        format_for,
        get_writer,
        make_writer,
        open_output,
        open_resumable,
        same_file,
    )

    if not paths:
        raise click.UsageError("give at least one file, folder, or - for stdin")
    if layout not in layouts():
        raise click.BadParameter(f"{layout!r} is not one of {', '.join(layouts())}",
                                 param_hint="--layout")
    fmt = fmt or format_for(output, "csv" if per_page else "json")
    if per_page:
        if fmt not in ("csv", "wide"):
            raise click.UsageError(f"--per-page writes CSV (--format wide), not {fmt}")
        fmt = "wide"
    if fmt not in get_writers():
        raise click.BadParameter(f"{fmt!r} is not one of {', '.join(sorted(get_writers()))}",
                                 param_hint="--format")
    tmpl = load_template(template) if template else None
    seg_rules = load_rules(rules) if rules else None
    files = expand_inputs(paths)
    if not files:
        raise click.UsageError("no images or PDFs found in the given folders")
    factory = get_writer(fmt)
    if resume:
        if output is None or output == "-":
            raise click.UsageError("--resume appends to an output file: give -o FILE")
        if STDIN in files:
            raise click.UsageError("--resume cannot tell what standard input held: give files")
        if not getattr(factory, "appendable", False) or (fmt == "wide" and tmpl is None):
            raise click.UsageError(f"--resume cannot append to --format {fmt}: use jsonl, csv, "
                                   "or wide with --template")
    if scheduler is not None and debug:
        raise click.UsageError("--debug logs in this process: not with --scheduler")
    if scheduler is not None and STDIN in files:
        raise click.UsageError("--scheduler reads files on the cluster: give files, not -")
    if output is not None and output != "-":
        clash = next((f for f in files if same_file(f, output)), None)
        if clash is not None:
            raise click.UsageError(f"-o {output} is one of the inputs ({clash}): refusing "
                                   "to overwrite it")
        check_output(output)  # before any reading: a bad -o must not cost the whole run
    failed = 0
    import sys

    if quiet:
        from .io import QUIET_ENV, quiet_decoders

        os.environ[QUIET_ENV] = "1"  # spawned workers read it too
        quiet_decoders()

    bar: Any = None if quiet or not sys.stderr.isatty() else click.progressbar(
        length=len(files), file=sys.stderr, label="reading")

    def progress(done: int, total: int, path: str) -> None:
        if bar is not None:
            bar.update(1)

    from .pipeline import default_workers

    cores = default_workers()
    if workers is not None and workers > cores and not quiet:
        echo_err(f"warning: --workers {workers} is more than the {cores} cores here: "
                 "they will share them (and each loads the model)")
    options: dict[str, Any] = dict(
        min_confidence=min_confidence, template=tmpl, annotate=annotate, dpi=dpi,
        polarity=polarity, deskew=deskew, max_pixels=max_pixels, progress=progress,
        timeout_per_file=timeout_per_file or None, rules=seg_rules,
        include_printed=include_printed, full_resolution=full_resolution)
    with stop_on_signals(), contextlib.ExitStack() as stack:
        if debug:
            options["explain"] = True
            stack.enter_context(debug_log("digitocr.fields"))
        appender = stack.enter_context(open_resumable(str(output))) if resume else None
        stream = appender.stream if appender else stack.enter_context(open_output(output))
        writer = make_writer(factory, stream, [f.name for f in tmpl.fields] if tmpl else None)
        if appender is not None:
            appender.started()
            files = appender.pending(files)
            if bar is not None:
                bar.length = len(files)
        if not files:
            pages: Iterator[Any] = iter(())
        elif scheduler is not None:
            from .dask import connect, local_threads
            from .dask import read as read_on_cluster

            client = stack.enter_context(connect(scheduler, workers))
            pages = read_on_cluster(files, client, model, layout, **options,
                                    threads=local_threads(workers) if scheduler == "local"
                                    else 1)
        else:
            pages = read_files(files, model, layout, workers=workers, **options)
        for page in pages:
            if page.error is not None:
                failed += 1
                if not quiet:
                    echo_err(f"error: {page.error}")
            try:
                if appender is not None:
                    appender.page(page.file)
                writer.write(page)
            except OSError as exc:  # disk full, pipe closed: one line, exit 3, temp removed
                raise OutputError(f"{output or 'stdout'}: cannot write "
                                  f"({exc.strerror or exc})") from exc
        try:
            writer.close()
        except OSError as exc:
            raise OutputError(f"{output or 'stdout'}: cannot write "
                              f"({exc.strerror or exc})") from exc
    if bar is not None:
        bar.render_finish()
    return failed
