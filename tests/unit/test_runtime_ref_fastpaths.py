"""The reference runtime's start-up shortcuts behave exactly like the code they replace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reference_impl.runtime._jsonlite import loads
from reference_impl.runtime.cgroups import Cgroups
from reference_impl.runtime.state import oci_json

REPO = Path(__file__).resolve().parents[2]
WRAPPER = REPO / "reference_impl" / "runtime" / "bin" / "conformance-runtime"

DOCUMENTS = [
    b'{"ociVersion": "1.0.2", "process": {"args": ["sh"], "terminal": false}}',
    b'  \n{"a": [1, -2.5e3, true, null, "\\u00e9\\n"]}\r\n\t',
    '{"\u00e9": "\u2603"}'.encode(),
    b"[NaN, Infinity, -Infinity]",
    b'"\\ud800"',
    b"7",
]
BROKEN = [
    b"",
    b"   ",
    b'{"a": 1',
    b'{"a": 1} x',
    b"{}{}",
    b"[1,]",
    b'{"a": "\x01"}',
    b'{"a": "\xff"}',
    b"\xef\xbb\xbf{}",
    '{"a": 1}'.encode("utf-16"),
    '{"a": 1}'.encode("utf-32-le"),
]


class TestJsonLoads:
    """``_jsonlite.loads`` returns and raises what ``json.loads`` does."""

    @pytest.mark.parametrize("raw", DOCUMENTS + BROKEN[-3:])
    def test_value_is_the_standard_librarys(self, raw: bytes) -> None:
        expected = json.loads(raw)
        got = loads(raw)
        assert repr(got) == repr(expected), f"loads({raw!r}): expected {expected!r}, got {got!r}"

    @pytest.mark.parametrize("raw", BROKEN[:-3])
    def test_error_is_the_standard_librarys(self, raw: bytes) -> None:
        with pytest.raises(ValueError) as expected:
            json.loads(raw)
        with pytest.raises(ValueError) as got:
            loads(raw)
        assert (type(got.value), str(got.value)) == (type(expected.value), str(expected.value))


STATES = [
    {},
    {"ociVersion": "1.0.2", "id": "c1", "status": "created", "pid": 42, "bundle": "/b"},
    {"id": 'q"\\\n\u00e9', "pid": 0, "annotations": {"k": "v", "\u2603": "x"}},
    {"id": "c", "annotations": {}},
]


class TestOciJson:
    """``oci_json`` writes a state document as ``json.dumps`` does."""

    @pytest.mark.parametrize("indent", [None, 2])
    @pytest.mark.parametrize("doc", STATES)
    def test_text_is_json_dumps(self, doc: dict[str, object], indent: int | None) -> None:
        expected = json.dumps(doc, indent=indent)
        got = oci_json(doc, indent=indent)
        assert got == expected, f"oci_json({doc!r}, {indent}): expected {expected!r}, got {got!r}"


class TestJoinCurrent:
    """``Cgroups.join_current`` writes ``0`` to v1 ``tasks``, else to ``cgroup.procs``."""

    def test_v1_uses_tasks_and_v2_cgroup_procs(self, tmp_path: Path) -> None:
        v1, v2 = tmp_path / "memory" / "c1", tmp_path / "unified" / "c1"
        for path in (v1, v2):
            path.mkdir(parents=True)
            (path / "cgroup.procs").write_text("")
        (v1 / "tasks").write_text("")

        Cgroups([str(v1), str(v2)], []).join_current()

        got = {
            str(p.relative_to(tmp_path)): p.read_text()
            for p in sorted(tmp_path.rglob("*"))
            if p.is_file()
        }
        expected = {
            "memory/c1/cgroup.procs": "",
            "memory/c1/tasks": "0",
            "unified/c1/cgroup.procs": "0",
        }
        assert got == expected, f"cgroup files after join_current: expected {expected}, got {got}"


class TestWrapper:
    """The executable wrapper finds its checkout through a symlink and flushes its output."""

    def test_version_through_a_symlink_into_a_pipe(self, tmp_path: Path) -> None:
        link = tmp_path / "bin" / "refrt"
        link.parent.mkdir()
        link.symlink_to(WRAPPER)
        # Block-buffered stdout (no PYTHONUNBUFFERED), as under an engine.
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONUNBUFFERED")}
        env["CONFORMANCE_PYTHON"] = sys.executable

        proc = subprocess.run(
            ["bin/refrt", "--version"], cwd=tmp_path, env=env, capture_output=True, check=False
        )

        assert (proc.returncode, proc.stdout.decode().splitlines()[-1:]) == (
            0,
            ["spec: 1.3.0"],
        ), f"wrapper --version: exit {proc.returncode}, stdout {proc.stdout!r}, {proc.stderr!r}"
