"""Each modality alone: one encoder and a linear classifier trained on one modality (the
recipe's method.modality); the other modalities' inputs are loaded but unused. The reference
row "best single modality" of the LFM paper's Table 1 comparison."""
from __future__ import annotations

from engine.methods.base import Method


class Unimodal(Method):
    """The default hooks: cross-entropy of the one modality's classifier."""
