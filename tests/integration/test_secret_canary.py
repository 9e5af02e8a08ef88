"""Secrets never leak (issue 17): a canary test on Apache Kafka's SASL_SSL SCRAM listener.

Every secret of the run is a canary made for it alone (a uuid in each): the SASL password,
a control bearer token, the record HMAC key, and the wrong ones offered beside them (a wrong
password, a wrong token, a too-short token and key in files the service refuses). With the
right ones `hedger run` (a child process, log level DEBUG: the most it ever writes) hedges
through the listener. Then it is made to fail every way that writes about a secret:

- authentication: `hedger run` and the replay tool with the wrong password, each also with
  `--debug` (the replay then shows its traceback; `hedger run` still one line);
- control: requests with the wrong token (as a bearer, a Basic credential, a query string,
  another header), none, and the right one with bodies that are not JSON, nested too deep,
  too large, or wrong in their values; and requests the HTTP parser refuses, with a token
  in the line it refuses (aiohttp logs that line: `hedger.adapters.http` keeps it out);
- secret files the service cannot use: a tokens file with a short token, a short key;
- an exception inside the service: its order topic deleted under it, the next order is
  not acknowledged and it stops on the error, its traceback logged at DEBUG.

Everything written or answered is collected: each process's stdout and stderr, every HTTP
answer (status, headers, body) including /metrics, /books, /healthz, /readyz and /livez
(of a refused malformed request, the head only: see `ask_everything`), every record on the
hedger's topics, and the broker's own logs. No canary appears in any of it, as itself, in
hex or base64, nor its random part or a half of it. The material is checked to hold what
each failure was meant to produce (the refusal lines, both tracebacks, the refusals logged
and counted), so silence cannot pass.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import io
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from hedger.codec import encode_fill, encode_tick, encode_vol
from hedger.config import Settings
from tests.integration.harness import (
    environment,
    has_book,
    hedger_settings,
    is_ready,
    read_messages,
    records_now,
    wait_until,
)
from tests.integration.secure_kafka import (
    USER,
    SecureKafka,
    replay,
    run_replay,
    secure_kafka_broker,
    secured,
)
from tests.scenarios import market_maker as mm

pytestmark = pytest.mark.broker

OPERATOR = "desk-alice"
SEND_TIMEOUT_S = 3.0  # the crash comes from a send not acknowledged: keep the wait short
EXIT_DEADLINE_S = 60.0


def canary(kind: str, length: int = 32) -> str:
    """A secret no one else writes: its kind, then `length` hex digits of a fresh uuid (or
    two). Plain ASCII, so repr() and JSON quote it unchanged."""
    return f"canary-{kind}-{(uuid.uuid4().hex + uuid.uuid4().hex)[:length]}"


@dataclasses.dataclass(frozen=True)
class Canaries:
    password: str = dataclasses.field(default_factory=lambda: canary("password"))
    wrong_password: str = dataclasses.field(default_factory=lambda: canary("wrong-password"))
    token: str = dataclasses.field(default_factory=lambda: canary("token"))
    wrong_token: str = dataclasses.field(default_factory=lambda: canary("wrong-token"))
    record_key: str = dataclasses.field(default_factory=lambda: canary("record-key"))
    # Under the 32 characters (bytes) a token (key) needs: the files holding them are refused.
    short_token: str = dataclasses.field(default_factory=lambda: canary("tok", 16))
    short_key: str = dataclasses.field(default_factory=lambda: canary("key", 16))

    def named(self) -> dict[str, str]:
        return dataclasses.asdict(self)


def forms(secret: str) -> dict[str, str]:
    """The ways `secret` could show: itself, hex, base64 (a Basic credential, a SASL PLAIN
    message, a dump of bytes), and its random part alone or, when long enough to be told
    from chance, halved (a truncated print)."""
    raw = secret.encode()
    random_part = secret.rsplit("-", 1)[1]
    found = {"raw": secret, "hex": raw.hex(), "HEX": raw.hex().upper(), **_base64(raw)}
    found["random part"] = random_part
    if len(random_part) >= 32:  # halves of 16 hex digits: 64 bits, no chance match
        found["first half"] = random_part[: len(random_part) // 2]
        found["second half"] = random_part[len(random_part) // 2 :]
    return found


def _base64(raw: bytes) -> dict[str, str]:
    """`raw` in base64 wherever it starts in the bytes encoded (three alignments), cut to the
    characters that depend on `raw` alone: the first group holds a neighbour's bytes unless
    `raw` starts one, the last group may."""
    found = {}
    for shift in range(3):
        for name, encode in (("base64", base64.b64encode), ("base64url", base64.urlsafe_b64encode)):
            encoded = encode(b"\0" * shift + raw).decode()
            found[f"{name}, shifted {shift}"] = encoded[4 if shift else 0 : -4]
    return found


class Evidence:
    """Everything the processes wrote and the service answered, by where it came from."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}

    def add(self, source: str, text: str | bytes) -> None:
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        self.texts[source] = self.texts.get(source, "") + text

    def add_process(self, name: str, done: subprocess.CompletedProcess[str]) -> None:
        self.add(f"{name} stdout", done.stdout)
        self.add(f"{name} stderr", done.stderr)

    def __getitem__(self, source: str) -> str:
        return self.texts[source]

    def leaks(self, canaries: Canaries) -> list[str]:
        """Where a canary appears, once a source and canary: "source: canary (form) in: ..."
        with the first of its forms found, and the text around it."""
        found = []
        for source, text in self.texts.items():
            for name, secret in canaries.named().items():
                shown = [(form, value) for form, value in forms(secret).items() if value in text]
                if shown:
                    form, value = shown[0]
                    found.append(f"{source}: {name} ({form}) in: ...{_around(text, value)}...")
        return found


def _around(text: str, shown: str) -> str:
    """Where `shown` first appears in `text`, with what comes before it, on one line."""
    at = text.index(shown)
    return text[max(0, at - 160) : at + len(shown) + 40].replace("\n", "\\n")


class LoggedHedger:
    """`hedger run` as a child process, its stdout and stderr each in a file (the harness's
    child keeps stderr only)."""

    def __init__(self, settings: Settings, folder: Path, name: str) -> None:
        self.out, self.err = folder / f"{name}.stdout", folder / f"{name}.stderr"
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "hedger.cli", "run"],
                env=environment(settings),
                stdout=out,
                stderr=err,
            )

    def said(self) -> str:
        return self.err.read_text(errors="replace")

    def collect(self, evidence: Evidence, name: str) -> None:
        evidence.add(f"{name} stdout", self.out.read_bytes())
        evidence.add(f"{name} stderr", self.err.read_bytes())


@pytest.fixture(scope="module")
def canaries() -> Canaries:
    return Canaries()


@pytest.fixture(scope="module")
def secure_kafka(
    tmp_path_factory: pytest.TempPathFactory, canaries: Canaries
) -> Iterator[SecureKafka]:
    folder = tmp_path_factory.mktemp("kafka-canary")
    with secure_kafka_broker(folder, canaries.password, canaries.wrong_password) as kafka:
        yield kafka


def secret_files(folder: Path, canaries: Canaries) -> dict[str, Path]:
    """The control tokens file and record key file, the usable ones and the refused ones.
    Their names say nothing of the secret: a path is printed freely."""
    files = {
        "tokens": f"{OPERATOR} {canaries.token}\n",
        "short tokens": f"# a token too short\n{OPERATOR} {canaries.short_token}\n",
        "key": canaries.record_key + "\n",
        "short key": canaries.short_key + "\n",
    }
    paths = {}
    for name, text in files.items():
        paths[name] = folder / name.replace(" ", "-")
        paths[name].write_text(text)
    return paths


# --- the requests a caller may send ----------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    body: bytes | None = None


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def control_requests(canaries: Canaries) -> list[tuple[Request, int]]:
    """Each request, and the status it must get. Canaries go only where a credential goes:
    a body is the caller's own words, and a 400 quoting them back to that caller is no leak."""
    wrong, right = canaries.wrong_token, canaries.token
    basic = base64.b64encode(f"{OPERATOR}:{wrong}".encode()).decode()
    release = b'{"book":"mm-1","engaged":false}'
    nested = b"[" * 5000 + b"]" * 5000
    weird = '{"book":"\u202emm-1\\u0000","engaged":"yes","by":"mallory","ts":-1}'.encode()
    return [
        (Request("POST", "/control/kill", bearer(wrong), release), 401),
        (Request("POST", "/control/rearm", bearer(f"  {wrong}  "), b'{"book":"mm-1"}'), 401),
        (Request("POST", "/control/kill", bearer(f"{wrong} {right}"), release), 401),
        (Request("POST", "/control/kill", {"Authorization": f"Basic {basic}"}, release), 401),
        (Request("POST", "/control/kill", {"X-Api-Key": wrong}, release), 401),
        (Request("POST", f"/control/kill?token={wrong}", {}, release), 401),
        (Request("GET", "/control/kill", bearer(wrong)), 405),
        (Request("POST", "/control/kill", bearer(right), b"\x00\xff{not json"), 400),
        (Request("POST", "/control/kill", bearer(right), b'["mm-1", true]'), 400),
        (Request("POST", "/control/kill", bearer(right), nested), 400),
        (Request("POST", "/control/kill", bearer(right), weird), 400),
        (Request("POST", "/control/kill", bearer(right), b"{" + b" " * (2 << 20) + b"}"), 413),
        (Request("POST", "/control/kill", bearer(right), release), 202),
        (Request("POST", "/control/rearm", bearer(right), b'{"book":"mm-1"}'), 202),
    ]


def _stream(body: bytes | None) -> io.BytesIO | None:
    # A stream: aiohttp warns of a large body given as bytes, and warnings are errors here.
    return None if body is None else io.BytesIO(body)


async def send(settings: Settings, request: Request) -> tuple[int, str]:
    """The status, and the whole answer as text: status line, headers and body."""
    url = f"http://127.0.0.1:{settings.metrics_port}{request.path}"
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            request.method, url, headers=request.headers, data=_stream(request.body)
        ) as response,
    ):
        body = await response.read()
    headers = "".join(f"{name}: {value}\n" for name, value in response.headers.items())
    text = f"{response.status} {response.reason}\n{headers}\n"
    return response.status, text + body.decode("utf-8", errors="replace")


def malformed_requests(canaries: Canaries) -> list[bytes]:
    """Requests the HTTP parser refuses, a credential in the line it refuses: a client's bug
    (a space before the colon) with the right token, a control character after the wrong
    one, the wrong one in a query string of a bad request line."""
    wrong, right = canaries.wrong_token.encode(), canaries.token.encode()
    rest = b"Content-Length: 2\r\n\r\n{}"
    return [
        b"POST /control/kill HTTP/1.1\r\nAuthorization : Bearer " + right + b"\r\n" + rest,
        b"POST /control/kill HTTP/1.1\r\nAuthorization: Bearer " + wrong + b"\x01\r\n" + rest,
        b"POST /control/kill?token=" + wrong + b" HTTP/1.1\x00\r\n" + rest,
    ]


async def send_raw(settings: Settings, request: bytes) -> str:
    """The answer to `request` as sent, byte for byte (aiohttp's client sends no malformed
    request), read to the end: the server closes the connection after refusing it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", settings.metrics_port)
    try:
        writer.write(request)
        await writer.drain()
        async with asyncio.timeout(10):
            return (await reader.read()).decode("utf-8", errors="replace")
    finally:
        writer.close()
        await writer.wait_closed()


async def ask_everything(settings: Settings, canaries: Canaries, evidence: Evidence) -> None:
    """Every control request (each must get its status), every malformed one, then every
    read endpoint."""
    for number, (request, expected) in enumerate(control_requests(canaries)):
        status, answer = await send(settings, request)
        evidence.add(f"HTTP {number} {request.method} {request.path[:14]}", answer)
        assert status == expected, f"{request.method} {request.path}:\n{answer[:2000]}"
    for number, malformed in enumerate(malformed_requests(canaries)):
        answer = await send_raw(settings, malformed)
        assert answer.startswith("HTTP/1.0 400 Bad Request"), answer
        # Only the head: aiohttp's body quotes the refused line back to the one client that
        # sent it (no hook changes that); what it logs is checked, with the service's log.
        evidence.add(f"malformed HTTP {number} answer head", answer.partition("\r\n\r\n")[0])
    for path in ("/metrics", "/books", "/healthz", "/readyz", "/livez"):
        _, answer = await send(settings, Request("GET", path))
        evidence.add(f"HTTP GET {path}", answer)


# --- the runs ----------------------------------------------------------------------------


async def hedge_ask_and_crash(
    settings: Settings, plain: str, folder: Path, canaries: Canaries, evidence: Evidence
) -> None:
    """`hedger run` hedges through SASL_SSL, answers every request, and then stops on an
    exception: its order topic is deleted and the next order is not acknowledged. `plain`:
    the PLAINTEXT listener, for the test's own setup and reading."""
    hedger = LoggedHedger(settings, folder, "hedger run")
    try:
        await wait_until(lambda: is_ready(settings) if hedger.process.poll() is None else True)
        assert hedger.process.poll() is None, hedger.said()
        await hedge(settings, plain, folder)
        await ask_everything(settings, canaries, evidence)
        await delete_topic(plain, settings.orders_topic)
        # Up to 102 the book would sell about 500 more: an order to a topic that is gone.
        tick = [encode_tick(mm.tick(102.0, 60))]
        await asyncio.to_thread(replay, settings, folder, "after the deletion", tick)
        status = await asyncio.to_thread(hedger.process.wait, EXIT_DEADLINE_S)
        assert status == 1, hedger.said()
    finally:
        if hedger.process.poll() is None:
            hedger.process.kill()
            hedger.process.wait(timeout=10)
        hedger.collect(evidence, "hedger run")


async def hedge(settings: Settings, plain: str, folder: Path) -> None:
    """The market maker's position and a tick, replayed through SASL_SSL: one sale of 6,000."""
    position = [encode_vol(mm.vol()), encode_fill(mm.client_buys_calls())]
    await asyncio.to_thread(replay, settings, folder, "position", position)
    await wait_until(lambda: has_book(settings, "mm-1"))
    await asyncio.to_thread(replay, settings, folder, "tick", [encode_tick(mm.tick(100.0, 0))])
    (order,) = await read_messages(plain, settings.orders_topic, 1)
    assert (order["book"], order["side"], order["qty"]) == ("mm-1", "sell", 6000)


async def delete_topic(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([topic])
    finally:
        await admin.close()


def run_hedger_to_its_end(settings: Settings, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hedger.cli", *options, "run"],
        env=environment(settings),
        capture_output=True,
        text=True,
        timeout=EXIT_DEADLINE_S,
    )


def refused_runs(
    settings: Settings, kafka: SecureKafka, files: dict[str, Path], evidence: Evidence
) -> None:
    """The runs that must be refused: wrong password (hedger and replay, each with and
    without --debug), and secret files the service cannot use."""
    wrong = dataclasses.replace(settings, kafka_sasl_password_file=str(kafka.wrong_password_file))
    for options in ((), ("--debug",)):
        name = " ".join(("hedger", *options, "run, wrong password"))
        evidence.add_process(name, run_hedger_to_its_end(wrong, *options))
    line = [encode_tick(mm.tick(100.0, 0))]
    for options in ((), ("--debug",)):
        done = run_replay(wrong, files["tokens"].parent, "refused", line, *options)
        evidence.add_process(" ".join(("replay", *options, "wrong password")), done)
    short_tokens = dataclasses.replace(settings, control_tokens_file=str(files["short tokens"]))
    evidence.add_process("hedger run, short token", run_hedger_to_its_end(short_tokens))
    short_key = dataclasses.replace(settings, record_key_file=str(files["short key"]))
    evidence.add_process("hedger run, short key", run_hedger_to_its_end(short_key))


async def topics(plain: str, settings: Settings, evidence: Evidence) -> None:
    """Every record on the hedger's topics, keys and headers too (committed or not); but the
    order topic, which the crash deleted."""
    for topic in settings.topics:
        if topic == settings.orders_topic:
            continue
        for record in await records_now(plain, topic, committed=False):
            headers = [name.encode() + b"=" + value for name, value in record.headers]
            fields = (record.key or b"", record.value, *headers)
            evidence.add(f"topic {topic}", b"\n".join(fields) + b"\n")


def broker_logs(kafka: SecureKafka, evidence: Evidence) -> None:
    for node in kafka.broker.nodes:
        for name in ("console.log", "server.log"):
            path = node.folder / name
            if path.exists():
                evidence.add(f"broker node {node.node_id} {name}", path.read_bytes())


# --- what the material must hold -----------------------------------------------------------


def assert_the_failures_are_in_it(evidence: Evidence, settings: Settings) -> None:
    """Each forced failure left its trace, so "no canary" is about real material."""
    refused = f"refused SASL_SSL as {USER!r} (SCRAM-SHA-512)"
    assert refused in evidence["hedger run, wrong password stderr"]
    assert refused in evidence["hedger --debug run, wrong password stderr"]
    assert refused in evidence["replay wrong password stderr"]
    assert "Traceback" in evidence["replay --debug wrong password stderr"]
    assert "KafkaRefusedError" in evidence["replay --debug wrong password stderr"]
    assert "the token is shorter than 32" in evidence["hedger run, short token stderr"]
    assert "the record key is shorter than 32" in evidence["hedger run, short key stderr"]
    log = evidence["hedger run stderr"]
    assert "control request refused (bad_credential)" in log
    assert "control request refused (no_credential)" in log
    # The malformed requests were logged, without their text (`hedger.adapters.http`).
    assert log.count("Error handling request from 127.0.0.1: a malformed request") == 3
    assert "stopped on an error" in log
    assert "Traceback" in log
    metrics = evidence["HTTP GET /metrics"]
    assert 'hedger_control_refusals_total{reason="bad_credential"} 3.0' in metrics
    assert '"book":"mm-1"' in evidence["HTTP GET /books"]
    assert '"bad_credential"' in evidence["HTTP 0 POST /control/kill"]
    # The two controls accepted, signed with the key.
    controls = evidence[f"topic {settings.control_topic}"]
    assert controls.count(f'"by":"{OPERATOR}"') == controls.count("hedger-signature=") == 2


async def test_no_canary_secret_appears_in_any_log_traceback_or_answer(
    secure_kafka: SecureKafka, canaries: Canaries, topic_prefix: str, tmp_path: Path
) -> None:
    files = secret_files(tmp_path, canaries)
    plain = await hedger_settings(
        secure_kafka.broker.bootstrap,
        topic_prefix,
        rate=mm.RATE,
        band_shares=100.0,
        lot_size=100.0,
        min_interval_ms=0,
        control_tokens_file=str(files["tokens"]),
        record_key_file=str(files["key"]),
        log_level="DEBUG",
        delivery="at_least_once",  # a send not acknowledged stops it (exactly once retries)
        send_timeout_s=SEND_TIMEOUT_S,
        broker_wait_s=30.0,
    )
    settings = secured(plain, secure_kafka)
    evidence = Evidence()
    await hedge_ask_and_crash(settings, plain.require_bootstrap(), tmp_path, canaries, evidence)
    await asyncio.to_thread(refused_runs, settings, secure_kafka, files, evidence)
    await topics(plain.require_bootstrap(), settings, evidence)
    broker_logs(secure_kafka, evidence)

    assert_the_failures_are_in_it(evidence, settings)
    leaks = evidence.leaks(canaries)
    assert not leaks, "secrets leaked:\n" + "\n".join(leaks)
