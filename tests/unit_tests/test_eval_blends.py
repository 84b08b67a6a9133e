"""Evaluation of blends and joint retrieval: the metrics rank exactly as the engine does."""

from __future__ import annotations

import numpy as np
import pytest

from gst_integrations.evaluation.blends import blend_name, blend_vectors, parse_blends
from gst_integrations.evaluation.metrics import (
    joint_labels,
    ndcg_at_k,
    precision_at_k,
    precision_at_k_by_class,
    top_k_neighbours,
)
from gst_integrations.evaluation.report import EvalReport


def _unit(Z: np.ndarray) -> np.ndarray:
    return Z / np.linalg.norm(Z, axis=1, keepdims=True)


def test_blend_vectors_rank_by_the_weighted_sum_of_cosines() -> None:
    rng = np.random.default_rng(0)
    views = {None: rng.normal(size=(40, 8)), "a": rng.normal(size=(40, 5))}
    weights = {"a": 0.6, None: 0.2}
    B = _unit(blend_vectors(views, weights))
    engine_score = 0.6 * _unit(views["a"]) @ _unit(views["a"]).T
    engine_score += 0.2 * _unit(views[None]) @ _unit(views[None]).T
    # cosine in the blend space is the engine's score over the sum of weights
    np.testing.assert_allclose(B @ B.T, engine_score / 0.8, atol=1e-12)
    assert blend_name(weights) == "blend a*0.6+generic*0.2"


def test_parse_blends() -> None:
    assert parse_blends("pos=.5,field=.5; pos=.4,generic=.2", ["pos", "field"]) == [
        {"pos": 0.5, "field": 0.5},
        {"pos": 0.4, None: 0.2},
    ]
    with pytest.raises(ValueError, match="not a facet"):
        parse_blends("colour=1", ["pos", "field"])


def test_retrieval_metrics_on_a_known_ranking() -> None:
    # Two tight clusters of 3: every neighbour of the top 2 shares the label.
    Z = np.array([[1, 0.01], [1, 0.02], [1, 0.03], [0.01, 1], [0.02, 1], [0.03, 1]])
    y = np.array(["x", "x", "x", "y", "y", "y"])
    nn = top_k_neighbours(Z, 2)
    assert precision_at_k(Z, y, k=2, neighbours=nn) == 1.0
    assert ndcg_at_k(Z, y, k=2, neighbours=nn) == pytest.approx(1.0)
    # At k = 3, one of 3 neighbours is always from the other cluster (only 2 relevant),
    # and it comes last, so nDCG (ideal: 2 relevant first) stays 1 while P@3 is 2/3.
    assert precision_at_k(Z, y, k=3) == pytest.approx(2 / 3)
    assert ndcg_at_k(Z, y, k=3) == pytest.approx(1.0)
    by_class = precision_at_k_by_class(Z, y, k=2)
    assert by_class == {"x": 1.0, "y": 1.0}
    # Joint labels: a neighbour counts only if both facets match.
    b = np.array(["p", "q", "p", "p", "q", "p"])
    joint = joint_labels(y, b)
    assert precision_at_k(Z, joint, k=2) < precision_at_k(Z, y, k=2)
    assert len(set(joint)) == 4


def _report(seed_scores: dict[str, list[float]]) -> EvalReport:
    """A one-facet-pair report whose joint P@10 per split is given per method."""
    split = {
        m: {"joint": {"p_at_10": v, "ndcg_at_10": v}, "a": {"triplet": [0.9] * len(v)}}
        for m, v in seed_scores.items()
    }
    return EvalReport(
        dataset="toy",
        facets=["a", "b"],
        guide_fraction=0.3,
        n_guide=10,
        n_held_out=20,
        split_scores=split,
        seeds=list(range(len(seed_scores["generic"]))),
        retrieval_methods=list(seed_scores),
    )


def test_blend_goals_compare_split_by_split() -> None:
    report = _report(
        {
            "generic": [0.20, 0.22],
            "view a": [0.25, 0.30],
            "view b": [0.21, 0.23],
            "blend a*0.5+b*0.5": [0.31, 0.29],  # higher mean, but below view a on split 2
        }
    )
    goals = report.blend_goals()
    per = goals["per_blend"]["blend a*0.5+b*0.5"]
    assert per["gain_over_generic"] == pytest.approx(0.60 / 0.42)
    assert per["worst_split_margin_over_best_single"] == pytest.approx(-0.01)
    assert goals["joint_gain_goal_met"] is True
    assert goals["never_below_best_single"] == {"blend a*0.5+b*0.5": False}


def test_merge_keeps_every_split() -> None:
    one, two = _report({"generic": [0.2]}), _report({"generic": [0.4]})
    two.seeds = [1]
    merged = EvalReport.merge([one, two])
    assert merged.seeds == [0, 1]
    assert merged.split_scores["generic"]["joint"]["p_at_10"] == [0.2, 0.4]
    assert merged.scores["generic"]["joint"]["p_at_10"] == pytest.approx(0.3)
    assert merged.worst("generic", "joint", "p_at_10") == 0.2
