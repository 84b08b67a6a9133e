"""The main job runs offline on the embedded defaults, and a rerun embeds nothing again."""

from __future__ import annotations

from pathlib import Path

import pytest

from gst_integrations.quickstart import VIEWS, run

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
    # Both views beat the generic vectors on held-out instruction-aware triplets.
    for generic, view in figures["triplets"].values():
        assert view > generic
    # Switching views transforms stored vectors; it is far cheaper than re-encoding.
    assert max(figures["switch_seconds"].values()) < figures["reencode_seconds"]
    assert "faster" in out and "generic" in out and "satisfaction" in out

    run(tmp_path, query="It cleared my skin in two weeks.", k=3, guide_fraction=0.3, seed=0)
    assert "0 embedded now, 495 already there" in capsys.readouterr().out
