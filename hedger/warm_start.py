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

# Allocations of tracked objects between two young collections (Python's default: 700).
# A catch-up batch of 2,000 records makes about 15,000 (records, decoded events, the
# merge's tuples), nearly all dead once the batch is handled; at 700 the collector ran
# some twenty times a batch and moved its records, still alive, into the older
# generations, whose collections then walked them again. Measured with
# `benchmarks/service_catch_up.py` on the embedded broker: about a sixth of the service's
# time. A young collection of 50,000 objects takes about a millisecond.
YOUNG_COLLECTION_THRESHOLD = 50_000


def warm_start() -> None:
    """Load the revaluation and band-test kernels, then exempt everything alive (modules,
    caches, settings) from later collections: a full collection then walks only what the
    service allocated since. Young collections run once per `YOUNG_COLLECTION_THRESHOLD`
    allocations."""
    risk.load_kernels()
    band_check.load_kernels()
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])
