"""The detection engine's state as bytes, and back: what a streaming detect saves at a checkpoint.

Windows (open and not yet drained findings), threshold buckets, partial sequences, the matched
count and the first-seen keys, encoded as msgpack with datetimes as tagged ISO strings and rules
by id (a rule that no longer exists drops its state on restore). No pickle: a snapshot is data.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec

from seawall.core import Severity

if TYPE_CHECKING:
    from seawall.detect.engine import Engine
    from seawall.detect.findings import Agg as _Agg
    from seawall.detect.model import Rule

VERSION = 1
_TIME = "$t"


def _enc(value: Any) -> Any:
    if isinstance(value, datetime):
        return {_TIME: value.isoformat()}
    if isinstance(value, dict):
        return {k: _enc(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_enc(v) for v in value]
    return value


def _dec(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and _TIME in value:
            return datetime.fromisoformat(value[_TIME])
        return {k: _dec(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dec(v) for v in value]
    return value


def _agg_out(agg: _Agg) -> dict[str, Any]:
    return {"rule": agg.rule.id, "workload": agg.workload, "dkey": agg.dkey, "count": agg.count,
            "first": agg.first, "last": agg.last, "origin": agg.origin, "lineno": agg.lineno,
            "record": agg.record, "samples": agg.samples, "emitted": agg.emitted, "extra": agg.extra,
            "severity": agg.severity.value if agg.severity is not None else None}


def _agg_in(raw: dict[str, Any], rules: dict[str, Rule]) -> _Agg | None:
    from seawall.detect.findings import Agg as _Agg

    rule = rules.get(raw["rule"])
    if rule is None:
        return None
    return _Agg(rule, raw["workload"], raw["dkey"], raw["count"], raw["first"], raw["last"],
                raw["origin"], raw["lineno"], raw["record"], list(raw["samples"]),
                emitted=raw["emitted"], extra=dict(raw["extra"]),
                severity=Severity(raw["severity"]) if raw.get("severity") else None)


def dump(engine: Engine) -> bytes:
    state = engine.state
    doc = {
        "version": VERSION,
        "source": engine.program.source,
        "window": engine.window,
        "open": [[list(k), _agg_out(a)] for k, a in engine.open.items()],
        "closed": [_agg_out(a) for a in engine.closed],
        "thresholds": [[rule, key, [[b, *v] for b, v in buckets.items()]]
                       for (rule, key), buckets in engine.thresholds.items()],
        "threshold_fired": [list(t) for t in engine.threshold_fired],
        "sequences": [[rule, key, value] for (rule, key), value in engine.sequences.items()],
        "matched_events": engine.matched_events,
        "seen_ids": {rule: list(ids) for rule, ids in engine.seen_ids.items()},
        "first_seen": state.export() if state is not None else None,
    }
    return msgspec.msgpack.encode(_enc(doc))


def load(engine: Engine, blob: bytes) -> None:
    """Restore `engine` (built with the same rules and source) from `dump`'s bytes."""
    from seawall.core.errors import InputError

    try:
        doc = _dec(msgspec.msgpack.decode(blob))
    except (msgspec.DecodeError, ValueError) as exc:
        raise InputError(f"detect state snapshot is damaged: {exc}") from None
    if not isinstance(doc, dict) or doc.get("version") != VERSION:
        raise InputError("detect state snapshot is of another version")
    if doc.get("source") != engine.program.source:
        raise InputError(f"detect state snapshot is of source {doc.get('source')!r}, "
                         f"not {engine.program.source!r}")
    rules = {cr.rule.id: cr.rule for cr in engine.program.rules}
    engine.open = {}
    for key, raw in doc["open"]:
        agg = _agg_in(raw, rules)
        if agg is not None:
            engine.open[(key[0], key[1], key[2])] = agg
    engine.closed = [a for raw in doc["closed"] if (a := _agg_in(raw, rules)) is not None]
    engine.thresholds = {(rule, key): {b: [n, first, last] for b, n, first, last in buckets}
                         for rule, key, buckets in doc["thresholds"] if rule in rules}
    engine.threshold_fired = {(r, k, b) for r, k, b in doc["threshold_fired"] if r in rules}
    engine.sequences = {(rule, key): value for rule, key, value in doc["sequences"] if rule in rules}
    for value in engine.sequences.values():
        value[3] = tuple(value[3])  # the location is a tuple in the engine
    engine.matched_events = doc["matched_events"]
    seen = doc.get("seen_ids", {})
    engine.seen_ids = {rule: dict.fromkeys(ids) for rule, ids in seen.items() if rule in rules}
    if doc.get("first_seen") is not None:
        from seawall.detect.state import StateStore

        if engine.state is None:
            engine.state = StateStore(None)
        engine.state.restore(doc["first_seen"])
