"""One base class for every error a user can cause: CLIs catch ``PartkdError`` and print its one-line message.

Each subclass also keeps the built-in base it always had (``ValueError``, ``RuntimeError``), so code that caught
those keeps working. The message says what is wrong, where (the file, the line, the option) and what to do.
"""
from __future__ import annotations


class PartkdError(Exception):
    """A user-facing error whose ``str`` is one line: what, where, what to do."""
