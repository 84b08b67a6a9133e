"""A view with no labels fitted from a LlamaIndex index's own vectors, served by its retriever."""

from __future__ import annotations

import warnings

from gst_integrations.core.errors import GSTWarning
from gst_integrations.llama_index import GSTRetriever, fit_view

NAMES = ["ADHD", "Acne", "Anxiety", "Bipolar Disorder", "Birth Control", "Depression",
         "Diabetes, Type 2", "Insomnia", "Obesity", "Pain", "Vaginal Yeast Infection"]  # fmt: skip


def test_zero_label_view_from_an_index(li_index) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GSTWarning)  # a fall-back is a valid outcome here
        head = fit_view("Which condition is the patient treating?", li_index, categories=NAMES)
    zs = head.card["zero_shot"]
    assert head.card["labels_from"] == "categories" and head.label_names == NAMES
    assert zs["n_texts"] == 200 and zs["has_structure"] == (not head.fell_back)
    # the index's embed model embedded the names: the head records that encoder
    assert head.card["encoder_known"]
    nodes = GSTRetriever.from_index(li_index, {"condition": head}, similarity_top_k=5).retrieve(
        "my acne cleared up after two months on this cream"
    )
    assert len(nodes) == 5
