"""What a user would type as category names, and one-line descriptions, per dataset facet.

Zero-label views are fitted from an instruction and category names only. A user names
categories in words; the datasets' labels are sometimes codes or cut short ("Zool",
"Bipolar Disorde"), so the evaluation maps each label to the name a person would write.
The descriptions are one plain sentence per category, written once from general knowledge
of each field (not from the texts or the results), as a user might write them.

A facet with no entry here uses its label values as names (``gst eval --data``: your
labels are your names).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["category_descriptions", "category_names"]

#: dataset -> facet -> label -> name (only where the label is not already a name)
NAMES: dict[str, dict[str, dict[str, str]]] = {
    "drug-reviews": {"condition": {"Bipolar Disorde": "Bipolar Disorder"}},
    "gcide-two-facet": {
        "field": {
            "Zool": "Zoology",
            "Bot": "Botany",
            "Chem": "Chemistry",
            "Med": "Medicine",
            "Anat": "Anatomy",
            "Law": "Law",
            "Naut": "Nautical",
            "Biol": "Biology",
        }
    },
}

#: dataset -> facet -> label -> description
DESCRIPTIONS: dict[str, dict[str, dict[str, str]]] = {
    "drug-reviews": {
        "condition": {
            "Birth Control": "preventing pregnancy with contraceptives such as the pill, an "
            "implant, an IUD or a patch",
            "Depression": "persistent low mood, sadness and loss of interest, treated with "
            "antidepressants",
            "Pain": "relief of acute or chronic pain, such as back pain, an injury or pain "
            "after surgery",
            "Acne": "pimples, breakouts and blemishes on the skin of the face or body",
            "Anxiety": "excessive worry, nervousness and panic attacks",
            "Bipolar Disorde": "mood swings between mania and depression",
            "Obesity": "losing weight and controlling appetite",
            "ADHD": "attention deficit hyperactivity disorder: trouble focusing and hyperactivity",
            "Diabetes, Type 2": "high blood sugar managed with diabetes medication",
            "Insomnia": "trouble falling asleep or staying asleep",
            "Vaginal Yeast Infection": "itching and discharge from a fungal (yeast) infection "
            "of the vagina",
        },
        "rating": {
            "positive": "the patient is satisfied: the drug worked well with few side effects",
            "neutral": "the patient has mixed feelings: some benefit but also drawbacks",
            "negative": "the patient is dissatisfied: the drug did not work or had bad side "
            "effects",
        },
    },
    "gcide-two-facet": {
        "field": {
            "Zool": "animals: their species, classification, anatomy and behaviour",
            "Bot": "plants: their species, parts and classification",
            "Chem": "chemical elements, compounds, reactions and substances",
            "Med": "diseases, their symptoms and medical treatment",
            "Anat": "the structure and parts of the human or animal body",
            "Law": "legal terms, rights, courts and contracts",
            "Naut": "ships, sailing and seamanship",
            "Biol": "living organisms, cells and life processes in general",
        },
        "pos": {
            "noun": "a word that names a person, place, thing or idea",
            "verb": "a word that describes an action, occurrence or state",
            "adjective": "a word that describes a quality of a noun",
        },
    },
    "bbc-news": {
        "topic": {
            "business": "companies, markets, the economy and finance",
            "entertainment": "film, music, television and celebrities",
            "politics": "government, elections and political parties",
            "sports": "sports, matches, players and competitions",
            "tech": "computers, the internet, gadgets and technology companies",
        }
    },
}


def category_names(dataset: str, facet: str, labels: Sequence[str]) -> dict[str, str]:
    """label -> the category name a user would give, for every distinct label."""
    mapping = NAMES.get(dataset, {}).get(facet, {})
    return {str(lab): mapping.get(str(lab), str(lab)) for lab in sorted(set(map(str, labels)))}


def category_descriptions(dataset: str, facet: str) -> dict[str, str]:
    """label -> description (empty when the facet has none)."""
    return dict(DESCRIPTIONS.get(dataset, {}).get(facet, {}))
