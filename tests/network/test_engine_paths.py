"""The two ways the engine folds a batch give the same aggregates: by address index (records
without identities, no IP:port inventory: plain v2 logs) and row by row (the general path), on
the attack-story day with its inventory and on high-cardinality traffic (the benchmark's
generator: tens of thousands of addresses, zipf-skewed internal/internet peers, rejects)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from benchmarks.network import generate_highcard
from seawall.network import NetworkOptions, analyze
from seawall.network.engine import Collected, Collector
from tests.network import synth

TABLES = ("edges", "scans", "events", "egress", "imds", "dns")


def _tables(data: Collected) -> dict[str, list[tuple[object, ...]]]:
    out = {}
    for name in TABLES:
        frame: pl.DataFrame = getattr(data, name)
        out[name] = sorted(frame.select(sorted(frame.columns)).iter_rows(), key=repr)
    return out


def _both(monkeypatch: pytest.MonkeyPatch, path: Path, options: NetworkOptions
          ) -> tuple[dict[str, list[tuple[object, ...]]], dict[str, list[tuple[object, ...]]]]:
    used: list[str] = []
    by_address = Collector._aggregate_by_address

    def spy(self: Collector, flows: pl.DataFrame) -> list[pl.DataFrame]:
        used.append("by address")
        return by_address(self, flows)

    monkeypatch.setattr(Collector, "_aggregate_by_address", spy)
    fast = analyze("vpc-flow", [str(path)], options)
    assert used, "the records should have taken the by-address path"
    monkeypatch.setattr(Collector, "_aggregate_by_address", Collector._aggregate)
    general = analyze("vpc-flow", [str(path)], options)
    assert fast.data.first == general.data.first and fast.data.last == general.data.last
    return _tables(fast.data), _tables(general.data)


def test_story_day_with_inventory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    story, inv = synth.write(tmp_path, story=True, seed=4)
    fast, general = _both(monkeypatch, story, NetworkOptions(inventory=[inv], batch_bytes=1 << 20))
    assert len(fast["edges"]) > 50 and len(fast["events"]) > 100
    assert fast == general


def test_high_cardinality_traffic(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "hc.log"
    generate_highcard(path, 60_000)
    # a bound on addresses below what the traffic has: the ones past it share one code both ways
    fast, general = _both(monkeypatch, path, NetworkOptions(batch_bytes=1 << 20, max_addresses=5_000))
    assert len(fast["edges"]) > 10_000 and len(fast["scans"]) > 1_000
    assert fast == general
