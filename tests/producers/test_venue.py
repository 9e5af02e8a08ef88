"""The paper exchange's venue, pure: fills wait for event time, cancels stop later fills,
and only records done, with all before them, may be committed."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka.structs import TopicPartition
from hypothesis import given
from hypothesis import strategies as st

from hedger.codec import encode_order, encode_tick
from hedger.control_codec import encode_cancel
from hedger.core.actions import CancelHedgeOrder, SubmitHedgeOrder
from hedger.core.events import PriceTick, Side
from producers.execution import CostModel, plan_fills
from producers.venue import Venue

T0 = 1_795_185_000_000_000_000
MS = 1_000_000
SECOND = 1_000 * MS
ORDERS = "hedger.orders"
# Order "H-1" fills in three slices, at T0 + 1 s, + 11 s and + 21 s, under this seed.
SLICED = CostModel(
    half_spread=0.01, latency_ms=1_000, max_slices=3, slice_interval_ms=10_000, seed=4
)


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    partition: int
    offset: int
    value: bytes | None


def submitted(order_id: str = "H-1", qty: float = 1000, ts_ns: int = T0) -> SubmitHedgeOrder:
    return SubmitHedgeOrder(
        order_id, "mm-1", "XYZ", Side.BUY, qty, ts_ns, 100.0, "band", 0.0, 0.0, "band", "tick"
    )


def order(offset: int, order_id: str = "H-1", partition: int = 0, **fields: int) -> Record:
    return Record(ORDERS, partition, offset, encode_order(submitted(order_id, **fields)))


def cancel(offset: int, ts_ns: int, order_id: str = "H-1", partition: int = 0) -> Record:
    action = CancelHedgeOrder(order_id, "mm-1", "XYZ", ts_ns, "timeout")
    return Record(ORDERS, partition, offset, encode_cancel(action))


def tick(ts_ns: int, mark: float) -> Record:
    value = encode_tick(PriceTick("XYZ", ts_ns, mark - 0.01, mark + 0.01, None, mark))
    return Record("md.prices", 0, 0, value)


def planned_times(costs: CostModel, order_id: str = "H-1") -> list[int]:
    return [fill.ts_ns for fill in plan_fills(submitted(order_id), costs)]


def test_sliced_model_plans_three_slices_ten_seconds_apart() -> None:
    # The tests below lean on this plan.
    assert planned_times(SLICED) == [T0 + SECOND, T0 + 11 * SECOND, T0 + 21 * SECOND]


def test_venue_fill_waits_for_the_prices_to_reach_its_time_then_takes_the_mark_then() -> None:
    venue = Venue(CostModel(half_spread=0.01, latency_ms=1_000))
    venue.apply_prices([tick(T0, 100.0)])
    venue.take_orders([order(0)])
    assert venue.next_fill_ns() == T0 + SECOND
    assert venue.fills_due(venue.reached_ns) == []

    venue.apply_prices([tick(T0 + 500 * MS, 101.0), tick(T0 + 2 * SECOND, 102.0)])
    (fill,) = venue.fills_due(venue.reached_ns)

    assert (fill.fill_id, fill.ts_ns, fill.qty) == ("PX-H-1", T0 + SECOND, 1000)
    assert fill.price == 101.0 + 0.01  # the mark as of the fill's time, not the latest
    assert venue.next_fill_ns() is None
    assert venue.orders_filled == 1


def test_venue_cancel_keeps_fills_at_or_before_its_time_and_stops_the_later_ones() -> None:
    venue = Venue(SLICED)
    venue.take_orders([order(0)])
    venue.reach(T0 + SECOND)
    first = venue.fills_due(venue.reached_ns)
    # Cancelled at the very time of the second slice: that slice is kept, as the backtest
    # keeps a fill due at its order's cancel time.
    venue.take_orders([cancel(1, T0 + 11 * SECOND)])
    venue.reach(T0 + 30 * SECOND)
    second = venue.fills_due(venue.reached_ns)

    assert [f.fill_id for f in first + second] == ["PX-H-1-1", "PX-H-1-2"]
    assert venue.next_fill_ns() is None
    assert (venue.orders_filled, venue.orders_cancelled) == (0, 1)


def test_venue_cancel_before_the_first_fill_stops_the_whole_order() -> None:
    venue = Venue(CostModel(latency_ms=30_000))
    venue.take_orders([order(0), cancel(1, T0 + 20 * SECOND)])
    venue.reach(T0 + 60 * SECOND)

    assert venue.fills_due(venue.reached_ns) == []
    assert venue.finished() == {TopicPartition(ORDERS, 0): 2}
    assert venue.orders_cancelled == 1


def test_venue_cancel_after_every_fill_was_made_changes_nothing() -> None:
    venue = Venue(CostModel())
    venue.take_orders([order(0)])
    venue.reach(T0)
    assert len(venue.fills_due(T0)) == 1
    venue.take_orders([cancel(1, T0 + SECOND)])

    assert (venue.orders_filled, venue.orders_cancelled) == (1, 0)
    assert venue.finished() == {TopicPartition(ORDERS, 0): 2}


def test_venue_earliest_of_two_cancels_counts_and_unknown_orders_cancels_are_done() -> None:
    venue = Venue(SLICED)
    venue.take_orders([cancel(0, T0, order_id="H-9"), order(1), cancel(2, T0 + 15 * SECOND)])
    venue.take_orders([cancel(3, T0 + 5 * SECOND)])
    venue.reach(T0 + 60 * SECOND)

    assert [f.fill_id for f in venue.fills_due(venue.reached_ns)] == ["PX-H-1-1"]
    assert venue.finished() == {TopicPartition(ORDERS, 0): 4}


def test_venue_fills_only_up_to_the_time_asked_in_time_then_arrival_order() -> None:
    venue = Venue(CostModel(latency_ms=1_000))
    venue.take_orders(
        [
            order(0, "H-late", ts_ns=T0 + SECOND),
            order(1, "H-b"),
            order(0, "H-a", partition=1),
        ]
    )
    venue.reach(T0 + 5 * SECOND)

    first = venue.fills_due(T0 + SECOND)
    rest = venue.fills_due(venue.reached_ns)

    # Same time: in the order taken (partition 0's before partition 1's in this batch).
    assert [f.order_id for f in first] == ["H-b", "H-a"]
    assert [f.order_id for f in rest] == ["H-late"]


def test_venue_commits_per_partition_only_up_to_the_first_record_still_working() -> None:
    venue = Venue(CostModel(latency_ms=10_000))
    venue.take_orders(
        [
            order(0, "H-early"),
            order(1, "H-late", ts_ns=T0 + 60 * SECOND),
            order(2, "H-next"),
            order(0, "H-other", partition=1),
        ]
    )
    venue.reach(T0 + 10 * SECOND)
    assert len(venue.fills_due(venue.reached_ns)) == 3

    assert venue.finished() == {TopicPartition(ORDERS, 0): 1, TopicPartition(ORDERS, 1): 1}
    venue.reach(T0 + 70 * SECOND)
    venue.fills_due(venue.reached_ns)
    assert venue.finished() == {TopicPartition(ORDERS, 0): 3}
    assert venue.finished() == {}


def test_venue_undecodable_record_is_skipped_and_may_be_committed() -> None:
    venue = Venue(CostModel())
    venue.take_orders([Record(ORDERS, 0, 0, b"garbage"), Record(ORDERS, 0, 1, None)])

    assert venue.orders_skipped == 2
    assert venue.next_fill_ns() is None
    assert venue.finished() == {TopicPartition(ORDERS, 0): 2}


def test_venue_fill_pushed_to_a_non_positive_price_is_skipped_not_fatal() -> None:
    venue = Venue(CostModel(half_spread=0.5))
    sell = SubmitHedgeOrder(
        "H-1", "mm-1", "XYZ", Side.SELL, 10, T0, 0.4, "band", 0.0, 0.0, "band", "tick"
    )
    venue.take_orders([Record(ORDERS, 0, 0, encode_order(sell))])
    venue.reach(T0)

    assert venue.fills_due(T0) == []
    assert (venue.orders_skipped, venue.orders_filled) == (1, 0)
    assert venue.finished() == {TopicPartition(ORDERS, 0): 1}


def test_venue_order_read_twice_is_filled_once() -> None:
    venue = Venue(SLICED)
    venue.take_orders([order(0)])
    venue.reach(T0 + SECOND)
    first = venue.fills_due(venue.reached_ns)
    venue.take_orders([order(0)])  # read again after a rebalance
    venue.reach(T0 + 30 * SECOND)
    rest = venue.fills_due(venue.reached_ns)

    assert [f.fill_id for f in first + rest] == ["PX-H-1-1", "PX-H-1-2", "PX-H-1-3"]
    assert venue.orders_filled == 1


def test_venue_standing_still_reaches_the_earliest_planned_fill_one_step_at_a_time() -> None:
    venue = Venue(SLICED)
    venue.apply_prices([tick(T0, 100.0)])
    venue.take_orders([order(0)])

    venue.stand_still(now_s=10.0, wait_s=0.5)
    venue.stand_still(now_s=10.4, wait_s=0.5)
    assert venue.reached_ns == T0  # not yet waited long enough
    venue.stand_still(now_s=10.5, wait_s=0.5)
    assert venue.reached_ns == T0 + SECOND  # the first slice only
    assert [f.fill_id for f in venue.fills_due(venue.reached_ns)] == ["PX-H-1-1"]
    venue.stand_still(now_s=10.6, wait_s=0.5)
    venue.stand_still(now_s=11.0, wait_s=0.5)
    assert venue.reached_ns == T0 + SECOND  # the wait starts again


def test_venue_prices_moving_on_restart_the_wait() -> None:
    venue = Venue(CostModel(latency_ms=60_000))
    venue.apply_prices([tick(T0, 100.0)])
    venue.take_orders([order(0)])

    venue.stand_still(now_s=0.0, wait_s=0.5)
    venue.apply_prices([tick(T0 + SECOND, 100.5)])
    venue.stand_still(now_s=0.4, wait_s=0.5)
    venue.stand_still(now_s=0.8, wait_s=0.5)
    assert venue.reached_ns == T0 + SECOND
    venue.stand_still(now_s=0.9, wait_s=0.5)
    assert venue.reached_ns == T0 + 60 * SECOND


@given(
    slices=st.integers(1, 5),
    latency_ms=st.integers(0, 5_000),
    interval_ms=st.integers(1, 5_000),
    seed=st.integers(0, 10),
    cancel_ms=st.integers(-1_000, 30_000),
)
def test_venue_makes_exactly_the_planned_fills_at_or_before_the_cancel(
    slices: int, latency_ms: int, interval_ms: int, seed: int, cancel_ms: int
) -> None:
    costs = CostModel(
        latency_ms=latency_ms, max_slices=slices, slice_interval_ms=interval_ms, seed=seed
    )
    cancel_ns = T0 + cancel_ms * MS
    venue = Venue(costs)
    venue.take_orders([order(0)])
    made = []
    # The cancel is read part-way, at the time reached then: earlier fills already went.
    venue.reach(min(cancel_ns, T0 + latency_ms * MS))
    made += venue.fills_due(venue.reached_ns)
    venue.take_orders([cancel(1, cancel_ns)])
    venue.reach(T0 + 60 * SECOND)
    made += venue.fills_due(venue.reached_ns)

    expected = [p for p in plan_fills(submitted(), costs) if p.ts_ns <= cancel_ns]
    assert [(f.fill_id, f.ts_ns, f.qty) for f in made] == [
        (p.fill_id, p.ts_ns, p.qty) for p in expected
    ]
    assert venue.finished() == {TopicPartition(ORDERS, 0): 2}
