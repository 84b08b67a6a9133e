"""fit_head: families, determinism, early stopping, and bad input with clear errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from gst_integrations import HeadOptions, fit_head
from gst_integrations.core.errors import (
    EncoderMismatchError,
    InvalidLabelsError,
    InvalidVectorsError,
)
from gst_integrations.core.heads.losses import margin_contrastive_loss, supervised_contrastive_loss

D = 32


def blobs(n: int = 120, classes: int = 3, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """Classes separated along a few directions, buried in a larger shared variation."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, size=n)
    centers = rng.normal(size=(classes, D)) * 2.0
    X = centers[y] + rng.normal(size=(n, D)) * 3.0
    return X.astype(np.float32), [f"c{v}" for v in y]


@pytest.mark.parametrize("family", ["lda", "linear", "mlp"])
def test_each_family_fits_and_separates_classes(family: str) -> None:
    X, y = blobs()
    head = fit_head("which blob", X, y, encoder=None, family=family, z_dim=16)
    Z = head.transform(X)
    assert Z.dtype == np.float32 and Z.shape[0] == len(X)
    assert head.card["metrics"]["val_knn_accuracy"] > 0.6
    assert head.label_names == ["c0", "c1", "c2"]
    assert head.is_linear == (family in ("lda", "linear"))


def test_lda_family_output_dim_follows_classes() -> None:
    X, y = blobs(classes=4)
    head = fit_head("which blob", X, y, encoder=None, family="lda")
    assert head.family == "lda"
    assert head.out_dim == 3 + 16  # C-1 discriminant + 16 residual principal directions


def test_lda_mix_mixes_a_view_where_the_facet_is_encoded_and_falls_back_where_not() -> None:
    X, y = blobs(classes=4)
    head = fit_head("which blob", X, y, encoder=None, family="lda_mix")
    assert head.family == "lda_mix" and head.is_linear and head.out_dim == X.shape[1]
    assert 0 < head.card["view_fit"]["alpha"] < 1  # a mix: never the discriminant alone
    assert head.card["feasibility"]["barely_encoded"] is False
    noise = [f"c{v}" for v in np.random.default_rng(5).integers(0, 3, len(X))]
    with pytest.warns(UserWarning, match="barely encode"):
        generic = fit_head("which coin toss", X, noise, encoder=None, family="lda_mix")
    assert generic.card["view_fit"]["fell_back_to_generic"]
    assert generic.card["feasibility"]["barely_encoded"] is True
    np.testing.assert_allclose(generic.weight, np.eye(X.shape[1]), atol=1e-5)  # W = I


@pytest.mark.parametrize("family", ["lda", "linear"])
def test_same_seed_same_head(family: str) -> None:
    X, y = blobs()
    a = fit_head("i", X, y, encoder=None, family=family, seed=3).transform(X)
    b = fit_head("i", X, y, encoder=None, family=family, seed=3).transform(X)
    np.testing.assert_array_equal(a, b)


def test_early_stopping_restores_best_state_copy() -> None:
    X, y = blobs()
    head = fit_head("i", X, y, encoder=None, family="linear", patience=2, max_epochs=200)
    m = head.card["metrics"]
    assert m["epochs_run"] <= 200
    assert m["best_epoch"] <= m["epochs_run"] - 1
    if m["epochs_run"] < 200:  # stopped early: exactly `patience` epochs after the best
        assert m["epochs_run"] - 1 - m["best_epoch"] == 2


def test_card_records_options_and_instruction() -> None:
    X, y = blobs()
    head = fit_head("group by blob", X, y, encoder=None, name="blob", family="linear", z_dim=8)
    assert head.instruction == "group by blob"
    assert head.card["options"]["z_dim"] == 8 and head.out_dim == 8
    assert head.card["label_counts"] == {k: y.count(k) for k in sorted(set(y))}
    assert head.card["created_at"] and head.card["format_version"] == 1


def test_paper_options() -> None:
    opts = HeadOptions.paper()
    assert (opts.family, opts.loss, opts.lr, opts.recon_weight) == ("mlp", "margin", 1e-4, 1.0)


def test_transform_accepts_torch_and_batches_consistently() -> None:
    X, y = blobs()
    head = fit_head("i", X, y, encoder=None, family="mlp", z_dim=8)
    full = head.transform(X)
    batched = head.transform(torch.from_numpy(X), batch_size=7)
    np.testing.assert_allclose(full, batched, rtol=1e-5, atol=1e-5)
    assert head.transform(X[0]).shape == (1, 8)  # one vector is one row


def test_unlabelled_none_entries_are_dropped_and_counted() -> None:
    X, y = blobs()
    labels: list[str | None] = list(y)
    labels[:10] = [None] * 10
    head = fit_head("i", X, labels, encoder=None)
    assert head.card["metrics"]["n_unlabelled_dropped"] == 10


# -- bad input -------------------------------------------------------------------------------
def test_mismatched_lengths() -> None:
    X, y = blobs()
    with pytest.raises(InvalidLabelsError, match="120 vectors but 119 labels"):
        fit_head("i", X, y[:-1], encoder=None)


def test_fewer_than_two_classes() -> None:
    X, _ = blobs()
    with pytest.raises(InvalidLabelsError, match="at least 2 distinct labels"):
        fit_head("i", X, ["only"] * len(X), encoder=None)


def test_single_example_class_warns_and_still_fits() -> None:
    X, y = blobs()
    y[0] = "lonely"
    with pytest.warns(UserWarning, match="single example"):
        head = fit_head("i", X, y, encoder=None, family="linear")
    assert "lonely" in head.label_names


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_vectors(bad: float) -> None:
    X, y = blobs()
    X[5, 3] = bad
    with pytest.raises(InvalidVectorsError, match="NaN or inf in 1 row"):
        fit_head("i", X, y, encoder=None)


def test_empty_input() -> None:
    with pytest.raises(InvalidVectorsError, match="empty"):
        fit_head("i", np.zeros((0, D), np.float32), [], encoder=None)


def test_unknown_option_and_family() -> None:
    X, y = blobs()
    with pytest.raises(TypeError, match="unknown head option"):
        fit_head("i", X, y, encoder=None, zdim=3)
    with pytest.raises(ValueError, match="unknown head family"):
        fit_head("i", X, y, encoder=None, family="transformer")


def test_vectors_of_another_dimension_than_the_encoder() -> None:
    from gst_integrations.core.encoders import CallableEncoder

    enc = CallableEncoder(lambda texts: np.ones((len(texts), 8)), name="eight")
    X, y = blobs()
    with pytest.raises(EncoderMismatchError, match="dimension 32.*8-d"):
        fit_head("i", X, y, encoder=enc)


def test_losses_behave() -> None:
    z = torch.tensor([[0.0, 0.0], [0.1, 0.0], [10.0, 0.0]])
    y = torch.tensor([0, 0, 1])
    assert float(margin_contrastive_loss(z, y, margin=10.0)) < 0.01
    assert float(supervised_contrastive_loss(z, torch.tensor([0, 1, 2]))) == 0.0  # no positives
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert torch.isfinite(supervised_contrastive_loss(z, y, 0.1))


def test_lda_weights_stay_finite_when_vectors_span_a_subspace() -> None:
    """Encoders often leave dead directions (all-MiniLM-L6-v2 has about three)."""
    X, y = blobs(n=200)
    basis = np.linalg.qr(np.random.default_rng(1).normal(size=(D, D)))[0]
    X = (X @ basis[:, : D - 3]) @ basis[:, : D - 3].T  # no variance along 3 directions
    head = fit_head("i", X.astype(np.float32), y, encoder=None)
    assert np.abs(head.weight).max() < 1e3
    assert np.isfinite(head.query_matrix()).all()
