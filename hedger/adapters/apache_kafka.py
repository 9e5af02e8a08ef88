"""Apache Kafka (KRaft, each node broker and controller) run from its jars on Maven Central.

`kafka_jars()` fetches the pinned release once with Maven (the descriptor is
`kafka_broker/pom.xml`) into a cache folder; `ApacheKafka` formats fresh storage and starts
one node, or a cluster of three, on free loopback ports. Used by `hedger kafka`, the test
harness and the benchmarks, so all three run the same broker the same way.

With a `SaslSslListener` each node also serves SASL_SSL (SCRAM-SHA-256/512; TLS from a PEM
file holding the key and certificate chain) on a port of its own, `secure_bootstrap`,
beside the PLAINTEXT listener that the nodes use between themselves and tests use to set up.
With an `Authorizer` the nodes enforce ACLs on that listener's users
(`hedger.adapters.apache_kafka_security`); `acl_tool` runs Kafka's own ACL command.
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from hedger.adapters.apache_kafka_security import (
    Authorizer,
    SaslSslListener,
    authorizer_log_config,
    authorizer_settings,
    denials,
    scram_user_arguments,
    secure_listener_settings,
)
from hedger.adapters.apache_kafka_security import acl_tool as _acl_tool
from hedger.adapters.broker_process import (
    HOST,
    answers_metadata,
    die_with_parent_hook,
    free_port,
    signal_group,
)

log = logging.getLogger(__name__)

_FILES = Path(__file__).with_name("kafka_broker")
POM = _FILES / "pom.xml"
_LOG4J_CONFIG = _FILES / "log4j2.xml"
_MIN_JAVA = 17
_FETCH_TIMEOUT_S = 900.0
_POLL_INTERVAL_S = 0.1
_LOG_TAIL_BYTES = 4000
# A 2-core, 24 GiB machine runs up to three nodes beside the tests: 512 MiB each is
# plenty for test traffic, and a fixed size keeps the JVM from sizing itself to the host.
_HEAP_MB = {1: 1024, 3: 512}


class KafkaUnavailableError(RuntimeError):
    """Apache Kafka cannot run here (no Java 17+, no Maven, jars not fetched)."""


def kafka_version() -> str:
    """The Kafka release pinned in the Maven descriptor."""
    found = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", POM.read_text())
    if found is None:
        raise KafkaUnavailableError(f"no <kafka.version> in {POM}")
    return found.group(1)


def kafka_jars(cache: Path | None = None) -> Path:
    """The folder of broker jars, fetched with Maven on first use.

    The cache is `$HEDGER_KAFKA_CACHE` or `~/.cache/hedger`, one subfolder per release and
    in it one per version of the descriptor (a changed dependency is fetched anew; a folder
    of the old one is left to whoever may still run from it). A fetch lands in a temporary
    folder and is renamed into place, so an interrupted fetch never leaves a half-filled
    folder that looks complete.
    """
    _require_java()
    root = cache or Path(os.environ.get("HEDGER_KAFKA_CACHE", Path.home() / ".cache/hedger"))
    descriptor = hashlib.sha256(POM.read_bytes()).hexdigest()[:12]
    jars = root / f"kafka-{kafka_version()}" / f"libs-pom-{descriptor}"
    if jars.is_dir():
        return jars
    maven = shutil.which("mvn")
    if maven is None:
        raise KafkaUnavailableError("Maven (mvn) is not on PATH: it fetches the Kafka jars")
    jars.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="fetching-", dir=jars.parent))
    log.info("fetching Apache Kafka %s jars with Maven into %s", kafka_version(), jars)
    command = [maven, "-q", "-B", "-f", str(POM), "dependency:copy-dependencies"]
    command.append(f"-DoutputDirectory={staging}")
    done = subprocess.run(command, capture_output=True, text=True, timeout=_FETCH_TIMEOUT_S)
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        tail = (done.stdout + done.stderr).strip().splitlines()[-5:]
        raise KafkaUnavailableError("Maven could not fetch the Kafka jars: " + " | ".join(tail))
    try:
        staging.rename(jars)
    except OSError:  # another process fetched the same jars meanwhile
        shutil.rmtree(staging, ignore_errors=True)
        if not jars.is_dir():
            raise
    return jars


def _require_java() -> None:
    java = shutil.which("java")
    if java is None:
        raise KafkaUnavailableError(f"Java {_MIN_JAVA}+ is not on PATH: Apache Kafka needs it")
    shown = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    found = re.search(r'version "(\d+)', shown.stderr + shown.stdout)
    if found is None or int(found.group(1)) < _MIN_JAVA:
        raise KafkaUnavailableError(
            f"Apache Kafka needs Java {_MIN_JAVA}+; `java -version` says "
            f"{(shown.stderr or shown.stdout).splitlines()[:1]}"
        )


@dataclass
class KafkaNode:
    """One broker+controller process of an `ApacheKafka` cluster."""

    node_id: int
    port: int
    controller_port: int
    folder: Path
    process: subprocess.Popen[bytes] | None = None
    secure_port: int | None = None

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def secure_bootstrap(self) -> str:
        if self.secure_port is None:
            raise RuntimeError("this cluster has no SASL_SSL listener")
        return f"{HOST}:{self.secure_port}"

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def signal(self, signum: int) -> None:
        """Send `signum` to the node (SIGKILL, SIGSTOP, SIGCONT for fault tests)."""
        if self.process is not None and self.process.poll() is None:
            signal_group(self.process, signum)


class ApacheKafka:
    """`nodes` Apache Kafka nodes (1 or 3) on free loopback ports.

    A cluster of three uses replication factor 3 and `min.insync.replicas=2` for every
    topic, including the internal offsets and transaction topics. With `data_dir` given,
    storage lives there and survives a stop (a later start on the same folder keeps every
    topic); otherwise in a temporary folder removed by `stop()`.
    """

    def __init__(
        self,
        nodes: int = 1,
        data_dir: Path | None = None,
        port: int | None = None,
        secure: SaslSslListener | None = None,
        authorizer: Authorizer | None = None,
    ):
        if nodes not in _HEAP_MB:
            raise ValueError(f"nodes must be one of {sorted(_HEAP_MB)}, not {nodes}")
        if port is not None and nodes != 1:
            raise ValueError("a fixed port is for a single node")
        self._count = nodes
        self._port = port
        self._data_dir = data_dir
        self._secure = secure
        self._authorizer = authorizer
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        self.nodes: list[KafkaNode] = []
        self.startup_duration_s: float | None = None

    @property
    def bootstrap(self) -> str:
        """Every node's `host:port`, comma-separated, for Kafka clients."""
        if not self.nodes:
            raise RuntimeError("ApacheKafka is not running")
        return ",".join(node.bootstrap for node in self.nodes)

    @property
    def secure_bootstrap(self) -> str:
        """Every node's SASL_SSL `host:port` (with a `SaslSslListener` only)."""
        if not self.nodes:
            raise RuntimeError("ApacheKafka is not running")
        return ",".join(node.secure_bootstrap for node in self.nodes)

    def start(self, timeout_s: float = 120.0) -> str:
        """Start every node and return the bootstrap once all of them serve metadata."""
        if self.nodes:
            raise RuntimeError("ApacheKafka is already started")
        began = time.monotonic()
        jars = kafka_jars()
        root = self._root()
        self.nodes = [self._plan_node(node_id, root) for node_id in range(1, self._count + 1)]
        atexit.register(self.stop)
        try:
            cluster_id = _cluster_id(root)
            for node in self.nodes:
                self._write_properties(node)
                _format_storage(jars, node, cluster_id, self._secure)
            for node in self.nodes:
                self._spawn(jars, node)
            self._wait_until_ready(began + timeout_s, timeout_s)
        except BaseException:
            self.stop()
            raise
        self.startup_duration_s = time.monotonic() - began
        log.info(
            "Apache Kafka %s: %d node(s) on %s, started in %.1f s",
            kafka_version(),
            self._count,
            self.bootstrap,
            self.startup_duration_s,
        )
        return self.bootstrap

    def restart(self, node: KafkaNode, timeout_s: float = 120.0) -> None:
        """Start a node again on its own storage and ports, after a kill or stop."""
        if node.process is not None and node.process.poll() is None:
            raise RuntimeError(f"node {node.node_id} is still running")
        self._spawn(kafka_jars(), node)
        self._wait_for(node, time.monotonic() + timeout_s, timeout_s, watched=[node])

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop every node (SIGTERM, then SIGKILL if it lingers); safe to call twice."""
        atexit.unregister(self.stop)
        nodes, self.nodes = self.nodes, []
        for node in nodes:
            node.signal(signal.SIGCONT)  # a stopped JVM cannot handle SIGTERM
            node.signal(signal.SIGTERM)
        for node in nodes:
            _reap(node, timeout_s)
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None
        if nodes:
            log.info("Apache Kafka stopped")

    def denials(self) -> list[str]:
        """Every request the authorizer denied so far, as the nodes logged it."""
        return [line for node in self.nodes for line in denials(node.folder / "server.log")]

    @staticmethod
    def acl_tool() -> list[str]:
        """`kafka-acls.sh`, from this broker's jars: append its arguments."""
        return _acl_tool(kafka_jars())

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _root(self) -> Path:
        if self._data_dir is not None:
            self._data_dir.mkdir(parents=True, exist_ok=True)
            return self._data_dir
        self._scratch = tempfile.TemporaryDirectory(prefix="hedger-kafka-")
        return Path(self._scratch.name)

    def _plan_node(self, node_id: int, root: Path) -> KafkaNode:
        folder = root / f"node-{node_id}"
        ports_file = folder / "ports"
        if ports_file.exists():  # a restart on kept storage keeps the quorum's addresses
            port, controller_port, *secure = map(int, ports_file.read_text().split())
        else:
            port, controller_port = self._port or free_port(), free_port()
            secure = [free_port()] if self._secure else []
            folder.mkdir(parents=True, exist_ok=True)
            ports_file.write_text(" ".join(map(str, [port, controller_port, *secure])) + "\n")
        secure_port = secure[0] if secure and self._secure else None
        return KafkaNode(node_id, port, controller_port, folder, secure_port=secure_port)

    def _write_properties(self, node: KafkaNode) -> None:
        replicas = self._count
        voters = ",".join(f"{n.node_id}@{HOST}:{n.controller_port}" for n in self.nodes)
        settings = {
            "process.roles": "broker,controller",
            "node.id": node.node_id,
            "controller.quorum.voters": voters,
            "listeners": f"PLAINTEXT://{HOST}:{node.port},CONTROLLER://{HOST}:{node.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{HOST}:{node.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": node.folder / "data",
            "num.partitions": 1,
            "default.replication.factor": replicas,
            "min.insync.replicas": min(2, replicas),
            "offsets.topic.replication.factor": replicas,
            "transaction.state.log.replication.factor": replicas,
            "transaction.state.log.min.isr": min(2, replicas),
            # Topics are made on purpose (`hedger topics create`), never by a typo.
            "auto.create.topics.enable": "false",
            # A test or a restarted service should not wait 3 s for its first rebalance.
            "group.initial.rebalance.delay.ms": 0,
            "offsets.topic.num.partitions": 5,
            "transaction.state.log.num.partitions": 5,
            # A transaction left open by a frozen or killed producer is aborted within a
            # second of its timeout (default: checked every 10 s), so its partitions' committed
            # readers resume sooner.
            "transaction.abort.timed.out.transaction.cleanup.interval.ms": 1000,
            "share.coordinator.state.topic.replication.factor": replicas,
            "share.coordinator.state.topic.min.isr": min(2, replicas),
        }
        if self._secure is not None:
            settings.update(secure_listener_settings(node, self._secure))
        if self._authorizer is not None:
            settings.update(authorizer_settings(self._authorizer))
        text = "".join(f"{key}={value}\n" for key, value in settings.items())
        (node.folder / "server.properties").write_text(text)

    def _spawn(self, jars: Path, node: KafkaNode) -> None:
        log_config = _LOG4J_CONFIG
        if self._authorizer is not None:
            log_config = authorizer_log_config(_LOG4J_CONFIG, node.folder)
        command = [*_java_command(jars, node, self._count, log_config), "kafka.Kafka"]
        command.append(str(node.folder / "server.properties"))
        with open(node.folder / "console.log", "ab") as console:
            node.process = subprocess.Popen(
                command,
                cwd=node.folder,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent_hook(),
            )

    def _wait_until_ready(self, deadline: float, timeout_s: float) -> None:
        # A node serves the full cluster only once every other node has joined, so while
        # waiting on one, a death of any other is the cause worth reporting.
        for node in self.nodes:
            self._wait_for(node, deadline, timeout_s, watched=self.nodes)

    def _wait_for(
        self, node: KafkaNode, deadline: float, timeout_s: float, watched: list[KafkaNode]
    ) -> None:
        every_port = frozenset(n.port for n in self.nodes)
        while not answers_metadata(node.port, every_port):
            for other in watched:
                assert other.process is not None
                if other.process.poll() is not None:
                    raise RuntimeError(
                        f"Kafka node {other.node_id} exited with code "
                        f"{other.process.returncode} before serving {other.bootstrap}:\n"
                        f"{_tail(other)}"
                    )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"Kafka node {node.node_id} did not serve {node.bootstrap} with all "
                    f"{len(every_port)} node(s) within {timeout_s:.0f} s:\n"
                    + "".join(f"node {n.node_id}:\n{_tail(n)}" for n in watched)
                )
            time.sleep(_POLL_INTERVAL_S)


def _java_command(
    jars: Path, node: KafkaNode, nodes: int, log_config: Path = _LOG4J_CONFIG
) -> list[str]:
    java = shutil.which("java") or "java"
    heap = _HEAP_MB[nodes]
    return [
        java,
        f"-Xms{heap // 2}m",
        f"-Xmx{heap}m",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={log_config}",
        f"-Dhedger.kafka.log={node.folder / 'server.log'}",
        "-cp",
        f"{jars}/*",
    ]


def _cluster_id(root: Path) -> str:
    """The cluster's id, kept in its folder so a restart on the same storage reuses it."""
    stored = root / "cluster-id"
    if not stored.exists():
        stored.write_text(_new_cluster_id())
    return stored.read_text().strip()


def _new_cluster_id() -> str:
    """A random id in Kafka's form (URL-safe base64 of 16 bytes), never starting with "-":
    the storage tool would read such an id as an option and refuse to format (one start
    in 64 failed so). Kafka's own `Uuid.randomUuid` draws again in that case too."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _format_storage(
    jars: Path, node: KafkaNode, cluster_id: str, secure: SaslSslListener | None
) -> None:
    command = [*_java_command(jars, node, 1), "kafka.tools.StorageTool", "format"]
    command += ["--cluster-id", cluster_id, "--ignore-formatted"]
    command += ["--config", str(node.folder / "server.properties")]
    command += scram_user_arguments(secure)
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(
            f"formatting Kafka storage of node {node.node_id} failed: "
            f"{(done.stdout + done.stderr).strip()[-_LOG_TAIL_BYTES:]}"
        )


def _reap(node: KafkaNode, timeout_s: float) -> None:
    if node.process is None:
        return
    try:
        node.process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        log.warning("Kafka node %d ignored SIGTERM for %.0f s: killing it", node.node_id, timeout_s)
        node.signal(signal.SIGKILL)
        node.process.wait(timeout_s)


def _tail(node: KafkaNode) -> str:
    text = ""
    for name in ("console.log", "server.log"):
        path = node.folder / name
        if path.exists():
            text += path.read_bytes()[-_LOG_TAIL_BYTES:].decode("utf-8", errors="replace")
    return text
