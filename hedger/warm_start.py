"""Ready the process for the first tick before `hedger run` starts hedging.

Measured with `benchmarks/tick_to_order.py`: the first tick after a start waited ~300 ms
for numba to initialise itself (the first call of any compiled kernel, even one loaded
from the on-disk cache), and every few seconds a full garbage collection walked the whole
heap — numpy, scipy and numba leave hundreds of thousands of long-lived objects — stalling
the loop 66-128 ms, with every tick meanwhile waiting (p99 +20 to +60 ms over the bare
relay).
"""

from __future__ import annotations

import gc

from hedger.core import band_check, risk


def warm_start() -> None:
    """Load the revaluation and band-test kernels, then exempt everything alive (modules, caches,
    settings) from later collections: a full collection then walks only what the
    service allocated since."""
    risk.load_kernels()
    band_check.load_kernels()
    gc.collect()
    gc.freeze()
