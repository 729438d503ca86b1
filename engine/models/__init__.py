"""Encoders per modality kind, fusion and the classifier. Models know nothing of training."""
from engine.models.multimodal import MultimodalModel, Output, build_model  # noqa: F401
