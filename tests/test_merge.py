"""EventTimeMerge: streams leave in event-time order without stalling on a quiet feed."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from hedger.adapters.merge import EventTimeMerge

PROPERTIES = settings(max_examples=300, deadline=None)
PRICES, FILLS = 0, 1
BOTH_IDLE = {PRICES: True, FILLS: True}
NO_LIMIT = 1_000


def add(merge: EventTimeMerge, stream: int, pairs: list[tuple[int | None, object]]) -> None:
    merge.add(stream, [ts for ts, _ in pairs], [item for _, item in pairs])


def merge_with(prices: list[tuple[int | None, str]], fills: list[tuple[int | None, str]]):
    merge: EventTimeMerge[int, str] = EventTimeMerge()
    add(merge, PRICES, prices)
    add(merge, FILLS, fills)
    return merge


def test_merge_items_leave_in_event_time_order_across_streams():
    merge = merge_with([(10, "p10"), (30, "p30"), (50, "p50")], [(20, "f20"), (40, "f40")])
    assert merge.pop_ready(BOTH_IDLE, NO_LIMIT) == ["p10", "f20", "p30", "f40", "p50"]
    assert (merge.buffered(PRICES), merge.buffered(FILLS)) == (0, 0)


def test_merge_busy_stream_that_ran_dry_blocks_the_other():
    merge = merge_with([(10, "p10")], [(5, "f5"), (20, "f20"), (30, "f30")])
    # Prices are not idle: more may be waiting on the broker, earlier than f20.
    assert merge.pop_ready({PRICES: False, FILLS: True}, NO_LIMIT) == ["f5", "p10"]
    assert merge.buffered(FILLS) == 2
    assert merge.pop_ready({PRICES: False, FILLS: True}, NO_LIMIT) == []
    add(merge, PRICES, [(25, "p25")])
    assert merge.pop_ready({PRICES: False, FILLS: True}, NO_LIMIT) == ["f20", "p25"]


def test_merge_busy_empty_stream_blocks_even_the_first_item():
    merge = merge_with([], [(5, "f5")])
    assert merge.pop_ready({PRICES: False, FILLS: True}, NO_LIMIT) == []
    assert merge.buffered(FILLS) == 1


def test_merge_idle_dry_stream_does_not_block_the_other():
    merge = merge_with([(10, "p10")], [(5, "f5"), (20, "f20"), (30, "f30")])
    assert merge.pop_ready(BOTH_IDLE, NO_LIMIT) == ["f5", "p10", "f20", "f30"]


def test_merge_idle_flags_are_per_stream():
    merge = merge_with([(10, "p10"), (20, "p20")], [(5, "f5")])
    # Fills are busy and dry after f5: prices wait, though prices themselves are idle.
    assert merge.pop_ready({PRICES: True, FILLS: False}, NO_LIMIT) == ["f5"]
    assert merge.buffered(PRICES) == 2


def test_merge_equal_times_go_to_the_lower_stream_index_first():
    merge = merge_with([(10, "p10a"), (10, "p10b")], [(10, "f10a"), (10, "f10b")])
    assert merge.pop_ready(BOTH_IDLE, NO_LIMIT) == ["p10a", "p10b", "f10a", "f10b"]


def test_merge_item_without_time_stays_after_the_previous_item_of_its_stream():
    merge = merge_with([(10, "p10"), (None, "p-bad"), (30, "p30")], [(20, "f20")])
    # p-bad takes p10's time, so it leaves straight after p10 and before f20.
    assert merge.pop_ready(BOTH_IDLE, NO_LIMIT) == ["p10", "p-bad", "f20", "p30"]


def test_merge_item_without_time_keeps_the_stream_time_across_batches():
    merge = merge_with([(30, "p30")], [(20, "f20")])
    assert merge.pop_ready(BOTH_IDLE, NO_LIMIT) == ["f20", "p30"]
    add(merge, PRICES, [(None, "p-bad")])
    add(merge, FILLS, [(25, "f25"), (35, "f35")])
    # p-bad arrived after p30, so it carries time 30: after f25, before f35.
    assert merge.pop_ready(BOTH_IDLE, NO_LIMIT) == ["f25", "p-bad", "f35"]


def test_merge_item_without_time_first_in_its_stream_leaves_first():
    merge = merge_with([(None, "p-bad"), (10, "p10")], [(5, "f5")])
    assert merge.pop_ready(BOTH_IDLE, NO_LIMIT) == ["p-bad", "f5", "p10"]


def test_merge_pop_ready_respects_the_limit():
    merge = merge_with([(10, "p10"), (30, "p30")], [(20, "f20"), (40, "f40")])
    assert merge.pop_ready(BOTH_IDLE, 3) == ["p10", "f20", "p30"]
    assert merge.last_taken == {PRICES: "p30", FILLS: "f20"}
    assert merge.pop_ready(BOTH_IDLE, 0) == []
    assert merge.last_taken == {}
    assert merge.pop_ready(BOTH_IDLE, 3) == ["f40"]
    assert merge.last_taken == {FILLS: "f40"}


def test_merge_keeps_arrival_order_within_a_stream_when_times_go_backwards():
    merge = merge_with([(30, "p30"), (10, "p10"), (20, "p20")], [(15, "f15"), (25, "f25")])
    released = merge.pop_ready(BOTH_IDLE, NO_LIMIT)
    assert [item for item in released if item.startswith("p")] == ["p30", "p10", "p20"]
    # Only each stream's head is compared: fills run ahead while p30 heads the prices.
    assert released == ["f15", "f25", "p30", "p10", "p20"]


def test_merge_clear_drops_one_stream_only():
    merge = merge_with([(10, "p10")], [(20, "f20")])
    merge.clear(PRICES)
    assert (merge.buffered(PRICES), merge.buffered(FILLS)) == (0, 1)
    assert merge.pop_ready(BOTH_IDLE, NO_LIMIT) == ["f20"]


def test_merge_with_three_streams_orders_all_of_them():
    merge: EventTimeMerge[int, str] = EventTimeMerge()
    add(merge, 0, [(30, "a30")])
    add(merge, 1, [(10, "b10"), (40, "b40")])
    add(merge, 2, [(20, "c20")])
    assert merge.pop_ready({0: True, 1: True, 2: True}, NO_LIMIT) == ["b10", "c20", "a30", "b40"]


sorted_times = st.lists(st.integers(min_value=0, max_value=50), max_size=30).map(sorted)


@PROPERTIES
@given(price_times=sorted_times, fill_times=sorted_times, limit=st.integers(1, 7))
def test_merge_sorted_idle_streams_give_the_stable_merge_without_loss(
    price_times, fill_times, limit
):
    prices = [(ts, ("p", index)) for index, ts in enumerate(price_times)]
    fills = [(ts, ("f", index)) for index, ts in enumerate(fill_times)]
    merge: EventTimeMerge[int, tuple[str, int]] = EventTimeMerge()
    add(merge, PRICES, prices)
    add(merge, FILLS, fills)

    released: list[tuple[str, int]] = []
    while batch := merge.pop_ready(BOTH_IDLE, limit):
        assert len(batch) <= limit
        # Each stream's last item in the batch, found by a look at every item.
        last_of_stream = {PRICES if name == "p" else FILLS: (name, i) for name, i in batch}
        assert merge.last_taken == last_of_stream
        released.extend(batch)

    # sorted() is stable: equal (ts, stream) keep arrival order.
    tagged = [(ts, PRICES, item) for ts, item in prices] + [(ts, FILLS, item) for ts, item in fills]
    expected = [item for _, _, item in sorted(tagged, key=lambda row: (row[0], row[1]))]
    assert released == expected
    assert Counter(released) == Counter(item for _, item in prices + fills)
    assert (merge.buffered(PRICES), merge.buffered(FILLS)) == (0, 0)


def test_merge_stream_known_only_from_idle_blocks_while_busy_and_empty():
    merge: EventTimeMerge[int, str] = EventTimeMerge()
    add(merge, 0, [(10, "a10")])
    # Stream 1 has never had an item, but the broker holds some: a10 may be later.
    assert merge.pop_ready({0: True, 1: False}, NO_LIMIT) == []
    assert merge.pop_ready({0: True, 1: True}, NO_LIMIT) == ["a10"]


def test_merge_patient_stream_waits_for_a_dry_stream_to_settle_others_do_not():
    merge: EventTimeMerge[int, str] = EventTimeMerge()
    add(merge, 0, [(10, "fill10")])
    add(merge, 1, [(20, "tick20")])
    add(merge, 2, [(5, "tick5")])
    idle = {0: True, 1: True, 2: True}
    # Stream 2 ran dry just now: idle, not yet settled. The fill (patient) must wait.
    unsettled = {0: True, 1: True, 2: False}
    assert merge.pop_ready(idle, NO_LIMIT, settled=unsettled, patient={0}) == ["tick5"]
    assert merge.pop_ready(idle, NO_LIMIT, settled=unsettled, patient={0}) == []
    assert merge.pop_ready(idle, NO_LIMIT, settled=idle, patient={0}) == ["fill10", "tick20"]


@PROPERTIES
@given(
    times=st.lists(st.integers(min_value=0, max_value=50), max_size=40),
    partitions=st.integers(1, 6),
    limit=st.integers(1, 9),
)
def test_merge_gives_the_same_order_whatever_the_partition_count(times, partitions, limit):
    """Items spread over partitions by a key leave in one global event-time order: the
    order of one partition, up to ties (broken by stream key)."""
    items = [(ts, f"{index}") for index, ts in enumerate(sorted(times))]
    merge: EventTimeMerge[int, str] = EventTimeMerge()
    for partition in range(partitions):
        add(merge, partition, [item for item in items if int(item[1]) % partitions == partition])
    released: list[str] = []
    while batch := merge.pop_ready(dict.fromkeys(range(partitions), True), limit):
        released.extend(batch)
    assert [int(item) for item in released] == sorted(
        (int(item) for item in released), key=lambda index: (items[index][0], index % partitions)
    )
    assert sorted(released, key=int) == [item for _, item in items]
