"""npm: lockfiles v1, v2 and v3 written by npm itself (tests/catalog/data/npm, from
`npm install --lockfile-version N` of old lodash/minimist/mkdirp releases), and a real
node_modules tree installed by `npm ci` from the v3 lock."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.catalog.conftest import CAT_CACHE, publish
from tests.catalog.helpers import catalog_dir

DATA = Path(__file__).parent / "data/npm"
SHIPPED = {("@babel/helper-validator-identifier", "7.10.4"), ("lodash", "4.17.15"),
           ("minimist", "1.2.0"), ("mkdirp", "0.5.1"), ("minimist", "0.0.8")}


def _project(root: Path, lock: str) -> Path:
    app = root / "srv/app"
    app.mkdir(parents=True)
    shutil.copy(DATA / "package.json", app / "package.json")
    shutil.copy(DATA / lock, app / "package-lock.json")
    return root


@pytest.mark.parametrize("lock", ["lock-v1.json", "lock-v2.json", "lock-v3.json"])
def test_lockfiles(tmp_path: Path, lock: str) -> None:
    cat = catalog_dir(_project(tmp_path, lock), names=["npm"])
    assert {(p.name, p.version) for p in cat.packages} == SHIPPED  # is-number is a dev dependency
    assert len(cat.packages) == 5
    babel = cat.one("@babel/helper-validator-identifier")
    assert babel.purl == "pkg:npm/%40babel/helper-validator-identifier@7.10.4"
    assert babel.ecosystem == "npm"
    assert babel.locations[0].path == "/srv/app/package-lock.json"
    assert {p.purl for p in cat.by_name("minimist")} == {"pkg:npm/minimist@1.2.0", "pkg:npm/minimist@0.0.8"}
    if lock != "lock-v1.json":
        assert cat.one("lodash").licenses == ["MIT"]
    assert not cat.warnings


@pytest.fixture(scope="session")
def node_modules() -> Path:
    if shutil.which("npm") is None:
        pytest.skip("npm not installed")
    key = hashlib.sha256((DATA / "lock-v3.json").read_bytes()).hexdigest()[:16]
    final = CAT_CACHE / f"npm-{key}"
    if final.is_dir():
        return final
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    app = tmp / "srv/app"
    app.mkdir(parents=True)
    shutil.copy(DATA / "package.json", app / "package.json")
    shutil.copy(DATA / "lock-v3.json", app / "package-lock.json")
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts",
                    "--cache", str(CAT_CACHE / "npm-cache")], cwd=app, check=True, capture_output=True,
                   timeout=300)
    return publish(tmp, final)


def test_installed_tree_dedupes_with_locks(tmp_path: Path, node_modules: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(node_modules, root, symlinks=True)
    cat = catalog_dir(root, names=["npm"])
    assert {(p.name, p.version) for p in cat.packages} == SHIPPED | {("is-number", "7.0.0")}
    assert len(cat.packages) == 6
    lodash = cat.one("lodash")
    assert sorted(loc.path for loc in lodash.locations) == [
        "/srv/app/node_modules/.package-lock.json", "/srv/app/node_modules/lodash/package.json",
        "/srv/app/package-lock.json"]
    nested = next(p for p in cat.by_name("minimist") if p.version == "0.0.8")
    assert "/srv/app/node_modules/mkdirp/node_modules/minimist/package.json" in [
        loc.path for loc in nested.locations]
    is_number = cat.one("is-number")  # installed, so reported, though the lock calls it dev
    assert [loc.path for loc in is_number.locations] == ["/srv/app/node_modules/is-number/package.json"]
    assert lodash.licenses == ["MIT"]


def test_hostile_lockfiles(tmp_path: Path) -> None:
    app = tmp_path / "app"
    (app / "node_modules/evil").mkdir(parents=True)
    (app / "package-lock.json").write_text(
        '{"lockfileVersion": 3, "packages": {"node_modules/../../../etc": {"version": "1.0.0"},'
        ' "node_modules/ok": {"version": "2.0.0"}, "node_modules/linked": {"link": true},'
        ' "node_modules/noversion": {}}}')
    (app / "node_modules/evil/package.json").write_text("[1, 2, 3]")
    nested = '{"lockfileVersion": 1, "dependencies": ' + '{"a": {"version": "1.0.0", "dependencies": ' * 200
    (tmp_path / "deep").mkdir()
    (tmp_path / "deep/package-lock.json").write_text(nested + "{}" + "}}" * 200 + "}")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad/package-lock.json").write_bytes(b"{\xff\xfe not json")
    cat = catalog_dir(tmp_path, names=["npm"])
    names = sorted({(p.name, p.version) for p in cat.packages})
    assert names == [("a", "1.0.0"), ("ok", "2.0.0")]
    assert sum(1 for p in cat.packages if p.name == "a") == 65  # depth-bounded
    assert len(cat.warnings) == 2
