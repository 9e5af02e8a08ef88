"""`hedger kafka`: a local Apache Kafka (KRaft, one node) for development, in the foreground.

The jars come from Maven Central on first use (cached); storage lives in `--data-dir`, so
topics and committed offsets survive a restart. Ctrl-C (or SIGTERM) stops it cleanly; the
exit status is then 130 (or 0).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from hedger.adapters.apache_kafka import ApacheKafka, KafkaUnavailableError, kafka_version
from hedger.console import INTERRUPTED

DEFAULT_DATA_DIR = Path(".kafka")
DEFAULT_PORT = 9092


def add_kafka_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    kafka = commands.add_parser(
        "kafka",
        help="run a local Apache Kafka broker (KRaft) until Ctrl-C",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    kafka.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help=f"folder for the broker's storage and logs (default: {DEFAULT_DATA_DIR}/)",
    )
    kafka.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"loopback port for clients (default: {DEFAULT_PORT})",
    )


def run_kafka(args: argparse.Namespace) -> int:
    # The first start fetches the jars (about a minute): say so rather than sit silent.
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    stop = threading.Event()
    received: list[int] = []

    def request_stop(signum: int, _frame: object) -> None:
        received.append(signum)
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, request_stop)
    broker = ApacheKafka(data_dir=args.data_dir.resolve(), port=args.port)
    try:
        bootstrap = broker.start()
    except (KafkaUnavailableError, RuntimeError) as error:
        first_line = str(error).splitlines()[0]
        print(f"hedger kafka: {first_line} (logs under {args.data_dir}/)", file=sys.stderr)
        return 2
    try:
        print(f"Apache Kafka {kafka_version()} listening on {bootstrap}", flush=True)
        print(f"data and logs in {args.data_dir.resolve()}; Ctrl-C stops it", flush=True)
        print(f"clients: HEDGER_KAFKA_BOOTSTRAP={bootstrap}", flush=True)
        while not stop.wait(1.0):
            if any(
                node.process is None or node.process.poll() is not None for node in broker.nodes
            ):
                print("hedger kafka: the broker exited; see its server.log", file=sys.stderr)
                return 1
    finally:
        broker.stop()
    print("Apache Kafka stopped", flush=True)
    return INTERRUPTED if received[:1] == [signal.SIGINT] else 0
