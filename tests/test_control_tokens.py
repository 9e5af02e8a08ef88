"""hedger.adapters.control_tokens: the tokens file, read strictly, and who a token is."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from hedger.adapters.control_tokens import MIN_TOKEN_CHARS, ControlTokens, ControlTokensError

ALICE = "a" * MIN_TOKEN_CHARS
BOB = "0123456789abcdef" * 4


def test_each_token_names_its_principal_and_nothing_else_does() -> None:
    tokens = ControlTokens.parse(f"# desk\n\nalice {ALICE}\nrisk-desk {BOB}  # night\n", "f")
    assert tokens.principal(ALICE) == "alice"
    assert tokens.principal(BOB) == "risk-desk"
    assert tokens.principal(ALICE[:-1]) is None
    assert tokens.principal(ALICE + "a") is None
    assert tokens.principal("") is None


def test_only_digests_of_the_tokens_are_kept() -> None:
    tokens = ControlTokens.parse(f"alice {ALICE}", "f")
    assert tokens.digests == ((hashlib.sha256(ALICE.encode()).digest(), "alice"),)
    assert ALICE not in repr(tokens)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "no tokens in it"),
        ("# only a comment\n", "no tokens in it"),
        (f"alice {ALICE} extra", "line 1: need `principal token`, two fields"),
        (f"\n{ALICE}", "line 2: need `principal token`, two fields"),
        (f"al/ice {ALICE}", "line 1: a principal is letters, digits"),
        ("alice short-token", f"line 1: the token is shorter than {MIN_TOKEN_CHARS} characters"),
        (f"alice {ALICE}\nbob {ALICE}", "line 2: the token of alice again"),
    ],
)
def test_a_file_that_cannot_be_used_is_refused_in_one_line_without_the_secret(
    text: str, says: str
) -> None:
    with pytest.raises(ControlTokensError) as refused:
        ControlTokens.parse(text, "tokens.txt")
    message = str(refused.value)
    assert message.startswith("control tokens file tokens.txt")
    assert says in message
    assert "\n" not in message
    assert ALICE not in message
    assert "short-token" not in message


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "absent"
    with pytest.raises(ControlTokensError, match=f"control tokens file {path}: No such file"):
        ControlTokens.read(path)


def test_a_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text(f"alice {ALICE}\n")
    assert ControlTokens.read(path).principal(ALICE) == "alice"
