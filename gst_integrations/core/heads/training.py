"""Fit a head on labelled base vectors: a seeded validation split and early stopping."""

from __future__ import annotations

import copy
import datetime as dt
import json
import warnings
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from gst_integrations.core.device import resolve_device
from gst_integrations.core.encoders.base import BaseEncoder
from gst_integrations.core.encoders.coerce import as_encoder
from gst_integrations.core.encoders.fingerprint import EncoderFingerprint
from gst_integrations.core.errors import InvalidLabelsError
from gst_integrations.core.feedback import progress
from gst_integrations.core.heads.families import (
    CLOSED_FORM_FAMILIES,
    HeadModule,
    build_head_module,
    out_features,
)
from gst_integrations.core.heads.head import Head
from gst_integrations.core.heads.lda import fit_lda_weight
from gst_integrations.core.heads.losses import resolve_loss
from gst_integrations.core.heads.mix import fit_view_weight
from gst_integrations.core.heads.options import HeadOptions
from gst_integrations.core.heads.persistence import FORMAT_VERSION
from gst_integrations.core.validation import as_float32_matrix

#: The family a card records for a head trained from the user's own module.
CUSTOM_FAMILY = "custom"


def _clean_labels(labels: Sequence[Any], n: int) -> tuple[np.ndarray, list[str]]:
    """Label strings -> (indices into names, -1 for unlabelled None), after checks."""
    labels = list(labels)
    if len(labels) != n:
        raise InvalidLabelsError(f"got {n} vectors but {len(labels)} labels; they must match")
    keep = [lab for lab in labels if lab is not None and str(lab) != ""]
    names = sorted({str(lab) for lab in keep})
    if len(names) < 2:
        raise InvalidLabelsError(
            f"need at least 2 distinct labels to learn a view, got {len(names)} ({names})"
        )
    counts = Counter(str(lab) for lab in keep)
    singles = sorted(name for name, c in counts.items() if c == 1)
    if singles:
        warnings.warn(
            f"{len(singles)} label(s) have a single example ({singles[:5]}); "
            "they are kept for training but cannot be validated",
            stacklevel=3,
        )
    index = {name: i for i, name in enumerate(names)}
    y = np.array([index[str(lab)] if lab is not None and str(lab) != "" else -1 for lab in labels])
    return y, names


def _split(y: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified split; classes with fewer than 2 examples stay in training."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for cls in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == cls))
        n_val = int(round(len(idx) * val_fraction)) if len(idx) >= 2 else 0
        n_val = min(n_val, len(idx) - 1)
        val.extend(idx[:n_val])
        train.extend(idx[n_val:])
    return np.sort(np.array(train, dtype=int)), np.sort(np.array(val, dtype=int))


def _resolve_fingerprint(encoder: Any) -> EncoderFingerprint | None:
    if encoder is None:
        return None
    if isinstance(encoder, EncoderFingerprint):
        return encoder
    if isinstance(encoder, dict):
        return EncoderFingerprint.from_dict(encoder)
    if isinstance(encoder, str) and encoder == "default":
        return as_encoder(None).fingerprint()
    enc: BaseEncoder = as_encoder(encoder)
    return enc.fingerprint()


def fit_head(
    instruction: str,
    base_vectors: Any,
    labels: Sequence[Any],
    *,
    encoder: Any = None,
    name: str | None = None,
    device: Any = "auto",
    show_progress: bool | None = None,
    module: torch.nn.Module | None = None,
    **options: Any,
) -> Head:
    """Learn a head that maps base vectors into the view of ``instruction``.

    ``labels`` has one entry per vector; ``None`` marks an unlabelled text (what
    ``LLMLabeler`` gives for dropped answers) and is left out. ``encoder`` names the base
    encoder that made the vectors: the encoder object, its fingerprint (a store records
    one: ``fit_view`` passes it), or "default" for the offline all-MiniLM-L6-v2. It is never
    guessed: with None the card records an unknown encoder, and later checks warn once
    instead of refusing vectors. ``options`` are ``HeadOptions`` fields; ``loss`` may be a
    name or your own loss module or callable ``(z, y) -> scalar``, and ``family`` any name
    registered with ``register_head_family``. ``module`` trains your own torch module
    (d -> z) instead of a family's; load its head with ``load_head(path, module=...)``.
    """
    if not isinstance(instruction, str) or not instruction.strip():
        raise InvalidLabelsError("instruction must be a non-empty string")
    opts = HeadOptions.from_kwargs(options)
    X = as_float32_matrix(base_vectors, name="base_vectors")
    y_all, names = _clean_labels(labels, X.shape[0])
    labelled = np.flatnonzero(y_all >= 0)
    n_dropped = int(X.shape[0] - len(labelled))
    X, y = X[labelled], y_all[labelled]
    fingerprint = _resolve_fingerprint(encoder)
    if fingerprint is not None and fingerprint.dim != X.shape[1]:
        from gst_integrations.core.errors import EncoderMismatchError

        raise EncoderMismatchError(
            f"base_vectors have dimension {X.shape[1]} but encoder {fingerprint.name!r} "
            f"makes {fingerprint.dim}-d vectors"
        )

    torch.manual_seed(opts.seed)
    dev = resolve_device(device)
    train_idx, val_idx = _split(y, opts.val_fraction, opts.seed)
    Xt = torch.from_numpy(X).to(dev)
    yt = torch.from_numpy(y).to(dev)
    family = opts.family
    if module is not None:
        family = CUSTOM_FAMILY
        encoder_module, fit_metrics = _fit_trained(
            Xt, yt, train_idx, val_idx, opts, module.to(dev), name, show_progress
        )
    elif opts.family == "lda_mix":
        encoder_module, fit_metrics = _fit_lda_mix(X, y, opts, instruction)
    elif opts.family in CLOSED_FORM_FAMILIES:
        encoder_module, fit_metrics = _fit_lda(X, y, Xt, yt, train_idx, val_idx, opts)
    else:
        built = build_head_module(opts.family, X.shape[1], opts.z_dim, opts.hidden_dim)
        encoder_module, fit_metrics = _fit_trained(
            Xt, yt, train_idx, val_idx, opts, built.to(dev), name, show_progress
        )
    encoder_module = encoder_module.to(dev)
    metrics: dict[str, Any] = {
        "n_train": int(len(train_idx)),
        "n_val": int(len(val_idx)),
        "n_unlabelled_dropped": n_dropped,
        **fit_metrics,
    }
    card = {
        "format": "gst-head",
        "format_version": FORMAT_VERSION,
        "name": name or "",
        "instruction": instruction,
        "label_names": names,
        "label_counts": {names[i]: int(c) for i, c in sorted(Counter(y.tolist()).items())},
        "in_dim": int(X.shape[1]),
        "out_dim": out_features(encoder_module, int(X.shape[1])),
        "options": {**opts.to_dict(), "family": family},
        "encoder": fingerprint.to_dict() if fingerprint else None,
        "encoder_known": fingerprint is not None,
        "feasibility": metrics.pop("feasibility", None),
        "view_fit": metrics.pop("view_fit", None),
        "metrics": metrics,
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    # The card is what a head file will hold: JSON types only, so a round trip is exact.
    return Head(encoder_module, json.loads(json.dumps(card)), device=dev)


def _fit_lda_mix(
    X: np.ndarray, y: np.ndarray, opts: HeadOptions, instruction: str
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The default: [α·LDA ; (1−α)·generic], α and shrinkage chosen on the labels alone."""
    W, info = fit_view_weight(X, y, seed=opts.seed)
    module = build_head_module("lda_mix", X.shape[1], W.shape[0])
    with torch.no_grad():
        module[0].weight.copy_(torch.from_numpy(W))
    feas = info.get("feasibility", {})
    if info["fell_back_to_generic"]:
        warnings.warn(
            f"the base vectors barely encode {instruction!r}: on the labelled sample a view "
            f"did not beat the generic vectors (gain z {info['inner_gain_z']:.1f}; probe "
            f"accuracy {feas.get('cv_accuracy', float('nan')):.2f} against a majority share of "
            f"{feas.get('majority_share', float('nan')):.2f}), so this view falls back to the "
            "generic vectors. More labels, or a stronger base encoder (a one-time re-embedding "
            "of the store), would help.",
            UserWarning,
            stacklevel=3,
        )
    chosen = info.get("inner_auc", {}).get(f"{info['alpha']:g}")
    return module, {
        # cross-validated on the labels: per-query AUC of same- vs other-label texts
        "val_auc": chosen,
        "view_fit": {k: v for k, v in info.items() if k != "feasibility"},
        "feasibility": feas,
    }


def _fit_lda(
    X: np.ndarray,
    y: np.ndarray,
    Xt: torch.Tensor,
    yt: torch.Tensor,
    train_idx: np.ndarray,
    val_idx: np.ndarray,
    opts: HeadOptions,
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Closed form: validate a fit on the training split, then refit on every label."""

    def module_for(rows: np.ndarray) -> torch.nn.Module:
        W = fit_lda_weight(X[rows], y[rows], opts.residual_weight, opts.residual_dim)
        module = build_head_module("lda", X.shape[1], W.shape[0])
        with torch.no_grad():
            module[0].weight.copy_(torch.from_numpy(W))
        return module.to(Xt.device)

    metrics: dict[str, Any] = {}
    if len(val_idx) >= 2 and len(np.unique(y[train_idx])) >= 2:
        metrics["val_knn_accuracy"] = _knn_accuracy(
            module_for(train_idx), Xt, yt, train_idx, val_idx
        )
    return module_for(np.arange(len(y))), metrics


def _fit_trained(
    Xt: torch.Tensor,
    yt: torch.Tensor,
    train_idx: np.ndarray,
    val_idx: np.ndarray,
    opts: HeadOptions,
    encoder: torch.nn.Module,
    name: str | None,
    show_progress: bool | None,
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Gradient training with a seeded split; early stopping restores a copy of the best state."""
    dev = Xt.device
    d = Xt.shape[1]
    module = HeadModule(encoder, d, out_features(encoder, d)).to(dev)
    contrastive = resolve_loss(opts)
    optimiser = torch.optim.Adam(module.parameters(), lr=opts.lr, weight_decay=opts.weight_decay)
    generator = torch.Generator().manual_seed(opts.seed)

    def batch_loss(idx: torch.Tensor) -> torch.Tensor:
        z, x_hat = module(Xt[idx])
        loss = contrastive(z, yt[idx])
        if opts.recon_weight:
            loss = loss + opts.recon_weight * torch.nn.functional.mse_loss(x_hat, Xt[idx])
        return loss

    best_state = copy.deepcopy(module.state_dict())
    best_val, best_epoch, stale, epoch = float("inf"), 0, 0, 0
    train_t = torch.from_numpy(train_idx)
    val_t = torch.from_numpy(val_idx).to(dev)
    bar = progress(
        range(opts.max_epochs), desc=f"fit {name or 'head'}", unit="epoch", show=show_progress
    )
    for epoch in bar:
        module.train()
        order = train_t[torch.randperm(len(train_t), generator=generator)].to(dev)
        for start in range(0, len(order), opts.batch_size):
            idx = order[start : start + opts.batch_size]
            if len(idx) < 2:
                continue
            optimiser.zero_grad()
            loss = batch_loss(idx)
            loss.backward()
            optimiser.step()
        if len(val_idx) < 2:
            best_state, best_epoch = copy.deepcopy(module.state_dict()), epoch
            continue
        module.eval()
        with torch.no_grad():
            val_loss = float(batch_loss(val_t))
        bar.set_postfix(val_loss=f"{val_loss:.4f}")
        if val_loss < best_val - 1e-6:
            best_val, best_epoch, stale = val_loss, epoch, 0
            best_state = copy.deepcopy(module.state_dict())
        else:
            stale += 1
            if stale >= opts.patience:
                break
    module.load_state_dict(best_state)
    metrics: dict[str, Any] = {
        "best_epoch": int(best_epoch),
        "epochs_run": int(epoch + 1),
        "val_loss": None if best_val == float("inf") else round(best_val, 6),
    }
    if len(val_idx) >= 2:
        metrics["val_knn_accuracy"] = _knn_accuracy(module.encoder, Xt, yt, train_idx, val_idx)
    return module.encoder, metrics


@torch.no_grad()
def _knn_accuracy(
    encoder: torch.nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    train_idx: np.ndarray,
    val_idx: np.ndarray,
) -> float:
    """Held-out 1-nearest-neighbour (cosine) accuracy of validation texts in the view."""
    encoder.eval()
    z = torch.nn.functional.normalize(encoder(X), dim=1)
    sims = z[torch.from_numpy(val_idx)] @ z[torch.from_numpy(train_idx)].T
    pred = y[torch.from_numpy(train_idx)][sims.argmax(1)]
    return round(float((pred == y[torch.from_numpy(val_idx)]).float().mean()), 4)
