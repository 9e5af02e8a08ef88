"""Pricing kernels: compiled scalar loops over option arrays, no validation inside.

* `jit`: the numba decorator used here (typed for mypy), the normal cdf and density.
* `european`: generalized Black-Scholes-Merton (dividend yield / cost of carry; Black-76
  is the case carry = 0) with nine outputs per option.
* `american`: American exercise by the Andersen-Lake-Offengelt fixed-point method.
* `implied_vol`: implied volatility from a price, with arbitrage bounds.

Callers validate once (at booking, in `hedger.core.greeks`) and then call these kernels
on the hot path. Units of every output are those of `hedger.core.greeks`.
"""
