"""Reading pages in this process: one decoded page (``read_page``), an in-memory image
(``read_image``), one file (``read_file``), and a run of files whose pages' crops are classified
in batches (``read_files``). A file or page that cannot be read becomes an error record."""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from . import orientation
from .annotate import annotate
from .backends import Classifier, Reader, StringReader, load_reader
from .combined import AutoReader
from .combined import read_fields as read_combined
from .errors import DigitOCRError, InputError
from .fields import ReadOptions, classify_fields, classify_pages, find_fields
from .io import FileTimeout, Page, deadline, load_bytes, load_pages
from .pages import reduced
from .register import Registration
from .results import Field, PageResult
from .segment import FieldCrops
from .templates import align, finish, unregistered

#: seconds past ``--timeout-per-file`` before the alarm stops a decoder: pdf2image's own
#: timeout, which also kills pdftoppm, gets to fire first
TIMEOUT_GRACE = 2.0

T = TypeVar("T")


def resolve_classifier(model: str | Path | Reader) -> Reader:
    """A Classifier or StringReader from a model name, a model directory, or an instance."""
    return model if isinstance(model, (Classifier, StringReader)) else load_reader(str(model))


# ------------------------------------------------------------------ one page


def _upright(page: Page, opts: ReadOptions) -> tuple[np.ndarray, orientation.Estimate]:
    """The page's image to read (turned upright when it was found turned) and the estimate."""
    est = orientation.estimate(page.image) if opts.orientation else orientation.UPRIGHT
    image = orientation.upright(page.image, est.angle) if orientation.should_turn(est) else (
        page.image)
    return image, est


def _cheque_way_up(image: np.ndarray, est: orientation.Estimate, opts: ReadOptions
                   ) -> tuple[np.ndarray, orientation.Estimate, list[FieldCrops] | None]:
    """A cheque whose way up its print did not settle (few lowercase letters on many): its
    layout settles it. A cheque segmented without a date comb, or turned sideways by the
    likelier way only, is segmented turned by 180 degrees too; the way that finds more of its
    amount and date (a comb counting twice: upside down, a comb's cells can pass for writing
    on a line) is read, and is then sure (an upright cheque's date comb is found on every
    IDRBT scan, upside down on none). The image, the estimate and the fields found."""
    if opts.layout != "cheque" or opts.template is not None or not opts.orientation or (
            est.confident):
        return image, est, None
    from .segment import AMOUNT, DATE

    def named(fields: list[FieldCrops]) -> int:  # a date comb counts more than a date line
        return sum(1 if f.name == AMOUNT else 2 if f.kind == "comb" else 1
                   for f in fields if f.name in (AMOUNT, DATE))

    found = find_fields(image, opts)
    turned_sideways = orientation.should_turn(est)
    if any(f.name == DATE and f.kind == "comb" for f in found) and not turned_sideways:
        return image, est, found
    flipped = orientation.upright(image, 180)
    again = find_fields(flipped, opts)
    if named(again) > named(found):
        angle = ((est.angle if turned_sideways else 0) + 180) % 360
        return flipped, replace(est, angle=angle, confident=True), again
    if named(again) < named(found) and turned_sideways:
        return image, replace(est, confident=True), found
    return image, est, found


def _read_side(opts: ReadOptions) -> int | None:
    """The shorter side a large page is read reduced to (none with a template: its boxes are
    in the reference page's pixels)."""
    return opts.read_side if opts.template is None else None


def _at_page_size(result: PageResult, scale: int, size: tuple[int, int] | None) -> PageResult:
    """``result``, read off a page's image reduced by ``scale``, with its boxes in the page's
    own pixels (``size``: its width and height)."""
    if scale == 1 or size is None or result.error:
        return result

    W, H = size

    def up(b: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        # a decoder reducing by 2 rounds an odd side up: a box at the edge stays on the page
        x, y = min(b[0] * scale, W - 1), min(b[1] * scale, H - 1)
        return (x, y, max(0, min(b[2] * scale, W - x)), max(0, min(b[3] * scale, H - y)))

    for fld in result.fields:
        fld.bbox = up(fld.bbox)
        for g in fld.glyphs:
            g.bbox = up(g.bbox)
    result.width, result.height = W, H
    return result


@dataclass
class _Ready:
    """A decoded page made ready to segment: ``page`` (reduced, when it is large), the image
    to read (turned upright, registered to the template), how it was turned and registered,
    and its fields when the cheque check segmented it already."""

    page: Page
    image: np.ndarray
    est: orientation.Estimate
    reg: Registration | None
    found: list[FieldCrops] | None


def _ready(page: Page, opts: ReadOptions) -> _Ready | PageResult:
    """``page`` reduced, turned upright and registered; a page that does not register to the
    template is its record."""
    page = reduced(page, _read_side(opts))
    image, est = _upright(page, opts)
    image, est, found = _cheque_way_up(image, est, opts)
    image, reg = align(image, opts.template)  # onto the template's reference page, if it has one
    if reg is not None and not reg.ok:
        return unregistered(page.file, page.page, page.width, page.height, reg)
    return _Ready(page, image, est, reg, found)


def read_page(page: Page, classifier: Reader, opts: ReadOptions) -> PageResult:
    """Segment, classify and assemble one decoded page (a string reader reads whole fields)."""
    ready = _ready(page, opts)
    if isinstance(ready, PageResult):
        return ready
    page, image, est, reg, found = ready.page, ready.image, ready.est, ready.reg, ready.found
    if isinstance(classifier, AutoReader):
        fields = read_combined(image, classifier, opts, found)
    elif isinstance(classifier, StringReader):
        from .strings import read_fields

        fields = read_fields(image, classifier, opts, found)
    else:
        fields = classify_fields(find_fields(image, opts) if found is None else found,
                                 classifier, opts)
    h, w = page.image.shape[:2]
    result = orientation.restore(finish(
        PageResult(page.file, page.page, w, h, fields), opts.template, reg,
        opts.min_confidence), est)
    if opts.annotate is not None:
        annotate(page, result, opts.annotate, opts.annotate_root, opts.min_confidence,
                 opts.explain)
    return _at_page_size(result, page.scale, page.size)


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
          "timeout": opts.timeout, "reduce_side": _read_side(opts)}
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


def guarded(path: str, opts: ReadOptions, work: Callable[[Page], T],
            data: bytes | None = None) -> Iterator[PageResult | T]:
    """``work`` on every page of one file (or of ``data``, its bytes, named ``path``) within
    the file's deadline: a file or page that cannot be read becomes an error record, and when
    the file's time is up its later pages are not read."""
    for page in _pages(path, opts, data):
        if isinstance(page, PageResult):
            yield page
            continue
        try:
            with deadline(opts.timeout, page.file):
                result = work(page)
        except FileTimeout as exc:
            yield PageResult(page.file, page.page, page.width, page.height, error=str(exc))
            return
        except DigitOCRError:
            raise
        except Exception as exc:
            yield _page_failed(page, exc)
            continue
        yield result  # outside the deadline: the caller's time is not this file's


def read_file(path: str, classifier: Reader, opts: ReadOptions, data: bytes | None = None
              ) -> Iterator[PageResult]:
    """Every page of one file (or of ``data``, its bytes in memory, named ``path``); a file or
    page that cannot be read becomes an error record."""
    return guarded(path, opts, lambda page: read_page(page, classifier, opts), data)


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
    scale: int = 1  # read reduced by this (``pages.reduced``)
    size: tuple[int, int] | None = None  # then the page's own (width, height)


def _segment_file(path: str, opts: ReadOptions) -> Iterator[PageResult | _Segmented]:
    """Decode and segment every page of one file; what cannot be read becomes an error record."""
    return guarded(path, opts, lambda page: _segment_page(page, opts))


def _segment_page(page: Page, opts: ReadOptions) -> PageResult | _Segmented:
    ready = _ready(page, opts)
    if isinstance(ready, PageResult):
        return ready
    p = ready.page
    keep = p.image if opts.annotate is not None else None
    h, w = p.image.shape[:2]
    fields = find_fields(ready.image, opts) if ready.found is None else ready.found
    return _Segmented(p.file, p.page, w, h, fields, keep, ready.est, ready.reg, p.scale, p.size)


def _crop_count(fields: list[FieldCrops]) -> int:
    return sum(len(opt) for f in fields for s in f.segments for opt in s.options)


def read_files(paths: Iterable[str], classifier: Reader, opts: ReadOptions,
               done: Callable[[str], None] | None = None
               ) -> Generator[PageResult, None, None]:
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
            result = _at_page_size(result, it.scale, it.size)
        except DigitOCRError:
            raise
        except Exception as exc:
            result = PageResult(it.file, it.page, it.width, it.height,
                                error=f"{it.file}: page {it.page} failed ({exc!r})")
        k += 1
        yield result
