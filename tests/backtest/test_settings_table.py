"""The engine's settings as a report shows them: every leaf by its dotted name, in units a
person reads, nested per-book and per-underlying settings under their key."""

from __future__ import annotations

import datetime as dt

from hedger.backtest.settings_table import settings_rows
from hedger.core.controls import BookLimits, ControlLimits, KillMode
from hedger.core.decisions import BookSetup
from hedger.core.engine import EngineConfig
from hedger.core.plausibility import PlausibilityLimits
from hedger.core.policy import BandPolicy


def test_every_setting_is_a_readable_row() -> None:
    config = EngineConfig(
        policy=BandPolicy(band_shares=100.0, min_interval_ns=1_500_000_000),
        expiry_time=dt.time(15, 30),
        books=(("mm-2", BookSetup(BandPolicy(band_shares=50.0), BookLimits(loss_limit=1e6))),),
        controls=ControlLimits(kill_mode=KillMode.REDUCE_ONLY),
        plausibility=PlausibilityLimits(books=frozenset({"mm-2", "mm-1"})),
        underlyings=frozenset(),
    )
    rows = dict(settings_rows(config))
    assert rows["policy.band_shares"] == "100"
    assert rows["policy.min_interval_ns"] == "1500ms"
    assert rows["policy.target_delta_high"] == "none"
    assert rows["policy.width"] == "shares"  # an enum by its value
    assert rows["expiry_time"] == "15:30:00"
    assert rows["books.mm-2.policy.band_shares"] == "50"
    assert rows["books.mm-2.limits.loss_limit"] == "1,000,000"
    assert rows["books.mm-2.gamma_vega"] == "none"
    assert rows["controls.kill_mode"] == "reduce_only"
    assert rows["controls.guard.move_horizon_ns"] == "4h"
    assert rows["limits.loss_limit"] == "inf"
    assert rows["plausibility.books"] == "mm-1, mm-2"
    assert rows["underlyings"] == "none"
    assert not [value for value in rows.values() if "(" in value or "<" in value], rows
