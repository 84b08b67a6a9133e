"""Zero-label views: pseudo-labels from category names, and a label-free gate.

A user often knows the categories of an instruction ("depression", "acne", ...) but has
labelled nothing. ``pseudo_label`` turns the names (optionally ``{name: description}``) into
labels for the unlabelled texts, and says whether those labels follow structure the base
vectors hold; the head is then fitted on them like on gold labels (``fit_head(...,
categories=...)``).

How, and why each step:

* **Prototypes.** Each category is embedded through the encoder's *query* path (a category
  is what texts are looked up by; asymmetric encoders embed queries differently) under a few
  phrasings (``templates``: the bare name, the instruction followed by the name, two generic
  sentences), and with its description when there is one. The unit vectors are averaged
  (prompt ensembling): one phrasing's quirks should not decide a text's category.
* **Assignment.** Each text takes the category of its most cosine-similar prototype.
* **Refinement** (self-training). A shrinkage-LDA classifier is fitted on the assignment and
  re-labels the texts, a few rounds. The names place the classes; the texts' own covariance
  moves the boundaries where the encoder's reading of a name is off (a prototype that
  attracts too many texts loses those that sit with another class's texts). Measured on four
  facets whose names carry meaning, it raised the share of correct pseudo-labels on every
  one (by 0.5 to 12 points).
* **Gate** (needs no label). The names carry structure when they partition the texts the way
  the texts group themselves. The statistic is the chance-corrected agreement (kappa)
  between a text's pseudo-label and those of its ``neighbours`` nearest texts in the base
  vectors. Its reference is a null drawn from the same texts: partitions made the same way
  (nearest of C prototypes), with C random texts of the sample as prototypes. Such
  partitions follow the texts' geometry without any meaning, so names that mean something
  for these texts must do better than them. The gate passes when the names' kappa is
  ``min_structure_z`` standard deviations above the null's mean, or closes
  ``min_structure_gain`` of the distance from the null's mean to perfect agreement. The
  second clause is for texts in a few clean clusters: random-text partitions then often
  find the clusters too, the null's spread is wide, and z understates names that are far
  above the typical random partition (4 drug-review conditions, 85% of the reviews named
  right: z 1.7, gain 0.37). Names that barely carry meaning stay below both (GCIDE fields
  named "Zool", "Bot", ...: z 0.7 to 1.4, gain 0.05 to 0.10; their views lose P@10).
  Names that mean little for the texts ("noun", "verb" on dictionary definitions;
  sentiment words on reviews whose sentiment the encoder barely carries) cut through the
  texts' neighbourhoods and score below the null. A linear probe on the pseudo-labels
  cannot be the gate: they are a function of the vectors, so they are always learnable.

The card records every signal (``zero_shot`` in the head card): the mean top-1 minus top-2
prototype margin, the agreement (ARI) between the phrasings' assignments, the neighbour
kappa with its null, z and gain, the share of labels the refinement changed, and the class
sizes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from gst_integrations.core.errors import InvalidLabelsError

__all__ = [
    "Categories",
    "ZeroLabelOptions",
    "ZeroShot",
    "category_prototypes",
    "pseudo_label",
    "structure_signals",
]

DEFAULT_TEMPLATES: tuple[str, ...] = (
    "{name}",
    "{instruction} {name}",
    "This text is about {name}.",
    "Category: {name}.",
)


@dataclass(frozen=True)
class ZeroLabelOptions:
    """How category names become pseudo-labels, and when they are trusted."""

    #: phrasings of a category name, with ``{name}`` and optionally ``{instruction}``.
    templates: tuple[str, ...] = DEFAULT_TEMPLATES
    #: rounds of shrinkage-LDA self-training after the nearest-prototype assignment (0: none).
    refine_rounds: int = 5
    #: within-class covariance shrinkage of the refinement classifier (strong: few texts
    #: per dimension, noisy labels).
    refine_shrinkage: float = 0.9
    #: neighbours per text for the structure statistic.
    neighbours: int = 10
    #: random-prototype partitions drawn for the structure statistic's null.
    null_draws: int = 50
    #: the gate: the names' neighbour kappa must exceed the null mean by this many SDs ...
    min_structure_z: float = 2.0
    #: ... or close this share of the distance from the null mean to perfect agreement
    #: (for texts in a few clean clusters, where random-text partitions often find the
    #: clusters too and their spread hides how far above the typical one the names are).
    min_structure_gain: float = 0.25

    def __post_init__(self) -> None:
        if not self.templates or any("{name}" not in t for t in self.templates):
            raise ValueError("every template needs a {name} slot")
        if self.refine_rounds < 0 or not 0.0 <= self.refine_shrinkage <= 1.0:
            raise ValueError("refine_rounds must be >= 0 and refine_shrinkage in [0, 1]")
        if self.neighbours < 1 or self.null_draws < 2:
            raise ValueError("neighbours must be >= 1 and null_draws >= 2")

    @classmethod
    def from_value(cls, value: ZeroLabelOptions | Mapping[str, Any] | None) -> ZeroLabelOptions:
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, Mapping):
            fields = set(cls.__dataclass_fields__)
            unknown = sorted(set(value) - fields)
            if unknown:
                raise TypeError(f"unknown zero-label option(s) {unknown}; known: {sorted(fields)}")
            data = dict(value)
            if "templates" in data:
                data["templates"] = tuple(data["templates"])
            return cls(**data)
        raise TypeError(f"zero-label options must be a ZeroLabelOptions or a dict, not {value!r}")


@dataclass(frozen=True)
class Categories:
    """Category names in the user's order, and a description for any that has one."""

    names: tuple[str, ...]
    descriptions: Mapping[str, str]

    @classmethod
    def parse(cls, categories: Any) -> Categories:
        """``["a", "b"]`` or ``{"a": "description", "b": None}``; at least two, unique."""
        if isinstance(categories, str) or categories is None:
            raise InvalidLabelsError(
                "categories must be a list of names or a {name: description} dict, "
                f"not {categories!r}"
            )
        if isinstance(categories, Mapping):
            items = [(str(k).strip(), v) for k, v in categories.items()]
        else:
            items = [(str(k).strip(), None) for k in categories]
        names = tuple(k for k, _ in items)
        if any(not n for n in names):
            raise InvalidLabelsError("category names must be non-empty strings")
        if len(set(names)) != len(names):
            raise InvalidLabelsError(f"category names must be unique: {list(names)}")
        if len(names) < 2:
            raise InvalidLabelsError(f"need at least 2 categories for a view, got {list(names)}")
        descriptions = {k: str(v).strip() for k, v in items if v is not None and str(v).strip()}
        return cls(names=names, descriptions=descriptions)


@dataclass
class ZeroShot:
    """Pseudo-labels of a sample and what the label-free gate saw."""

    labels: list[str]
    signals: dict[str, Any]

    @property
    def has_structure(self) -> bool:
        return bool(self.signals["has_structure"])


def _unit(A: np.ndarray) -> np.ndarray:
    A = np.asarray(A, dtype=np.float64)
    return A / np.maximum(np.linalg.norm(A, axis=-1, keepdims=True), 1e-12)


def category_prototypes(
    encoder: Any, instruction: str, categories: Categories, options: ZeroLabelOptions
) -> tuple[np.ndarray, np.ndarray]:
    """(S, C, d) unit prototypes, one block per phrasing (the templates, then the
    descriptions when there are any), and the (S,) weights that average them.

    Names and descriptions go through the encoder's query path. The descriptions, when given,
    weigh as much as all the name phrasings together (they say more than a name); a category
    without one uses its names' average in that block.
    """
    blocks = []
    for template in options.templates:
        texts = [template.format(name=n, instruction=instruction).strip() for n in categories.names]
        blocks.append(_unit(encoder.encode_query(texts)))
    weights = [1.0] * len(blocks)
    if categories.descriptions:
        block = _unit(np.mean(blocks, axis=0))
        described = [n for n in categories.names if n in categories.descriptions]
        vecs = _unit(
            encoder.encode_query([f"{n}: {categories.descriptions[n]}" for n in described])
        )
        for n, v in zip(described, vecs, strict=True):
            block[categories.names.index(n)] = v
        blocks.append(block)
        weights.append(float(len(options.templates)))
    w = np.asarray(weights)
    return np.stack(blocks), w / w.sum()


def _refine(X: np.ndarray, yi: np.ndarray, options: ZeroLabelOptions) -> np.ndarray:
    """Shrinkage-LDA self-training: refit on the current labels, relabel, until stable."""
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    labels = yi.copy()
    for _ in range(options.refine_rounds):
        if len(np.unique(labels)) < 2:
            break
        clf = LinearDiscriminantAnalysis(solver="lsqr", shrinkage=options.refine_shrinkage)
        new = clf.fit(X, labels).predict(X)
        if np.array_equal(new, labels):
            break
        labels = new
    return labels


def _neighbours(Xn: np.ndarray, k: int) -> np.ndarray:
    S = Xn @ Xn.T
    np.fill_diagonal(S, -np.inf)
    k = min(k, len(Xn) - 1)
    return np.argpartition(-S, k - 1, axis=1)[:, :k]


def _neighbour_kappa(nb: np.ndarray, labels: np.ndarray) -> float:
    """Chance-corrected share of neighbours with the text's label (0: as for random labels
    of the same class sizes, 1: every neighbour agrees)."""
    agree = float(np.mean(labels[nb] == labels[:, None]))
    shares = np.bincount(labels) / len(labels)
    expected = float(np.sum(shares**2))
    return (agree - expected) / (1.0 - expected) if expected < 1.0 else 0.0


def structure_signals(
    X: np.ndarray,
    labels: np.ndarray,
    per_phrasing: Sequence[np.ndarray],
    similarities: np.ndarray,
    options: ZeroLabelOptions,
    seed: int = 0,
) -> dict[str, Any]:
    """The label-free figures of a zero-shot assignment (see the module docstring)."""
    from sklearn.metrics import adjusted_rand_score

    Xn = _unit(X)
    n_cls = similarities.shape[1]
    nb = _neighbours(Xn, options.neighbours)
    kappa = _neighbour_kappa(nb, labels)
    rng = np.random.default_rng(seed)
    null = []
    for _ in range(options.null_draws):
        anchors = Xn[rng.choice(len(Xn), size=n_cls, replace=False)]
        null.append(_neighbour_kappa(nb, (Xn @ anchors.T).argmax(1)))
    null_mean, null_sd = float(np.mean(null)), float(np.std(null, ddof=1))
    z = (kappa - null_mean) / null_sd if null_sd > 0 else (np.inf if kappa > null_mean else 0.0)
    gain = (kappa - null_mean) / (1.0 - null_mean) if null_mean < 1.0 else 0.0
    top2 = np.sort(similarities, axis=1)[:, -2:]
    pairs = [
        adjusted_rand_score(per_phrasing[i], per_phrasing[j])
        for i in range(len(per_phrasing))
        for j in range(i + 1, len(per_phrasing))
    ]
    return {
        "prototype_margin": round(float(np.mean(top2[:, 1] - top2[:, 0])), 4),
        "phrasing_agreement_ari": round(float(np.mean(pairs)), 4) if pairs else None,
        "neighbour_kappa": round(kappa, 4),
        "null_neighbour_kappa": round(null_mean, 4),
        "null_neighbour_kappa_sd": round(null_sd, 4),
        "structure_z": round(float(z), 2),
        "structure_gain": round(float(gain), 4),
        "has_structure": bool(z >= options.min_structure_z or gain >= options.min_structure_gain),
    }


def pseudo_label(
    instruction: str,
    X: np.ndarray,
    categories: Any,
    encoder: Any,
    *,
    options: ZeroLabelOptions | Mapping[str, Any] | None = None,
    seed: int = 0,
) -> ZeroShot:
    """Pseudo-labels of the texts whose base vectors are ``X``, from category names.

    ``encoder`` must be the base encoder that made ``X`` (the names are embedded with it).
    The returned signals say whether the names carry structure (``has_structure``); the
    labels are returned either way, for inspection.
    """
    opts = ZeroLabelOptions.from_value(options)
    cats = Categories.parse(categories)
    X = np.asarray(X, dtype=np.float64)
    if len(X) < 2 * len(cats.names):
        raise InvalidLabelsError(
            f"{len(X)} texts are too few to find {len(cats.names)} categories in (need at "
            f"least {2 * len(cats.names)})"
        )
    P, weights = category_prototypes(encoder, instruction, cats, opts)
    if P.shape[-1] != X.shape[1]:
        from gst_integrations.core.errors import EncoderMismatchError

        raise EncoderMismatchError(
            f"the encoder makes {P.shape[-1]}-d vectors but the texts' vectors are "
            f"{X.shape[1]}-d: pass the encoder that made them"
        )
    Xn = _unit(X)
    S = Xn @ _unit(np.tensordot(weights, P, axes=1)).T
    first = S.argmax(1)
    per_phrasing = [(Xn @ block.T).argmax(1) for block in P]
    signals = structure_signals(X, first, per_phrasing, S, opts, seed=seed)
    labels = _refine(X, first, opts) if signals["has_structure"] else first
    counts = np.bincount(labels, minlength=len(cats.names))
    signals.update(
        {
            "refined_share_changed": round(float(np.mean(labels != first)), 4),
            "pseudo_label_counts": {n: int(c) for n, c in zip(cats.names, counts, strict=True)},
            "categories": list(cats.names),
            "descriptions": dict(cats.descriptions),
            "n_texts": int(len(X)),
            "options": {**asdict(opts), "templates": list(opts.templates)},
        }
    )
    return ZeroShot(labels=[cats.names[i] for i in labels], signals=signals)
