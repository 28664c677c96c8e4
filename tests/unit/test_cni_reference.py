"""Unit tests of the reference CNI plugins' internals (no root, no namespaces)."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import pytest

from reference_impl.cni import hostlocal, results, skel
from reference_impl.cni.skel import CniError, Invocation


def _run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], env: dict, stdin: str
) -> tuple[int, dict]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    rc = skel.run(hostlocal.HANDLERS, env)
    out = capsys.readouterr().out
    return rc, json.loads(out) if out.strip() else {}


class TestSkel:
    """The shared entry point: validation and the error format."""

    def test_version_echoes_a_supported_request_version(self, monkeypatch, capsys) -> None:
        """VERSION answers with the caller's version when it is supported."""
        rc, reply = _run(monkeypatch, capsys, {"CNI_COMMAND": "VERSION"}, '{"cniVersion": "1.0.0"}')
        assert rc == 0
        assert reply == {"cniVersion": "1.0.0", "supportedVersions": list(skel.SUPPORTED_VERSIONS)}

    def test_version_with_garbage_stdin_still_answers(self, monkeypatch, capsys) -> None:
        """Malformed stdin does not stop VERSION."""
        rc, reply = _run(monkeypatch, capsys, {"CNI_COMMAND": "VERSION"}, "{")
        assert rc == 0
        assert reply["cniVersion"] == skel.LATEST

    @pytest.mark.parametrize(
        ("env", "stdin", "code"),
        [
            ({"CNI_COMMAND": "BOGUS"}, "{}", 4),
            ({"CNI_COMMAND": "ADD"}, "{", 6),
            ({"CNI_COMMAND": "ADD"}, '{"name": "n"}', 7),
            ({"CNI_COMMAND": "ADD"}, '{"cniVersion": "9.9.9", "name": "n"}', 1),
            ({"CNI_COMMAND": "ADD"}, '{"cniVersion": "1.1.0", "name": "bad/name"}', 7),
            ({"CNI_COMMAND": "ADD"}, '{"cniVersion": "1.1.0", "name": "n"}', 4),
            ({"CNI_COMMAND": "STATUS"}, '{"cniVersion": "1.0.0", "name": "n"}', 1),
        ],
    )
    def test_bad_input_gets_the_reserved_code(self, monkeypatch, capsys, env, stdin, code) -> None:
        """Each kind of bad input is refused with its code in the spec's error shape."""
        rc, error = _run(monkeypatch, capsys, env, stdin)
        assert rc == 1
        assert error["code"] == code
        assert set(error) == {"cniVersion", "code", "msg", "details"}

    def test_cni_args_are_split_into_pairs(self) -> None:
        """CNI_ARGS K=V;K=V becomes a mapping; empty items are ignored."""
        assert skel.parse_cni_args("IP=10.0.0.5;IgnoreUnknown=1;") == {
            "IP": "10.0.0.5",
            "IgnoreUnknown": "1",
        }

    @pytest.mark.parametrize("text", ["garbage", "=v", "A=1;junk"])
    def test_malformed_cni_args_are_refused(self, text: str) -> None:
        """A pair without '=' or without a key is code 4."""
        with pytest.raises(CniError) as err:
            skel.parse_cni_args(text)
        assert err.value.code == skel.INVALID_ENV


class TestResults:
    """Conversion of results between versions."""

    RESULT = {
        "interfaces": [{"name": "eth0", "mtu": 1400, "sandbox": "/x"}],
        "ips": [
            {"address": "10.0.0.2/24", "interface": 0},
            {"address": "fd00::2/64", "interface": 0},
        ],
        "routes": [{"dst": "0.0.0.0/0", "mtu": 1400}],
        "dns": {},
    }

    def test_pre_1_0_results_carry_ip_versions(self) -> None:
        """0.4.0 results have version 4/6 per ip and no 1.1.0-only fields."""
        out = results.for_version(self.RESULT, "0.4.0")
        assert [ip["version"] for ip in out["ips"]] == ["4", "6"]
        assert "mtu" not in out["interfaces"][0]
        assert "mtu" not in out["routes"][0]
        assert "dns" not in out

    def test_1_1_results_keep_mtu(self) -> None:
        """1.1.0 results keep the interface mtu and carry no ip versions."""
        out = results.for_version(self.RESULT, "1.1.0")
        assert out["interfaces"][0]["mtu"] == 1400
        assert all("version" not in ip for ip in out["ips"])


def _inv(tmp_path: Path, command: str, cid: str, **ipam: object) -> Invocation:
    config = {
        "cniVersion": "1.1.0",
        "name": "unitnet",
        "ipam": {"type": "host-local", "subnet": "10.7.0.0/29", "dataDir": str(tmp_path), **ipam},
    }
    return Invocation(command=command, config=config, container_id=cid, netns="/x", ifname="eth0")


class TestHostLocal:
    """Allocation, release, GC and STATUS of the IPAM plugin."""

    def test_allocates_lowest_free_address_after_the_gateway(self, tmp_path: Path) -> None:
        """The first ADD gets .2 with gateway .1."""
        out = hostlocal.cmd_add(_inv(tmp_path, "ADD", "c1"))
        assert out["ips"] == [{"address": "10.7.0.2/29", "gateway": "10.7.0.1"}]

    def test_exhausted_range_is_an_error_and_keeps_existing(self, tmp_path: Path) -> None:
        """A /29 has five addresses to give; the sixth ADD fails, the five stay reserved."""
        for i in range(5):
            hostlocal.cmd_add(_inv(tmp_path, "ADD", f"c{i}"))
        with pytest.raises(CniError) as err:
            hostlocal.cmd_add(_inv(tmp_path, "ADD", "c9"))
        assert err.value.code == skel.ADDRESS_EXHAUSTED
        assert len(hostlocal.Store(str(tmp_path), "unitnet").reservations()) == 5

    def test_concurrent_adds_never_share_an_address(self, tmp_path: Path) -> None:
        """Threads racing for a /29 get distinct addresses; the losers get code 104."""
        got: list[str] = []
        errors: list[int] = []

        def add(i: int) -> None:
            try:
                got.append(hostlocal.cmd_add(_inv(tmp_path, "ADD", f"t{i}"))["ips"][0]["address"])
            except CniError as err:
                errors.append(err.code)

        threads = [threading.Thread(target=add, args=(i,)) for i in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(got) == len(set(got)) == 5
        assert errors == [skel.ADDRESS_EXHAUSTED] * 7

    def test_del_releases_and_repeats_quietly(self, tmp_path: Path) -> None:
        """DEL frees the address for the next container; a second DEL is fine."""
        hostlocal.cmd_add(_inv(tmp_path, "ADD", "c1", rangeStart="10.7.0.3", rangeEnd="10.7.0.3"))
        hostlocal.cmd_del(_inv(tmp_path, "DEL", "c1"))
        hostlocal.cmd_del(_inv(tmp_path, "DEL", "c1"))
        out = hostlocal.cmd_add(
            _inv(tmp_path, "ADD", "c2", rangeStart="10.7.0.3", rangeEnd="10.7.0.3")
        )
        assert out["ips"][0]["address"] == "10.7.0.3/29"

    def test_gc_keeps_listed_and_drops_the_rest(self, tmp_path: Path) -> None:
        """GC removes reservations of attachments not listed (either key spelling)."""
        for cid in ("keep", "drop"):
            hostlocal.cmd_add(_inv(tmp_path, "ADD", cid))
        inv = _inv(tmp_path, "GC", "")
        inv.config["cni.dev/attachments"] = [{"containerID": "keep", "ifname": "eth0"}]
        hostlocal.cmd_gc(inv)
        owners = hostlocal.Store(str(tmp_path), "unitnet").reservations().values()
        assert list(owners) == [("keep", "eth0")]

    def test_status_reports_50_when_state_is_unusable(self, tmp_path: Path) -> None:
        """A dataDir below a regular file makes STATUS fail with code 50."""
        blocker = tmp_path / "file"
        blocker.write_text("")
        with pytest.raises(CniError) as err:
            hostlocal.cmd_status(_inv(blocker, "STATUS", ""))
        assert err.value.code == skel.NOT_AVAILABLE

    def test_requested_address_from_cni_args(self, tmp_path: Path) -> None:
        """CNI_ARGS IP= picks the address; unknown keys are refused with code 2."""
        inv = _inv(tmp_path, "ADD", "c1")
        inv.args = {"IP": "10.7.0.5"}
        assert hostlocal.cmd_add(inv)["ips"][0]["address"] == "10.7.0.5/29"
        inv = _inv(tmp_path, "ADD", "c2")
        inv.args = {"FOO": "bar"}
        with pytest.raises(CniError) as err:
            hostlocal.cmd_add(inv)
        assert err.value.code == skel.UNSUPPORTED_FIELD
