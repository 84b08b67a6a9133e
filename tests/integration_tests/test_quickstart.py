"""The main job runs offline on the embedded defaults, and a rerun embeds nothing again."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gst_integrations.evaluation.quickstart import VIEWS, run

pytestmark = pytest.mark.integration


def test_quickstart_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    figures = run(
        tmp_path, query="It cleared my skin in two weeks.", k=3, guide_fraction=0.3, seed=0
    )
    out = capsys.readouterr().out
    assert "495 embedded now" in out
    assert set(figures["results"]) == {"generic", *VIEWS}
    for hits in figures["results"].values():
        assert len(hits) == 3 and all(h.document for h in hits)
    # A view beats the generic vectors on held-out instruction-aware triplets where the base
    # vectors encode its facet; where they barely do (the rating), it falls back to them,
    # says so, and ranks exactly as they do.
    assert figures["fell_back"] == {"condition": False, "satisfaction": True}
    for name, (generic, view) in figures["triplets"].items():
        if figures["fell_back"][name]:
            assert view == pytest.approx(generic, abs=1e-6)
        else:
            assert view > generic
    assert "barely encoded" in out and "probe accuracy" in out
    # A question that mixes facets: the satisfaction view next to a blend of both views and
    # the generic vectors. Scores spread (no constant top-k), and the blend keeps the acne.
    # The satisfaction view fell back, so the blend drops it rather than dilute the condition.
    assert "4. query mixing two facets: 'negative experiences with acne treatments'" in out
    assert set(figures["mixed"]) == {"satisfaction", "blend"}
    assert all(s > 0.01 for s in figures["spread"].values()), figures["spread"]
    blend = figures["mixed"]["blend"]
    assert {h.view for h in blend} == {"condition*0.6+generic*0.2"}
    assert "the blend was scored as condition*0.6+generic*0.2" in out
    assert sum(h.metadata["condition"] == "Acne" for h in blend) >= 2
    # Switching views transforms stored vectors; it is far cheaper than re-encoding.
    assert max(figures["switch_seconds"].values()) < figures["reencode_seconds"]
    assert "faster" in out and "generic" in out and "satisfaction" in out


def test_quickstart_recipe_runs_as_a_script_and_reuses_the_store(tmp_path: Path) -> None:
    """`python cookbook/quickstart.py` twice: the second run embeds nothing."""
    script = Path(__file__).resolve().parents[2] / "cookbook" / "quickstart.py"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    outs = [
        subprocess.run(
            [sys.executable, str(script), "--workdir", str(tmp_path), "-k", "2"],
            capture_output=True, text=True, env=env, timeout=300, check=True,
        ).stdout
        for _ in range(2)
    ]  # fmt: skip
    assert "495 embedded now" in outs[0]
    assert "0 embedded now, 495 already there" in outs[1]
    for out in outs:
        assert "held-out triplet accuracy" in out and " 2. " in out and "faster" in out
        assert "4. query mixing two facets" in out and "score spread" in out
