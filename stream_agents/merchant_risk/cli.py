"""`sentinel merchant-risk run [--once] [--hour ...]`: the hourly merchant-risk job."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime
from types import FrameType
from typing import Annotated

import typer

from decision_core.features.merchant import HOUR_MS
from schemas.secrets import refuse_default_secrets

merchant_risk_app = typer.Typer(
    help="Merchant-risk features: computed hourly from the ledger, published for the agents.",
    no_args_is_help=True,
)
HOUR_FORMATS = ["%Y-%m-%dT%H", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]


def _stop_on_signals(stopping: threading.Event) -> None:
    def handler(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


@merchant_risk_app.command("run")
def run(
    once: Annotated[bool, typer.Option(help="Compute and publish one hour, then exit.")] = False,
    hour: Annotated[
        datetime | None,
        typer.Option(formats=HOUR_FORMATS, help="With --once: the UTC hour (default: now's)."),
    ] = None,
) -> None:
    """Publish every merchant's risk for the current hour, then again at each top of the hour."""
    from stream_agents.merchant_risk.job import MerchantRiskJob, MerchantRiskSettings

    settings = MerchantRiskSettings()
    refuse_default_secrets(settings.kafka, settings.postgres)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    if hour is not None and not once:
        raise typer.BadParameter("--hour needs --once", param_hint="--hour")
    job = MerchantRiskJob(settings)
    try:
        if once:
            moment = (hour.replace(tzinfo=UTC) if hour.tzinfo is None else hour) if hour else None
            at = moment or datetime.now(UTC)
            report = job.run_hour(int(at.timestamp() * 1000) // HOUR_MS)
            typer.echo(
                f"hour {report.hour.isoformat()}: {report.published} merchants published, "
                f"{report.tombstones} tombstones, {report.seconds:.2f} s"
            )
            return
        stopping = threading.Event()
        _stop_on_signals(stopping)
        job.run(stopping)
    finally:
        job.close()
