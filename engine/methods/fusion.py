"""The fusion baselines of the LFM paper's Table 1, trained on the cross-entropy of the fused
prediction alone (alpha fixed at 0, no matching loss computed); the fusion itself lives in
engine/models/fusion.py.

- concat: concatenation of the modalities' features, one linear classifier.
- sum: a linear head per modality, the logits added.
- weight: a linear head per modality, mixed by learned modality weights.
- film: FiLM, "Feature-wise Linear Modulation" (Perez, Strub, de Vries, Dumoulin, Courville,
  AAAI 2018), the paper's "Affine" baseline.
- gated: gated fusion, as in "Balanced Multimodal Learning via On-the-fly Gradient Modulation"
  (Peng et al., CVPR 2022) after Kiela et al., "Efficient Large-Scale Multi-Modal
  Classification" (AAAI 2018).
"""
from __future__ import annotations

from engine.methods.base import Method


class FusionBaseline(Method):
    """L_CLS of the fused prediction; `name` is the fusion it sets (engine/contract/method_registry.py)."""
