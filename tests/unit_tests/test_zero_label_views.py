"""Zero-label views: pseudo-labels from category names, the label-free gate, the head.

Synthetic embedding-shaped data: unit vectors with a large common component (as a sentence
encoder's) and one cluster per category. The "encoder" embeds a category phrase near its
cluster when the names mean something for the texts, and in directions unrelated to the
clusters when they do not, which is what happens to "noun"/"verb" on dictionary definitions.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from gst_integrations import fit_head
from gst_integrations.core.encoders.adapters import CallableEncoder
from gst_integrations.core.errors import InvalidLabelsError, ViewFallbackWarning
from gst_integrations.core.heads.zero_label import (
    Categories,
    ZeroLabelOptions,
    pseudo_label,
)
from gst_integrations.core.labels.describe import describe_categories

D = 48
NAMES = ["zoology", "botany", "chemistry", "law"]
INSTRUCTION = "Which subject field is this definition from?"


def _unit(A: np.ndarray) -> np.ndarray:
    return A / np.linalg.norm(A, axis=-1, keepdims=True)


def _corpus(n: int = 320, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vectors, labels, cluster centres): 4 uneven clusters around a shared direction."""
    rng = np.random.default_rng(seed)
    centres = _unit(rng.normal(size=(len(NAMES), D)))
    common = np.zeros(D)
    common[0] = 1.0
    y = rng.choice(len(NAMES), size=n, p=[0.4, 0.3, 0.2, 0.1])
    X = 1.5 * common + centres[y] + rng.normal(scale=0.3, size=(n, D))
    return _unit(X).astype(np.float32), y, centres


class PhraseEncoder(CallableEncoder):
    """Embeds a phrase by the category name it contains: near that category's cluster
    centre (``meaningful``) or in a random direction of its own, plus phrasing noise.
    Records which path (query or document) each call took."""

    def __init__(self, centres: np.ndarray, meaningful: bool = True, seed: int = 1) -> None:
        rng = np.random.default_rng(seed)
        self.targets = centres if meaningful else _unit(rng.normal(size=centres.shape))
        self.rng = np.random.default_rng(seed + 1)
        self.paths: list[str] = []
        common = np.zeros(D)
        common[0] = 1.0
        self.common = common
        super().__init__(self._embed, name="phrase-encoder")

    def _embed(self, texts: list[str]) -> np.ndarray:
        out = []
        for t in texts:
            hits = [i for i, n in enumerate(NAMES) if n in t.lower()]
            base = self.targets[hits[0]] if hits else np.zeros(D)
            out.append(1.5 * self.common + base + self.rng.normal(scale=0.1, size=D))
        return _unit(np.array(out)).astype(np.float32)

    def _encode(self, texts: list[str]) -> np.ndarray:
        self.paths.append("document")
        return self._embed(texts)

    def _encode_query(self, texts: list[str]) -> np.ndarray:
        self.paths.append("query")
        return self._embed(texts)


def test_meaningful_names_give_accurate_pseudo_labels_and_pass_the_gate() -> None:
    X, y, centres = _corpus()
    enc = PhraseEncoder(centres)
    zs = pseudo_label(INSTRUCTION, X, NAMES, enc, seed=0)
    assert zs.has_structure
    assert zs.signals["structure_z"] >= 2.0
    accuracy = np.mean(np.array([NAMES.index(lab) for lab in zs.labels]) == y)
    assert accuracy > 0.85
    # names and descriptions go through the query path only
    assert set(enc.paths) == {"query"}


def test_names_that_mean_nothing_for_the_texts_fail_the_gate() -> None:
    X, _, centres = _corpus()
    zs = pseudo_label(INSTRUCTION, X, NAMES, PhraseEncoder(centres, meaningful=False), seed=0)
    assert not zs.has_structure
    assert zs.signals["structure_z"] < 2.0
    # the null is what random-text partitions reach; these names do not beat it
    assert zs.signals["neighbour_kappa"] < zs.signals["null_neighbour_kappa"] + 0.1


def test_zero_label_head_is_a_view_with_the_signals_on_its_card() -> None:
    X, y, centres = _corpus()
    head = fit_head(INSTRUCTION, X, categories=NAMES, encoder=PhraseEncoder(centres))
    assert not head.fell_back
    assert head.label_names == NAMES
    card = head.card
    assert card["labels_from"] == "categories"
    for key in (
        "prototype_margin",
        "phrasing_agreement_ari",
        "neighbour_kappa",
        "null_neighbour_kappa",
        "structure_z",
        "pseudo_label_counts",
    ):
        assert key in card["zero_shot"]
    # the view separates the categories better than the generic vectors
    Z = head.transform(X)

    def same_vs_other(V: np.ndarray) -> float:
        Vn = _unit(V.astype(np.float64))
        S = Vn @ Vn.T
        same = y[:, None] == y[None, :]
        np.fill_diagonal(same, False)
        other = y[:, None] != y[None, :]
        return float(S[same].mean() - S[other].mean())

    assert same_vs_other(Z) > same_vs_other(X) + 0.05
    assert head.is_linear


def test_zero_label_head_falls_back_to_generic_when_names_carry_no_structure() -> None:
    X, _, centres = _corpus()
    with pytest.warns(ViewFallbackWarning, match="do not match how these texts group"):
        head = fit_head(
            INSTRUCTION, X, categories=NAMES, encoder=PhraseEncoder(centres, meaningful=False)
        )
    assert head.fell_back
    np.testing.assert_allclose(head.transform(X[:5]), X[:5], atol=1e-6)
    assert head.card["zero_shot"]["has_structure"] is False
    assert head.label_names == NAMES


def test_descriptions_are_embedded_with_their_names() -> None:
    X, _, centres = _corpus()
    seen: list[str] = []

    class Recording(PhraseEncoder):
        def _encode_query(self, texts: list[str]) -> np.ndarray:
            seen.extend(texts)
            return super()._encode_query(texts)

    cats = {
        "zoology": "animals and their species",
        "botany": None,
        "chemistry": None,
        "law": "courts and contracts",
    }
    zs = pseudo_label(INSTRUCTION, X, cats, Recording(centres), seed=0)
    assert "zoology: animals and their species" in seen
    assert "law: courts and contracts" in seen
    assert zs.signals["descriptions"] == {
        "zoology": "animals and their species",
        "law": "courts and contracts",
    }
    assert zs.signals["categories"] == NAMES


def test_bad_category_input_is_refused_clearly() -> None:
    X, y, centres = _corpus(n=60)
    enc = PhraseEncoder(centres)
    with pytest.raises(InvalidLabelsError, match="labels or categories"):
        fit_head(INSTRUCTION, X, list(y), categories=NAMES, encoder=enc)
    with pytest.raises(InvalidLabelsError, match="needs the encoder"):
        fit_head(INSTRUCTION, X, categories=NAMES)
    with pytest.raises(InvalidLabelsError, match="at least 2"):
        Categories.parse(["only"])
    with pytest.raises(InvalidLabelsError, match="unique"):
        Categories.parse(["a", "a"])
    with pytest.raises(InvalidLabelsError, match="list of names"):
        Categories.parse("zoology")
    with pytest.raises(InvalidLabelsError, match="too few"):
        pseudo_label(INSTRUCTION, X[:5], NAMES, enc)
    with pytest.raises(InvalidLabelsError, match="pass labels"):
        fit_head(INSTRUCTION, X)
    with pytest.raises(ValueError, match="name"):
        ZeroLabelOptions(templates=("no slot",))


def test_gate_threshold_is_an_option() -> None:
    X, _, centres = _corpus()
    enc = PhraseEncoder(centres, meaningful=False)
    zs = pseudo_label(INSTRUCTION, X, NAMES, enc, options={"min_structure_z": -100.0})
    assert zs.has_structure  # forced through: the caller's decision, recorded
    assert zs.signals["options"]["min_structure_z"] == -100.0


def test_llm_written_descriptions_from_any_callable() -> None:
    answers = {"zoology": "Animals and how they live.\nMore text", "botany": ""}

    def llm(prompt: str) -> str:
        for name, answer in answers.items():
            if f'"{name}"' in prompt:
                return answer
        raise RuntimeError("model down")

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = describe_categories(llm, INSTRUCTION, ["zoology", "botany", "law"])
    # first line only; an empty or failed answer leaves the name alone
    assert out == {"zoology": "Animals and how they live."}


def test_card_summary_reports_the_gate_not_a_probe_on_pseudo_labels() -> None:
    from gst_integrations.core.heads.card import feasibility_summary

    X, _, centres = _corpus()
    head = fit_head(INSTRUCTION, X, categories=NAMES, encoder=PhraseEncoder(centres))
    line = feasibility_summary(head)
    assert line.startswith("zero-label from 4 category names: they group the texts")
    assert "probe accuracy" not in line
    with pytest.warns(ViewFallbackWarning):
        dead = fit_head(
            INSTRUCTION, X, categories=NAMES, encoder=PhraseEncoder(centres, meaningful=False)
        )
    assert feasibility_summary(dead).endswith("-> the view is the generic vectors")


def test_few_clean_clusters_pass_by_the_gain_where_z_understates_them() -> None:
    """Two clean clusters: random-text partitions find them half the time, so the null is
    wide and z small; the names still close most of the way to perfect agreement."""
    rng = np.random.default_rng(3)
    centres = _unit(rng.normal(size=(len(NAMES), D)))
    y = rng.choice([0, 1], size=200, p=[0.7, 0.3])
    common = np.zeros(D)
    common[0] = 1.0
    X = _unit(1.5 * common + centres[y] + rng.normal(scale=0.12, size=(200, D)))
    zs = pseudo_label(INSTRUCTION, X, NAMES[:2], PhraseEncoder(centres), seed=0)
    signals = zs.signals
    assert signals["structure_gain"] >= 0.25 and zs.has_structure
    assert signals["structure_z"] < 2.0  # the z clause alone would have refused them
    accuracy = np.mean(np.array([NAMES.index(lab) for lab in zs.labels]) == y)
    assert accuracy > 0.95
