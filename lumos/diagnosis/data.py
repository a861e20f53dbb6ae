"""Labelled data for diagnosis and global explanations: a zoo dataset (text or table) or a CSV file.

Loading lives in :mod:`lumos.zoo.data`; the names are kept here for code that imports them from this module.
"""

from __future__ import annotations

from ..zoo.data import Labelled, load_labelled

__all__ = ["Labelled", "load_labelled"]
