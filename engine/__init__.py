"""The training engine of LFM (Yang et al., NeurIPS 2024) and its baselines."""
__version__ = "0.1.0"
