"""The fraudsim command groups, registered on the `sentinel` command in one call.

Heavy imports (numpy, pyarrow, xgboost, matplotlib) happen inside the commands, so
registering costs the other `sentinel` commands nothing at start-up.
"""

from __future__ import annotations

import typer

from fraudsim.importing.cli import import_command
from fraudsim.registry_cli import models_app
from fraudsim.score.cli import score_command
from fraudsim.simulate.cli import simulate_app
from fraudsim.train.cli import train_command


def register(app: typer.Typer) -> None:
    app.add_typer(simulate_app, name="simulate")
    app.command("import")(import_command)
    app.command("train")(train_command)
    app.command("score")(score_command)
    app.add_typer(models_app, name="models")
