"""`POST /control/kill` and `POST /control/rearm`: write to the control topic, nothing else.

Only for a caller with a bearer token of `HEDGER_CONTROL_TOKENS_FILE`
(`hedger.adapters.control_tokens`); without that file the endpoints are off (403). A
missing or unknown token is answered 401. Every refusal is counted
(`hedger_control_refusals_total`, by reason) and logged with the caller's address, never
the credential. The record names the token's principal as `by`, whatever the body says.

The handler does not change the engine: it publishes the control record, and the engine
applies it when it reads it back like any other instance, so the topic stays the one
source of truth (and a restart finds the switch). 202 once the broker has the record
(committed, where it has transactions); 400 for a bad body (same checks as the topic's
codec); 503 when the broker does not acknowledge within `HEDGER_SEND_TIMEOUT_S`, and then
the request is never carried out later (`hedger.adapters.control_publisher`).

    curl -X POST localhost:9108/control/kill -H "Authorization: Bearer $TOKEN" \
        -d '{"book":"*","engaged":true}'
    curl -X POST localhost:9108/control/rearm -H "Authorization: Bearer $TOKEN" \
        -d '{"book":"mm-1"}'
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from hedger.adapters.control_publisher import ControlNotPublishedError
from hedger.adapters.control_tokens import ControlTokens
from hedger.codec import DecodeError
from hedger.control_codec import decode_control, encode_control

if TYPE_CHECKING:
    from hedger.runtime import HedgerService

log = logging.getLogger(__name__)


def add_control_routes(
    app: web.Application, service: HedgerService, tokens: ControlTokens | None
) -> None:
    async def kill(request: web.Request) -> web.Response:
        return await _authorised(service, tokens, request, "kill")

    async def rearm(request: web.Request) -> web.Response:
        return await _authorised(service, tokens, request, "rearm")

    app.router.add_post("/control/kill", kill)
    app.router.add_post("/control/rearm", rearm)


def _error(status: int, kind: str, detail: str) -> web.Response:
    return web.json_response({"error": kind, "detail": detail}, status=status)


async def _authorised(
    service: HedgerService, tokens: ControlTokens | None, request: web.Request, kind: str
) -> web.Response:
    if tokens is None:
        detail = "control is off: no HEDGER_CONTROL_TOKENS_FILE"
        return _refused(service, request, 403, "control_off", detail)
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        detail = "needs Authorization: Bearer <token>"
        return _refused(service, request, 401, "no_credential", detail)
    principal = tokens.principal(token.strip())
    if principal is None:
        return _refused(service, request, 401, "bad_credential", "unknown token")
    return await _publish(service, request, kind, principal)


def _refused(
    service: HedgerService, request: web.Request, status: int, reason: str, detail: str
) -> web.Response:
    service.metrics.control_refusals.labels(reason).inc()
    log.warning(
        "control request refused (%s): %s %s from %s",
        reason,
        request.method,
        request.path,
        request.remote,
    )
    refusal = _error(status, reason, detail)
    if status == 401:
        refusal.headers["WWW-Authenticate"] = 'Bearer realm="hedger control"'
    return refusal


async def _publish(
    service: HedgerService, request: web.Request, kind: str, principal: str
) -> web.Response:
    try:
        body: Any = orjson.loads(await request.read())
    except orjson.JSONDecodeError as error:
        return _error(400, "not_json", str(error))
    if not isinstance(body, dict):
        return _error(400, "not_json", "the body must be a JSON object")
    # Stamped with the wall clock: a control's time is for the record, not for decisions.
    message = {**body, "by": principal, "type": kind, "ts": time.time_ns()}
    try:
        event = decode_control(orjson.dumps(message))
    except DecodeError as error:
        return _error(400, error.kind, error.detail)
    try:
        await service.publish_control(event)
    except ControlNotPublishedError as error:
        return _error(503, "not_published", str(error))
    return web.json_response({"published": orjson.loads(encode_control(event))}, status=202)
