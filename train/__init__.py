"""Research side of partkd-stream: datasets, degradation, losses, training loops, engine building.

``train/lib/`` holds the library, ``train/datasets/`` the dataset loaders, ``train/*.py`` the commands (``python -m
train`` lists them), ``train/studies/`` the one-off studies. It imports ``partkd_stream`` for layouts,
preprocessing and models (one implementation of each); ``partkd_stream`` never imports it.
"""
