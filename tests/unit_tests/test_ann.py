"""The inverted file over base vectors: exact when every cluster is probed, fresh after
adds, moves and removes, and every linear view's score form (ip, cosine, blends)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gst_integrations.core.views.ann import ANNConfig, IVFIndex, ScoreTerm

D = 24


def _clustered(n: int, seed: int = 0) -> torch.Tensor:
    """Rows from a mixture of anisotropic Gaussians (embedding-like: clusters, a common
    direction, unequal variances), unit length."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((12, D)) + 2.0 * np.eye(D)[0]
    scales = np.linspace(1.0, 0.1, D)
    X = centres[rng.integers(0, 12, n)] + rng.standard_normal((n, D)) * scales * 0.6
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return torch.from_numpy(X.astype(np.float32))


def _view(seed: int, z: int = 6) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).standard_normal((z, D)).astype(np.float32))


def _terms(
    q: torch.Tensor, views: dict, X: torch.Tensor, cosine: bool
) -> tuple[list, torch.Tensor]:
    """Score terms for a blend {W or None: weight} and the exact scores over X."""
    terms, exact = [], torch.zeros(len(X))
    for W, w in views.items():
        if W is None:  # generic cosine
            r, norms, norm_of = q / q.norm(), X.norm(dim=1), (lambda M: M.norm(dim=1))
        else:
            wq = W @ q
            r = W.T @ wq
            norms = (X @ W.T).norm(dim=1)
            norm_of = lambda M, W=W: (M @ W.T).norm(dim=1)  # noqa: E731
            if cosine:
                r = r / wq.norm()
        use_norm = cosine or W is None
        terms.append(
            ScoreTerm(
                r,
                w,
                row_norm=norms if use_norm else None,
                norm_of=norm_of if use_norm else None,
                key=(id(W), use_norm),
            )
        )
        exact += w * ((X @ r) / norms if use_norm else X @ r)
    return terms, exact


@pytest.mark.parametrize("cosine", [False, True])
@pytest.mark.parametrize(
    "blend", ["generic", "single", "blend"], ids=["generic", "single view", "blend"]
)
def test_probing_every_cluster_is_exact(cosine, blend):
    X = _clustered(3000)
    index = IVFIndex.build(X, np.arange(3000), ANNConfig(nlist=20))
    views = {"generic": {None: 1.0}, "single": {_view(1): 1.0}}.get(
        blend, {_view(1): 0.6, _view(2, z=3): 0.3, None: 0.1}
    )
    for q in _clustered(5, seed=9):
        terms, exact = _terms(q, views, X, cosine)
        scores, rows = index.search(terms, 30, nprobe=index.nlist)
        want = torch.topk(exact, 10).indices
        assert set(want.tolist()) <= set(rows.tolist())  # the candidates hold the top 10
        np.testing.assert_allclose(scores, exact[rows], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cosine", [False, True])
def test_partial_probing_finds_the_top_10_on_clustered_rows(cosine):
    """Not a recall benchmark (docs/bench measures real vectors): probing a quarter of the
    clusters of clustered rows keeps the top 10 of a view in the candidates."""
    X = _clustered(20000, seed=3)
    index = IVFIndex.build(X, np.arange(len(X)), ANNConfig(probe_share=0.25))
    assert index.nlist == ANNConfig().lists_for(20000)
    hits = []
    for q in _clustered(40, seed=4):
        terms, exact = _terms(q, {_view(5): 1.0}, X, cosine=cosine)
        _, rows = index.search(terms, 100)
        hits.append(len(set(torch.topk(exact, 10).indices.tolist()) & set(rows.tolist())) / 10)
    assert np.mean(hits) >= 0.95


def test_adds_moves_and_removes_keep_the_index_fresh():
    X = _clustered(2000)
    index = IVFIndex.build(X, np.arange(2000), ANNConfig(nlist=16))
    q = _clustered(1, seed=7)[0]
    terms, exact = [ScoreTerm(q)], X @ q  # an inner-product term
    best = int(torch.argmax(exact))
    index.remove([best, 5, 6])
    assert len(index) == 1997 and best not in index
    _, rows = index.search(terms, 2000, nprobe=16)
    assert best not in rows.tolist() and len(rows) == 1997
    # row 7 now holds the query itself (an update): moved to the query's cluster
    index.add([7], q[None, :])
    _, rows = index.search(terms, 1, nprobe=1)
    assert rows.tolist() == [7]
    # new rows beyond the built ones
    extra = _clustered(500, seed=8)
    index.add(np.arange(5000, 5500), extra)
    assert len(index) == 2497 and 5499 in index
    full = torch.zeros(5500, D)
    full[:2000], full[5000:] = X, extra
    full[7] = q
    alive = torch.ones(5500, dtype=torch.bool)
    alive[2000:5000] = False
    alive[[best, 5, 6]] = False
    s = full @ q
    s[~alive] = float("-inf")
    _, rows = index.search(terms, 10, nprobe=16)
    assert rows.tolist() == torch.topk(s, 10).indices.tolist()
    assert not index.stale
    index.add(np.arange(6000, 16000), _clustered(10000, seed=11))
    assert index.stale  # 4x the rows its centroids were trained on


def test_a_mask_leaves_rows_out():
    X = _clustered(1000)
    index = IVFIndex.build(X, np.arange(1000), ANNConfig(nlist=8))
    mask = torch.zeros(1000, dtype=torch.bool)
    mask[::3] = True
    terms, exact = _terms(X[0], {None: 1.0}, X, cosine=False)
    _, rows = index.search(terms, 5, nprobe=8, mask=mask)
    exact[~mask] = float("-inf")
    assert rows.tolist() == torch.topk(exact, 5).indices.tolist()


def test_options_are_validated():
    for bad in ({"nlist": 0}, {"nprobe": 0}, {"probe_share": 0}, {"train_per_list": 0}):
        with pytest.raises(ValueError):
            ANNConfig(**bad)
    with pytest.raises(ValueError):
        IVFIndex.build(_clustered(100), np.arange(100)).search([], 5)


def test_renumbering_follows_a_compaction():
    X = _clustered(600)
    index = IVFIndex.build(X, np.arange(600), ANNConfig(nlist=8))
    dead = np.arange(0, 600, 3)
    index.remove(dead.tolist())
    keep = np.setdiff1d(np.arange(600), dead)
    index.renumber(keep)
    assert len(index) == len(keep) and all(i in index for i in range(len(keep)))
    q = X[5]
    _, rows = index.search([ScoreTerm(q)], 10, nprobe=8)
    want = torch.topk(X[keep] @ q, 10).indices
    assert rows.tolist() == want.tolist()
