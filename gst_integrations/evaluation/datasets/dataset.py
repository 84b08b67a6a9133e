"""A corpus of texts with one or more labelled facets."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass
class LabelledCorpus:
    """Texts, their ids, and per-facet labels (facet name -> one label per text)."""

    name: str
    texts: list[str]
    facets: dict[str, list[str]]
    ids: list[str] = field(default_factory=list)
    metadata: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.ids:
            self.ids = [hashlib.sha1(t.encode()).hexdigest()[:16] for t in self.texts]
        if not self.metadata:
            self.metadata = [
                {facet: labels[i] for facet, labels in self.facets.items()}
                for i in range(len(self.texts))
            ]

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: list[int]) -> LabelledCorpus:
        return LabelledCorpus(
            name=self.name,
            texts=[self.texts[i] for i in indices],
            facets={f: [v[i] for i in indices] for f, v in self.facets.items()},
            ids=[self.ids[i] for i in indices],
            metadata=[self.metadata[i] for i in indices],
        )
