"""``read()``: files → pages → fields → one batched classification per page → PageResults.

Finding a page's fields and classifying every crop of a page in one ``predict_proba`` call
live in ``fields`` (with the templates and ``ReadOptions``), drawing ``--annotate``'s pictures
in ``annotate``. A file that cannot be read becomes an error record and the batch goes on.

The work is in two modules, re-exported here: ``readpages`` (one page, one file, files in
batches of pages, in this process) and ``pool`` (the worker processes that ``workers > 1``
reads in, results still in input order); this one checks the options and picks between them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from .annotate import (
    ANNOTATE_MIN_SIDE,
    FIELD_COLOUR,
    GLYPH_COLOUR,
    REVIEW_COLOUR,
    SEPARATOR_COLOUR,
    UNSURE_COLOUR,
    annotate,
    annotation_path,
)
from .backends import Classifier, Reader, StringReader
from .fields import (
    GLYPH_BONUS,
    MAX_TEMPLATE_COORD,
    READ_SIDE,
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
from .io import DEFAULT_DPI, MAX_PIXELS, expand_inputs
from .pool import (
    POOL_MIN_FILES,
    PR_SET_PDEATHSIG,
    Progress,
    default_workers,
    limit_threads,
    read_in_pool,
)
from .readpages import (
    BATCH_CROPS,
    BATCH_PAGES,
    TIMEOUT_GRACE,
    read_file,
    read_files,
    read_image,
    read_page,
    resolve_classifier,
)
from .results import PageResult
from .segment import SegmentOptions, SegmentRules, load_rules

# the public names this module had before the split (the CLI, reader.py, dask.py, bench/ and
# tests import them from here); not ProcessPoolExecutor, so that a test patching it here fails
# instead of patching nothing (it is pool's)
__all__ = [
    "ANNOTATE_MIN_SIDE",
    "BATCH_CROPS",
    "BATCH_PAGES",
    "DEFAULT_MODEL",
    "FIELD_COLOUR",
    "GLYPH_BONUS",
    "GLYPH_COLOUR",
    "MAX_TEMPLATE_COORD",
    "POOL_MIN_FILES",
    "PR_SET_PDEATHSIG",
    "REVIEW_COLOUR",
    "SEPARATOR_COLOUR",
    "TIMEOUT_GRACE",
    "UNSURE_COLOUR",
    "Progress",
    "ReadOptions",
    "Reader",
    "Template",
    "TemplateField",
    "annotate",
    "annotation_path",
    "classify_fields",
    "classify_pages",
    "default_workers",
    "find_fields",
    "get_segmenter",
    "layouts",
    "limit_threads",
    "load_template",
    "log_choices",
    "read",
    "read_file",
    "read_files",
    "read_image",
    "read_in_pool",
    "read_options",
    "read_page",
    "resolve_classifier",
    "review_threshold",
]


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
    full_resolution: bool = False,
) -> ReadOptions:
    """Checked ``ReadOptions`` from ``read``'s keywords: an unknown layout, a bad template or
    rules file fails here, before any file is read; the ``annotate`` folder is made.
    ``rules``: the segmentation rules (or a ``--rules`` JSON file of overrides); ``explain``
    keeps how each segment's reading was chosen (``Field.choices``); ``include_printed``
    reads a table's printed columns too (``segment.tables``); ``full_resolution`` reads
    large pages unreduced (``ReadOptions.read_side``)."""
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
                       include_printed=include_printed,
                       read_side=None if full_resolution else READ_SIDE)


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
    full_resolution: bool = False,
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
    columns (row numbers, names) are left out unless ``include_printed``. Pages over twice
    150 dpi A4 are read reduced to about that, unless ``full_resolution``. Every record
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
                        rules=rules, explain=explain, include_printed=include_printed,
                        full_resolution=full_resolution)
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

        pages = read_files(files, classifier, opts, done)
    else:
        pages = read_in_pool(files, model, opts, workers, progress)
    # closed here, not left to garbage collection: a consumer that stops early kills the pool
    with contextlib.closing(pages):
        for page in pages:
            page.provenance = prov
            if explain:
                log_choices(page)
            yield page


def _common_folder(files: list[str]) -> str:
    """The deepest folder holding every input file (stdin aside)."""
    dirs = [os.path.dirname(os.path.abspath(f)) for f in files if f != "-"]
    try:
        return os.path.commonpath(dirs) if dirs else ""
    except ValueError:  # different drives (Windows)
        return ""
