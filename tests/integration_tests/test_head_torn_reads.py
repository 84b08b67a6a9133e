"""Torn head reads at the goal's size: 5,000 loads while two processes save to the same path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit_tests"))
from _head_writers import load_many, start_writers, stop_writers  # noqa: E402

pytestmark = pytest.mark.integration


def test_no_mixed_head_in_5000_loads_under_two_writers(tmp_path: Path) -> None:
    path = tmp_path / "v.safetensors"
    procs = start_writers(path)
    try:
        loads, mixed, errors, seen = load_many(path, 5000)
    finally:
        stop_writers(procs)
    assert loads == 5000
    assert mixed == 0 and errors == [], (mixed, errors[:3])
    assert seen == {"A", "B"}
