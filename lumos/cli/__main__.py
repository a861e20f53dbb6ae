"""``python -m lumos.cli``: the ``lumos`` command."""

from . import main

main()
