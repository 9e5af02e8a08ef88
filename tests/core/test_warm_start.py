"""`warm_start` readies a fresh process: the engine's first tick compiles nothing more."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# Run in a fresh interpreter: this test process has long since loaded the kernels.
_SCRIPT = textwrap.dedent(
    """
    import gc
    from hedger.core.delta_path import _delta_bounds, _deltas_along
    from hedger.core.engine import EngineConfig, HedgeEngine
    from hedger.core.policy import BandPolicy
    from hedger.core.row_kernels import revalue_american, revalue_european
    from hedger.warm_start import warm_start
    from tests.scenarios import market_maker as mm

    kernels = (revalue_european, revalue_american, _deltas_along, _delta_bounds)
    before = [len(kernel.signatures) for kernel in kernels]
    warm_start()
    warmed = [len(kernel.signatures) for kernel in kernels]
    frozen = gc.get_freeze_count()
    young = gc.get_threshold()[0]
    engine = HedgeEngine(EngineConfig(policy=BandPolicy(band_shares=100, lot_size=1)))
    engine.handle(mm.vol())
    engine.handle(mm.client_buys_calls())
    engine.handle(mm.tick(100.0, 0))
    # A run of ticks long enough for the band test's bound (the fast path of a catch-up).
    ticks = [mm.tick(100.0 + step / 100, step) for step in range(1, 60)]
    engine.handle_ticks(ticks)
    after = [len(kernel.signatures) for kernel in kernels]
    print(before, warmed, after, frozen > 0, young)
    """
)


def test_warm_start_loads_the_kernels_a_tick_uses_freezes_the_heap_and_spaces_collections():
    shown = subprocess.run(
        [sys.executable, "-c", _SCRIPT], capture_output=True, text=True, timeout=120, check=True
    )
    assert shown.stdout.split("\n")[0] == "[0, 0, 0, 0] [1, 1, 1, 1] [1, 1, 1, 1] True 50000"
