"""Hostile and damaged input: every mutation of a dump is either planned or refused with a
SeawallError (one line, exit 2) -- never a traceback. Deterministic seeds."""

from __future__ import annotations

import contextlib
import copy
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from seawall import respond
from seawall.core.errors import SeawallError
from tests.conftest import REPO, run_cli

K8S = json.loads((REPO / "devtools" / "samples" / "respond" / "k8s-shop.json").read_text())
ECS = json.loads((Path(__file__).parent / "data" / "ecs-offline.json").read_text())
JUNK = [None, 1, "x", [], {}, [1], {"a": 1}, True, -5, "10.0.0.0/33", "a" * 300]


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, (*path, i))


def _mutate(doc: Any, rng: random.Random, paths: list[tuple[Any, ...]]) -> Any:
    out = copy.deepcopy(doc)
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(paths)
        node = out
        try:
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = rng.choice(JUNK)
        except (KeyError, IndexError, TypeError):
            pass
    return out


def _plan(ref: str, files: list[Path]) -> None:
    with contextlib.suppress(SeawallError):  # refused with one line: fine; anything else fails the test
        respond.plan(ref, respond.Options(sources=files, whole=True))


@pytest.mark.parametrize("seed", [1, 2])
def test_mutated_kubectl_dumps_never_crash(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    paths = [p for p in _paths(K8S) if len(p) > 2]
    dump = tmp_path / "dump.json"
    for _ in range(150):
        dump.write_text(json.dumps(_mutate(K8S, rng, paths)))
        _plan("k8s:shop/pod/frontend-6f7d9c8b4-x2kqz", [dump])
        _plan("k8s:shop/deployment/frontend", [dump])


@pytest.mark.parametrize("seed", [1, 2])
def test_mutated_aws_cli_json_never_crashes(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    docs = ECS["documents"]
    paths = [p for p in _paths(docs) if len(p) > 1]
    for _ in range(150):
        mutated = _mutate(docs, rng, paths)
        files = []
        for name, doc in mutated.items():
            path = tmp_path / f"{name}.json"
            path.write_text(json.dumps(doc))
            files.append(path)
        _plan(f"ecs:prod/task/{ECS['suspect']}", files)
        _plan("ecs:prod/service/frontend", files)


def test_a_malformed_item_is_named_and_the_rest_planned(tmp_path: Path) -> None:
    docs = copy.deepcopy(ECS["documents"])
    docs["acls"]["NetworkAcls"][0]["Entries"][0]["RuleNumber"] = "one"
    files = []
    for name, doc in docs.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(doc))
        files.append(path)
    proc = run_cli(
        "respond",
        "plan",
        f"ecs:prod/task/{ECS['suspect']}",
        *[a for f in files for a in ("--from", str(f))],
        "-f",
        "json",
    )
    assert proc.returncode == 0, proc.stderr
    assert (
        "acls.json: NetworkAcls[0] skipped: NetworkAcls[0].Entries[0].RuleNumber is not a integer"
        in proc.stderr
    )
    plan = json.loads(proc.stdout)
    assert any(s["id"] == "nacl" for s in plan["steps"])


def test_oversized_and_non_json_inputs(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("kubectl get pods\n\x1b[31mred\x1b[0m: not json\n")
    proc = run_cli("respond", "plan", "k8s:shop/pod/x", "--from", str(text))
    assert proc.returncode == 2 and "\x1b" not in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli("respond", "plan", "ecs:prod/task/0123456789abcdef", "--from", str(text))
    assert proc.returncode == 2 and "not JSON" in proc.stderr
    missing = run_cli("respond", "plan", "k8s:shop/pod/x", "--from", str(tmp_path / "nope.json"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
