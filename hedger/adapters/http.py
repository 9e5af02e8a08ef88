"""HTTP endpoints, served from the event loop so that answering means the loop is alive.

`/livez` (the loop runs), `/readyz` (fill partitions assigned, state rebuilt, broker
answering, no stop requested), `/metrics`
(Prometheus text format), `/books` (each book's exposures and working orders, and the
kill switches and latches, JSON) and the control endpoints (`hedger.adapters.http_control`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import orjson
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hedger.adapters.control_tokens import ControlTokens, ControlTokensError
from hedger.adapters.http_control import add_control_routes
from hedger.startup import StartupError

if TYPE_CHECKING:
    from hedger.config import Settings
    from hedger.runtime import HedgerService


class _UnquotedParseErrors(logging.Filter):
    """aiohttp logs a request it cannot parse with the refused line quoted, at ERROR; that
    line may be an `Authorization` header with a bearer token (a client's typo, a stray
    control character), or a request line with one in its query. Such a record keeps its
    message and the error's kind, not the error's text: a credential never reaches a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            record.msg = (
                f"{record.msg}: a malformed request ({type(error).__name__} {error.code});"
                " its text is not logged: it may hold a credential"
            )
            record.exc_info, record.exc_text = None, None
        return True


# aiohttp's server logger, for the requests of this server only (aiohttp's own is global).
_server_log = logging.getLogger(f"{__name__}.server")
_server_log.addFilter(_UnquotedParseErrors())


def build_app(service: HedgerService, tokens: ControlTokens | None) -> web.Application:
    async def livez(_: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(_: web.Request) -> web.Response:
        reason = service.not_ready_reason()
        if reason is None:
            return web.Response(text=f"ready\ndelivery: {service.delivery}\n")
        return web.Response(status=503, text=f"not ready: {reason}\n")

    async def metrics(_: web.Request) -> web.Response:
        body = generate_latest(service.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def books(_: web.Request) -> web.Response:
        engine = service.engine
        snapshot = {
            "ready": service.ready,
            "exposures": [
                {**dataclasses.asdict(e), "hedging_cost": e.hedging_cost}
                for e in engine.exposures()
            ],
            "working_orders": {
                order_id: dataclasses.asdict(order)
                for order_id, order in engine.working_orders().items()
            },
            "kill_switches": engine.controls.switches.kill,
            "latched_books": engine.controls.switches.latched,
        }
        return web.Response(body=orjson.dumps(snapshot), content_type="application/json")

    app = web.Application()
    app.router.add_get("/livez", livez)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/books", books)
    add_control_routes(app, service, tokens)
    return app


@asynccontextmanager
async def serve_http(service: HedgerService, settings: Settings) -> AsyncIterator[web.AppRunner]:
    try:
        path = settings.control_tokens_file
        tokens = None if path is None else ControlTokens.read(path)
    except ControlTokensError as error:
        raise StartupError(str(error)) from None
    runner = web.AppRunner(build_app(service, tokens), access_log=None, logger=_server_log)
    await runner.setup()
    site = web.TCPSite(runner, settings.http_host, settings.metrics_port)
    try:
        try:
            await site.start()
        except OSError as error:
            raise StartupError(
                f"cannot serve HTTP on {settings.http_host}:{settings.metrics_port}"
                f" ({os.strerror(error.errno).lower() if error.errno else error}):"
                " is another instance running there?"
                " HEDGER_METRICS_PORT sets the port"
            ) from None
        yield runner
    finally:
        await runner.cleanup()
