# The hedger image: `hedger run` as a non-root user, configured by HEDGER_* variables
# (README, Configuration). It holds the service's dependencies only (`pip install .`, no
# extras: no demo broker, Parquet or HTML reports). The same image runs the producers on
# JSONL and CSV recordings:
#   docker run --rm hedger:local python -m producers.replay --help
# No Docker engine runs in CI: tests/ops/test_dockerfile.py checks this file, and
# tests/ops/test_image_run.py installs and runs the package as this image does.

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/hedger
WORKDIR /src
COPY pyproject.toml README.md ./
COPY hedger ./hedger
COPY producers ./producers
RUN /opt/hedger/bin/pip install .

FROM python:3.11-slim-bookworm
# numba caches the compiled pricing kernels on disk (njit(cache=True)) and cannot start them
# without a directory it can write: not beside the sources (root-owned install), not under
# HOME (/nonexistent). NUMBA_CACHE_DIR names one under /tmp, the directory the image leaves
# writable (and the usual mount point when the root file system is read-only).
ENV PATH=/opt/hedger/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    NUMBA_CACHE_DIR=/tmp/numba-cache \
    HEDGER_HTTP_HOST=0.0.0.0 \
    HEDGER_METRICS_PORT=9108
RUN useradd --system --user-group --uid 10001 --no-create-home --home-dir /nonexistent hedger
COPY --from=build /opt/hedger /opt/hedger
USER hedger
WORKDIR /tmp
# Compiled now, as the user that runs them: a container on this CPU model starts without
# compiling (~8 s); on another (the cache is per CPU model), or with /tmp mounted over, the
# first start compiles into the same directory.
RUN python -c "from hedger.warm_start import warm_start; warm_start()"
EXPOSE 9108
# /livez answers from the event loop, so a stuck loop fails this check.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['HEDGER_METRICS_PORT'] + '/livez', timeout=2)"]
ENTRYPOINT ["hedger"]
CMD ["run"]
