"""Service settings: the only reader of the environment. Read once at start, validated, frozen.

Every setting is declared once below with its variable, default and meaning; the README's
configuration table lists the same (a test keeps the two in step).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import re
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hedger.adapters.kafka_security import (
    CA_FILE_ENV,
    CERT_FILE_ENV,
    KEY_FILE_ENV,
    MECHANISM_ENV,
    PASSWORD_FILE_ENV,
    PROTOCOL_ENV,
    USERNAME_ENV,
    KafkaSecurity,
    KafkaSecurityError,
)
from hedger.core.controls import ControlLimits, KillMode, OrderType
from hedger.core.decisions import BookSetup
from hedger.core.engine import EngineConfig
from hedger.core.instruments import is_underlying_symbol
from hedger.core.plausibility import PlausibilityLimits
from hedger.core.policy import BandPolicy
from hedger.core.price_guard import GuardLimits
from hedger.core.risk import DAYS_PER_YEAR
from hedger.core.throttle import RateLimit
from hedger.crash_points import parse_crash_at
from hedger.policy_file import parse_policy_file


class ConfigError(ValueError):
    """A setting is missing or malformed; the service refuses to start."""


_MARKET_CLOSE = dt.time(16, 0)
_HOURS_MINUTES = re.compile(r"[0-9]{2}:[0-9]{2}", re.ASCII)
_MAX_PORT = 65535
_POSITIVE_CONTROLS = (
    "timer_interval_ms",
    "stale_after_ms",
    "jump_threshold",
    "confirm_ticks",
    "price_collar",
    "total_orders_per_minute",
    "total_notional_per_minute",
    "latch_reversals",
    "latch_window_s",
)
DAY_COUNTS = ", ".join(DAYS_PER_YEAR)


def _setting(env: str, default: Any, help: str) -> Any:
    return field(default=default, metadata={"env": env, "help": help})


@dataclass(frozen=True, slots=True)
class Settings:
    kafka_bootstrap: str | None = _setting(
        "HEDGER_KAFKA_BOOTSTRAP", None, "Kafka bootstrap servers, host:port[,host:port]. Required."
    )
    # Kafka security (README "Kafka over TLS and SASL"): every Kafka client of the process.
    kafka_security_protocol: str = _setting(
        PROTOCOL_ENV, "PLAINTEXT", "PLAINTEXT, SSL, SASL_SSL or SASL_PLAINTEXT."
    )
    kafka_ssl_ca_file: str | None = _setting(
        CA_FILE_ENV,
        None,
        "PEM file of the CA(s) the broker's certificate must chain to; none = system's.",
    )
    kafka_ssl_cert_file: str | None = _setting(
        CERT_FILE_ENV, None, "PEM client certificate (chain), for brokers that ask for one."
    )
    kafka_ssl_key_file: str | None = _setting(
        KEY_FILE_ENV, None, "PEM private key of the client certificate (unencrypted)."
    )
    kafka_sasl_mechanism: str | None = _setting(
        MECHANISM_ENV, None, "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (the SASL_* protocols)."
    )
    kafka_sasl_username: str | None = _setting(USERNAME_ENV, None, "SASL user name.")
    kafka_sasl_password_file: str | None = _setting(
        PASSWORD_FILE_ENV,
        None,
        "File holding the SASL password (one line); never the password itself.",
    )
    http_host: str = _setting(
        "HEDGER_HTTP_HOST",
        "127.0.0.1",
        "Address of the HTTP endpoints (0.0.0.0: every interface, as in a container).",
    )
    metrics_port: int = _setting("HEDGER_METRICS_PORT", 9108, "Port of the HTTP endpoints.")
    prices_topic: str = _setting("HEDGER_TOPIC_PRICES", "md.prices", "Ticks and vols in.")
    fills_topic: str = _setting("HEDGER_TOPIC_FILLS", "exec.fills", "Fills in (source of truth).")
    orders_topic: str = _setting("HEDGER_TOPIC_ORDERS", "hedger.orders", "Hedge orders out.")
    dlq_topic: str = _setting("HEDGER_TOPIC_DLQ", "hedger.dlq", "Unusable input, with reasons.")
    group_id: str = _setting("HEDGER_GROUP_ID", "hedger", "Consumer group sharing the books.")
    instance_id: str = _setting(
        "HEDGER_INSTANCE_ID", socket.gethostname(), "This instance's name (price offsets)."
    )
    session_timeout_ms: int = _setting(
        "HEDGER_SESSION_TIMEOUT_MS", 10_000, "Group session; bounds failover of a dead member."
    )
    rate: float = _setting("HEDGER_RATE", 0.0, "Risk-free rate, continuously compounded.")
    dividend_yield: float = _setting(
        "HEDGER_DIVIDEND_YIELD", 0.0, "Dividend yield, continuously compounded."
    )
    default_vol: float = _setting(
        "HEDGER_DEFAULT_VOL", 0.20, "Implied vol used until a vol message arrives."
    )
    band_shares: float = _setting(
        "HEDGER_HEDGE_BAND_SHARES", 100.0, "Hedge when net delta is further than this from target."
    )
    target_delta: float = _setting("HEDGER_TARGET_DELTA", 0.0, "Net delta to hedge back to.")
    lot_size: float = _setting("HEDGER_LOT_SIZE", 1.0, "Hedge quantities are whole lots of this.")
    min_interval_ms: int = _setting(
        "HEDGER_MIN_INTERVAL_MS", 1000, "Least event time between orders per book, underlying."
    )
    commission_per_share: float = _setting(
        "HEDGER_COMMISSION_PER_SHARE", 0.0, "Cost assumed for a hedge fill that carries no fee."
    )
    default_multiplier: float = _setting(
        "HEDGER_MULTIPLIER", 100.0, "Shares per option contract when a fill does not say."
    )
    expiry_time: dt.time = _setting(
        "HEDGER_EXPIRY_TIME", _MARKET_CLOSE, "Time of day options expire (HH:MM)."
    )
    expiry_timezone: str = _setting(
        "HEDGER_EXPIRY_TIMEZONE", "America/New_York", "Time zone of the expiry time."
    )
    underlyings: frozenset[str] = _setting(
        "HEDGER_UNDERLYINGS", frozenset(), "Comma list of accepted underlyings; empty = any."
    )
    american_underlyings: frozenset[str] = _setting(
        "HEDGER_AMERICAN_UNDERLYINGS",
        frozenset(),
        "Underlyings whose options are American (ALO method); the rest are European.",
    )
    futures_underlyings: frozenset[str] = _setting(
        "HEDGER_FUTURES_UNDERLYINGS",
        frozenset(),
        "Underlyings that are futures prices: Black-76, no carry.",
    )
    cash_settled_underlyings: frozenset[str] = _setting(
        "HEDGER_CASH_SETTLED_UNDERLYINGS",
        frozenset(),
        "Underlyings whose options settle in cash at expiry (indices); the rest in shares.",
    )
    day_count: str = _setting(
        "HEDGER_DAY_COUNT", "ACT/365", "Year of time to expiry: ACT/365, ACT/365.25 or ACT/360."
    )
    pnl_interval_s: float = _setting(
        "HEDGER_PNL_INTERVAL_S",
        300.0,
        "Event time between P&L valuations (as the backtest's --sample-s).",
    )
    max_message_bytes: int = _setting(
        "HEDGER_MAX_MESSAGE_BYTES", 65536, "Larger messages go to the dead-letter topic."
    )
    # A catch-up hands the engine runs of ticks as long as its batches, and a run costs a
    # fixed part on top of its ticks: 2,000 rather than 500 took the catch-up from 158k to
    # 182k msg/s on Tansu, from 100-113k to 130-145k on Apache Kafka, 5,000 no further
    # (benchmarks/service_catch_up.py). A live feed's batches are what has arrived.
    batch_max_records: int = _setting(
        "HEDGER_BATCH_MAX_RECORDS",
        2000,
        "Most records handled in one batch (one commit, or one of several while catching up).",
    )
    merge_wait_ms: int = _setting(
        "HEDGER_MERGE_WAIT_MS", 50, "Longest a fill waits for prices to reach its event time."
    )
    # Past a leader's failover: a node that dies without a controlled shutdown keeps its
    # partitions for the controller's broker.session.timeout.ms (9 s) and then an election;
    # a shorter deadline turns each such routine failover into a lost batch (a stop at least
    # once; a new producer and a rebuild exactly once).
    send_timeout_s: float = _setting(
        "HEDGER_SEND_TIMEOUT_S", 30.0, "Deadline for the broker to acknowledge a batch."
    )
    shutdown_timeout_s: float = _setting(
        "HEDGER_SHUTDOWN_TIMEOUT_S", 10.0, "Deadline for a graceful stop."
    )
    crash_at: str = _setting(
        "HEDGER_CRASH_AT",
        "",
        "Fault tests: SIGKILL (or SIGSTOP, `:freeze`) at POINT:N[:freeze] (decided, sent,"
        " acknowledged), the N-th batch with an order.",
    )
    delivery: str = _setting(
        "HEDGER_DELIVERY",
        "auto",
        "exactly_once (transactions), at_least_once, or auto: the first the broker allows.",
    )
    max_event_ahead_s: float = _setting(
        "HEDGER_MAX_EVENT_AHEAD_S",
        300.0,
        "Most an input's event time may lead its Kafka timestamp; 0 = no limit.",
    )
    max_event_behind_s: float = _setting(
        "HEDGER_MAX_EVENT_BEHIND_S",
        0.0,
        "Most an input's event time may trail its Kafka timestamp; 0 = no limit (replays).",
    )
    max_price: float = _setting(
        "HEDGER_MAX_PRICE", 1e7, "Highest plausible price (ticks, quotes, fills)."
    )
    max_vol: float = _setting("HEDGER_MAX_VOL", 5.0, "Highest plausible vol (5.0 = 500%).")
    max_fill_qty: float = _setting(
        "HEDGER_MAX_FILL_QTY", 1e7, "Most shares or contracts one fill may hold."
    )
    books: frozenset[str] = _setting(
        "HEDGER_BOOKS", frozenset(), "Comma list of accepted books; empty = any."
    )
    max_label_values: int = _setting(
        "HEDGER_MAX_LABEL_VALUES",
        1000,
        "Distinct books, underlyings and scopes the metrics label; updates beyond are dropped.",
    )
    broker_wait_s: float = _setting(
        "HEDGER_BROKER_WAIT_S",
        60.0,
        "How long `hedger run` retries an unreachable broker at start before it exits.",
    )
    log_level: str = _setting("HEDGER_LOG_LEVEL", "INFO", "Python logging level.")
    # Policies and controls (docs/concepts/policies.md and controls.md).
    control_topic: str = _setting(
        "HEDGER_TOPIC_CONTROL", "hedger.control", "Kill switches, latches, re-arms."
    )
    snapshot_topic: str = _setting(
        "HEDGER_TOPIC_SNAPSHOTS", "hedger.snapshots", "Book-state snapshots (compacted)."
    )
    snapshot_interval_s: float = _setting(
        "HEDGER_SNAPSHOT_INTERVAL_S",
        300.0,
        "Least time between two book-state snapshots (one after each rebuild too); 0 = none.",
    )
    control_tokens_file: str | None = _setting(
        "HEDGER_CONTROL_TOKENS_FILE",
        None,
        "File of `principal token` lines allowed to POST /control/*; none = control off.",
    )
    record_key_file: str | None = _setting(
        "HEDGER_RECORD_KEY_FILE",
        None,
        "Key (32+ bytes) signing the order and control records; others read back are ignored.",
    )
    policy_file: str | None = _setting(
        "HEDGER_POLICY_FILE", None, "TOML file of per-book policies and limits; none = env."
    )
    timer_interval_ms: int = _setting(
        "HEDGER_TIMER_INTERVAL_MS", 1000, "Event time between timer events (timed policies)."
    )
    stale_after_ms: int = _setting(
        "HEDGER_STALE_AFTER_MS", 10_000, "No order on an underlying without a tick this recent."
    )
    jump_threshold: float = _setting(
        "HEDGER_JUMP_THRESHOLD", 0.10, "A tick moving more than this fraction freezes the symbol."
    )
    move_horizon_s: float = _setting(
        "HEDGER_MOVE_HORIZON_S",
        14_400.0,
        "Jump threshold and collar hold for moves over up to this; longer: × sqrt(gap/this).",
    )
    confirm_ticks: int = _setting(
        "HEDGER_CONFIRM_TICKS", 3, "Steady ticks that confirm a jump or crossed quote."
    )
    stuck_price_s: float = _setting(
        "HEDGER_STUCK_PRICE_S",
        300.0,
        "No order on an underlying whose mark is unchanged this long while others move; 0 = off.",
    )
    max_tick_age_ms: int = _setting(
        "HEDGER_MAX_TICK_AGE_MS",
        10_000,
        "No order on ticks this much older than the wall clock when handled; 0 = off.",
    )
    max_clock_skew_ms: int = _setting(
        "HEDGER_MAX_CLOCK_SKEW_MS",
        2_000,
        "No order on ticks stamped this far ahead of the host's clock; 0 = off.",
    )
    price_collar: float = _setting(
        "HEDGER_PRICE_COLLAR", 0.05, "Most an order's price may stray from the last good mark."
    )
    order_type: str = _setting("HEDGER_ORDER_TYPE", "market", "market or limit orders.")
    limit_offset: float = _setting(
        "HEDGER_LIMIT_OFFSET", 0.001, "Limit price = mark × (1 ± this), worse side for us."
    )
    total_orders_per_minute: float = _setting(
        "HEDGER_TOTAL_ORDERS_PER_MINUTE", 300.0, "Rate limit over all books (token bucket)."
    )
    total_order_burst: float = _setting(
        "HEDGER_TOTAL_ORDER_BURST", 30.0, "Orders all books may send back to back."
    )
    total_notional_per_minute: float = _setting(
        "HEDGER_TOTAL_NOTIONAL_PER_MINUTE",
        250_000_000.0,
        "Notional (shares × mark) all books may send in any 60 s of event time.",
    )
    latch_reversals: int = _setting(
        "HEDGER_LATCH_REVERSALS", 10, "Direction reversals of a book that latch it..."
    )
    latch_window_s: float = _setting(
        "HEDGER_LATCH_WINDOW_S", 30.0, "...within this much event time."
    )
    working_order_timeout_s: float = _setting(
        "HEDGER_WORKING_ORDER_TIMEOUT_S", 0.0, "Cancel orders working this long; 0 = never."
    )
    timeout_latch: int = _setting(
        "HEDGER_TIMEOUT_LATCH", 3, "Timeouts of a book with no hedge fill that latch it; 0 = never."
    )
    kill_mode: str = _setting(
        "HEDGER_KILL_MODE", "stop", "Under a kill switch: stop, or reduce_only."
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        values = {}
        for setting in dataclasses.fields(cls):
            raw = environ.get(setting.metadata["env"], "").strip()
            if raw:
                values[setting.name] = _parse(setting, raw)
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        for name in (
            "metrics_port",
            "max_message_bytes",
            "batch_max_records",
            "session_timeout_ms",
            "default_vol",
            "lot_size",
            "default_multiplier",
            "send_timeout_s",
            "shutdown_timeout_s",
            "max_price",
            "max_vol",
            "max_fill_qty",
            "max_label_values",
            "pnl_interval_s",
            *_POSITIVE_CONTROLS,
        ):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{_env(name)} must be positive")
        for name in (
            "underlyings",
            "american_underlyings",
            "futures_underlyings",
            "cash_settled_underlyings",
        ):
            unknown = sorted(s for s in getattr(self, name) if not is_underlying_symbol(s))
            if unknown:
                raise ConfigError(f"{_env(name)} has entries that are not tickers: {unknown}")
        if self.day_count not in DAYS_PER_YEAR:
            raise ConfigError(f"HEDGER_DAY_COUNT {self.day_count!r} is not one of {DAY_COUNTS}")
        for name in (
            "band_shares",
            "min_interval_ms",
            "commission_per_share",
            "merge_wait_ms",
            "limit_offset",
            "working_order_timeout_s",
            "timeout_latch",
            "stuck_price_s",
            "move_horizon_s",
            "max_tick_age_ms",
            "max_clock_skew_ms",
            "broker_wait_s",
            "max_event_ahead_s",
            "max_event_behind_s",
            "snapshot_interval_s",
        ):
            if getattr(self, name) < 0:
                raise ConfigError(f"{_env(name)} must not be negative")
        self._validate_controls()
        self._validate_crash_at()
        self.kafka_client_options()
        if self.kafka_bootstrap is not None:
            bootstrap_servers(self.kafka_bootstrap)
        if self.metrics_port > _MAX_PORT:
            raise ConfigError(f"HEDGER_METRICS_PORT must be at most {_MAX_PORT}")
        if self.log_level.upper() not in logging.getLevelNamesMapping():
            raise ConfigError(f"HEDGER_LOG_LEVEL {self.log_level!r} is not a logging level")
        try:
            ZoneInfo(self.expiry_timezone)
        # OSError: a key naming a directory ("America") or too long for the file system.
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ConfigError(f"HEDGER_EXPIRY_TIMEZONE {self.expiry_timezone!r} unknown") from None

    def kafka_security(self) -> KafkaSecurity:
        return KafkaSecurity(
            protocol=self.kafka_security_protocol,
            ca_file=self.kafka_ssl_ca_file,
            cert_file=self.kafka_ssl_cert_file,
            key_file=self.kafka_ssl_key_file,
            mechanism=self.kafka_sasl_mechanism,
            username=self.kafka_sasl_username,
            password_file=self.kafka_sasl_password_file,
        )

    def kafka_client_options(self) -> dict[str, Any]:
        """aiokafka's security keyword arguments (files read now); `ConfigError` if wrong."""
        try:
            return self.kafka_security().client_options()
        except KafkaSecurityError as error:
            raise ConfigError(str(error)) from None

    def _validate_crash_at(self) -> None:
        try:
            parse_crash_at(self.crash_at)
        except ValueError as error:
            raise ConfigError(f"HEDGER_CRASH_AT={error}") from None

    def _validate_controls(self) -> None:
        choices = {
            "order_type": tuple(OrderType),
            "kill_mode": tuple(KillMode),
            "delivery": ("auto", "exactly_once", "at_least_once"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{_env(name)} must be one of {', '.join(allowed)}")
        if not self.limit_offset < self.price_collar < 1:
            raise ConfigError(
                "need HEDGER_LIMIT_OFFSET < HEDGER_PRICE_COLLAR < 1 (a limit must pass the collar)"
            )
        if self.total_order_burst < 1:
            raise ConfigError("HEDGER_TOTAL_ORDER_BURST must be at least 1")
        self.book_setups()

    @property
    def topics(self) -> list[str]:
        """Every topic the service reads or writes (for creating them up front)."""
        return [
            self.prices_topic,
            self.fills_topic,
            self.orders_topic,
            self.dlq_topic,
            self.control_topic,
            self.snapshot_topic,
        ]

    def book_setups(self) -> tuple[BookSetup, tuple[tuple[str, BookSetup], ...]]:
        """(every book's default setup, the books with their own) from the environment and
        the policy file, read here."""
        base = BookSetup(
            BandPolicy(
                band_shares=self.band_shares,
                target_delta=self.target_delta,
                lot_size=self.lot_size,
                min_interval_ns=self.min_interval_ms * 1_000_000,
            )
        )
        if not self.policy_file:
            return base, ()
        try:
            with open(self.policy_file, "rb") as file:
                return parse_policy_file(tomllib.load(file), base)
        except (OSError, tomllib.TOMLDecodeError, ValueError) as error:
            raise ConfigError(f"HEDGER_POLICY_FILE {self.policy_file!r}: {error}") from None

    def control_limits(self) -> ControlLimits:
        return ControlLimits(
            guard=GuardLimits(
                stale_after_ns=self.stale_after_ms * 1_000_000,
                jump_fraction=self.jump_threshold,
                confirm_ticks=self.confirm_ticks,
                stuck_after_ns=round(self.stuck_price_s * 1e9),
                move_horizon_ns=round(self.move_horizon_s * 1e9),
            ),
            total_rate=RateLimit(self.total_orders_per_minute, self.total_order_burst),
            total_notional_per_minute=self.total_notional_per_minute,
            price_collar=self.price_collar,
            order_type=OrderType(self.order_type),
            limit_offset=self.limit_offset,
            latch_reversals=self.latch_reversals,
            latch_window_ns=round(self.latch_window_s * 1e9),
            working_order_timeout_ns=round(self.working_order_timeout_s * 1e9),
            timeout_latch=self.timeout_latch,
            kill_mode=KillMode(self.kill_mode),
        )

    def require_bootstrap(self) -> str:
        if not self.kafka_bootstrap:
            raise ConfigError(
                "HEDGER_KAFKA_BOOTSTRAP is not set: point it at your Kafka cluster "
                "(e.g. HEDGER_KAFKA_BOOTSTRAP=kafka:9092). `hedger demo` starts a local broker."
            )
        return self.kafka_bootstrap

    def engine_config(self) -> EngineConfig:
        default, books = self.book_setups()
        return EngineConfig(
            policy=default.policy,
            limits=default.limits,
            books=books,
            controls=self.control_limits(),
            rate=self.rate,
            dividend_yield=self.dividend_yield,
            default_vol=self.default_vol,
            default_multiplier=self.default_multiplier,
            commission_per_share=self.commission_per_share,
            expiry_time=self.expiry_time,
            expiry_timezone=self.expiry_timezone,
            underlyings=self.underlyings,
            american_underlyings=self.american_underlyings,
            futures_underlyings=self.futures_underlyings,
            cash_settled_underlyings=self.cash_settled_underlyings,
            days_per_year=DAYS_PER_YEAR[self.day_count],
            pnl_interval_ns=round(self.pnl_interval_s * 1e9),
            timer_interval_ns=self.timer_interval_ms * 1_000_000,
            plausibility=PlausibilityLimits(
                self.max_price, self.max_vol, self.max_fill_qty, self.books
            ),
        )


_KAFKA_SECURITY_FIELDS = (
    "kafka_security_protocol",
    "kafka_ssl_ca_file",
    "kafka_ssl_cert_file",
    "kafka_ssl_key_file",
    "kafka_sasl_mechanism",
    "kafka_sasl_username",
    "kafka_sasl_password_file",
)


def kafka_security_from_env(environ: Mapping[str, str]) -> Settings:
    """Settings holding only the Kafka security variables of `environ` (the rest default,
    unchecked): what every Kafka client of a process reads, the producers' tools included,
    which have no other HEDGER_* settings to satisfy."""
    values = {}
    for setting in dataclasses.fields(Settings):
        raw = environ.get(setting.metadata["env"], "").strip()
        if raw and setting.name in _KAFKA_SECURITY_FIELDS:
            values[setting.name] = _parse(setting, raw)
    return Settings(**values)


def bootstrap_servers(bootstrap: str) -> list[tuple[str, int]]:
    """(host, port) of each entry of a `host:port[,host:port]` list; `ConfigError` naming
    the first entry that is not one (aiokafka would fail on it later, less clearly)."""
    servers = []
    for entry in bootstrap.split(","):
        host, _, port = entry.strip().rpartition(":")
        host = host.strip("[]")  # an IPv6 address in brackets
        if not host or not port.isdigit() or not 0 < int(port) <= _MAX_PORT or " " in host:
            raise ConfigError(
                f"HEDGER_KAFKA_BOOTSTRAP entry {entry.strip()!r} is not host:port"
                " (e.g. localhost:9092)"
            )
        servers.append((host, int(port)))
    return servers


def _env(name: str) -> str:
    return str(Settings.__dataclass_fields__[name].metadata["env"])


def _parse(setting: dataclasses.Field[Any], raw: str) -> Any:
    kind = type(setting.default)
    try:
        if kind is frozenset:
            return frozenset(part.strip() for part in raw.split(",") if part.strip())
        if kind is dt.time:
            # fromisoformat alone would also take "16:00+05:00", which has no meaning here.
            if _HOURS_MINUTES.fullmatch(raw) is None:
                raise ValueError(raw)
            return dt.time.fromisoformat(raw)
        if kind is float:
            # float() takes "nan", "inf" and "1e400"; none of them is a usable setting.
            value = float(raw)
            if not math.isfinite(value):
                raise ValueError(raw)
            return value
        if kind is int:
            return int(raw)
        return raw
    except ValueError:
        raise ConfigError(
            f"{setting.metadata['env']}={raw!r} is not a valid {kind.__name__}"
        ) from None


def settings_table() -> list[tuple[str, str, str]]:
    """(variable, default, meaning) for every setting, as the README documents them."""
    rows = []
    for setting in dataclasses.fields(Settings):
        default = setting.default
        if isinstance(default, frozenset):
            default = ",".join(sorted(default))
        elif isinstance(default, dt.time):
            default = default.strftime("%H:%M")
        shown = "(hostname)" if setting.name == "instance_id" else default
        rows.append(
            (setting.metadata["env"], "" if shown is None else str(shown), setting.metadata["help"])
        )
    return rows
