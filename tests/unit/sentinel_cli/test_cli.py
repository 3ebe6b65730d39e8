"""The `sentinel` command exposes each part's command group."""

from __future__ import annotations

from typer.testing import CliRunner

from sentinel_cli.main import app


def test_help_lists_the_command_groups() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "stack" in result.output and "topics" in result.output


def test_stack_help_lists_up_down_status() -> None:
    result = CliRunner().invoke(app, ["stack", "--help"])
    assert result.exit_code == 0
    for command in ("up", "down", "status"):
        assert command in result.output
