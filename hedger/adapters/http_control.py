"""`POST /control/kill` and `POST /control/rearm`: write to the control topic, nothing else.

The handler does not change the engine: it publishes the control record, and the engine
applies it when it reads it back like any other instance, so the topic stays the one
source of truth (and a restart finds the switch). 202 once the broker has the record;
400 for a bad body (same checks as the topic's codec); 503 when the broker does not
acknowledge within `HEDGER_SEND_TIMEOUT_S`.

    curl -X POST localhost:9108/control/kill -d '{"book":"*","engaged":true,"by":"alice"}'
    curl -X POST localhost:9108/control/rearm -d '{"book":"mm-1","by":"alice"}'
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web
from aiokafka.errors import KafkaError

from hedger.codec import DecodeError
from hedger.control_codec import decode_control, encode_control

if TYPE_CHECKING:
    from hedger.runtime import HedgerService


def add_control_routes(app: web.Application, service: HedgerService) -> None:
    async def kill(request: web.Request) -> web.Response:
        return await _publish(service, request, "kill")

    async def rearm(request: web.Request) -> web.Response:
        return await _publish(service, request, "rearm")

    app.router.add_post("/control/kill", kill)
    app.router.add_post("/control/rearm", rearm)


def _error(status: int, kind: str, detail: str) -> web.Response:
    return web.json_response({"error": kind, "detail": detail}, status=status)


async def _publish(service: HedgerService, request: web.Request, kind: str) -> web.Response:
    try:
        body: Any = orjson.loads(await request.read())
    except orjson.JSONDecodeError as error:
        return _error(400, "not_json", str(error))
    if not isinstance(body, dict):
        return _error(400, "not_json", "the body must be a JSON object")
    # Stamped with the wall clock: a control's time is for the record, not for decisions.
    message = {"by": "http", **body, "type": kind, "ts": time.time_ns()}
    try:
        event = decode_control(orjson.dumps(message))
    except DecodeError as error:
        return _error(400, error.kind, error.detail)
    try:
        await service.publish_control(event)
    except (TimeoutError, KafkaError) as error:
        return _error(503, "not_published", f"the broker did not acknowledge: {error!r}")
    return web.json_response({"published": orjson.loads(encode_control(event))}, status=202)
