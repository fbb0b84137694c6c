"""``read --debug``: each segment's candidate readings, the rule that proposed each, its prior
and score, and which won; the records themselves stay as they were."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from click.testing import CliRunner
from read_helpers import font_model, put, save_png, string_image

from digitocr.cli import cli

__all__ = ["font_model"]


def run(*args: str) -> tuple[str, str]:
    r = CliRunner().invoke(cli, ["read", *args], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r.stdout, r.stderr


def test_debug_logs_each_segments_candidates(font_model: str, tmp_path: Path) -> None:
    save_png(string_image("4-7"), tmp_path / "a.png")
    touching = np.full((120, 200), 255, np.uint8)
    put(touching, "38", 20, 25, gap=-6)  # two digits whose ink touches: one wide glyph
    save_png(touching, tmp_path / "b.png")
    args = [str(tmp_path / "a.png"), str(tmp_path / "b.png"), "--model", font_model,
            "--layout", "string", "--format", "jsonl", "-q"]
    out, err = run(*args, "--debug")
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    assert err.splitlines() == [
        f"debug: {a} p1 field 1 segment 1: whole '4' prior 0.00 score 0.000 won",
        f"debug: {a} p1 field 1 segment 2: separator '-' prior 0.00 score 0.000 won",
        f"debug: {a} p1 field 1 segment 3: whole '7' prior 0.00 score 0.000 won",
        f"debug: {b} p1 field 1 segment 1: whole '6' prior 0.29 score -1.133; "
        "cut:2 '31' prior 0.11 score -0.436; cut:2 '38' prior 0.15 score -0.166 won; "
        "cut:2 '10' prior 0.18 score -1.093; cut:3 '131' prior 1.09 score -1.874",
    ]
    plain_out, plain_err = run(*args)
    assert (plain_out, plain_err) == (out, "")  # the records do not change


def test_debug_is_refused_with_a_scheduler(font_model: str, tmp_path: Path) -> None:
    save_png(string_image("4"), tmp_path / "a.png")
    r = CliRunner().invoke(cli, ["read", str(tmp_path / "a.png"), "--model", font_model,
                                 "--debug", "--scheduler", "local"])
    assert r.exit_code == 2 and "--debug logs in this process" in r.output


def touching_pair() -> np.ndarray:
    img = np.full((120, 200), 255, np.uint8)
    put(img, "38", 20, 25, gap=-6)
    return img


def test_each_candidate_names_the_rule_that_proposed_it() -> None:
    from digitocr.fields import get_segmenter
    from digitocr.segment import SegmentOptions

    [f] = get_segmenter("string")(touching_pair(), SegmentOptions())
    [seg] = f.segments
    assert seg.rules == ["whole", "cut:2", "cut:2", "cut:2", "cut:3"]
    assert len(seg.rules) == len(seg.options) == len(seg.penalties)
    [f] = get_segmenter("string")(string_image("4-7"), SegmentOptions())
    assert [s.rules for s in f.segments] == [["whole"], ["separator"], ["whole"]]


def test_a_plugins_segment_without_rules_gets_names() -> None:
    from digitocr.segment import GlyphCrop, Segment

    crop = GlyphCrop((0, 0, 1, 1), np.zeros((1, 1), np.float32))
    assert Segment([[crop], [crop, crop]]).rules == ["whole", "option:1"]


def test_read_explain_keeps_the_choices_and_the_runner_up(font_model: str,
                                                           tmp_path: Path) -> None:
    from digitocr.pipeline import read

    save_png(touching_pair(), tmp_path / "b.png")
    [page] = read(tmp_path / "b.png", font_model, "string", explain=True)
    [field] = page.fields
    [choice] = field.choices
    scores = [c.score for c in choice.candidates]
    assert choice.won == scores.index(max(scores))
    assert choice.candidates[choice.won].text == field.text == "38"
    assert choice.runner_up == sorted(scores)[-2]
    assert [g.rule for g in field.glyphs] == ["cut:2", "cut:2"]
    [plain] = read(tmp_path / "b.png", font_model, "string")
    assert plain.fields[0].choices == [] and plain.to_dict() == page.to_dict()


def test_annotate_with_debug_labels_rules_other_than_whole(font_model: str,
                                                            tmp_path: Path) -> None:
    import cv2

    save_png(touching_pair(), tmp_path / "b.png")
    save_png(string_image("4-7"), tmp_path / "a.png")
    pictures = {}
    for flag in ([], ["--debug"]):
        ann = tmp_path / f"ann{len(flag)}"
        run(str(tmp_path / "a.png"), str(tmp_path / "b.png"), "--model", font_model,
            "--layout", "string", "-q", "--annotate", str(ann), *flag)
        pictures[bool(flag)] = {n: cv2.imread(str(ann / f"{n}.png-p1.png")) for n in "ab"}
    assert np.array_equal(pictures[False]["a"], pictures[True]["a"])  # all read whole
    assert not np.array_equal(pictures[False]["b"], pictures[True]["b"])  # cut:2 labelled
