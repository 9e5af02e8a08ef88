"""The local Apache Kafka's cluster id: never one the storage tool reads as an option."""

from __future__ import annotations

import uuid

import pytest

from hedger.adapters import apache_kafka


def test_a_cluster_id_starting_with_a_dash_is_drawn_again(monkeypatch: pytest.MonkeyPatch):
    # 0xf8 encodes to "-" first in URL-safe base64; the second draw does not.
    draws = iter([uuid.UUID(bytes=b"\xf8" + bytes(15)), uuid.UUID(bytes=bytes(16))])
    monkeypatch.setattr(apache_kafka.uuid, "uuid4", lambda: next(draws))
    assert apache_kafka._new_cluster_id() == "AAAAAAAAAAAAAAAAAAAAAA"
