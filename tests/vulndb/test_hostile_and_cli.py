"""Hostile feed files give one clear error line, exit 2, and leave the old database as it was;
the `seawall db` verbs as a user runs them."""

from __future__ import annotations

import gzip
import hashlib
import json
import zipfile
from pathlib import Path

import pytest

from seawall.vulndb import SHIPPED_DIR
from tests.conftest import run_cli

from .conftest import FIXTURES


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture()
def small_db(tmp_path: Path) -> Path:
    db = tmp_path / "db" / "vulndb.sqlite"
    res = run_cli("db", "import", "--db", str(db), str(FIXTURES / "debian-tracker.json"),
                  str(SHIPPED_DIR / "alpine" / "v3_11" / "main.json"))
    assert res.returncode == 0, res.stderr
    return db


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _hostile(tmp: Path) -> dict[str, tuple[Path, str]]:
    good = json.dumps({"id": "X-1", "affected": [{"package": {"ecosystem": "PyPI", "name": "x"},
                                                  "ranges": [{"type": "ECOSYSTEM",
                                                              "events": [{"introduced": "0"}]}]}]})
    pypi = (SHIPPED_DIR / "osv" / "PyPI.zip").read_bytes()
    truncated = tmp / "truncated.zip"
    truncated.write_bytes(pypi[: len(pypi) // 2])
    bomb = tmp / "xml-bomb.xml"
    bomb.write_text('<?xml version="1.0"?>\n<!DOCTYPE updates [<!ENTITY a "aaaaaaaaaa">'
                    '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>\n<updates><update type="security">'
                    "<id>ALAS2-2099-1</id><title>&b;</title></update></updates>")
    tracker = tmp / "tracker.json"
    tracker.write_bytes((FIXTURES / "debian-tracker.json").read_bytes()[:1500])
    secdb = tmp / "secdb.json"
    secdb.write_text(json.dumps({"distroversion": "../../etc", "reponame": "main", "packages": []}))
    return {
        "bad-json": (_zip(tmp / "bad.zip", {"GOOD.json": good.encode(), "BAD.json": b"{not json"}),
                     "not valid JSON"),
        "dotdot": (_zip(tmp / "dotdot.zip", {"../evil.json": good.encode()}), "unsafe entry name"),
        "absolute": (_zip(tmp / "abs.zip", {"/etc/evil.json": good.encode()}), "unsafe entry name"),
        "huge-member": (_zip(tmp / "huge.zip", {"BIG.json": b" " * (40 * 1024 * 1024)}), "limit"),
        "truncated-zip": (truncated, "zip"),
        "xml-entities": (bomb, "DOCTYPE"),
        "truncated-tracker": (tracker, "not valid JSON"),
        "bad-secdb-branch": (secdb, "distroversion"),
        "not-a-feed": (FIXTURES.parent / "test_importers.py", "not a feed"),
        "missing": (tmp / "nope.zip", "no such file"),
    }


def test_hostile_feeds_leave_the_old_db_intact(tmp_path: Path, small_db: Path) -> None:
    before = _sha(small_db)
    cases = _hostile(tmp_path)
    for label, (path, needle) in cases.items():
        res = run_cli("db", "import", "--db", str(small_db), str(path))
        assert res.returncode == 2, (label, res.stdout, res.stderr)
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("seawall: error:"), (label, res.stderr)
        assert needle.lower() in lines[0].lower(), (label, lines[0])
        assert "Traceback" not in res.stderr
        assert _sha(small_db) == before, label
    # nothing left behind next to the database, and it still works
    assert sorted(p.name for p in small_db.parent.iterdir()) == ["vulndb.sqlite"]
    res = run_cli("db", "status", "--db", str(small_db), "--format", "json")
    assert res.returncode == 0, res.stderr
    feeds = {f["name"] for f in json.loads(res.stdout)["feeds"]}
    assert feeds == {"debian-tracker", "alpine-secdb:v3.11/main"}


def test_gzip_bomb_is_bounded(tmp_path: Path, small_db: Path) -> None:
    """A small .gz that inflates past the per-document limit is refused, not inflated."""
    payload = b'{"distroversion": "v3.11", "reponame": "main", "packages": [' + b" " * (40 << 20) + b"]}"
    bomb = tmp_path / "main.json.gz"
    bomb.write_bytes(gzip.compress(payload, compresslevel=9))
    assert bomb.stat().st_size < 100_000
    res = run_cli("db", "import", "--db", str(small_db), str(bomb))
    assert res.returncode == 2 and "limit" in res.stderr


def test_db_import_shipped_data_status_and_offline(tmp_path: Path) -> None:
    db = tmp_path / "cache" / "vulndb.sqlite"
    env = {"SEAWALL_DB": str(db)}
    res = run_cli("db", "import", env=env)
    assert res.returncode == 0, res.stderr
    assert "osv:PyPI: 2651 advisories" in res.stderr
    res = run_cli("db", "status", "--format", "json", env=env)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["path"] == str(db)
    names = {f["name"]: f for f in doc["feeds"]}
    assert names["osv:PyPI"]["advisories"] == 2651
    assert names["osv:Go"]["advisories"] > 4200
    assert any(n.startswith("alpine-secdb:v3.11") for n in names)
    assert doc["stale"] is True  # a 2024 PyPI snapshot is older than 7 days
    res = run_cli("db", "status", env=env)
    assert res.returncode == 0 and "osv:PyPI" in res.stdout
    assert "seawall: warning:" in res.stderr and "days old" in res.stderr
    res = run_cli("db", "update", "--offline", env=env)
    assert res.returncode == 2 and "--offline" in res.stderr
    res = run_cli("db", "status", "--db", str(tmp_path / "none.sqlite"))
    assert res.returncode == 2 and "seawall db import" in res.stderr
    not_db = tmp_path / "not.sqlite"
    not_db.write_bytes(b"hello")
    res = run_cli("db", "status", "--db", str(not_db))
    assert res.returncode == 2 and "Traceback" not in res.stderr


def test_old_schema_is_rebuilt_but_a_foreign_file_is_never_overwritten(tmp_path: Path) -> None:
    import sqlite3

    old = tmp_path / "old.sqlite"
    conn = sqlite3.connect(old)
    conn.execute("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT)")
    conn.execute("INSERT INTO meta VALUES ('schema_version', '0')")
    conn.commit()
    conn.close()
    res = run_cli("db", "status", "--db", str(old))
    assert res.returncode == 2 and "rebuild" in res.stderr
    res = run_cli("db", "import", "--db", str(old), str(FIXTURES / "debian-tracker.json"))
    assert res.returncode == 0, res.stderr
    assert run_cli("db", "status", "--db", str(old)).returncode == 0
    foreign = tmp_path / "notes.txt"
    foreign.write_text("my notes")
    res = run_cli("db", "import", "--db", str(foreign), str(FIXTURES / "debian-tracker.json"))
    assert res.returncode == 2 and "not a seawall vulnerability database" in res.stderr
    assert foreign.read_text() == "my notes"


def test_killed_import_leaves_the_old_db_working(tmp_path: Path, small_db: Path) -> None:
    """SIGKILL in the middle of a rebuild: the old database is still the one in place."""
    import os
    import signal
    import subprocess
    import sys
    import time

    before = _sha(small_db)
    proc = subprocess.Popen([sys.executable, "-m", "seawall", "db", "import", "--db", str(small_db),
                             str(SHIPPED_DIR / "osv" / "PyPI.zip"), str(SHIPPED_DIR / "osv" / "Go.zip")],
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and not list(small_db.parent.glob(".vulndb.sqlite.*.tmp")):
        time.sleep(0.02)
    temps = list(small_db.parent.glob(".vulndb.sqlite.*.tmp"))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert temps, "the import never started writing its temp file"
    assert _sha(small_db) == before
    res = run_cli("db", "status", "--db", str(small_db), "--format", "json")
    assert res.returncode == 0
    # the next run clears a stale leftover and succeeds
    for t in small_db.parent.glob(".vulndb.sqlite.*.tmp"):
        os.utime(t, (time.time() - 7200, time.time() - 7200))
    res = run_cli("db", "import", "--db", str(small_db), str(FIXTURES / "alas2-updateinfo.xml"))
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in small_db.parent.iterdir()) == ["vulndb.sqlite"]
