"""``lumos serve``: the local web UI (Explain, Generate, Data, Compare, Feedback) on 127.0.0.1, with a random
access token in the printed URL."""

from __future__ import annotations

import secrets

import click

from ..errors import InvalidArgumentError
from ._common import DEFAULT_MODEL, friendly_errors
from .feedback import STORE_HELP


@click.command()
@click.option("--model", "-m", "models", multiple=True, metavar="NAME|PATH",
              help=f"Model to serve (repeatable): a zoo name, a model directory, or NAME@SPEC for a compressed copy "
                   f"(e.g. {DEFAULT_MODEL}@int8). [default: {DEFAULT_MODEL}]")
@click.option("--data", default=None, metavar="DATA",
              help="The Data view's dataset: a zoo dataset, or a CSV or Parquet file with a 'label' column. "
                   "[default: each model's zoo dataset]")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535), help="Port to bind (0: any free port).")
@click.option("--store", "store_path", default=None, metavar="PATH", help=STORE_HELP)
@click.option("--token", default=None, help="Access token. [default: a random one, printed in the URL]")
@click.option("--allow-remote", is_flag=True,
              help="Accept requests whatever their Host header (serving other machines on purpose).")
@click.option("--base-url", default="", metavar="PREFIX",
              help="Path prefix when a proxy serves the UI under one (e.g. /lumos); the printed URL uses it.")
@friendly_errors
def serve(models: tuple[str, ...], data: str | None, host: str, port: int, store_path: str | None,
          token: str | None, allow_remote: bool, base_url: str) -> None:
    """Serve the local web UI: explain inputs with several methods side by side, page through a dataset, compare
    two models, generate with a language model, and record feedback."""
    try:
        import uvicorn
    except ImportError:
        raise InvalidArgumentError("`lumos serve` needs the 'serve' extra: pip install 'lumos[serve]'.") from None
    from ..server import create_app

    if host not in ("127.0.0.1", "localhost", "::1") and not allow_remote:
        raise InvalidArgumentError(f"The '--host' {host!r} exposes the server to other machines; add --allow-remote "
                                   "to do so on purpose, or use an SSH tunnel (ssh -L 8765:127.0.0.1:8765 HOST).")
    token = token or secrets.token_urlsafe(24)
    prefix = "/" + base_url.strip("/") if base_url.strip("/") else ""
    app = create_app(list(models) or [DEFAULT_MODEL], token=token, data=data, store=store_path,
                     allow_remote=allow_remote)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, root_path=prefix)
    server = uvicorn.Server(config)

    def announce() -> None:
        bound = server.servers[0].sockets[0].getsockname()[1] if server.servers else port
        shown = host if ":" not in host else f"[{host}]"
        click.echo(f"lumos serve: {', '.join(app.state.models.adapters)} ready at "
                   f"http://{shown}:{bound}{prefix}/?token={token}", err=False)

    original = server.startup

    async def startup(sockets=None):  # type: ignore[no-untyped-def]
        await original(sockets=sockets)
        announce()

    server.startup = startup  # type: ignore[method-assign]
    server.run()
