"""Scoring shared by the benchmarks: field matching by overlap, exact match, digit accuracy."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from digitocr.evaluation import edit_distance

__all__ = ["edit_distance", "iou"]


def iou(a: list[int], b: list[int]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union else 0.0


@dataclass
class Score:
    """Running totals over truth fields."""

    fields: int = 0
    found: int = 0
    exact: int = 0
    digits: int = 0
    digit_errors: int = 0
    extra_fields: int = 0
    failed_pages: int = 0
    misses: list[str] = field(default_factory=list)

    def add(self, name: str, truth: str, text: str | None) -> None:
        self.fields += 1
        self.digits += len(truth)
        if text is None:
            self.digit_errors += len(truth)
            self.misses.append(f"{name}: not found (truth {truth})")
            return
        self.found += 1
        self.exact += int(text == truth)
        self.digit_errors += min(len(truth), edit_distance(text, truth))
        if text != truth:
            self.misses.append(f"{name}: read {text!r}, truth {truth!r}")

    def summary(self) -> dict[str, Any]:
        return {
            "fields": self.fields,
            "boxes_found": round(self.found / max(self.fields, 1), 4),
            "field_exact_match": round(self.exact / max(self.fields, 1), 4),
            "digit_accuracy": round(1 - self.digit_errors / max(self.digits, 1), 4),
            "extra_fields": self.extra_fields,
            "failed_pages": self.failed_pages,
        }


def score_page(score: Score, name: str, truth_fields: list[dict[str, Any]],
               page: dict[str, Any], min_iou: float = 0.5) -> None:
    """Match each truth field to the predicted field with the best overlap."""
    if page.get("error"):
        score.failed_pages += 1
    preds = list(page.get("fields", []))
    used: set[int] = set()
    for t in truth_fields:
        best, best_iou = None, min_iou
        for i, p in enumerate(preds):
            if i in used:
                continue
            v = iou(t["bbox"], p["bbox"])
            if v >= best_iou:
                best, best_iou = i, v
        if best is None:
            score.add(f"{name}:{t['name']}", t["text"], None)
        else:
            used.add(best)
            score.add(f"{name}:{t['name']}", t["text"], preds[best]["text"])
    score.extra_fields += len(preds) - len(used)
