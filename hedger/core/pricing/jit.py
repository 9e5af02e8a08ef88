"""The compiler for pricing loops, and the standard normal functions they share.

numba compiles the scalar loops to machine code on first use and caches the result next
to the source (``cache=True``), so a second process starts without compiling.

The normal distribution function is W. J. Cody's rational approximation of erf and erfc
with the coefficients of the Cephes library (S. L. Moshier; as in SciPy's ``ndtr``).
Relative error: below 5e-14 for |x| < 10, below 1e-12 down to the smallest normal doubles
(tests/core/test_normal.py checks it against the C library's erfc). Outside the centre it
is the density times a rational function, so a caller that already has φ(x) passes it
(`norm_cdf_given_pdf`) instead of paying for a second exponential: the pricing kernels'
cost is mostly exponentials.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba

Function = TypeVar("Function", bound=Callable[..., Any])

INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_PI = math.sqrt(math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
# |x|/√2 below this: N(x) = (1 + erf(x/√2))/2, with erf(y) = y·T(y²)/U(y²).
_CENTRE = 1.0
# Above it: erfc(y) = e^{−y²}·P(y)/Q(y) up to _FAR, e^{−y²}·R(y)/S(y) beyond (Cephes ndtr).
_FAR = 8.0


def jit(function: Function) -> Function:
    """Compile `function` in nopython mode, cached on disk. IEEE semantics: no fastmath, and
    division by zero gives inf or nan (numpy's error model) rather than raising.

    With no directory numba may write (a read-only install, no writable home, and no
    NUMBA_CACHE_DIR: a container run as an unexpected uid), numba refuses to cache; the
    kernels then compile in each process, slower to start but the same code."""
    try:
        compiled = numba.njit(cache=True, error_model="numpy")(function)
    except RuntimeError:  # "cannot cache function ...: no locator available for file ..."
        _warn_uncached()
        compiled = numba.njit(error_model="numpy")(function)
    return cast(Function, compiled)


def _warn_uncached() -> None:
    # One text from one line: Python's default filter shows it once, not once per kernel.
    warnings.warn(
        "numba has no directory it may write: the compiled kernels are not cached and each"
        " start compiles them; NUMBA_CACHE_DIR names a directory to cache them in",
        RuntimeWarning,
        stacklevel=1,
    )


@jit
def norm_pdf(x: float) -> float:
    """Standard normal density."""
    return INV_SQRT_2PI * math.exp(-0.5 * x * x)


@jit
def norm_cdf(x: float) -> float:
    """Standard normal cumulative distribution, accurate in both tails."""
    if abs(x) * _INV_SQRT_2 < _CENTRE:
        return _central_cdf(x)
    return _tail_cdf(x, norm_pdf(x))


@jit
def norm_cdf_given_pdf(x: float, density: float) -> float:
    """`norm_cdf(x)` for a caller that has ``density`` = φ(x) already: no exponential."""
    if abs(x) * _INV_SQRT_2 < _CENTRE:
        return _central_cdf(x)
    return _tail_cdf(x, density)


@jit
def _central_cdf(x: float) -> float:
    y = x * _INV_SQRT_2
    z = y * y
    numerator = (
        ((9.60497373987051638749e0 * z + 9.00260197203842689217e1) * z + 2.23200534594684319226e3)
        * z
        + 7.00332514112805075473e3
    ) * z + 5.55923013010394962768e4
    denominator = (
        (
            ((z + 3.35617141647503099647e1) * z + 5.21357949780152679795e2) * z
            + 4.59432382970980127987e3
        )
        * z
        + 2.26290000613890934246e4
    ) * z + 4.92673942608635921086e4
    return 0.5 + 0.5 * y * numerator / denominator


@jit
def _tail_cdf(x: float, density: float) -> float:
    """N(x) for |x|/√2 >= 1 from φ(x): N(−|x|) = ½ erfc(|x|/√2) = ½ √π · √2 φ(x) · P/Q."""
    y = abs(x) * _INV_SQRT_2
    if y < _FAR:
        numerator = (
            (
                (
                    (
                        (
                            (
                                (2.46196981473530512524e-10 * y + 5.64189564831068821977e-1) * y
                                + 7.46321056442269912687e0
                            )
                            * y
                            + 4.86371970985681366614e1
                        )
                        * y
                        + 1.96520832956077098242e2
                    )
                    * y
                    + 5.26445194995477358631e2
                )
                * y
                + 9.34528527171957607540e2
            )
            * y
            + 1.02755188689515710272e3
        ) * y + 5.57535335369399327526e2
        denominator = (
            (
                (
                    (
                        (
                            ((y + 1.32281951154744992508e1) * y + 8.67072140885989742329e1) * y
                            + 3.54937778887819891062e2
                        )
                        * y
                        + 9.75708501743205489753e2
                    )
                    * y
                    + 1.82390916687909736289e3
                )
                * y
                + 2.24633760818710981792e3
            )
            * y
            + 1.65666309194161350182e3
        ) * y + 5.57535340817727675546e2
    else:
        numerator = (
            (
                (
                    (5.64189583547755073984e-1 * y + 1.27536670759978104416e0) * y
                    + 5.01905042251180477414e0
                )
                * y
                + 6.16021097993053585195e0
            )
            * y
            + 7.40974269950448939160e0
        ) * y + 2.97886665372100240670e0
        denominator = (
            (
                (
                    ((y + 2.26052863220117276590e0) * y + 9.39603524938001434673e0) * y
                    + 1.20489539808096656605e1
                )
                * y
                + 1.70814450747565897222e1
            )
            * y
            + 9.60896809063285878198e0
        ) * y + 3.36907645100081516050e0
    # e^{−y²} = √(2π) φ(x), so ½ erfc(y) = √(π/2)·φ(x)·P/Q… with √(2π)/2 = √π/√2.
    tail = _SQRT_PI * _INV_SQRT_2 * density * numerator / denominator
    return tail if x < 0.0 else 1.0 - tail
