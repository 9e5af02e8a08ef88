"""The hedger's signature on the records it writes, checked on the records it reads back.

On a broker without an authorizer anyone who can reach it may write the order and control
topics, and the hedger reads both back: a forged 50,000-share "order" would be rebuilt as
working and hedged against, a forged control record would engage or release a switch. With
`HEDGER_RECORD_KEY_FILE` set, every record the hedger writes carries a header
`hedger-signature`: HMAC-SHA256, keyed by the file's bytes, over the topic, the record key
and the value. A record read back from the order or control topic without it, or with one
that does not match, has no effect: it is dead-lettered (`unsigned`, `bad_signature`) and
counted. The key is shared by the hedger's instances and the desk's tools that write
controls; rotate it by restarting them with a new file.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from pathlib import Path

from aiokafka.structs import ConsumerRecord

from hedger.codec import DecodeError

HEADER = "hedger-signature"
MIN_KEY_BYTES = 32


class RecordKeyError(ValueError):
    """Why the key file cannot be used, in one line (never the key)."""


class RecordSigner:
    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise RecordKeyError(f"the record key is shorter than {MIN_KEY_BYTES} bytes")
        self._key = key

    @classmethod
    def read(cls, path: str | Path) -> RecordSigner:
        try:
            key = Path(path).read_bytes().strip()
        except OSError as error:
            raise RecordKeyError(f"record key file {path}: {error.strerror}") from None
        try:
            return cls(key)
        except RecordKeyError as error:
            raise RecordKeyError(f"record key file {path}: {error}") from None

    def signature(self, topic: str, key: bytes | None, value: bytes) -> bytes:
        # Lengths first: no two (topic, key, value) triples give the same signed bytes.
        key = key or b""
        framed = b"%d:%d:%d:" % (len(topic), len(key), len(value))
        message = framed + topic.encode() + key + value
        return hmac.new(self._key, message, hashlib.sha256).hexdigest().encode()

    def header(self, topic: str, key: bytes | None, value: bytes) -> tuple[str, bytes]:
        return HEADER, self.signature(topic, key, value)

    def refusal(
        self, topic: str, key: bytes | None, value: bytes, headers: Sequence[tuple[str, bytes]]
    ) -> str | None:
        """Why the record may not be believed (`unsigned`, `bad_signature`), or None."""
        signatures = [found for name, found in headers if name == HEADER]
        if not signatures:
            return "unsigned"
        expected = self.signature(topic, key, value)
        if len(signatures) > 1 or not hmac.compare_digest(signatures[0], expected):
            return "bad_signature"
        return None


def unbelieved(
    signer: RecordSigner | None, record: ConsumerRecord[bytes, bytes]
) -> DecodeError | None:
    """Why `record`, read back, must have no effect (not signed by `signer`'s key); None
    when it may (or no key is configured)."""
    if signer is None:
        return None
    value, headers = record.value or b"", record.headers
    refusal = signer.refusal(record.topic, record.key, value, headers)
    if refusal is None:
        return None
    return DecodeError(refusal, "not signed with the key of HEDGER_RECORD_KEY_FILE")
