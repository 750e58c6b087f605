"""The shipped models (``<name>.onnx`` + ``<name>.card.json`` + ``<name>.pt``), installed as package data of
``partkd_stream.engines``; found with ``partkd_stream.card.default_model_path``."""
