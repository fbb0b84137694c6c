"""Property: whatever bytes a file holds, ``digitocr.read`` gives schema-valid records (never a
traceback). Kept to a few seconds; ``bench/fuzz.py`` runs the same mutations for longer."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from read_helpers import font_model

import digitocr
from digitocr.results import validate

__all__ = ["font_model"]

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from fuzz import SEEDS, mutate  # noqa: E402

SEED_BYTES = [p.read_bytes() for p in SEEDS if p.stat().st_size < 60_000]


@pytest.mark.filterwarnings("ignore::UserWarning:PIL")  # corrupt EXIF and the like: expected
@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.one_of(
    st.tuples(st.sampled_from(range(len(SEED_BYTES))), st.randoms(use_true_random=False)).map(
        lambda t: mutate(SEED_BYTES[t[0]], t[1])),
    st.binary(max_size=2048)),
    suffix=st.sampled_from([".png", ".jpg", ".tif", ".pdf", ".bmp"]),
    layout=st.sampled_from(["string", "digit", "boxes"]))
def test_mutated_files_give_valid_records(font_model: str, tmp_path: Path, data: bytes,
                                          suffix: str, layout: str) -> None:
    path = tmp_path / f"m{suffix}"
    path.write_bytes(data)
    records = [p.to_dict() for p in digitocr.read([path], font_model, layout,
                                                   timeout_per_file=20, max_pixels=4_000_000)]
    assert records
    for rec in records:
        validate(rec)


def test_seeds_exist() -> None:
    if not SEED_BYTES:
        pytest.fail("no sample files to mutate")
