"""hedger.config: defaults, parsing each variable, refusing bad values, and the README table."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path

import pytest

from hedger.config import ConfigError, Settings, settings_table
from hedger.core.engine import EngineConfig
from hedger.core.policy import BandPolicy

README = Path(__file__).resolve().parents[1] / "README.md"
POLICY_EXAMPLE = str(Path(__file__).resolve().parents[1] / "examples" / "policies.toml")

# (variable, raw value, attribute, parsed value): one row per setting, at least.
PARSED = [
    ("HEDGER_KAFKA_BOOTSTRAP", "k1:9092,k2:9092", "kafka_bootstrap", "k1:9092,k2:9092"),
    ("HEDGER_HTTP_HOST", "127.0.0.1", "http_host", "127.0.0.1"),
    ("HEDGER_METRICS_PORT", "9200", "metrics_port", 9200),
    ("HEDGER_TOPIC_PRICES", "p.in", "prices_topic", "p.in"),
    ("HEDGER_TOPIC_FILLS", "f.in", "fills_topic", "f.in"),
    ("HEDGER_TOPIC_ORDERS", "o.out", "orders_topic", "o.out"),
    ("HEDGER_TOPIC_DLQ", "d.out", "dlq_topic", "d.out"),
    ("HEDGER_GROUP_ID", "hedgers", "group_id", "hedgers"),
    ("HEDGER_INSTANCE_ID", "hedger-7", "instance_id", "hedger-7"),
    ("HEDGER_SESSION_TIMEOUT_MS", "30000", "session_timeout_ms", 30_000),
    ("HEDGER_RATE", "0.045", "rate", 0.045),
    ("HEDGER_RATE", "-0.005", "rate", -0.005),
    ("HEDGER_DIVIDEND_YIELD", "0.015", "dividend_yield", 0.015),
    ("HEDGER_DEFAULT_VOL", "0.35", "default_vol", 0.35),
    ("HEDGER_HEDGE_BAND_SHARES", "250.5", "band_shares", 250.5),
    ("HEDGER_TARGET_DELTA", "-1000", "target_delta", -1000.0),
    ("HEDGER_LOT_SIZE", "100", "lot_size", 100.0),
    ("HEDGER_MIN_INTERVAL_MS", "250", "min_interval_ms", 250),
    ("HEDGER_COMMISSION_PER_SHARE", "0.005", "commission_per_share", 0.005),
    ("HEDGER_MULTIPLIER", "10", "default_multiplier", 10.0),
    ("HEDGER_EXPIRY_TIME", "15:15", "expiry_time", dt.time(15, 15)),
    ("HEDGER_EXPIRY_TIMEZONE", "Europe/London", "expiry_timezone", "Europe/London"),
    ("HEDGER_UNDERLYINGS", " XYZ, ABC ,,XYZ ", "underlyings", frozenset({"XYZ", "ABC"})),
    ("HEDGER_UNDERLYINGS", "XYZ", "underlyings", frozenset({"XYZ"})),
    ("HEDGER_AMERICAN_UNDERLYINGS", "XYZ,ABC", "american_underlyings", frozenset({"XYZ", "ABC"})),
    ("HEDGER_FUTURES_UNDERLYINGS", "ES", "futures_underlyings", frozenset({"ES"})),
    ("HEDGER_DAY_COUNT", "ACT/360", "day_count", "ACT/360"),
    (
        "HEDGER_CASH_SETTLED_UNDERLYINGS",
        "SPX,NDX",
        "cash_settled_underlyings",
        frozenset({"SPX", "NDX"}),
    ),
    ("HEDGER_PNL_INTERVAL_S", "86400", "pnl_interval_s", 86400.0),
    ("HEDGER_MAX_MESSAGE_BYTES", "1024", "max_message_bytes", 1024),
    ("HEDGER_BATCH_MAX_RECORDS", "50", "batch_max_records", 50),
    ("HEDGER_MERGE_WAIT_MS", "0", "merge_wait_ms", 0),
    ("HEDGER_SEND_TIMEOUT_S", "2.5", "send_timeout_s", 2.5),
    ("HEDGER_SHUTDOWN_TIMEOUT_S", "30", "shutdown_timeout_s", 30.0),
    ("HEDGER_CRASH_AT", "sent:3", "crash_at", "sent:3"),
    ("HEDGER_CRASH_AT", "decided:1:freeze", "crash_at", "decided:1:freeze"),
    ("HEDGER_DELIVERY", "at_least_once", "delivery", "at_least_once"),
    ("HEDGER_BROKER_WAIT_S", "0", "broker_wait_s", 0.0),
    ("HEDGER_MAX_EVENT_AHEAD_S", "60", "max_event_ahead_s", 60.0),
    ("HEDGER_MAX_EVENT_BEHIND_S", "3600", "max_event_behind_s", 3600.0),
    ("HEDGER_MAX_PRICE", "50000", "max_price", 50000.0),
    ("HEDGER_MAX_VOL", "3", "max_vol", 3.0),
    ("HEDGER_MAX_FILL_QTY", "250000", "max_fill_qty", 250000.0),
    ("HEDGER_BOOKS", "mm-1, mm-2", "books", frozenset({"mm-1", "mm-2"})),
    ("HEDGER_KAFKA_BOOTSTRAP", "[::1]:9092", "kafka_bootstrap", "[::1]:9092"),
    ("HEDGER_KAFKA_SECURITY_PROTOCOL", "SSL", "kafka_security_protocol", "SSL"),
    ("HEDGER_KAFKA_SSL_CA_FILE", "/s/ca.pem", "kafka_ssl_ca_file", "/s/ca.pem"),
    ("HEDGER_KAFKA_SSL_CERT_FILE", "/s/cert.pem", "kafka_ssl_cert_file", "/s/cert.pem"),
    ("HEDGER_KAFKA_SSL_KEY_FILE", "/s/key.pem", "kafka_ssl_key_file", "/s/key.pem"),
    ("HEDGER_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512", "kafka_sasl_mechanism", "SCRAM-SHA-512"),
    ("HEDGER_KAFKA_SASL_USERNAME", "hedger", "kafka_sasl_username", "hedger"),
    ("HEDGER_KAFKA_SASL_PASSWORD_FILE", "/s/password", "kafka_sasl_password_file", "/s/password"),
    ("HEDGER_LOG_LEVEL", "debug", "log_level", "debug"),
    ("HEDGER_MAX_LABEL_VALUES", "50", "max_label_values", 50),
    ("HEDGER_RECORD_KEY_FILE", "/run/secrets/key", "record_key_file", "/run/secrets/key"),
    ("HEDGER_TOPIC_CONTROL", "c.ctl", "control_topic", "c.ctl"),
    ("HEDGER_TOPIC_SNAPSHOTS", "c.snap", "snapshot_topic", "c.snap"),
    ("HEDGER_SNAPSHOT_INTERVAL_S", "0", "snapshot_interval_s", 0.0),
    ("HEDGER_POLICY_FILE", POLICY_EXAMPLE, "policy_file", POLICY_EXAMPLE),
    (
        "HEDGER_CONTROL_TOKENS_FILE",
        "/run/secrets/control-tokens",
        "control_tokens_file",
        "/run/secrets/control-tokens",
    ),
    ("HEDGER_TIMER_INTERVAL_MS", "250", "timer_interval_ms", 250),
    ("HEDGER_STALE_AFTER_MS", "3000", "stale_after_ms", 3000),
    ("HEDGER_JUMP_THRESHOLD", "0.25", "jump_threshold", 0.25),
    ("HEDGER_MOVE_HORIZON_S", "86400", "move_horizon_s", 86400.0),
    ("HEDGER_CONFIRM_TICKS", "5", "confirm_ticks", 5),
    ("HEDGER_STUCK_PRICE_S", "60", "stuck_price_s", 60.0),
    ("HEDGER_MAX_TICK_AGE_MS", "2500", "max_tick_age_ms", 2500),
    ("HEDGER_MAX_CLOCK_SKEW_MS", "500", "max_clock_skew_ms", 500),
    ("HEDGER_PRICE_COLLAR", "0.02", "price_collar", 0.02),
    ("HEDGER_ORDER_TYPE", "limit", "order_type", "limit"),
    ("HEDGER_LIMIT_OFFSET", "0.0005", "limit_offset", 0.0005),
    ("HEDGER_TOTAL_ORDERS_PER_MINUTE", "120", "total_orders_per_minute", 120.0),
    ("HEDGER_TOTAL_ORDER_BURST", "5", "total_order_burst", 5.0),
    ("HEDGER_TOTAL_NOTIONAL_PER_MINUTE", "1e6", "total_notional_per_minute", 1e6),
    ("HEDGER_LATCH_REVERSALS", "4", "latch_reversals", 4),
    ("HEDGER_LATCH_WINDOW_S", "30", "latch_window_s", 30.0),
    ("HEDGER_WORKING_ORDER_TIMEOUT_S", "2.5", "working_order_timeout_s", 2.5),
    ("HEDGER_TIMEOUT_LATCH", "5", "timeout_latch", 5),
    ("HEDGER_KILL_MODE", "reduce_only", "kill_mode", "reduce_only"),
]

MALFORMED = [
    ("HEDGER_METRICS_PORT", "nine"),
    ("HEDGER_METRICS_PORT", "9108.0"),
    ("HEDGER_METRICS_PORT", "70000"),
    ("HEDGER_BATCH_MAX_RECORDS", "1e3"),
    ("HEDGER_MIN_INTERVAL_MS", "1s"),
    ("HEDGER_RATE", "4%"),
    ("HEDGER_RATE", "nan"),
    ("HEDGER_DEFAULT_VOL", "nan"),
    ("HEDGER_HEDGE_BAND_SHARES", "inf"),
    ("HEDGER_TARGET_DELTA", "-inf"),
    ("HEDGER_SEND_TIMEOUT_S", "1e400"),
    ("HEDGER_EXPIRY_TIME", "4pm"),
    ("HEDGER_EXPIRY_TIME", "25:00"),
    ("HEDGER_EXPIRY_TIME", "16:60"),
    ("HEDGER_EXPIRY_TIME", "16:00+05:00"),
    ("HEDGER_EXPIRY_TIME", "16:00Z"),
    ("HEDGER_EXPIRY_TIME", "16:00:30"),
    ("HEDGER_LOG_LEVEL", "VERBOSE"),
    ("HEDGER_DAY_COUNT", "30/360"),
    ("HEDGER_PNL_INTERVAL_S", "0"),
    ("HEDGER_AMERICAN_UNDERLYINGS", "xyz"),
    ("HEDGER_FUTURES_UNDERLYINGS", "ES,es"),
    ("HEDGER_ORDER_TYPE", "stop"),
    ("HEDGER_KILL_MODE", "halt"),
    ("HEDGER_DELIVERY", "exactly_twice"),
    ("HEDGER_CRASH_AT", "sent"),
    ("HEDGER_CRASH_AT", "sent:0"),
    ("HEDGER_CRASH_AT", "committed:1"),
    ("HEDGER_CRASH_AT", "sent:1:pause"),
    ("HEDGER_CONFIRM_TICKS", "2.5"),
    ("HEDGER_JUMP_THRESHOLD", "nan"),
    ("HEDGER_PRICE_COLLAR", "1.5"),
    ("HEDGER_LIMIT_OFFSET", "0.2"),  # wider than the collar: every limit order refused
    ("HEDGER_TOTAL_ORDER_BURST", "0.5"),
    ("HEDGER_POLICY_FILE", "/nonexistent/policies.toml"),
    ("HEDGER_KAFKA_BOOTSTRAP", "localhost"),  # no port
    ("HEDGER_KAFKA_BOOTSTRAP", "localhost:nine"),
    ("HEDGER_KAFKA_BOOTSTRAP", "k1:9092,"),  # an empty entry
    ("HEDGER_KAFKA_BOOTSTRAP", "k1:70000"),
    ("HEDGER_KAFKA_BOOTSTRAP", ":9092"),
]

POSITIVE = [
    "HEDGER_METRICS_PORT",
    "HEDGER_MAX_MESSAGE_BYTES",
    "HEDGER_BATCH_MAX_RECORDS",
    "HEDGER_SESSION_TIMEOUT_MS",
    "HEDGER_DEFAULT_VOL",
    "HEDGER_LOT_SIZE",
    "HEDGER_MULTIPLIER",
    "HEDGER_SEND_TIMEOUT_S",
    "HEDGER_SHUTDOWN_TIMEOUT_S",
    "HEDGER_MAX_PRICE",
    "HEDGER_MAX_VOL",
    "HEDGER_MAX_FILL_QTY",
    "HEDGER_TIMER_INTERVAL_MS",
    "HEDGER_STALE_AFTER_MS",
    "HEDGER_JUMP_THRESHOLD",
    "HEDGER_CONFIRM_TICKS",
    "HEDGER_PRICE_COLLAR",
    "HEDGER_TOTAL_ORDERS_PER_MINUTE",
    "HEDGER_TOTAL_NOTIONAL_PER_MINUTE",
    "HEDGER_LATCH_REVERSALS",
    "HEDGER_LATCH_WINDOW_S",
]
NON_NEGATIVE = [
    "HEDGER_SNAPSHOT_INTERVAL_S",
    "HEDGER_HEDGE_BAND_SHARES",
    "HEDGER_MIN_INTERVAL_MS",
    "HEDGER_COMMISSION_PER_SHARE",
    "HEDGER_MERGE_WAIT_MS",
    "HEDGER_LIMIT_OFFSET",
    "HEDGER_WORKING_ORDER_TIMEOUT_S",
    "HEDGER_TIMEOUT_LATCH",
    "HEDGER_STUCK_PRICE_S",
    "HEDGER_MOVE_HORIZON_S",
    "HEDGER_MAX_TICK_AGE_MS",
    "HEDGER_MAX_CLOCK_SKEW_MS",
    "HEDGER_BROKER_WAIT_S",
    "HEDGER_MAX_EVENT_AHEAD_S",
    "HEDGER_MAX_EVENT_BEHIND_S",
]


def test_settings_from_empty_environment_gives_the_defaults():
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.kafka_bootstrap is None
    assert (settings.http_host, settings.metrics_port) == ("127.0.0.1", 9108)
    assert (settings.prices_topic, settings.fills_topic) == ("md.prices", "exec.fills")
    assert (settings.orders_topic, settings.dlq_topic) == ("hedger.orders", "hedger.dlq")
    assert (settings.band_shares, settings.target_delta, settings.lot_size) == (100.0, 0.0, 1.0)
    assert settings.min_interval_ms == 1000
    assert settings.default_multiplier == 100.0
    assert settings.expiry_time == dt.time(16, 0)
    assert settings.expiry_timezone == "America/New_York"
    assert settings.underlyings == frozenset()


def test_settings_blank_variable_counts_as_unset():
    assert Settings.from_env({"HEDGER_METRICS_PORT": "  ", "HEDGER_RATE": ""}) == Settings()


def test_settings_unrelated_variables_are_ignored():
    assert Settings.from_env({"PATH": "/bin", "HEDGER_NOT_A_SETTING": "x"}) == Settings()


@pytest.mark.parametrize(("variable", "raw", "attribute", "expected"), PARSED)
def test_settings_from_env_parses_each_variable(variable, raw, attribute, expected):
    value = getattr(Settings.from_env({variable: raw}), attribute)
    assert value == expected
    assert type(value) is type(expected)


def test_settings_from_env_values_are_stripped():
    settings = Settings.from_env({"HEDGER_METRICS_PORT": " 9200\n", "HEDGER_GROUP_ID": " g "})
    assert (settings.metrics_port, settings.group_id) == (9200, "g")


def test_settings_parse_table_covers_every_setting():
    assert {row[0] for row in PARSED} == {variable for variable, _, _ in settings_table()}


@pytest.mark.parametrize(("variable", "raw"), MALFORMED)
def test_settings_malformed_value_raises_config_error_naming_the_variable(variable, raw):
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env({variable: raw})


@pytest.mark.parametrize("raw", ["0", "-1"])
@pytest.mark.parametrize("variable", POSITIVE)
def test_settings_zero_or_negative_where_positive_needed_raises_config_error(variable, raw):
    with pytest.raises(ConfigError, match=f"{variable} must be positive"):
        Settings.from_env({variable: raw})


@pytest.mark.parametrize("variable", NON_NEGATIVE)
def test_settings_negative_where_non_negative_needed_raises_config_error(variable):
    with pytest.raises(ConfigError, match=f"{variable} must not be negative"):
        Settings.from_env({variable: "-1"})


@pytest.mark.parametrize("variable", NON_NEGATIVE)
def test_settings_zero_where_non_negative_needed_is_accepted(variable):
    attribute = next(attr for var, _, attr, _ in PARSED if var == variable)
    assert getattr(Settings.from_env({variable: "0"}), attribute) == 0


@pytest.mark.parametrize(
    "zone", ["Mars/Olympus_Mons", "America", "../../etc/passwd", "/etc/localtime", "Z" * 300]
)
def test_settings_unknown_timezone_raises_config_error(zone):
    # "America" is a directory of the tz database and "Z" * 300 too long a file name:
    # both raise OSError inside zoneinfo, which must still come out as a ConfigError.
    with pytest.raises(ConfigError, match="HEDGER_EXPIRY_TIMEZONE"):
        Settings.from_env({"HEDGER_EXPIRY_TIMEZONE": zone})


def test_settings_validate_refuses_directly_built_bad_settings():
    with pytest.raises(ConfigError, match="HEDGER_LOT_SIZE"):
        Settings(lot_size=0.0).validate()


def test_settings_are_frozen():
    settings = Settings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.lot_size = 5.0  # type: ignore[misc]


def test_settings_require_bootstrap_when_unset_raises_config_error_with_advice():
    with pytest.raises(ConfigError, match="HEDGER_KAFKA_BOOTSTRAP is not set") as caught:
        Settings.from_env({}).require_bootstrap()
    assert "hedger demo" in str(caught.value)


def test_settings_require_bootstrap_when_set_returns_it():
    settings = Settings.from_env({"HEDGER_KAFKA_BOOTSTRAP": "kafka:9092"})
    assert settings.require_bootstrap() == "kafka:9092"


def test_settings_engine_config_maps_policy_and_market_settings():
    settings = Settings.from_env(
        {
            "HEDGER_MIN_INTERVAL_MS": "250",
            "HEDGER_HEDGE_BAND_SHARES": "500",
            "HEDGER_LOT_SIZE": "100",
            "HEDGER_TARGET_DELTA": "-1000",
            "HEDGER_RATE": "0.04",
            "HEDGER_DIVIDEND_YIELD": "0.01",
            "HEDGER_DEFAULT_VOL": "0.3",
            "HEDGER_MULTIPLIER": "10",
            "HEDGER_COMMISSION_PER_SHARE": "0.002",
            "HEDGER_EXPIRY_TIME": "15:00",
            "HEDGER_EXPIRY_TIMEZONE": "America/Chicago",
            "HEDGER_UNDERLYINGS": "XYZ,ABC",
        }
    )
    assert settings.engine_config() == EngineConfig(
        policy=BandPolicy(
            band_shares=500.0, target_delta=-1000.0, lot_size=100.0, min_interval_ns=250_000_000
        ),
        rate=0.04,
        dividend_yield=0.01,
        default_vol=0.3,
        default_multiplier=10.0,
        commission_per_share=0.002,
        expiry_time=dt.time(15, 0),
        expiry_timezone="America/Chicago",
        underlyings=frozenset({"XYZ", "ABC"}),
    )


def test_settings_engine_config_min_interval_is_exact_integer_nanoseconds():
    policy = Settings.from_env({"HEDGER_MIN_INTERVAL_MS": "1"}).engine_config().policy
    assert policy.min_interval_ns == 1_000_000
    assert type(policy.min_interval_ns) is int


def test_settings_table_has_one_row_per_setting_with_shown_defaults():
    rows = {variable: (default, meaning) for variable, default, meaning in settings_table()}
    assert len(rows) == len(dataclasses.fields(Settings))
    assert all(variable.startswith("HEDGER_") for variable in rows)
    assert all(meaning for _, meaning in rows.values())
    assert rows["HEDGER_KAFKA_BOOTSTRAP"][0] == ""
    assert rows["HEDGER_INSTANCE_ID"][0] == "(hostname)"
    assert rows["HEDGER_EXPIRY_TIME"][0] == "16:00"
    assert rows["HEDGER_UNDERLYINGS"][0] == ""
    assert rows["HEDGER_MIN_INTERVAL_MS"][0] == "1000"


# --- README ------------------------------------------------------------------------------
# These read README.md at the repository root, which is written separately from this file:
# they keep its configuration table in step with `settings_table()`.


def readme_configuration_variables(text: str) -> set[str]:
    """HEDGER_* names in the first cell of table rows under a heading naming configuration."""
    variables: set[str] = set()
    in_section = in_code = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
        elif in_code:
            continue
        elif line.startswith("#"):
            in_section = "configuration" in line.lower()
        elif in_section and line.lstrip().startswith("|"):
            first_cell = line.strip().strip("|").split("|")[0]
            variables.update(re.findall(r"HEDGER_[A-Z0-9_]+", first_cell))
    return variables


def readme_variables() -> set[str]:
    assert README.is_file(), f"{README} is missing: it must document every setting"
    return readme_configuration_variables(README.read_text(encoding="utf-8"))


def test_readme_configuration_table_lists_every_setting():
    missing = {variable for variable, _, _ in settings_table()} - readme_variables()
    assert not missing, f"README configuration table lacks {sorted(missing)}"


def test_readme_configuration_table_lists_no_unknown_variable():
    unknown = readme_variables() - {variable for variable, _, _ in settings_table()}
    assert not unknown, f"README configuration table documents unknown {sorted(unknown)}"


def test_settings_underlyings_not_tickers_are_refused():
    with pytest.raises(ConfigError, match="HEDGER_UNDERLYINGS"):
        Settings.from_env({"HEDGER_UNDERLYINGS": "XYZ,xyz"})
