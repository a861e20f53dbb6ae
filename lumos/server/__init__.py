"""The local web UI (``lumos serve``): a FastAPI application with a JSON API under ``/api/`` and a static page
(plain HTML, CSS and ES modules shipped in ``lumos/server/static``, no network needed).

>>> from lumos.server import create_app                       # doctest: +SKIP
>>> app = create_app(["tweets-sentiment"], token="secret")     # doctest: +SKIP

The server layer is on top: it may import anything in lumos; nothing in lumos imports it.
"""

from .app import CSP, create_app
from .service import Limits
from .work import Jobs, QueueFull, WorkQueue

__all__ = ["create_app", "Limits", "WorkQueue", "Jobs", "QueueFull", "CSP"]
