"""ML-LSTM: "Multi-modal feature fusion based on multi-layers LSTM for video emotion
recognition" (Nie, Yan, Song, Wang, Multimedia Tools and Applications 80(11), 2021).

A definition of ours, not the paper's architecture: only the
paper's abstract was available (an LSTM model over utterances that fuses the modalities'
features inside the learning process) and no code was found, so layer count, widths and the
utterance context are unverified, and the utterance-sequence part cannot apply to datasets of
single samples. Here the modalities' features z_1 ... z_M, in the fixed order of
data.modalities, are a length-M sequence through an L-layer unidirectional LSTM (L =
`method.ml_lstm.layers`, 2; width `hidden`, 0 = d; no dropout between layers); the last
layer's final hidden state goes through a linear classifier (engine/models/fusion.py `lstm`).
The LSTM is not permutation-invariant: the order of data.modalities matters. A modality's
part is the fusion with the other modalities' features set to zero. Trained on the fused
cross-entropy alone. Reproduced numbers are not those of a verified ML-LSTM.
"""
from __future__ import annotations

from engine.methods.base import Method


class MLLSTM(Method):
    """The default hooks: cross-entropy of the LSTM fusion's logits."""
