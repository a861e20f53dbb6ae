"""Maskers: turn masks over an example's features into model inputs (text, tabular, image)."""

from .base import Masker, Prepared
from .image import ImageMasker
from .tabular import TabularMasker
from .text import TextMasker

__all__ = ["Masker", "Prepared", "TextMasker", "TabularMasker", "ImageMasker"]
