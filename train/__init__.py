"""Research side of partkd-stream: datasets, degradation, losses, training loops, engine building.

Imports ``partkd_stream`` for layouts, preprocessing and models (one implementation of each); never the reverse.
"""
