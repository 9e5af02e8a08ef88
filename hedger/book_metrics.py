"""The engine's books and controls as metrics: set after each batch and each rebuild."""

from __future__ import annotations

from hedger.adapters.metrics import Metrics
from hedger.core.engine import HedgeEngine


def record_books(metrics: Metrics, engine: HedgeEngine) -> None:
    metrics.record_exposures(engine.exposures())
    metrics.record_pnl(engine.pnl.now())


def record_controls(metrics: Metrics, engine: HedgeEngine) -> None:
    controls = engine.controls
    switches = controls.switches
    metrics.record_controls(switches.kill, switches.latched, engine.books())
    metrics.record_price_blocks(controls.guard.blocked())
