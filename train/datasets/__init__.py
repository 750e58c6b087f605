"""Dataset loaders → the common :class:`Sample` format (see ``sample.py``)."""
from .sample import DatasetError, DatasetInfo, Sample, split_samples

__all__ = ["DatasetError", "DatasetInfo", "Sample", "split_samples"]
