"""Fit a view from the store a user already has: its vectors, its fingerprint, its labels.

Labels come by id (a dict), from a metadata key of each row, or from an LLM labeller given
the instruction (on a seeded sample); or there are none, only category names
(``categories=``): a seeded sample is pseudo-labelled from them (``heads.zero_label``).
Vectors are read in pages, and the head records the
fingerprint the store recorded (never a guess: a store that recorded none gives a head of
an unknown encoder, which later warns instead of refusing).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
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
    categories: Sequence[str] | Mapping[str, str | None] | None = None,
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
    stored documents for the instruction; or pass ``categories`` (names, or
    ``{name: description}``) and the ``encoder`` that filled the store, and a seeded sample
    of ``sample_size`` stored vectors is pseudo-labelled from the names (a view with no
    labels; it falls back to the generic vectors when the names do not match how the texts
    group). The head records the fingerprint the store recorded, else that of ``encoder``
    (the encoder that filled the store, when you know it), else an unknown encoder.
    ``options`` are ``fit_head`` options.
    """
    given = [x is not None for x in (labels, labeler, categories)]
    if sum(given) != 1:
        raise InvalidLabelsError(
            "pass exactly one of labels= (dict or metadata key), labeler= and categories="
        )
    if (labeler is not None or categories is not None) and sample_size is None:
        sample_size = LABEL_SAMPLE
    fp_info = source.fingerprint_info()
    fingerprint: Any = EncoderFingerprint.from_dict(fp_info) if fp_info else encoder
    if categories is not None:
        return _fit_from_categories(
            instruction,
            source,
            categories,
            encoder,
            fp_info,
            sample_size,
            seed,
            page_size,
            name,
            options,
        )
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


def _fit_from_categories(
    instruction: str,
    source: VectorSource,
    categories: Any,
    encoder: Any,
    fp_info: dict[str, Any] | None,
    sample_size: int | None,
    seed: int,
    page_size: int,
    name: str | None,
    options: dict[str, Any],
) -> Head:
    """A zero-label view on a seeded sample of the stored vectors; the encoder that embeds
    the category names must be the one the store recorded."""
    if encoder is None or isinstance(encoder, (EncoderFingerprint, Mapping, str)):
        if not (isinstance(encoder, str) and encoder == "default"):
            raise InvalidLabelsError(
                "a view from category names needs the encoder that filled the store (the "
                "names are embedded with it): pass encoder=<that encoder>"
            )
    from gst_integrations.core.encoders.coerce import as_encoder

    enc = as_encoder(None if encoder == "default" else encoder)
    why = EncoderFingerprint.from_dict(fp_info).mismatch(enc.fingerprint()) if fp_info else None
    if why:
        from gst_integrations.core.errors import EncoderMismatchError

        raise EncoderMismatchError(
            f"the encoder given to embed the category names is not the one that filled the "
            f"store: {why}"
        )
    _, _, _, X = _read(source, None, page_size)
    if sample_size is not None and sample_size < len(X):
        rng = np.random.default_rng(seed)
        X = X[np.sort(rng.choice(len(X), sample_size, replace=False))]
    return fit_head(instruction, X, categories=categories, encoder=enc, name=name, **options)


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
