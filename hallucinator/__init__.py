"""Hallucinator: dream 360° images and video with DeepDream, and play them back."""

__version__ = "0.1.0"
