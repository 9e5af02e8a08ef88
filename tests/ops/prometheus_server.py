"""A real Prometheus server for a test: ops/prometheus/prometheus.yml and its alert rules,
scraping one target on loopback every second, on a free loopback port."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from tests.integration.harness import free_port, wait_until
from tests.ops.tools import PROMETHEUS_DIR, tool

SCRAPE_INTERVAL = "1s"


def scrape_config(target: str) -> dict[str, Any]:
    """The compose stack's config with only the target and the intervals changed."""
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    config["global"] |= {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL}
    config["rule_files"] = [str(PROMETHEUS_DIR / name) for name in config["rule_files"]]
    (job,) = (job for job in config["scrape_configs"] if job["job_name"] == "hedger")
    job["static_configs"] = [{"targets": [target]}]
    return dict(config)


class PrometheusApi:
    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self._session = session
        self.url = url

    async def get(self, path: str, **params: str) -> Any:
        async with self._session.get(self.url + path, params=params) as response:
            body = await response.json()
        assert body["status"] == "success", body
        return body["data"]

    async def query(self, promql: str) -> list[dict[str, Any]]:
        """The instant vector `promql` evaluates to now."""
        data = await self.get("/api/v1/query", query=promql)
        return list(data["result"])

    async def ready(self) -> bool:
        try:
            async with self._session.get(self.url + "/-/ready") as response:
                return response.status == 200
        except aiohttp.ClientError:
            return False


@contextlib.asynccontextmanager
async def running_prometheus(target: str, directory: Path) -> AsyncIterator[PrometheusApi]:
    config = directory / "prometheus.yml"
    config.write_text(yaml.safe_dump(scrape_config(target)))
    address = f"127.0.0.1:{free_port()}"
    # A plain Popen: it is stopped and reaped synchronously below.
    process = subprocess.Popen(  # noqa: ASYNC220
        [
            tool("prometheus", "prometheus"),
            f"--config.file={config}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address={address}",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        async with aiohttp.ClientSession() as session:
            api = PrometheusApi(session, f"http://{address}")
            await wait_until(lambda: api.ready() if process.poll() is None else True)
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            yield api
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stderr:
            process.stderr.close()
