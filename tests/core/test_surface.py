"""VolSurface interpolation: linear in strike per slice, linear total variance in time."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hedger.core.row_kernels import NANOS_PER_DAY
from hedger.core.surface import VolSurface

NOW = 1_700_000_000 * 1_000_000_000
YEAR_NS = 365 * NANOS_PER_DAY
SLICE_1 = NOW + YEAR_NS // 4  # 0.25 years out
SLICE_2 = NOW + YEAR_NS  # 1 year out


def surface() -> VolSurface:
    points = VolSurface()
    points.set_point(SLICE_1, 90.0, 0.30)
    points.set_point(SLICE_1, 110.0, 0.20)
    points.set_point(SLICE_2, None, 0.25)  # a flat slice
    return points


def vols(points: VolSurface, expiries: list[int], strikes: list[float]) -> np.ndarray:
    result = points.vols(NOW, np.array(expiries, dtype=np.int64), np.array(strikes), 365.0)
    assert result is not None
    return result


def test_surface_on_a_slice_is_linear_in_strike_and_flat_beyond() -> None:
    got = vols(surface(), [SLICE_1] * 4, [90.0, 100.0, 80.0, 130.0])

    np.testing.assert_allclose(got, [0.30, 0.25, 0.30, 0.20], rtol=1e-15)


def test_surface_between_slices_interpolates_total_variance_linearly_in_time() -> None:
    middle = NOW + YEAR_NS // 2  # 0.5 years: a third of the way from slice 1 to slice 2

    got = vols(surface(), [middle], [100.0])

    variance_1, variance_2 = 0.25**2 * 0.25, 0.25**2 * 1.0
    expected = math.sqrt((variance_1 + (variance_2 - variance_1) / 3.0) / 0.5)
    assert got[0] == pytest.approx(expected, rel=1e-12)


def test_surface_before_first_and_after_last_slice_keeps_their_vols() -> None:
    got = vols(surface(), [NOW + YEAR_NS // 10, NOW + 3 * YEAR_NS], [90.0, 90.0])

    np.testing.assert_allclose(got, [0.30, 0.25], rtol=1e-15)


def test_surface_ignores_expired_slices_and_says_nothing_without_live_ones() -> None:
    points = surface()
    after_first = SLICE_1 + 1

    got = points.vols(after_first, np.array([SLICE_2], dtype=np.int64), np.array([90.0]), 365.0)
    none = points.vols(SLICE_2, np.array([SLICE_2], dtype=np.int64), np.array([90.0]), 365.0)

    assert got is not None
    assert got[0] == pytest.approx(0.25)
    assert none is None
    assert points.live(NOW)
    assert not points.live(SLICE_2)


def test_surface_later_point_replaces_earlier_and_flat_slice_replaces_smile() -> None:
    points = surface()
    points.set_point(SLICE_1, 90.0, 0.40)
    assert vols(points, [SLICE_1], [90.0])[0] == pytest.approx(0.40)

    points.set_point(SLICE_1, None, 0.22)

    np.testing.assert_allclose(vols(points, [SLICE_1] * 2, [90.0, 110.0]), [0.22, 0.22])
