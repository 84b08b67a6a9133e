"""2-D maps of a view next to the generic vectors (PCA, or UMAP when installed), as a PNG."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

MAX_LEGEND = 12


def project_2d(X: np.ndarray, method: str = "auto", seed: int = 0) -> tuple[np.ndarray, str]:
    """(n, 2) coordinates of rows of ``X`` and the method used ("umap" or "pca")."""
    X = np.asarray(X, dtype=np.float32)
    if method in ("auto", "umap"):
        try:
            import umap  # type: ignore[import-not-found]

            return umap.UMAP(n_components=2, random_state=seed).fit_transform(X), "umap"
        except ImportError:
            if method == "umap":
                raise ValueError("--method umap needs `pip install umap-learn`") from None
    from sklearn.decomposition import PCA

    return PCA(n_components=2, random_state=seed).fit_transform(X), "pca"


def plot_maps(
    X: np.ndarray,
    Z: np.ndarray,
    colors: Sequence[str],
    out: str | Path,
    *,
    view: str,
    title: str = "",
    color_by: str = "",
    method: str = "auto",
    seed: int = 0,
) -> str:
    """Write two panels (generic ``X`` | view ``Z``) coloured by ``colors``; returns the method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if len(X) < 3:
        raise ValueError(f"need at least 3 points to draw a map, got {len(X)}")
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise ValueError(f"--out must be a .png file, got {out}")
    out.parent.mkdir(parents=True, exist_ok=True)
    P, used = project_2d(X, method, seed)
    Q, _ = project_2d(Z, method, seed)
    top = [c for c, _ in Counter(colors).most_common(MAX_LEGEND)]
    cmap = plt.get_cmap("tab20" if len(top) > 10 else "tab10")
    fig, axes = plt.subplots(1, 2, figsize=(13, 6))
    for ax, pts, name in ((axes[0], P, "generic base vectors"), (axes[1], Q, f"view {view!r}")):
        cols = np.asarray(colors, dtype=object)
        other = ~np.isin(cols, top)
        if other.any():
            ax.scatter(pts[other, 0], pts[other, 1], s=8, c="lightgrey", label="other")
        for j, c in enumerate(top):
            m = cols == c
            ax.scatter(pts[m, 0], pts[m, 1], s=10, color=cmap(j % cmap.N), label=str(c)[:30])
        ax.set_title(name)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[1].legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, title=color_by)
    save_figure(fig, out, f"{title}  ({used.upper()}, coloured by {color_by})")
    return used


def save_figure(fig: Any, out: str | Path, title: str) -> None:
    """Title, lay out, write (90 dpi) and close a figure: every PNG of the eval extra."""
    import matplotlib.pyplot as plt

    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def dataset_maps(
    corpus: Any, facet: str, seed: int, encode: Callable[..., Any], guide_fraction: float = 0.3
) -> tuple[np.ndarray, np.ndarray, str]:
    """Base and view vectors of a labelled corpus, the view fitted on a seeded 30% sample."""
    from sklearn.model_selection import train_test_split

    from gst_integrations.core.heads.training import fit_head
    from gst_integrations.evaluation.protocol import INSTRUCTIONS

    X, enc = encode(list(corpus.texts), desc=f"embed {corpus.name}")
    y = np.asarray(corpus.facets[facet])
    idx = np.arange(len(y))
    try:
        guide, _ = train_test_split(idx, train_size=guide_fraction, random_state=seed, stratify=y)
    except ValueError:
        guide, _ = train_test_split(idx, train_size=guide_fraction, random_state=seed)
    instruction = INSTRUCTIONS.get(facet, f"What is the {facet} of this text?")
    head = fit_head(instruction, X[guide], y[guide].tolist(), encoder=enc.base_encoder, seed=seed)
    return X, head.transform(X), instruction
