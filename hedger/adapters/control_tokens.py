"""Who may use the control endpoints: bearer tokens read from a file, a principal each.

The file (`HEDGER_CONTROL_TOKENS_FILE`) holds one `principal token` pair a line; blank
lines and `#` comments are skipped. Only a SHA-256 digest of each token is kept, and a
presented token is hashed and compared with every digest in constant time: how long a
refusal takes says nothing of how much of a token was right, nor which principal's.

    # principal   token (at least 32 characters: `openssl rand -hex 32`)
    alice         3f0c...e9
    risk-desk     b71a...04
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from pathlib import Path

MIN_TOKEN_CHARS = 32
_PRINCIPAL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


class ControlTokensError(ValueError):
    """Why the tokens file cannot be used, in one line naming the file and the line."""


@dataclass(frozen=True, slots=True)
class ControlTokens:
    digests: tuple[tuple[bytes, str], ...]  # (SHA-256 of the token, its principal)

    @classmethod
    def read(cls, path: str | Path) -> ControlTokens:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
            raise ControlTokensError(f"control tokens file {path}: {reason}") from None
        return cls.parse(text, str(path))

    @classmethod
    def parse(cls, text: str, source: str) -> ControlTokens:
        digests: dict[bytes, str] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            where = f"control tokens file {source}, line {number}"
            # The line itself is never quoted: it holds a secret.
            if len(fields) != 2:
                raise ControlTokensError(f"{where}: need `principal token`, two fields")
            principal, token = fields
            if not _PRINCIPAL.fullmatch(principal):
                raise ControlTokensError(
                    f"{where}: a principal is letters, digits and . _ @ - (up to 64)"
                )
            if len(token) < MIN_TOKEN_CHARS:
                raise ControlTokensError(
                    f"{where}: the token is shorter than {MIN_TOKEN_CHARS} characters"
                )
            digest = _digest(token)
            if digest in digests:
                raise ControlTokensError(f"{where}: the token of {digests[digest]} again")
            digests[digest] = principal
        if not digests:
            raise ControlTokensError(f"control tokens file {source}: no tokens in it")
        return cls(tuple(digests.items()))

    def principal(self, token: str) -> str | None:
        """The principal whose token `token` is, or None."""
        presented = _digest(token)
        found = None
        for digest, principal in self.digests:  # every digest, whichever matches
            if hmac.compare_digest(presented, digest):
                found = principal
        return found


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
