"""Gradient-trained heads (the ``linear`` and ``mlp`` families, or a user's module): a
seeded validation split, Adam, and early stopping that restores the best state."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch

from gst_integrations.core.feedback import progress
from gst_integrations.core.heads.families import HeadModule, build_head_module, out_features
from gst_integrations.core.heads.losses import resolve_loss
from gst_integrations.core.heads.options import HeadOptions

__all__ = ["fit_trained", "split_indices", "train_linear_weight"]


def split_indices(y: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
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


def train_linear_weight(X: np.ndarray, y: np.ndarray, opts: HeadOptions) -> np.ndarray:
    """W (z, d) of a bias-free linear head trained with ``opts`` (loss, z, schedule) on
    ``(X, y)``, CPU, no progress bar: the ``linear`` family as a plain matrix."""
    torch.manual_seed(opts.seed)
    Xt = torch.from_numpy(np.asarray(X, dtype=np.float32))
    yt = torch.from_numpy(np.asarray(y, dtype=np.int64))
    train_idx, val_idx = split_indices(np.asarray(y), opts.val_fraction, opts.seed)
    built = build_head_module("linear", X.shape[1], opts.z_dim, opts.hidden_dim)
    module, _ = fit_trained(Xt, yt, train_idx, val_idx, opts, built, None, False)
    return module[0].weight.detach().cpu().numpy().astype(np.float32)


def fit_trained(
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
        metrics["val_knn_accuracy"] = knn_accuracy(module.encoder, Xt, yt, train_idx, val_idx)
    return module.encoder, metrics


@torch.no_grad()
def knn_accuracy(
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
