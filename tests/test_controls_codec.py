"""The control topic's wire format and order cancels; the control gauges."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from hedger.adapters.metrics import Metrics
from hedger.codec import CrossedQuoteError, DecodeError, decode_price
from hedger.control_codec import (
    control_key,
    decode_control,
    decode_order_event,
    encode_cancel,
    encode_control,
    latch_event,
)
from hedger.core.actions import CancelHedgeOrder, LatchBook
from hedger.core.controls import Switches
from hedger.core.events import (
    BookLatched,
    BookRearmed,
    ControlEvent,
    HedgeOrderCancelled,
    HedgeOrderRecorded,
    KillSwitchSet,
)

TS = 1_795_185_000_000_000_000


def raw(**fields: object) -> bytes:
    return orjson.dumps(fields)


def test_decode_control_design_kill_message_is_a_kill_switch():
    message = raw(type="kill", book="mm-1", engaged=True, ts=TS, by="ops")
    assert decode_control(message) == KillSwitchSet("mm-1", True, TS, "ops")


def test_decode_control_kill_for_all_books_and_without_by():
    event = decode_control(raw(type="kill", book="*", engaged=False, ts=TS))
    assert event == KillSwitchSet("*", False, TS, "unknown")


@pytest.mark.parametrize(
    "event",
    [
        KillSwitchSet("*", True, TS, "alice"),
        BookRearmed("mm-1", TS, "bob"),
        BookLatched("mm-2", TS, "hedger", "8 direction reversals in XYZ within 120 s"),
    ],
)
def test_encode_control_then_decode_control_keeps_the_event(event):
    assert decode_control(encode_control(event)) == event


@pytest.mark.parametrize(
    ("fields", "kind"),
    [
        ({"type": "kill", "book": "mm-1", "engaged": "yes", "ts": TS}, "bad_value"),
        ({"type": "kill", "book": "mm-1", "engaged": 1, "ts": TS}, "bad_value"),
        ({"type": "kill", "book": "mm-1", "ts": TS}, "bad_value"),
        ({"type": "rearm", "book": "*", "ts": TS}, "bad_value"),
        ({"type": "rearm", "ts": TS}, "missing_field"),
        ({"type": "kill", "book": "", "engaged": True, "ts": TS}, "bad_value"),
        ({"type": "pause", "book": "mm-1", "ts": TS}, "unknown_type"),
        ({"type": "kill", "book": "mm-1", "engaged": True}, "missing_field"),
    ],
)
def test_decode_control_bad_message_is_refused_with_its_kind(fields, kind):
    with pytest.raises(DecodeError) as refused:
        decode_control(orjson.dumps(fields))
    assert refused.value.kind == kind


def test_control_key_names_the_state_the_record_sets():
    assert control_key(KillSwitchSet("*", True, TS, "ops")) == "kill/*"
    assert control_key(KillSwitchSet("mm-1", False, TS, "ops")) == "kill/mm-1"
    assert control_key(BookLatched("mm-1", TS, "hedger", "flip-flop")) == "latch/mm-1"
    assert control_key(BookRearmed("mm-1", TS, "ops")) == "latch/mm-1"


_CONTROL_EVENTS = st.one_of(
    st.builds(
        KillSwitchSet,
        st.sampled_from(["*", "mm-1", "mm-2"]),
        st.booleans(),
        st.just(TS),
        st.just("ops"),
    ),
    st.builds(
        BookLatched,
        st.sampled_from(["mm-1", "mm-2"]),
        st.just(TS),
        st.just("hedger"),
        st.sampled_from(["a", "b"]),
    ),
    st.builds(BookRearmed, st.sampled_from(["mm-1", "mm-2"]), st.just(TS), st.just("ops")),
)


def _compacted(events: list[ControlEvent]) -> list[ControlEvent]:
    """What log compaction leaves: the last record of each key, in log order."""
    last = {control_key(event): index for index, event in enumerate(events)}
    return [event for index, event in enumerate(events) if last[control_key(event)] == index]


def _switches(events: list[ControlEvent]) -> tuple[dict[str, str], dict[str, str]]:
    switches = Switches()
    for event in events:
        switches.apply(event)
    return switches.kill, switches.latched


@given(st.lists(_CONTROL_EVENTS, max_size=12))
def test_a_compacted_control_topic_rebuilds_the_same_switches(events):
    assert _switches(_compacted(events)) == _switches(events)


def test_compaction_keeps_a_kill_switch_that_a_later_latch_of_the_book_follows():
    events = [KillSwitchSet("mm-1", True, TS, "ops"), BookLatched("mm-1", TS, "hedger", "x")]
    kill, latched = _switches(_compacted(events))
    assert kill == {"mm-1": "ops"}
    assert latched == {"mm-1": "x"}


def test_latch_event_records_the_engine_as_author():
    assert latch_event(LatchBook("mm-1", TS, "why")) == BookLatched("mm-1", TS, "hedger", "why")


def test_decode_order_event_reads_back_a_cancel_and_an_order():
    cancel = CancelHedgeOrder("H-1", "mm-1", "XYZ", TS, "timeout")
    read_back = HedgeOrderCancelled("H-1", "mm-1", TS, "timeout")
    assert decode_order_event(encode_cancel(cancel)) == read_back
    order = raw(
        type="order", order_id="H-2", book="mm-1", symbol="XYZ", side="buy", qty=5, ts=TS,
        ref_price=100.0,
    )  # fmt: skip
    recorded = decode_order_event(order)
    assert isinstance(recorded, HedgeOrderRecorded)
    assert recorded.order_id == "H-2"


def test_decode_price_crossed_tick_names_its_symbol_and_time_for_the_freeze():
    with pytest.raises(CrossedQuoteError) as refused:
        decode_price(raw(type="tick", symbol="XYZ", ts=TS, bid=100.1, ask=100.0))
    assert (refused.value.kind, refused.value.symbol, refused.value.ts_ns) == (
        "crossed_quote",
        "XYZ",
        TS,
    )


def gauge_values(metrics: Metrics, name: str) -> dict[str, float]:
    text = generate_latest(metrics.registry).decode()
    return {
        next(iter(sample.labels.values())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


def test_metrics_record_controls_sets_and_releases_the_gauges():
    metrics = Metrics()
    metrics.record_controls(["*", "mm-1"], ["mm-2"], ["mm-1", "mm-2"])
    assert gauge_values(metrics, "hedger_kill_switch_engaged") == {"*": 1.0, "mm-1": 1.0}
    assert gauge_values(metrics, "hedger_book_latched") == {"mm-1": 0.0, "mm-2": 1.0}
    metrics.record_controls(["mm-1"], [], ["mm-1", "mm-2"])
    assert gauge_values(metrics, "hedger_kill_switch_engaged") == {"*": 0.0, "mm-1": 1.0}
    assert gauge_values(metrics, "hedger_book_latched") == {"mm-1": 0.0, "mm-2": 0.0}
