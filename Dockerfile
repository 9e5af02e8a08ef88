# The hedger image: `hedger run` as a non-root user, configured by HEDGER_* variables
# (README, Configuration). The same image runs the producers:
#   docker run --rm hedger:local python -m producers.replay --help
# Static checks of this file: tests/ops/test_dockerfile.py (no Docker engine runs in CI).

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/hedger
WORKDIR /src
COPY pyproject.toml README.md ./
COPY hedger ./hedger
COPY producers ./producers
RUN /opt/hedger/bin/pip install .

FROM python:3.11-slim-bookworm
ENV PATH=/opt/hedger/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HEDGER_HTTP_HOST=0.0.0.0 \
    HEDGER_METRICS_PORT=9108
RUN useradd --system --user-group --uid 10001 --no-create-home --home-dir /nonexistent hedger
COPY --from=build /opt/hedger /opt/hedger
USER hedger
WORKDIR /tmp
EXPOSE 9108
# /livez answers from the event loop, so a stuck loop fails this check.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['HEDGER_METRICS_PORT'] + '/livez', timeout=2)"]
ENTRYPOINT ["hedger"]
CMD ["run"]
