"""partkd-stream: real-time action recognition from low-quality skeletons, by part-level knowledge distillation."""
__version__ = "0.1.0"
