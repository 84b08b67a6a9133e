"""Fit a view from the store a user already has: its vectors, its fingerprint, its labels.

Labels come by id (a dict), from a metadata key of each row, or from an LLM labeller given
the instruction (on a seeded sample). Vectors are read in pages, and the head records the
fingerprint the store recorded (never a guess: a store that recorded none gives a head of
an unknown encoder, which later warns instead of refusing).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from gst_integrations.core.encoders.fingerprint import EncoderFingerprint
from gst_integrations.core.errors import InvalidLabelsError, StoreError
from gst_integrations.core.heads.head import Head
from gst_integrations.core.heads.training import fit_head
from gst_integrations.core.views.source import VectorSource

#: Texts an LLM labels by default: the paper's sample of about 3,000.
LABEL_SAMPLE = 3000


def _read(
    source: VectorSource, ids: list[str] | None, page_size: int
) -> tuple[list[str], list[str | None], list[dict[str, Any]], np.ndarray]:
    """(ids, documents, metadatas, vectors) of ``ids`` (or every row), read in pages."""
    pages = (
        [source.get(ids[s : s + page_size]) for s in range(0, len(ids), page_size)]
        if ids is not None
        else list(source.iter_pages(page_size))
    )
    pages = [p for p in pages if len(p)]
    if not pages and ids is None:
        raise StoreError("the store holds no vectors to fit a view on")
    if not pages:
        return [], [], [], np.zeros((0, 0), np.float32)
    return (
        [i for p in pages for i in p.ids],
        [d for p in pages for d in p.documents],
        [m for p in pages for m in p.metadatas],
        np.concatenate([p.vectors for p in pages]),
    )


def fit_view(
    instruction: str,
    source: VectorSource,
    *,
    labels: Mapping[str, Any] | str | None = None,
    labeler: Any = None,
    sample_size: int | None = None,
    seed: int = 0,
    page_size: int = 1000,
    name: str | None = None,
    encoder: Any = None,
    **options: Any,
) -> Head:
    """A head for ``instruction`` fitted on the vectors ``source`` holds.

    ``labels`` is ``{id: label}`` or the name of a metadata key holding each row's label;
    or pass ``labeler`` (an ``LLMLabeler``) to label a seeded sample of ``sample_size``
    stored documents for the instruction. The head records the fingerprint the store
    recorded, else that of ``encoder`` (the encoder that filled the store, when you know it),
    else an unknown encoder. ``options`` are ``fit_head`` options.
    """
    if (labels is None) == (labeler is None):
        raise InvalidLabelsError("pass exactly one of labels= (dict or metadata key) and labeler=")
    if labeler is not None and sample_size is None:
        sample_size = LABEL_SAMPLE
    fp_info = source.fingerprint_info()
    fingerprint: Any = EncoderFingerprint.from_dict(fp_info) if fp_info else encoder
    rng = np.random.default_rng(seed)
    if isinstance(labels, Mapping):
        wanted = [str(i) for i in labels]
        ids, _, _, X = _read(source, wanted, page_size)
        missing = sorted(set(wanted) - set(ids))
        if missing:
            raise InvalidLabelsError(
                f"{len(missing)} labelled id(s) are not in the store, e.g. {missing[:5]}"
            )
        y = [labels[i] for i in ids]
    else:
        ids, docs, metas, X = _read(source, None, page_size)
        if sample_size is not None and sample_size < len(ids):
            keep = np.sort(rng.choice(len(ids), sample_size, replace=False))
            ids = [ids[i] for i in keep]
            docs = [docs[i] for i in keep]
            metas = [metas[i] for i in keep]
            X = X[keep]
        if isinstance(labels, str):
            y = [m.get(labels) for m in metas]
            if all(v is None for v in y):
                raise InvalidLabelsError(f"no stored row has a metadata key {labels!r}")
        else:
            y = list(labeler.label(instruction, [d or "" for d in docs]))
    return fit_head(instruction, X, y, encoder=fingerprint, name=name, **options)


def instruction_first(first: Any, second: Any) -> tuple[str, Any]:
    """(instruction, store) of a framework ``fit_view`` call.

    Every ``fit_view`` takes the instruction first, as ``fit_head`` does. The older
    ``fit_view(store, instruction)`` order still works, with a ``DeprecationWarning``.
    """
    if isinstance(first, str) or not isinstance(second, str):
        return first, second
    warnings.warn(
        "fit_view(store, instruction) is deprecated: pass the instruction first, "
        "fit_view(instruction, store, ...)",
        DeprecationWarning,
        stacklevel=3,
    )
    return second, first
