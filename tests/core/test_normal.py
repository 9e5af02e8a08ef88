"""The normal distribution function of the pricing kernels against the C library's erfc.

`hedger.core.pricing.jit.norm_cdf` is Cody's rational approximation (Cephes coefficients),
evaluated from the density outside the centre; the reference is Python's `math.erfc`
(the platform's C library, an independent implementation): N(x) = erfc(−x/√2)/2.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from hedger.core.pricing.jit import norm_cdf, norm_cdf_given_pdf, norm_pdf

# Every branch (centre |x| < √2, tail up to 8√2, far tail) and both signs, down to the
# smallest normal doubles N(x) reaches (x ≈ −37.5).
GRID = np.concatenate([np.linspace(-37.5, 9.0, 40_001), [-1.4142135, 1.4142136, -11.31, 11.32]])


def reference(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def test_norm_cdf_whole_range_within_1e_12_relative_of_erfc():
    worst = max(abs(norm_cdf(x) - reference(x)) / reference(x) for x in GRID.tolist())
    assert worst < 1e-12


def test_norm_cdf_moderate_arguments_within_5e_14_relative_of_erfc():
    # Where prices live (|x| < 10): the error of e^{−x²/2} grows like x²/2 units in the
    # last place, 1.6e-14 at |x| ≈ 10.
    worst = max(
        abs(norm_cdf(x) - reference(x)) / reference(x) for x in GRID.tolist() if abs(x) < 10
    )
    assert worst < 5e-14


@pytest.mark.parametrize("x", [-30.0, -8.0, -1.5, -0.3, 0.0, 0.7, 2.0, 12.0])
def test_norm_cdf_given_pdf_equals_norm_cdf(x):
    assert norm_cdf_given_pdf(x, norm_pdf(x)) == norm_cdf(x)


def test_norm_cdf_extremes_are_exact_limits():
    assert norm_cdf(-40.0) >= 0.0
    assert norm_cdf(40.0) == 1.0
    assert norm_cdf(0.0) == 0.5
