"""An engine's whole state as bytes, and back: the body of a book-state snapshot.

A snapshot stands for every input before its offsets, so it must be read back by the very
engine that wrote it: the bytes are a pickle of the `HedgeEngine` (its `__getstate__`), and
`FINGERPRINT` names the engine code, numpy and Python that made them. A snapshot of another
fingerprint, or of another `EngineConfig` (a policy file edited since), is not used: the
state is rebuilt from the topics, as without one.

The unpickler builds only classes defined in `hedger.core` and the few standard and numpy
types the engine's state holds; anything else in the bytes (a function, a module, another
class) is refused, so bytes written to the snapshot topic by someone else cannot run code.
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import importlib
import io
import pickle
import sys
import zlib
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

import hedger.core
from hedger.core.engine import EngineConfig, HedgeEngine


class SnapshotError(Exception):
    """Snapshot bytes that cannot be (or must not be) turned back into an engine."""


def fingerprint(core: Path) -> str:
    """A digest of the engine code in `core` (every module's path and bytes) and of the numpy
    and Python that run it."""
    digest = hashlib.sha256()
    for source in sorted(core.rglob("*.py")):
        digest.update(source.relative_to(core).as_posix().encode())
        digest.update(source.read_bytes())
    digest.update(f"numpy {np.__version__}; python {sys.version_info[:2]}".encode())
    return digest.hexdigest()[:32]


FINGERPRINT = fingerprint(Path(hedger.core.__file__).parent)

# Types outside hedger.core that the engine's state is made of, by (module, name).
_ALLOWED = {
    ("collections", "deque"): collections.deque,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("datetime", "date"): dt.date,
    ("datetime", "time"): dt.time,
    ("zoneinfo", "ZoneInfo"): ZoneInfo,
    ("numpy", "dtype"): np.dtype,
}
# numpy arrays pickle through one of these, by numpy version.
_NUMPY_BUILDERS = {
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.multiarray", "scalar"),
}


def _zone_only_getattr(owner: object, name: str) -> Any:
    """`getattr` as a pickle may call it: only for `ZoneInfo._unpickle` (how a ZoneInfo
    pickles itself); any other attribute could lead anywhere."""
    if owner is ZoneInfo and name == "_unpickle":
        return ZoneInfo._unpickle  # type: ignore[attr-defined]
    raise SnapshotError(f"snapshot asks for attribute {name!r} of {owner!r}: refused")


class _EngineUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return _ALLOWED[module, name]
        if (module, name) == ("builtins", "getattr"):
            return _zone_only_getattr
        if (module, name) in _NUMPY_BUILDERS:
            return getattr(importlib.import_module(module), name)
        if module == "hedger.core" or module.startswith("hedger.core."):
            found = getattr(importlib.import_module(module), name, None)
            if isinstance(found, type) and found.__module__ == module:
                return found
        raise SnapshotError(f"snapshot holds {module}.{name}, not engine state: refused")


def dump_engine(engine: HedgeEngine) -> bytes:
    return zlib.compress(pickle.dumps(engine, protocol=5), level=1)


def load_engine(data: bytes, config: EngineConfig) -> HedgeEngine:
    """The engine `dump_engine` wrote, if it was configured as `config`."""
    try:
        engine = _EngineUnpickler(io.BytesIO(zlib.decompress(data))).load()
    except SnapshotError:
        raise
    except Exception as error:  # any way the bytes can be broken is one answer
        raise SnapshotError(f"snapshot unreadable: {error!r}") from None
    if not isinstance(engine, HedgeEngine):
        raise SnapshotError(f"snapshot holds a {type(engine).__name__}, not an engine")
    if engine.config != config:
        raise SnapshotError("snapshot taken under another engine configuration")
    return engine
