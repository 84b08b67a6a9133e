"""Offline evaluation datasets (installed as packages, never downloaded at run time)."""

from gst_integrations.evaluation.datasets.bbc_news import load_bbc_news
from gst_integrations.evaluation.datasets.dataset import LabelledCorpus
from gst_integrations.evaluation.datasets.drug_reviews import load_drug_reviews
from gst_integrations.evaluation.datasets.gcide_two_facet import load_gcide_two_facet

DATASETS = {
    "drug-reviews": load_drug_reviews,
    "bbc-news": load_bbc_news,
    "gcide-two-facet": load_gcide_two_facet,
}

__all__ = [
    "DATASETS",
    "LabelledCorpus",
    "load_bbc_news",
    "load_drug_reviews",
    "load_gcide_two_facet",
]
