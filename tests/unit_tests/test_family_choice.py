"""family="auto": the linear family per facet, chosen on the guide, never-lose gated; the
recipe refit that cross-fitting uses; blend weights chosen on a guide.

Synthetic embedding-shaped data: unit vectors with a large common component and two
independent facets, each carried by its own block of dimensions.
"""

from __future__ import annotations

import numpy as np
import pytest

from gst_integrations import fit_head
from gst_integrations.core.errors import InvalidLabelsError, ViewFallbackWarning
from gst_integrations.core.heads.blend_weights import fit_blend_weights
from gst_integrations.core.heads.families import LINEAR_FAMILIES
from gst_integrations.core.heads.head import load_head
from gst_integrations.core.heads.options import HeadOptions
from gst_integrations.core.heads.refit import can_refit, refit_weight
from gst_integrations.core.heads.select import DEFAULT_CANDIDATES, select_family

D = 32


def _two_facets(n: int = 240, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Facet a (3 classes) on dims 1-4, facet b (2 classes) on dims 5-8, common axis 0."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 3, n)
    b = rng.integers(0, 2, n)
    ca = rng.normal(size=(3, 4))
    cb = rng.normal(size=(2, 4))
    X = rng.normal(scale=0.6, size=(n, D))
    X[:, 0] += 3.0
    X[:, 1:5] += 0.9 * ca[a]
    X[:, 5:9] += 0.9 * cb[b]
    return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32), a, b


def test_auto_is_the_default_and_records_its_choice(tmp_path) -> None:
    X, a, _ = _two_facets()
    head = fit_head("which a?", X, [f"a{v}" for v in a])
    choice = head.card["family_choice"]
    assert HeadOptions().family == "auto"
    assert choice["requested"] == "auto" and choice["chosen"] in DEFAULT_CANDIDATES
    assert set(choice["candidates"]) == set(DEFAULT_CANDIDATES)
    for row in choice["candidates"].values():
        assert {"val_auc", "gain_over_generic", "gain_z", "z_over_default"} <= set(row)
    assert choice["reason"].startswith(choice["chosen"])
    # the card names the chosen family, which rebuilds a linear head on load
    assert head.family == choice["chosen"] and head.family in LINEAR_FAMILIES
    assert head.is_linear and not head.fell_back
    head.save(tmp_path / "a.safetensors")
    again = load_head(tmp_path / "a.safetensors")
    np.testing.assert_allclose(again.transform(X[:5]), head.transform(X[:5]), atol=1e-6)


def test_the_highest_inner_auc_wins_and_a_required_margin_keeps_the_default() -> None:
    X, a, _ = _two_facets()
    opts = HeadOptions(seed=0)
    free = select_family(X, a, opts)
    table = free.info["candidates"]
    assert free.family == max(table, key=lambda n: table[n]["val_auc"])
    strict = select_family(X, a, opts, switch_z=1e9)
    assert strict.family == DEFAULT_CANDIDATES[0]
    # every candidate's full-guide weight comes back for the evaluation to score
    assert set(free.candidate_weights) == set(DEFAULT_CANDIDATES)


def test_auto_falls_back_to_generic_when_labels_carry_nothing() -> None:
    X, _, _ = _two_facets()
    noise = np.random.default_rng(5).integers(0, 3, len(X))
    with pytest.warns(ViewFallbackWarning):
        head = fit_head("noise?", X, [f"c{v}" for v in noise])
    assert head.fell_back
    np.testing.assert_allclose(head.transform(X[:4]), X[:4], atol=1e-6)
    assert head.card["family_choice"]["reason"].startswith("generic")


@pytest.mark.parametrize("family", ["lda_mix", "probe_mix", "lda", "linear"])
def test_refit_repeats_the_recipe_on_other_rows(family: str) -> None:
    X, a, _ = _two_facets()
    head = fit_head("which a?", X, [f"a{v}" for v in a], family=family, seed=0)
    assert can_refit(head)
    W_all = refit_weight(head, X, a)
    assert W_all.shape == (head.out_dim, X.shape[1])
    if family in ("lda_mix", "lda"):  # closed form: the same rows give the same matrix
        np.testing.assert_allclose(
            W_all, head.module[0].weight.detach().cpu().numpy(), rtol=1e-4, atol=1e-4
        )
    W_half = refit_weight(head, X[: len(X) // 2], a[: len(X) // 2])
    assert W_half.shape == W_all.shape and np.isfinite(W_half).all()


def test_blend_weights_chosen_on_the_guide_use_both_facets() -> None:
    X, a, b = _two_facets(n=300)
    ya, yb = [f"a{v}" for v in a], [f"b{v}" for v in b]
    heads = {
        "a": fit_head("which a?", X, ya, family="lda_mix"),
        "b": fit_head("which b?", X, yb, family="lda_mix"),
    }
    fitted = fit_blend_weights(heads, X, {"a": ya, "b": yb}, step=0.25)
    assert set(fitted.weights) <= {"a", "b", None}
    assert fitted.weights.get("a", 0) > 0 and fitted.weights.get("b", 0) > 0
    assert abs(sum(fitted.weights.values()) - 1.0) < 1e-9
    scores = {
        tuple(sorted(c["weights"].items())): c["joint_auc"] for c in fitted.info["candidates"]
    }
    assert fitted.info["joint_auc"] == pytest.approx(max(scores.values()), abs=1e-4)
    assert fitted.info["refitted"] == ["a", "b"]


def test_blend_weights_give_a_fallen_back_view_no_weight() -> None:
    X, a, _ = _two_facets()
    noise = np.random.default_rng(7).integers(0, 3, len(X))
    ya, yn = [f"a{v}" for v in a], [f"c{v}" for v in noise]
    with pytest.warns(ViewFallbackWarning):
        dead = fit_head("noise?", X, yn)
    heads = {"a": fit_head("which a?", X, ya, family="lda_mix"), "noise": dead}
    fitted = fit_blend_weights(heads, X, {"a": ya, "noise": yn}, step=0.5)
    assert "noise" not in fitted.weights
    assert fitted.info["dropped_fallen_back"] == ["noise"]
    with pytest.raises(InvalidLabelsError, match="no guide labels"):
        fit_blend_weights(heads, X, {"a": ya})
