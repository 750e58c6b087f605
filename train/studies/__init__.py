"""One-off studies: each a thin command over ``train.lib`` that produced a table of the documentation.

Run as ``python -m train.studies.NAME …`` or ``python train/studies/NAME.py …`` from the repository root.
"""
