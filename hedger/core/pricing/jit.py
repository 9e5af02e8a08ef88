"""The compiler for pricing loops, and the standard normal functions they share.

numba compiles the scalar loops to machine code on first use and caches the result next
to the source (``cache=True``), so a second process starts without compiling.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba

Function = TypeVar("Function", bound=Callable[..., Any])

INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)


def jit(function: Function) -> Function:
    """Compile `function` in nopython mode, cached on disk. IEEE semantics: no fastmath, and
    division by zero gives inf or nan (numpy's error model) rather than raising."""
    return cast(Function, numba.njit(cache=True, nogil=True, error_model="numpy")(function))


@jit
def norm_cdf(x: float) -> float:
    """Standard normal cumulative distribution, accurate in both tails (via erfc)."""
    return 0.5 * math.erfc(-x * _INV_SQRT_2)


@jit
def norm_pdf(x: float) -> float:
    """Standard normal density."""
    return INV_SQRT_2PI * math.exp(-0.5 * x * x)
