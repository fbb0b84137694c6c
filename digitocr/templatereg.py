"""Reading with a template: each page registered (aligned) to its reference page, the fields
read under their rules and put back in the page's pixels; ``template check`` registers only."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from .constraints import decode
from .errors import TemplateError
from .register import Registration, register, restore, warp
from .results import PageResult
from .templatefile import Template


def align(image: np.ndarray, t: Template | None) -> tuple[np.ndarray, Registration | None]:
    """The page warped onto the template (when it has a reference picture) and how it
    registered; the page as it is and None without a reference. A page that does not
    register comes back as it is with the failed ``Registration``."""
    if t is None or t.reference is None or t.width is None or t.height is None:
        return image, None
    reg = register(image, t.reference, (t.width, t.height), t.registration)
    if not reg.ok:
        return image, reg
    return warp(image, reg, (t.width, t.height)), reg


def unregistered(file: str, page: int, width: int, height: int, reg: Registration
                 ) -> PageResult:
    """The error record of a page that does not register to the template."""
    return PageResult(file, page, width, height,
                      error=f"{file}: page {page} {reg.error}", registration=reg.summary())


def finish(result: PageResult, t: Template | None, reg: Registration | None,
           min_confidence: float = 0.0) -> PageResult:
    """A page read with template ``t``: fields not read under their rules yet (a string
    reader's) read so from their glyphs' alternatives (``constraints``), and
    with a registration, boxes back in the page's pixels and the registration recorded."""
    if t is not None and result.ok:
        by_name = {tf.name: tf for tf in t.fields}
        for i, f in enumerate(result.fields):
            tf = by_name.get(f.name or "")
            if tf is not None and tf.rules is not None and f.valid is None:  # not yet read
                result.fields[i] = decode(f, tf.rules, min_confidence)
    if reg is not None and reg.ok:
        result = restore(result, reg)
    return result


@dataclass
class Check:
    """One page's registration to a template (``template check``)."""

    file: str
    page: int
    registration: Registration | None
    error: str | None = None  # the page could not be decoded

    @property
    def ok(self) -> bool:
        return self.error is None and self.registration is not None and self.registration.ok

    def line(self) -> str:
        """``file p1: ok (148 inliers, error 1.65 px, angle 2.12, scale 0.9995)``."""
        where = f"{self.file} p{self.page}"
        if self.error is not None:
            return f"{where}: FAILED {self.error}"
        reg = self.registration
        assert reg is not None
        s = reg.summary()
        detail = (f"{s['inliers']} inliers, error {s['error_px']:.2f} px, angle "
                  f"{s['angle']:.2f}, scale {s['scale']:.4f}")
        return f"{where}: ok ({detail})" if reg.ok else f"{where}: FAILED {reg.error}"


def check(t: Template, paths: Iterable[str], dpi: int = 300, orientation: bool = True
          ) -> Iterator[Check]:
    """Register every page of ``paths`` to ``t``, as ``read`` would (pages found turned are
    turned upright first)."""
    from . import orientation as turn
    from .errors import InputError
    from .io import load_pages

    if t.reference is None or t.width is None or t.height is None:
        raise TemplateError("the template has no reference picture to register pages to "
                            "(make one with: digitocr template make PAGE -o form.json)")
    for path in paths:
        n = 0
        try:
            for page in load_pages(path, dpi=dpi, gray=True):
                n = page.page
                image = page.image
                if orientation:
                    est = turn.estimate(image)
                    if turn.should_turn(est):
                        image = turn.upright(image, est.angle)
                yield Check(page.file, page.page,
                            register(image, t.reference, (t.width, t.height), t.registration))
        except InputError as exc:
            yield Check(path, n + 1 if n else 0, None, str(exc))
