"""The `sentinel` command exposes each part's command group."""

from __future__ import annotations

import subprocess
import sys

import typer
from typer.testing import CliRunner

from sentinel_cli.main import COMMANDS, app


def test_help_lists_the_command_groups() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "stack" in result.output and "topics" in result.output


def test_stack_help_lists_up_down_status() -> None:
    result = CliRunner().invoke(app, ["stack", "--help"])
    assert result.exit_code == 0
    for command in ("up", "down", "status"):
        assert command in result.output


def test_a_group_imports_only_its_own_part() -> None:
    """Every service start pays the CLI's import: `sentinel stack` must not import the model
    (xgboost, pandas), faust or the web frameworks. A fresh interpreter, so this process's
    own imports do not count."""
    probe = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from sentinel_cli.main import app\n"
        "assert CliRunner().invoke(app, ['stack', '--help']).exit_code == 0\n"
        "print(' '.join(m for m in ('xgboost', 'pandas', 'faust', 'fastapi', 'starlette')"
        " if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_every_command_loads_under_its_name() -> None:
    """Each entry of the lazy table names a command or group that loads, named as listed."""
    root = typer.main.get_command(app)
    ctx = root.context_class(root)
    names = root.list_commands(ctx)
    assert names[: len(COMMANDS)] == list(COMMANDS)
    for name in COMMANDS:
        command = root.get_command(ctx, name)
        assert command is not None and command.name == name, name
        assert command.help, f"{name} has no help"
