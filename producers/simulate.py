"""Market simulator: seeded price paths with bid/ask, vol messages and client option flow.

Presets (models in `producers.models`; annual figures, calendar time ACT/365):

* calm: GBM, drift 0, vol 12%;
* volatile: Heston, vol 35% (variance 0.1225 now and long-run), mean reversion 4, vol of
  variance 0.9, correlation −0.7;
* crash-with-gap: Merton, vol 25%, 12 jumps a year of −3% ± 4%; halfway through, a −12%
  gap, after which the diffusive vol is 1.8 times as high;
* trending: GBM, drift +150% a year, vol 18%.

A session of `days` has a tick every `tick_seconds` (around the clock: the engine's time to
expiry is calendar time): bid and ask are the mid ∓ `half_spread`, rounded to the
`tick_size` grid (at least one tick apart). A vol message goes out at the start and every
`vol_interval_s` with the model's current volatility (Heston: √v; Merton: its total
volatility including jumps). `trades` client option trades (`producers.option_flow`) land at
uniform random times, or all at the start with `trades_at="start"`, priced at the mid and
vol of their moment. Path `i` of seed `s` is the same whatever else is simulated: the
market and the flow draw from their own streams of `SeedSequence(s).spawn(...)`.

    python -m producers.simulate --preset crash-with-gap --days 2 --seed 4 --out crash.jsonl
    python -m producers.simulate --preset volatile --bootstrap HOST:PORT --speed 600
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np

from hedger.codec import encode_fill, encode_tick, encode_vol
from hedger.console import add_debug_argument, run_command
from hedger.core.events import FillReport, PriceTick, VolUpdate
from producers.models import GeometricBrownianMotion, Heston, MertonJumpDiffusion, Model
from producers.option_flow import OptionFlow, client_trade, monthly_expiries, named_by_draw
from producers.publish import PublishOptions, ReplayStats, publish
from producers.routing import ReplayTopics, route_line
from producers.timestamps import parse_timestamp

SimulatedEvent = PriceTick | VolUpdate | FillReport
_NS_PER_S = 1_000_000_000
_SECONDS_PER_YEAR = 365 * 86_400
DEFAULT_START = "2026-11-20T14:30:00Z"


@dataclass(frozen=True, slots=True)
class Preset:
    """A market model, optionally with a one-off gap (a log move) at a fraction of the
    session, after which the model's volatility is scaled."""

    model: Model
    gap: float = 0.0
    gap_at: float = 0.5
    post_gap_vol_scale: float = 1.0


PRESETS = {
    "calm": Preset(GeometricBrownianMotion(drift=0.0, vol=0.12)),
    "volatile": Preset(Heston(0.0, 0.35**2, 0.35**2, 4.0, 0.9, -0.7)),
    "crash-with-gap": Preset(
        MertonJumpDiffusion(
            drift=0.0, vol=0.25, jump_intensity=12.0, jump_mean=-0.03, jump_vol=0.04
        ),
        gap=math.log(0.88),
        post_gap_vol_scale=1.8,
    ),
    "trending": Preset(GeometricBrownianMotion(drift=1.5, vol=0.18)),
}


@dataclass(frozen=True, slots=True)
class Session:
    """One simulated underlying over a session; see the module docstring."""

    symbol: str = "XYZ"
    spot: float = 100.0
    start_ns: int = field(default_factory=lambda: parse_timestamp(DEFAULT_START))
    days: float = 5.0
    tick_seconds: float = 60.0
    half_spread: float = 0.01
    tick_size: float = 0.01
    vol_interval_s: float = 3600.0
    trades: int = 20
    trades_at: str = "random"
    rate: float = 0.0
    strike_step: float = 5.0

    def __post_init__(self) -> None:
        valid = self.spot > 0 and self.days > 0 and self.tick_seconds > 0 and self.tick_size > 0
        if not (valid and self.half_spread >= 0 and self.vol_interval_s > 0 and self.trades >= 0):
            raise ValueError(f"invalid session {self}")
        if self.trades_at not in ("random", "start"):
            raise ValueError(f"trades_at must be 'random' or 'start', got {self.trades_at!r}")

    @property
    def steps(self) -> int:
        return max(1, round(self.days * 86_400 / self.tick_seconds))

    @property
    def dt_years(self) -> float:
        return self.tick_seconds / _SECONDS_PER_YEAR

    def tick_ns(self, step: int) -> int:
        return self.start_ns + round(step * self.tick_seconds * _NS_PER_S)


def path_streams(seed: int, path: int) -> tuple[np.random.Generator, np.random.Generator]:
    """The market's and the option flow's generators for path `path` of `seed`."""
    market, flow = np.random.SeedSequence([seed, path]).spawn(2)
    return np.random.default_rng(market), np.random.default_rng(flow)


def simulate_mids(
    preset: Preset, session: Session, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Mids and volatilities at every step (steps + 1 values each) of one path."""
    steps, dt_years = session.steps, session.dt_years
    if preset.gap == 0.0:
        paths = preset.model.simulate(session.spot, dt_years, steps, 1, rng)
        return paths.prices[0], np.sqrt(paths.variances[0])
    # The price at `gap_step` is the first one after the gap.
    gap_step = min(steps, max(1, round(steps * preset.gap_at)))
    before = preset.model.simulate(session.spot, dt_years, gap_step, 1, rng)
    after_spot = float(before.prices[0, -1]) * math.exp(preset.gap)
    after_model = preset.model.scaled(preset.post_gap_vol_scale)
    after = after_model.simulate(after_spot, dt_years, steps - gap_step, 1, rng)
    prices = np.concatenate([before.prices[0, :-1], after.prices[0]])
    variances = np.concatenate([before.variances[0, :-1], after.variances[0]])
    return prices, np.sqrt(variances)


def quote(mid: float, half_spread: float, tick_size: float) -> tuple[float, float]:
    """Bid and ask around `mid` on the tick grid, at least one tick apart, both positive."""
    bid_ticks = max(1, round((mid - half_spread) / tick_size))
    ask_ticks = max(bid_ticks + 1, round((mid + half_spread) / tick_size))
    decimals = max(0, -math.floor(math.log10(tick_size)) + 2)
    return round(bid_ticks * tick_size, decimals), round(ask_ticks * tick_size, decimals)


def simulate_session(
    preset: Preset, session: Session, seed: int, path: int = 0
) -> list[SimulatedEvent]:
    """Every event of one simulated path in event-time order (vol, tick, then trades at
    equal times)."""
    market_rng, flow_rng = path_streams(seed, path)
    mids, vols = simulate_mids(preset, session, market_rng)
    events: list[SimulatedEvent] = []
    vol_every = max(1, round(session.vol_interval_s / session.tick_seconds))
    marks = []
    for step, mid in enumerate(mids.tolist()):
        ts_ns = session.tick_ns(step)
        if step % vol_every == 0:
            events.append(VolUpdate(session.symbol, ts_ns, round(float(vols[step]), 4)))
        bid, ask = quote(mid, session.half_spread, session.tick_size)
        marks.append((bid + ask) / 2.0)
        events.append(PriceTick(session.symbol, ts_ns, bid, ask, None, marks[-1]))
    events.extend(_client_trades(session, marks, vols, flow_rng))
    return sorted(events, key=lambda event: event.ts_ns)  # stable: trades after their tick


def _client_trades(
    session: Session, marks: list[float], vols: np.ndarray, rng: np.random.Generator
) -> list[FillReport]:
    """Trades at the quoted mark and vol of their moment, as the hedger sees them."""
    start = dt.datetime.fromtimestamp(session.start_ns // _NS_PER_S, dt.UTC).date()
    flow = OptionFlow(
        expiries=monthly_expiries(start, 2), strike_step=session.strike_step, rate=session.rate
    )
    vol_every = max(1, round(session.vol_interval_s / session.tick_seconds))
    trades = []
    for _ in range(session.trades):
        step = 0 if session.trades_at == "start" else int(rng.integers(session.steps))
        quoted_vol = round(float(vols[step - step % vol_every]), 4)
        # A microsecond after the step's tick, so the trade meets the market of its moment.
        ts_ns = session.tick_ns(step) + 1_000
        trades.append(client_trade(flow, rng, session.symbol, marks[step], quoted_vol, ts_ns))
    return named_by_draw(trades)


def encode(event: SimulatedEvent) -> bytes:
    """The wire message of a simulated event."""
    if isinstance(event, PriceTick):
        return encode_tick(event)
    if isinstance(event, VolUpdate):
        return encode_vol(event)
    return encode_fill(event)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m producers.simulate",
        description="Simulate a market (ticks, vols, client option trades) to Kafka or a file.",
    )
    add_session_arguments(parser)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", help="write a JSONL recording here")
    parser.add_argument("--bootstrap", help="publish to Kafka instead")
    parser.add_argument("--speed", type=float, default=1.0, help="with --bootstrap (0 = flat out)")
    parser.add_argument("--prices-topic", default="md.prices")
    parser.add_argument("--fills-topic", default="exec.fills")
    add_debug_argument(parser)
    return parser


def add_session_arguments(parser: argparse.ArgumentParser) -> None:
    """The preset and session options (shared with `hedger backtest simulate`)."""
    parser.add_argument("--preset", choices=sorted(PRESETS), default="calm")
    parser.add_argument("--symbol", default="XYZ")
    parser.add_argument("--spot", type=float, default=100.0)
    parser.add_argument("--start", default=DEFAULT_START, help="ISO-8601 or epoch")
    parser.add_argument("--days", type=float, default=5.0, help="calendar days (default: 5)")
    parser.add_argument("--tick-seconds", type=float, default=60.0)
    parser.add_argument("--quote-half-spread", type=float, default=0.01, help="bid/ask")
    parser.add_argument("--vol-interval-s", type=float, default=3600.0)
    parser.add_argument("--trades", type=int, default=20, help="client option trades")
    parser.add_argument("--trades-at", choices=("random", "start"), default="random")
    parser.add_argument("--rate", type=float, help="to price client trades (default: 0)")
    parser.add_argument("--strike-step", type=float, default=5.0)


def session_from(args: argparse.Namespace) -> Session:
    """The Session of `add_session_arguments`' options; raises ValueError on bad ones."""
    return Session(
        symbol=args.symbol,
        spot=args.spot,
        start_ns=parse_timestamp(args.start),
        days=args.days,
        tick_seconds=args.tick_seconds,
        half_spread=args.quote_half_spread,
        vol_interval_s=args.vol_interval_s,
        trades=args.trades,
        trades_at=args.trades_at,
        rate=args.rate or 0.0,
        strike_step=args.strike_step,
    )


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the process exit status."""
    args = _parser().parse_args(argv)
    if (args.out is None) == (args.bootstrap is None):
        raise SystemExit("simulate: pass exactly one of --out FILE and --bootstrap HOST:PORT")
    try:
        session = session_from(args)
    except ValueError as exc:
        raise SystemExit(f"simulate: {exc}") from None
    stats = ReplayStats()
    return run_command(
        "simulate",
        lambda: _simulate(args, session, stats),
        debug=args.debug,
        bootstrap=args.bootstrap,
        interrupted=lambda: f"interrupted; {stats.in_words()}",
    )


def _simulate(args: argparse.Namespace, session: Session, stats: ReplayStats) -> int:
    events = simulate_session(PRESETS[args.preset], session, args.seed)
    messages = [encode(event) for event in events]
    if args.out is not None:
        with open(args.out, "wb") as out:
            out.writelines(message + b"\n" for message in messages)
        print(f"wrote {len(messages)} messages to {args.out}")
        return 0
    topics = ReplayTopics(args.prices_topic, args.fills_topic)
    lines = [route_line(message, n, topics) for n, message in enumerate(messages, start=1)]
    options = PublishOptions(speed=args.speed)
    asyncio.run(publish(lines, args.bootstrap, options, client_id="simulator", stats=stats))
    print(f"sent {stats.records_sent} messages")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
