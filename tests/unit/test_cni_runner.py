"""Unit tests of the cni suite's runtime side: plugin calls and network lists (no root)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from conformance.cni.runner import Call, NetworkList, PluginRunner, request_config
from conformance.core import Violation

# A recording plugin: appends "<type> <command> <prevResult present>" to a log, answers ADD
# with its input's prevResult plus one interface named after itself.
RECORDER = r"""#!/bin/sh
input=$(cat)
echo "$(basename "$0") $CNI_COMMAND $(printf '%s' "$input" | grep -c prevResult)" >> "$LOG"
if [ "$CNI_COMMAND" = ADD ]; then
  printf '{"cniVersion":"1.0.0","interfaces":[{"name":"%s"}]}' "$(basename "$0")"
fi
"""


def _call(stdout: str) -> Call:
    return Call(["x"], {}, "", 0, stdout, "", 0.0)


class TestCall:
    """Reading a plugin's stdout."""

    def test_single_document_is_returned(self) -> None:
        """One JSON object with surrounding whitespace is accepted."""
        assert _call('\n {"a": 1}\n').json() == {"a": 1}

    @pytest.mark.parametrize("stdout", ['{"a": 1}{"b": 2}', '{"a": 1}\nDEBUG', ""])
    def test_anything_but_one_document_is_a_violation(self, stdout: str) -> None:
        """Two documents, trailing text or nothing at all break the one-document rule."""
        with pytest.raises(Violation):
            _call(stdout).json()

    def test_error_object_is_found_on_stderr_too(self) -> None:
        """An error object printed only on stderr is found and its stream named."""
        call = Call(["x"], {}, "", 1, "", '{"code": 7, "msg": "bad"}', 0.0)
        assert call.error_object() == ({"code": 7, "msg": "bad"}, "stderr")


class TestRequestConfig:
    """Deriving one plugin's stdin from a list (spec section 3)."""

    def test_capabilities_become_runtime_config_and_are_not_sent(self) -> None:
        """Only capabilities the plugin declares true are passed, under runtimeConfig."""
        plugin = {"type": "portmap", "capabilities": {"portMappings": True, "bandwidth": False}}
        args = {"portMappings": [{"hostPort": 1}], "bandwidth": {"rate": 1}, "ips": ["x"]}
        out = request_config({"name": "n"}, plugin, version="1.0.0", capability_args=args)
        assert out == {
            "type": "portmap",
            "cniVersion": "1.0.0",
            "name": "n",
            "runtimeConfig": {"portMappings": [{"hostPort": 1}]},
        }


def test_network_list_orders_and_chains_like_a_runtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ADD runs in order chaining prevResult; DEL runs in reverse with the final result."""
    log = tmp_path / "log"
    monkeypatch.setenv("LOG", str(log))
    for name in ("first", "second"):
        exe = tmp_path / name
        exe.write_text(RECORDER)
        exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    runner = PluginRunner([str(tmp_path)], base_env={"LOG": str(log)})
    nl = NetworkList(
        runner,
        {"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "first"}, {"type": "second"}]},
    )
    env = {"container_id": "c", "netns": "/proc/self/ns/net", "ifname": "eth0"}
    out = nl.add(**env)
    assert out.failed is None
    assert out.result["interfaces"] == [{"name": "second"}]
    nl.delete(out.result, **env)
    assert log.read_text().split("\n")[:4] == [
        "first ADD 0",
        "second ADD 1",
        "second DEL 1",
        "first DEL 1",
    ]
    assert json.loads(out.calls[1].stdin)["prevResult"]["interfaces"] == [{"name": "first"}]
