"""hedger.adapters.metrics: the labels input records choose keep a bounded number of values."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from hedger.adapters.metrics import Metrics


def labelled(metrics: Metrics, label: str) -> set[str]:
    text = generate_latest(metrics.registry).decode()
    return {
        sample.labels[label]
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if label in sample.labels
    }


def dropped(metrics: Metrics, label: str) -> float:
    return metrics.label_values_dropped.labels(label)._value.get()


def test_books_past_the_limit_get_no_series_and_their_updates_are_counted() -> None:
    metrics = Metrics(max_label_values=3)
    for index in range(10):
        metrics.hedge_orders.labels(f"book-{index}", "XYZ", "buy").inc()
    assert labelled(metrics, "book") == {"book-0", "book-1", "book-2"}
    assert dropped(metrics, "book") == 7
    # A book already labelled is still updated, by any metric.
    metrics.hedge_orders.labels("book-1", "XYZ", "buy").inc()
    metrics.delta.labels("book-2", "XYZ").set(5.0)
    assert metrics.hedge_orders.labels("book-1", "XYZ", "buy")._value.get() == 2
    assert metrics.delta.labels("book-2", "XYZ")._value.get() == 5.0
    assert dropped(metrics, "book") == 7


def test_each_input_label_has_its_own_limit_and_the_shell_labels_none() -> None:
    metrics = Metrics(max_label_values=2)
    for index in range(5):
        metrics.last_tick_received.labels(f"SYM{index}").set(1.0)
        metrics.messages_consumed.labels(f"topic-{index}").inc()
    assert labelled(metrics, "underlying") == {"SYM0", "SYM1"}
    assert labelled(metrics, "topic") == {f"topic-{index}" for index in range(5)}
    assert dropped(metrics, "underlying") == 3
    assert dropped(metrics, "book") == 0


def test_a_value_over_the_limit_in_a_series_drops_the_whole_update() -> None:
    metrics = Metrics(max_label_values=1)
    metrics.delta.labels("mm-1", "XYZ").set(1.0)
    metrics.delta.labels("mm-1", "ABC").set(2.0)  # a known book, a new underlying
    assert labelled(metrics, "underlying") == {"XYZ"}
    assert dropped(metrics, "underlying") == 1


def test_without_a_limit_every_value_is_labelled() -> None:
    metrics = Metrics()
    for index in range(50):
        metrics.hedge_orders.labels(f"book-{index}", "XYZ", "buy").inc()
    assert len(labelled(metrics, "book")) == 50
