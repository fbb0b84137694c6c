"""Registration: align a scanned page to a template's reference page before its fields are cut.

The template keeps a small binarised picture of its reference page (``Reference``: the printed
ink only, field interiors blanked so that the reference's handwriting does not count). A page
is reduced the same way; ORB keypoints of the two are matched (ratio test) and a similarity
transform (shift, rotation, one scale: ``cv2.estimateAffinePartial2D`` with RANSAC) maps the
page onto the reference. Shift, rotation, scale and a different dpi are all the same transform.

How well a page registered is measured (inliers, their RMS error, the share of the page they
span) and judged against ``RegistrationRules``: a page that does not fit is not read (an
error record), since fields cut at the wrong place are silent misreads.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import cv2
import numpy as np

from .results import PageResult
from .segment import binarise, gray_u8, ink_map

BBox = tuple[int, int, int, int]


@dataclass(frozen=True)
class RegistrationRules:
    """Every threshold of registration, documented."""

    #: long side (pixels) of the reference picture and of a page reduced for matching: an A4
    #: page at about 85 dpi, printed text still made of distinct strokes
    side: int = 1000
    #: ORB keypoints looked for on each picture
    features: int = 5000
    #: Lowe's ratio test: a match is kept when its best descriptor distance is below this share
    #: of the second best (ambiguous matches, on repeated box corners say, are dropped)
    ratio: float = 0.8
    #: RANSAC: a match within this many reference-picture pixels of the model is an inlier
    ransac_px: float = 3.0
    #: RANSAC iterations (outliers are many: the page's handwriting matches nothing)
    ransac_iters: int = 5000
    #: guided matching (after a first fit): the most descriptor distance (of 256 bits) a pair
    #: may have, and how near (reference-picture pixels) the first fit must put its points
    guided_distance: float = 80.0
    #: guided matching takes keypoints of the pyramid's finest levels only (0: full size):
    #: coarser ones are placed to a few pixels, which the fit would inherit
    guided_level: int = 1
    guided_px: float = 4.0
    #: fewest inlier matches for a page to count as registered
    min_inliers: int = 30
    #: most RMS error of the inliers (reference-picture pixels) for a page to count as registered
    max_error: float = 2.0
    #: the inliers must spread over at least this share of the reference's width and height
    #: (a transform fitted on one corner of the page extrapolates badly to the others)
    min_spread: float = 0.15
    #: largest rotation (degrees) believed; pages turned further are turned upright before
    #: (``orientation``) or are not this form
    max_angle: float = 15.0
    #: page scale (after the reduction of both to ``side``) believed, as (least, most)
    scale_range: tuple[float, float] = (0.6, 1.6)
    #: Gaussian blur (sigma, picture pixels) before keypoints: binary edges are noisy corners
    blur: float = 0.8


RULES = RegistrationRules()


# ------------------------------------------------------------------ the reference picture


@dataclass(frozen=True)
class Reference:
    """The template's reference picture: a binary ink mask (PNG, base64) of ``size`` (w, h)."""

    png: str
    size: tuple[int, int]

    def mask(self) -> np.ndarray:
        return _decode(self.png)

    def to_dict(self) -> dict[str, Any]:
        return {"width": self.size[0], "height": self.size[1], "png": self.png}


def ink_picture(image: np.ndarray, side: int = RULES.side) -> tuple[np.ndarray, float]:
    """The page reduced to ``side`` pixels on its long side, binarised (uint8 0/255), and the
    factor from page pixels to picture pixels."""
    gray = gray_u8(image)
    h, w = gray.shape[:2]
    f = min(1.0, side / max(h, w))
    if f < 1.0:
        gray = cv2.resize(gray, (max(1, round(w * f)), max(1, round(h * f))),
                          interpolation=cv2.INTER_AREA)
    mask = binarise(ink_map(gray)).mask
    f = gray.shape[1] / w  # the rounded factor
    return (mask * 255).astype(np.uint8), f


def make_reference(image: np.ndarray, blank: list[BBox], inset: int,
                   rules: RegistrationRules = RULES) -> Reference:
    """The reference picture of a page whose field boxes ``blank`` (page pixels) are cleared
    inside, ``inset`` page pixels in from their edges (the printed frames stay)."""
    mask, f = ink_picture(image, rules.side)
    for x, y, w, h in blank:
        d = inset * f
        x0, y0 = math.ceil(x * f + d), math.ceil(y * f + d)
        x1, y1 = math.floor((x + w) * f - d), math.floor((y + h) * f - d)
        if x1 > x0 and y1 > y0:
            mask[y0:y1, x0:x1] = 0
    ok, png = cv2.imencode(".png", mask, [cv2.IMWRITE_PNG_BILEVEL, 1])
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 picture
        raise ValueError("cannot encode the reference picture")
    return Reference(base64.b64encode(png.tobytes()).decode("ascii"),
                     (mask.shape[1], mask.shape[0]))


def _decode(png: str) -> np.ndarray:
    data = np.frombuffer(base64.b64decode(png, validate=True), np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise ValueError("the reference picture is not a PNG")
    return np.where(img > 127, 255, 0).astype(np.uint8)


def decode_reference(data: object) -> Reference:
    """A ``Reference`` from a template's ``reference`` object; ``ValueError`` says what is wrong."""
    if not isinstance(data, dict) or not isinstance(data.get("png"), str):
        raise ValueError("'reference' needs 'png' (a base64 PNG)")
    try:
        img = _decode(data["png"])
    except (ValueError, TypeError) as exc:  # binascii.Error is a ValueError
        raise ValueError(f"'reference.png' is not a base64 PNG ({exc})") from exc
    h, w = img.shape
    if (data.get("width"), data.get("height")) != (w, h):
        raise ValueError(f"'reference' width/height must be the picture's ({w} x {h})")
    return Reference(data["png"], (w, h))


def _blurred(mask: np.ndarray, rules: RegistrationRules) -> np.ndarray:
    return cv2.GaussianBlur(mask, (0, 0), rules.blur) if rules.blur > 0 else mask


def _orb(rules: RegistrationRules) -> Any:
    return cv2.ORB.create(nfeatures=rules.features, scaleFactor=1.2, nlevels=8,
                          edgeThreshold=15, patchSize=31, fastThreshold=10)


@lru_cache(maxsize=8)
def _reference_features(png: str, rules: RegistrationRules
                        ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Keypoint coordinates (N, 2), ORB descriptors and pyramid levels of a reference picture
    (cached: a batch registers every page to the same one)."""
    kps, desc = _orb(rules).detectAndCompute(_blurred(_decode(png), rules), None)
    pts = np.array([k.pt for k in kps], np.float32).reshape(-1, 2)
    return pts, desc, np.array([k.octave for k in kps], np.int64)


# ------------------------------------------------------------------ registering a page


@dataclass
class Registration:
    """How a page maps onto the template: ``matrix`` (2x3) takes page pixels to template pixels."""

    matrix: np.ndarray
    inliers: int
    matches: int
    #: RMS distance of the inliers from the fitted transform, in template pixels
    error_px: float
    angle: float  # degrees, positive: the page is turned counter-clockwise against the template
    scale: float  # template pixels per page pixel
    #: why the page does not fit the template; None when it registered
    error: str | None = None
    #: the canvas the page was warped to (page resolution, template geometry): page pixels per
    #: template pixel, and the matrix from page pixels to canvas pixels
    zoom: float = 1.0
    to_canvas: np.ndarray = field(default_factory=lambda: np.eye(2, 3))

    @property
    def ok(self) -> bool:
        return self.error is None

    def summary(self) -> dict[str, Any]:
        """The page record's ``registration`` object."""
        # + 0.0: no "-0.0" for a page that is not turned
        return {"inliers": self.inliers, "error_px": round(self.error_px, 2),
                "angle": round(self.angle, 2) + 0.0, "scale": round(self.scale, 4),
                "shift": [round(float(self.matrix[0, 2]), 1) + 0.0,
                          round(float(self.matrix[1, 2]), 1) + 0.0]}


def _failed(why: str, inliers: int = 0, matches: int = 0, error_px: float = 0.0) -> Registration:
    return Registration(np.eye(2, 3), inliers, matches, error_px, 0.0, 1.0, why)


def register(image: np.ndarray, reference: Reference, size: tuple[int, int],
             rules: RegistrationRules = RULES) -> Registration:
    """Fit the page ``image`` onto a template of ``size`` (w, h, template pixels) whose
    reference picture is ``reference``; the result says whether it fits (``error``)."""
    ref_pts, ref_desc, ref_levels = _reference_features(reference.png, rules)
    mask, f_page = ink_picture(image, rules.side)
    kps, desc = _orb(rules).detectAndCompute(_blurred(mask, rules), None)
    if desc is None or ref_desc is None or len(kps) < 2 or len(ref_pts) < 2:
        return _failed(f"does not match the template (no features to match; "
                       f"{rules.min_inliers} matching points needed)")
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(desc, ref_desc, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < rules.ratio * p[1].distance]
    if len(good) < max(3, rules.min_inliers):
        return _failed(f"does not match the template ({len(good)} matching points, "
                       f"{rules.min_inliers} needed)", 0, len(good))
    src = np.array([kps[g.queryIdx].pt for g in good], np.float32)
    dst = ref_pts[[g.trainIdx for g in good]]
    first = _fit(src, dst, rules)
    if first is None:
        return _failed(f"does not match the template (no consistent transform among "
                       f"{len(good)} matching points)", 0, len(good))
    reg = _judge(*first, f_page, reference, size, len(good), rules)
    if not reg.ok:
        return reg
    # guided matching: with the first fit, each page keypoint may pair with any reference
    # keypoint where the fit puts it (the ratio test drops the corners of a comb's cells,
    # which all look alike); fit again on those, kept when it explains more points
    fine = ref_levels <= rules.guided_level
    gsrc, gdst = _guided(kps, desc, ref_pts[fine], ref_desc[fine], first[0], rules)
    second = _fit(gsrc, gdst, rules) if len(gsrc) >= 3 else None
    if second is not None and second[1] >= first[1]:
        reg = _judge(*second, f_page, reference, size, len(good), rules)
    return reg


def _fit(src: np.ndarray, dst: np.ndarray, rules: RegistrationRules
         ) -> tuple[np.ndarray, int, float, np.ndarray] | None:
    """RANSAC similarity from ``src`` onto ``dst``: matrix, inliers, their RMS error and points
    (in ``dst``); None when OpenCV finds none."""
    m, inl = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC,
                                         ransacReprojThreshold=rules.ransac_px,
                                         maxIters=rules.ransac_iters, confidence=0.999,
                                         refineIters=10)
    if m is None or inl is None:
        return None
    keep = inl.ravel().astype(bool)
    n = int(keep.sum())
    if n == 0:
        return None
    fit = src[keep] @ m[:, :2].T + m[:, 2]
    err = float(np.sqrt(np.mean(np.sum((fit - dst[keep]) ** 2, axis=1))))
    return m, n, err, dst[keep]


def _judge(m: np.ndarray, n: int, err: float, pts: np.ndarray, f_page: float,
           reference: Reference, size: tuple[int, int], matches: int,
           rules: RegistrationRules) -> Registration:
    """The ``Registration`` of a fit (picture to reference picture), judged by ``rules``."""
    # page pixels -> picture pixels -> reference picture -> template pixels
    f_ref = reference.size[0] / size[0]
    full = np.vstack([m, [0, 0, 1]]) @ np.diag([f_page, f_page, 1.0])
    full = (np.diag([1 / f_ref, 1 / f_ref, 1.0]) @ full)[:2]
    scale = float(math.hypot(full[0, 0], full[1, 0]))
    angle = float(math.degrees(math.atan2(full[1, 0], full[0, 0])))
    rel = float(math.hypot(m[0, 0], m[1, 0]))  # scale between the two pictures
    why = None
    if n < rules.min_inliers:
        why = f"{n} matching points, {rules.min_inliers} needed"
    elif err > rules.max_error:
        why = f"points fit to {err:.1f} px, at most {rules.max_error:g} allowed"
    elif abs(angle) > rules.max_angle:
        why = f"turned {angle:.1f} degrees, at most {rules.max_angle:g} allowed"
    elif not rules.scale_range[0] <= rel <= rules.scale_range[1]:
        why = f"scaled {rel:.2f}, outside {rules.scale_range[0]:g}-{rules.scale_range[1]:g}"
    else:
        spread = np.ptp(pts, axis=0) / np.asarray(reference.size, np.float32)
        if min(spread) < rules.min_spread:
            why = (f"matching points span {100 * float(min(spread)):.0f} % of the form, "
                   f"at least {100 * rules.min_spread:.0f} % needed")
    zoom = 1.0 / scale if scale > 0 else 1.0
    return Registration(full, n, matches, err / f_ref, angle, scale,
                        None if why is None else f"does not match the template ({why})",
                        zoom, full * zoom)


def _guided(kps: Any, desc: np.ndarray, ref_pts: np.ndarray, ref_desc: np.ndarray,
            m: np.ndarray, rules: RegistrationRules) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (page point, reference point): each fine page keypoint with the reference keypoint of
    the nearest descriptor (at most ``rules.guided_distance`` bits off) among those within
    ``rules.guided_px`` of where ``m`` maps it (a grid of that size finds them)."""
    fine = np.array([k.octave <= rules.guided_level for k in kps], bool)
    pts = np.array([k.pt for k in kps], np.float32).reshape(-1, 2)[fine]
    desc = desc[fine]
    pred = pts @ m[:, :2].T.astype(np.float32) + m[:, 2].astype(np.float32)
    cell = max(rules.guided_px, 1.0)
    span = 1 << 20  # grid keys: column * span + row (pictures are far smaller)
    ref_cell = np.floor(ref_pts / cell).astype(np.int64)
    keys = ref_cell[:, 0] * span + ref_cell[:, 1]
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    pc = np.floor(pred / cell).astype(np.int64)
    qs, rs = [], []
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            k = (pc[:, 0] + dx) * span + pc[:, 1] + dy
            lo = np.searchsorted(sorted_keys, k, "left")
            counts = np.searchsorted(sorted_keys, k, "right") - lo
            total = int(counts.sum())
            if not total:
                continue
            ends = np.cumsum(counts)
            offs = np.arange(total) - np.repeat(ends - counts, counts)
            qs.append(np.repeat(np.arange(len(pred)), counts))
            rs.append(order[np.repeat(lo, counts) + offs])
    if not qs:
        return np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32)
    q, r = np.concatenate(qs), np.concatenate(rs)
    near = np.hypot(*(ref_pts[r] - pred[q]).T) <= rules.guided_px
    q, r = q[near], r[near]
    dist = np.unpackbits(desc[q] ^ ref_desc[r], axis=1).sum(axis=1)
    ok = dist <= rules.guided_distance
    q, r, dist = q[ok], r[ok], dist[ok]
    o = np.lexsort((dist, q))
    q, r = q[o], r[o]
    first = np.r_[True, q[1:] != q[:-1]] if len(q) else np.zeros(0, bool)
    return pts[q[first]], ref_pts[r[first]].astype(np.float32)


def warp(image: np.ndarray, reg: Registration, size: tuple[int, int]) -> np.ndarray:
    """The page warped onto the template's geometry (``size`` template pixels) at the page's
    own resolution: ``reg.zoom`` canvas pixels per template pixel."""
    w, h = (max(1, round(v * reg.zoom)) for v in size)
    return cv2.warpAffine(image, reg.to_canvas, (w, h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def _box_to_page(box: BBox, inv: np.ndarray) -> BBox:
    """A canvas box in page pixels (its centre moved; canvas and page have the same scale)."""
    x, y, w, h = box
    cx, cy = x + w / 2.0, y + h / 2.0
    px = inv[0, 0] * cx + inv[0, 1] * cy + inv[0, 2]
    py = inv[1, 0] * cx + inv[1, 1] * cy + inv[1, 2]
    return (round(px - w / 2.0), round(py - h / 2.0), int(w), int(h))


def restore(result: PageResult, reg: Registration) -> PageResult:
    """``result`` read on the warped canvas, with its boxes back in the page's pixels and its
    ``registration`` recorded."""
    inv = cv2.invertAffineTransform(reg.to_canvas)
    result.fields = [
        replace(f, bbox=_box_to_page(f.bbox, inv),
                glyphs=[replace(g, bbox=_box_to_page(g.bbox, inv)) for g in f.glyphs])
        for f in result.fields]
    result.registration = reg.summary()
    return result
