"""hedger.adapters.record_signing: the hedger's signature, and what it refuses."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

from hedger.adapters.record_signing import HEADER, RecordKeyError, RecordSigner

KEY = b"k" * 32
SIGNER = RecordSigner(KEY)


def test_the_signature_is_hmac_sha256_over_the_framed_topic_key_and_value() -> None:
    # Written out here, independently of the module: lengths, then the three parts.
    message = b"8:4:5:orders.xmm-1hello"
    expected = hmac.new(KEY, message, hashlib.sha256).hexdigest().encode()
    assert SIGNER.header("orders.x", b"mm-1", b"hello") == (HEADER, expected)


def test_a_record_it_signed_is_believed() -> None:
    headers = [("source_topic", b"md"), SIGNER.header("t", b"k", b"v")]
    assert SIGNER.refusal("t", b"k", b"v", headers) is None


@pytest.mark.parametrize(
    ("topic", "key", "value"),
    [
        ("t2", b"k", b"v"),
        ("t", b"k2", b"v"),
        ("t", b"k", b"v2"),
        ("t", None, b"v"),
        ("tk", b"", b"v"),
    ],
)
def test_any_change_of_topic_key_or_value_breaks_the_signature(
    topic: str, key: bytes | None, value: bytes
) -> None:
    headers = [SIGNER.header("t", b"k", b"v")]
    assert SIGNER.refusal(topic, key, value, headers) == "bad_signature"


def test_unsigned_twice_signed_and_another_keys_records_are_refused() -> None:
    other = RecordSigner(b"o" * 32)
    assert SIGNER.refusal("t", b"k", b"v", []) == "unsigned"
    assert SIGNER.refusal("t", b"k", b"v", [other.header("t", b"k", b"v")]) == "bad_signature"
    twice = [SIGNER.header("t", b"k", b"v"), other.header("t", b"k", b"v")]
    assert SIGNER.refusal("t", b"k", b"v", twice) == "bad_signature"


def test_a_short_or_missing_key_file_is_refused_in_one_line(tmp_path: Path) -> None:
    short = tmp_path / "short"
    short.write_bytes(b"x" * 31 + b"\n")
    with pytest.raises(RecordKeyError, match=f"^record key file {short}: .* shorter than 32"):
        RecordSigner.read(short)
    with pytest.raises(RecordKeyError, match="No such file"):
        RecordSigner.read(tmp_path / "absent")
    good = tmp_path / "key"
    good.write_bytes(KEY + b"\n")  # the newline `openssl rand -hex 32 > key` leaves
    assert RecordSigner.read(good).header("t", b"k", b"v") == SIGNER.header("t", b"k", b"v")
