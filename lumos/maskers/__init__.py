"""Maskers: turn masks over an example's features into model inputs (text, tabular)."""

from .base import Masker, Prepared
from .tabular import TabularMasker
from .text import TextMasker

__all__ = ["Masker", "Prepared", "TextMasker", "TabularMasker"]
