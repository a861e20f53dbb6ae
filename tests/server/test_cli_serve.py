"""`lumos serve` on the command line: safe defaults, refused unsafe binds, the printed URL with its token."""

from __future__ import annotations

from click.testing import CliRunner

from lumos.cli import main


def test_serve_help_names_the_options():
    """`lumos serve --help` lists the model, data, host, port, store, remote and base-url options."""
    out = CliRunner().invoke(main, ["serve", "--help"]).output
    for option in ("--model", "--data", "--host", "--port", "--store", "--allow-remote", "--base-url"):
        assert option in out
    assert "127.0.0.1" in out and "8765" in out


def test_serve_refuses_a_public_bind_without_allow_remote():
    """Binding 0.0.0.0 without --allow-remote is an error (exit 2) that points at the SSH tunnel."""
    result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "--allow-remote" in result.output and "ssh -L" in result.output
