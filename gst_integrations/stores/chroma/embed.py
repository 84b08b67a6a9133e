"""Embedding texts once into a Chroma collection with the base encoder, which it records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gst_integrations.core.encoders.cache import CachedEncoder
from gst_integrations.core.encoders.fingerprint import EncoderFingerprint
from gst_integrations.core.errors import EncoderMismatchError
from gst_integrations.core.feedback import progress
from gst_integrations.core.views.source import REV_KEY, new_revision
from gst_integrations.stores.chroma.collection import read_fingerprint, record_fingerprint

#: Texts that take about two seconds to encode on a CPU: fewer get no progress bar.
PROGRESS_MIN_TEXTS = 256


def embed_into_chroma(
    collection: Any,
    texts: Sequence[str],
    ids: Sequence[str],
    metadatas: Sequence[dict[str, Any] | None] | None = None,
    encoder: Any = None,
    batch_size: int = 256,
    show_progress: bool | None = None,
) -> int:
    """Embed texts once with the base encoder (through its cache) and upsert them.

    Each row's metadata records the write's revision (``gst_rev``), so views over the
    collection refresh in O(changes) instead of reconciling every row.

    Records the encoder fingerprint in the collection metadata; a collection that recorded
    another encoder raises ``EncoderMismatchError`` before anything is written. Returns the
    number of rows written. A progress bar shows from ``PROGRESS_MIN_TEXTS`` texts on,
    unless ``show_progress=False`` or ``GST_PROGRESS=0``.
    """
    texts, ids = list(texts), [str(i) for i in ids]
    if len(texts) != len(ids) or (metadatas is not None and len(metadatas) != len(ids)):
        raise ValueError("texts, ids and metadatas must have the same length")
    if len(set(ids)) != len(ids):
        raise ValueError("ids must be unique")
    enc = encoder if isinstance(encoder, CachedEncoder) else CachedEncoder(encoder)
    fp = enc.fingerprint()
    recorded = read_fingerprint(collection.metadata)
    if recorded is not None:
        why = EncoderFingerprint.from_dict(recorded).mismatch(fp)
        if why:
            raise EncoderMismatchError(
                f"collection {collection.name!r} holds vectors of another base encoder: {why}"
            )
    elif collection.count() > 0:
        raise EncoderMismatchError(
            f"collection {collection.name!r} already holds vectors of an unrecorded encoder; "
            "embed into a new collection"
        )
    else:
        record_fingerprint(collection, fp)
    written = 0
    bar = progress(
        total=len(ids),
        desc=f"embed into {collection.name}",
        unit="text",
        show=show_progress,
        min_total=PROGRESS_MIN_TEXTS,
    )
    for s in range(0, len(ids), batch_size):
        chunk = slice(s, s + batch_size)
        vecs = enc.encode(texts[chunk])
        # Every row records the revision of this write: refreshes then read O(changes).
        rev = new_revision()
        metas = [
            {**(m or {}), REV_KEY: rev}
            for m in (metadatas[chunk] if metadatas else [None] * len(vecs))
        ]
        collection.upsert(ids=ids[chunk], embeddings=vecs, documents=texts[chunk], metadatas=metas)
        written += len(vecs)
        bar.update(len(vecs))
    bar.close()
    return written
