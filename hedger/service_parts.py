"""What the live service is made of, wired once (`HedgerService.run`) and handed to the
parts that work on it: the rebuild (`hedger.state_rebuild`) and the batch loop
(`hedger.batches`)."""

from __future__ import annotations

from dataclasses import dataclass

from hedger.action_sink import ActionSink
from hedger.adapters.commit_schedule import CommitSchedule
from hedger.adapters.controls import ControlTopic
from hedger.adapters.delivery import DeliveryMode
from hedger.adapters.inputs import InputStreams
from hedger.adapters.metrics import Metrics
from hedger.adapters.outbox import Outbox
from hedger.adapters.receipt import ReceiptClock
from hedger.adapters.record_signing import RecordSigner
from hedger.adapters.snapshots import SnapshotSchedule
from hedger.config import Settings
from hedger.core.driver import EventDriver
from hedger.core.engine import EngineConfig
from hedger.readiness import Readiness


@dataclass(frozen=True, slots=True)
class ServiceParts:
    settings: Settings
    engine_config: EngineConfig
    metrics: Metrics
    driver: EventDriver  # holds the engine, which a rebuild replaces
    inputs: InputStreams  # the fill and price consumers, merged in event time
    commits: CommitSchedule  # when the inputs' offsets are committed
    readiness: Readiness
    receipt: ReceiptClock
    control: ControlTopic  # the control topic's consumer
    outbox: Outbox  # the producer of orders, dead letters and snapshots
    sink: ActionSink  # where the engine's actions go
    snapshots: SnapshotSchedule
    delivery: DeliveryMode
    signer: RecordSigner | None  # the key of the records read back, when configured
