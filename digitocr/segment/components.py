"""Connected components of a binary mask, and glyph crops taken from the ink map."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from .types import RULES, BBox, GlyphCrop, SegmentRules


def cc_stats(mask: np.ndarray,
             connectivity: int = 8) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """``cv2.connectedComponentsWithStats``, same labels, stats and centroids, faster.

    OpenCV's labelling alone is several times faster than its pass that also gathers the
    statistics; they are gathered here over the runs of one label along the rows (a few
    thousand on a page, sparse ink or the dense space between rule lines alike): 3-4x faster
    on a page. Small crops go to OpenCV's own. Label 0 (the background) is reported as the
    whole image (with centroid (0, 0) on the runs path): no caller uses it.
    """
    mask = np.ascontiguousarray(mask, dtype=np.uint8)
    if mask.size < 100_000:
        n0, lab0, st0, ce0 = cv2.connectedComponentsWithStats(mask, connectivity=connectivity)
        st0[0, :4] = (0, 0, mask.shape[1], mask.shape[0])  # label 0: the whole image, as below
        return int(n0), lab0, st0, ce0
    fg = int(cv2.countNonZero(mask))
    n, labels = cv2.connectedComponents(mask, connectivity=connectivity, ltype=cv2.CV_32S)
    h, w = mask.shape
    stats = np.zeros((n, 5), np.int32)
    cents = np.zeros((n, 2), np.float64)
    stats[0] = (0, 0, w, h, mask.size - fg)
    if n <= 1:
        return n, labels, stats, cents
    # by the runs of one label along the rows: a few thousand on a page, not every pixel
    xs, ys, ends, lab = _label_runs(labels)
    length = ends - xs
    xsum, ysum = length * (xs + ends - 1) // 2, length * ys
    area = np.bincount(lab, length, minlength=n).astype(np.int64)
    x0, y0 = np.full(n, w, np.int64), np.full(n, h, np.int64)
    x1, y1 = np.full(n, -1, np.int64), np.full(n, -1, np.int64)
    np.minimum.at(x0, lab, xs)
    np.minimum.at(y0, lab, ys)
    np.maximum.at(x1, lab, ends - 1)
    np.maximum.at(y1, lab, ys)
    s = slice(1, None)
    stats[s, 0], stats[s, 1] = x0[s], y0[s]
    stats[s, 2], stats[s, 3], stats[s, 4] = x1[s] - x0[s] + 1, y1[s] - y0[s] + 1, area[s]
    # sums of whole pixel coordinates (exact in float64), divided as OpenCV divides them
    cents[s, 0] = np.bincount(lab, xsum.astype(np.float64), minlength=n)[s] / area[s]
    cents[s, 1] = np.bincount(lab, ysum.astype(np.float64), minlength=n)[s] / area[s]
    return n, labels, stats, cents


def _label_runs(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The runs of one label along the rows of ``labels`` that are not background: each
    run's first column, row, end column (exclusive) and label."""
    h, w = labels.shape
    change = np.empty((h, w), np.uint8)
    change[:, 0] = 1
    np.not_equal(labels[:, 1:], labels[:, :-1], out=change[:, 1:].view(bool))
    pts = cv2.findNonZero(change).reshape(-1, 2).astype(np.int64)
    xs, ys = pts[:, 0], pts[:, 1]
    # a run ends where the next one starts, or at the end of its row
    ends = np.append(xs[1:], w)
    ends[np.append(ys[1:] != ys[:-1], True)] = w
    lab = labels[ys, xs].astype(np.intp)
    ink = lab > 0
    return xs[ink], ys[ink], ends[ink], lab[ink]


@dataclass
class Comp:
    """A group of connected components: bounding box and label ids in the label image."""

    x0: int
    y0: int
    x1: int
    y1: int
    ids: list[int]
    area: int

    @property
    def w(self) -> int:
        return self.x1 - self.x0

    @property
    def h(self) -> int:
        return self.y1 - self.y0

    def merged(self, other: Comp) -> Comp:
        return Comp(min(self.x0, other.x0), min(self.y0, other.y0), max(self.x1, other.x1),
                    max(self.y1, other.y1), self.ids + other.ids, self.area + other.area)


class Components:
    """Connected components of a binary mask, with crops taken from the ink map; ``rules``
    are the segmentation rules that the strings made of them follow."""

    def __init__(self, mask: np.ndarray, ink: np.ndarray, offset: tuple[int, int] = (0, 0),
                 rules: SegmentRules = RULES):
        self.n, self.labels, self.stats, self.centroids = cc_stats(mask, 8)
        self.ink = ink
        self.offset = offset
        self.rules = rules

    def comps(self, ids: Iterable[int]) -> list[Comp]:
        out = []
        for i in ids:
            x, y, w, h, a = (int(v) for v in self.stats[i])
            out.append(Comp(x, y, x + w, y + h, [int(i)], a))
        return out

    def own(self, comp: Comp) -> np.ndarray:
        """Boolean mask, over ``comp``'s bounding box, of the pixels that belong to it."""
        return np.isin(self.labels[comp.y0 : comp.y1, comp.x0 : comp.x1], comp.ids)

    def inside(self, box: BBox, min_area: int) -> list[Comp]:
        """Components whose centroid lies in ``box`` (label-image coordinates)."""
        x, y, w, h = box
        c = self.centroids
        a = self.stats[:, cv2.CC_STAT_AREA]
        sel = np.flatnonzero((c[:, 0] >= x) & (c[:, 0] < x + w) & (c[:, 1] >= y)
                             & (c[:, 1] < y + h) & (a >= min_area))
        return self.comps(sel[sel > 0])

    def crop(self, comp: Comp, x_range: tuple[int, int] | None = None,
             kind: str = "digit", label: str = "") -> GlyphCrop | None:
        """The glyph image of ``comp`` (optionally only columns ``x_range``), masked to its ink."""
        x0, x1 = (comp.x0, comp.x1) if x_range is None else x_range
        lab = self.labels[comp.y0 : comp.y1, x0:x1]
        own = np.isin(lab, comp.ids)
        if not own.any():
            return None
        ys, xs = np.nonzero(own)
        ya, yb, xa, xb = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        own = own[ya:yb, xa:xb]
        gy, gx = comp.y0 + ya, x0 + xa
        pad = self.rules.crop_pad
        H, W = self.labels.shape
        py0, px0 = max(0, gy - pad), max(0, gx - pad)
        py1, px1 = min(H, gy + own.shape[0] + pad), min(W, gx + own.shape[1] + pad)
        m = np.zeros((py1 - py0, px1 - px0), np.uint8)
        m[gy - py0 : gy - py0 + own.shape[0], gx - px0 : gx - px0 + own.shape[1]] = own
        if x_range is None:
            m = cv2.dilate(m, np.ones((self.rules.crop_rim, self.rules.crop_rim), np.uint8))
        img = self.ink[py0:py1, px0:px1] * m
        ox, oy = self.offset
        bbox = (int(gx + ox), int(gy + oy), int(own.shape[1]), int(own.shape[0]))
        return GlyphCrop(bbox, img.astype(np.float32), kind, label)


def joined_groups(n: int, pairs: Iterable[tuple[int, int]]) -> list[list[int]]:
    """Indices ``0..n-1`` grouped by ``pairs``, joined transitively (union-find): each group
    in index order, the groups in the order of their first index."""
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in pairs:
        a, b = find(i), find(j)
        if a != b:
            parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


def linked_groups(n: int, linked: Callable[[int, int], bool]) -> list[list[int]]:
    """``joined_groups`` of the pairs ``i < j`` for which ``linked(i, j)``."""
    return joined_groups(n, ((i, j) for i in range(n) for j in range(i + 1, n)
                             if linked(i, j)))
