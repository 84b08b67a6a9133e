"""Heads: fitted maps from base vectors into an instruction view, their families, losses,
training, persistence and the store of named heads."""

from gst_integrations.core.heads.card import feasibility_summary
from gst_integrations.core.heads.families import register_head_family
from gst_integrations.core.heads.head import Head, load_head
from gst_integrations.core.heads.losses import MarginContrastiveLoss, SupervisedContrastiveLoss
from gst_integrations.core.heads.options import HeadOptions
from gst_integrations.core.heads.registry import HeadRegistry
from gst_integrations.core.heads.store import HeadStore
from gst_integrations.core.heads.training import fit_head

__all__ = [
    "Head",
    "HeadOptions",
    "HeadRegistry",
    "HeadStore",
    "MarginContrastiveLoss",
    "SupervisedContrastiveLoss",
    "feasibility_summary",
    "fit_head",
    "load_head",
    "register_head_family",
]
