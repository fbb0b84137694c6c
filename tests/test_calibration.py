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
