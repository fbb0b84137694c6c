"""The auto reader's calibration of cut cells (``models/auto`` config ``calibration``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from digitocr.backends import read_metadata, resolve_model_dir
from digitocr.combined import DISAGREE, AutoReader, platt
from digitocr.errors import ModelError


def test_platt_maps_through_the_logit() -> None:
    assert platt(0.5, (1.0, 0.0)) == pytest.approx(0.5)
    assert platt(0.8, (1.0, 0.0)) == pytest.approx(0.8)
    assert platt(0.8, (2.0, 0.0)) == pytest.approx(0.8**2 / (0.8**2 + 0.2**2))  # sharper
    assert platt(0.5, (1.0, 1.0)) == pytest.approx(1 / (1 + 2.718281828**-1))  # shifted
    assert platt(1.0, (1.0, 0.0)) < 1.0 and platt(0.0, (1.0, 0.0)) > 0.0  # clipped
    assert platt(1e-9, (100.0, 0.0)) == 0.0  # no overflow


def test_calibrated_uses_the_group_or_falls_back_to_disagree() -> None:
    plain = AutoReader()
    assert plain.calibrated(0.8, True) == 0.8
    assert plain.calibrated(0.8, False) == pytest.approx(0.8 * DISAGREE)
    cal = AutoReader(calibration={"agree": [1.0, 0.0], "disagree": [1.0, -1.0]})
    assert cal.calibrated(0.8, True) == pytest.approx(0.8)
    assert cal.calibrated(0.8, False) == pytest.approx(platt(0.8, (1.0, -1.0)))
    assert cal.calibrated(0.8, False) < 0.8


def test_the_shipped_auto_is_calibrated_on_held_out_crops() -> None:
    meta = read_metadata(resolve_model_dir("auto"))
    cal = meta["config"]["calibration"]
    assert set(cal) == {"agree", "disagree"}
    fit = meta["calibration_fit"]
    assert fit["ece_after"] < fit["ece_before"]
    # within each group a surer string reading stays surer (the maps keep the order)
    reader = AutoReader(**meta["config"])
    for agree in (True, False):
        got = [reader.calibrated(p, agree) for p in (0.3, 0.6, 0.9, 0.99)]
        assert got == sorted(got) and got[0] > 0 and got[-1] < 1


@pytest.mark.parametrize("bad", [{"agree": [1.0]}, {"agree": [1, 0], "disagree": ["x", 0]},
                                 [1, 2], {"agree": [1, 0], "disagree": [float("nan"), 0]}])
def test_a_bad_calibration_is_a_model_error(tmp_path: Path, bad: object) -> None:
    (tmp_path / "metadata.json").write_text(json.dumps({"backend": "auto"}))
    with pytest.raises(ModelError, match="'calibration' must give"):
        AutoReader.load(tmp_path, {"calibration": bad})


def test_a_sure_disagreement_is_no_reason_for_review_by_itself(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A cut cell the digit classifier reads otherwise is flagged, unless the string reader's
    calibrated confidence reaches ``accept_disagree``."""
    import numpy as np

    from digitocr import fields, pipeline
    from digitocr.combined import read_fields
    from digitocr.results import Field
    from digitocr.segment import FieldCrops
    from digitocr.strings import StringReading

    monkeypatch.setattr(fields, "find_fields", lambda image, opts: [
        FieldCrops((0, 0, 60, 30), [object()], kind="cell")])  # type: ignore[list-item]
    monkeypatch.setattr(fields, "classify_fields", lambda found, classifier, opts: [
        Field(1, (0, 0, 60, 30), "28", 0.99, False, [])])

    class Reads26:
        def read_detailed(self, crops: list, polarity: str = "auto") -> list[StringReading]:
            return [StringReading("26", 0.995) for _ in crops]

    page = np.full((30, 60), 230, np.uint8)
    opts = pipeline.ReadOptions(layout="string", min_confidence=0.9)
    same = {"agree": [1.0, 0.0], "disagree": [1.0, 0.0]}  # calibrated: 0.995 either way
    seen = {}
    for accept in (None, 0.99, 0.999):
        reader = AutoReader(calibration=same, accept_disagree=accept)
        reader.digits, reader.strings = object(), Reads26()  # type: ignore[assignment]
        (f,) = read_fields(page, reader, opts)
        seen[accept] = (f.text, f.needs_review, round(f.confidence, 3))
    assert seen == {None: ("26", True, 0.995), 0.99: ("26", False, 0.995),
                    0.999: ("26", True, 0.995)}


@pytest.mark.parametrize("bad", [0, 1.5, "0.9", True])
def test_a_bad_accept_disagree_is_a_model_error(tmp_path: Path, bad: object) -> None:
    (tmp_path / "metadata.json").write_text(json.dumps({"backend": "auto"}))
    with pytest.raises(ModelError, match="'accept_disagree' must be a number"):
        AutoReader.load(tmp_path, {"accept_disagree": bad})


def test_the_shipped_auto_accepts_only_sure_disagreements() -> None:
    meta = read_metadata(resolve_model_dir("auto"))
    accept = meta["config"]["accept_disagree"]
    assert meta["calibration_fit"]["accept_disagree"] == accept
    assert meta["config"]["min_confidence"] <= accept < 1
