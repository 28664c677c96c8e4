"""Unit tests of the runtime suite's helpers: target resolution, parsing, schemas."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.core import Violation
from conformance.core.errors import ConfigurationError
from conformance.runtime import numa
from conformance.runtime import target as target_mod
from conformance.runtime.bundle import Bundle, base_config
from conformance.runtime.leftovers import HostView
from conformance.runtime.observe import capability_sets, id_map, mount_at, mountinfo
from conformance.runtime.schemas import validate_features, validate_state


class TestParseVersion:
    """``<runtime> --version`` output is read into name, version and spec."""

    def test_reads_runc_style_output(self) -> None:
        """The first word is the name, the word after 'version' the version."""
        text = "runc version 1.1.5+ds1\ncommit: x\nspec: 1.0.2-dev\ngo: go1.19\n"

        assert target_mod.parse_version(text) == {
            "name": "runc",
            "version": "1.1.5+ds1",
            "spec": "1.0.2-dev",
        }

    def test_tolerates_output_without_spec_line(self) -> None:
        """A runtime that prints only its name and version still identifies."""
        assert target_mod.parse_version("crun version 1.8.1\n")["spec"] == ""

    def test_empty_output_gives_empty_fields(self) -> None:
        """No output means no name, not an exception."""
        assert target_mod.parse_version("") == {"name": "", "version": "", "spec": ""}


class TestResolve:
    """Options become one argv prefix: wrapper, runtime, global args, --root."""

    def test_runtime_with_wrapper_and_args(self, tmp_path: Path) -> None:
        """The wrapper comes first, global args before --root and the subcommand."""
        target = target_mod.resolve("/bin/rt --x", ["--a=1"], "sudo -E", None, tmp_path)

        assert target.argv("state", "id") == [
            "sudo", "-E", "/bin/rt", "--x", "--a=1", "--root", str(tmp_path), "state", "id",
        ]  # fmt: skip

    def test_crun_preset_adds_its_wrapper_and_disables_cgroups(self, tmp_path: Path) -> None:
        """The crun preset runs through its cgroup2 wrapper without cgroup management."""
        target = target_mod.resolve("/usr/bin/crun", [], None, "crun", tmp_path)

        assert target.command[:1] == ["/bin/sh"]
        assert target.command[1].endswith("presets/cgroup2-view.sh")
        assert "--cgroup-manager=disabled" in target.global_args
        assert target.cgroups is False

    def test_unknown_preset_is_a_configuration_error(self, tmp_path: Path) -> None:
        """A preset name that does not exist names the choices."""
        with pytest.raises(ConfigurationError, match=r"crun, .*runc, .*runsc"):
            target_mod.resolve(None, [], None, "nope", tmp_path)

    def test_default_is_reference_when_installed(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without options the bundled reference runtime is the target when importable."""
        monkeypatch.setattr(target_mod, "reference_available", lambda: True)

        command, how = target_mod.default_command()

        assert command[1:] == ["-m", "reference_impl.runtime"]
        assert "reference" in how

    def test_reference_targets_are_marked_for_the_reports(self, tmp_path: Path) -> None:
        """The reference, bare or through a cgroup-view preset, is told apart from a peer."""
        reference = target_mod.resolve(None, [], None, "reference-cgroup2", tmp_path)
        runc = target_mod.resolve("/usr/sbin/runc", [], None, "runc-cgroup2", tmp_path)

        assert reference.is_reference
        assert not runc.is_reference

    def test_default_falls_back_to_runc(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without the reference the default is runc, and the reason says so."""
        monkeypatch.setattr(target_mod, "reference_available", lambda: False)
        monkeypatch.setattr(target_mod.shutil, "which", lambda name: f"/usr/sbin/{name}")

        command, how = target_mod.default_command()

        assert command == ["/usr/sbin/runc"]
        assert "not installed" in how


MOUNTINFO = (
    "22 1 0:21 / / rw,relatime shared:1 - overlay overlay rw\n"
    "23 22 0:22 / /my\\040dir ro,nosuid master:3 - tmpfs tmpfs rw,size=1024k\n"
    "24 22 0:23 / /my\\040dir rw - tmpfs tmpfs rw,size=2048k\n"
)


class TestObserve:
    """The probe's raw /proc texts are parsed correctly."""

    def test_mountinfo_fields_and_escapes(self) -> None:
        """Octal escapes are decoded; options, optional fields and super options split."""
        mounts = mountinfo({"mountinfo": MOUNTINFO})

        assert [m.point for m in mounts] == ["/", "/my dir", "/my dir"]
        assert mounts[1].options == {"ro", "nosuid"}
        assert mounts[1].optional == ("master:3",)
        assert "size=1024k" in mounts[1].super_options

    def test_mount_at_returns_the_topmost(self) -> None:
        """The last mount listed at a point is the visible one."""
        top = mount_at({"mountinfo": MOUNTINFO}, "/my dir")

        assert top is not None
        assert "size=2048k" in top.super_options

    def test_capability_sets_from_status_masks(self) -> None:
        """Bits of the Cap* masks map to capability names by number."""
        status = "CapInh:\t0000000000000000\nCapEff:\t0000000000000021\n"

        sets = capability_sets({"status": status})

        assert sets["effective"] == {"CAP_CHOWN", "CAP_KILL"}
        assert sets["inheritable"] == set()

    def test_id_map_rows(self) -> None:
        """uid_map lines become (inside, outside, count) tuples."""
        assert id_map("         0     100000      65536\n") == [(0, 100000, 65536)]


class TestSchemas:
    """State and features documents are checked against the suite's schemas."""

    def test_valid_state_passes(self) -> None:
        """A complete created state is valid."""
        validate_state(
            {"ociVersion": "1.0.2", "id": "a", "status": "created", "pid": 4, "bundle": "/b"}
        )

    @pytest.mark.parametrize(
        "change",
        [{"status": "paused"}, {"pid": -1}, {"bundle": "relative"}, {"ociVersion": "one"}],
    )
    def test_invalid_state_is_a_violation(self, change: dict[str, object]) -> None:
        """Unknown status, negative pid, relative bundle and non-SemVer versions fail."""
        doc = {"ociVersion": "1.0.2", "id": "a", "status": "created", "pid": 4, "bundle": "/b"}

        with pytest.raises(Violation):
            validate_state({**doc, **change})

    def test_features_without_version_range_is_a_violation(self) -> None:
        """ociVersionMin and ociVersionMax are required."""
        with pytest.raises(Violation):
            validate_features({"ociVersionMin": "1.0.0"})


def test_bundle_probe_sets_args_with_output_in_shared(tmp_path: Path) -> None:
    """Bundle.probe writes the probe's report into the shared directory."""
    bundle = Bundle(tmp_path, tmp_path / "shared", base_config("1.0.2", ["/probe"], tmp_path))

    args = bundle.probe("--stat", "/x", out="r.json")

    assert args == ["/probe", "--out", "/shared/r.json", "--stat", "/x"]
    assert bundle.config["process"]["args"] == args


def test_host_view_differences_name_what_appeared_and_vanished() -> None:
    """Two host snapshots compare field by field; equal fields are left out."""
    empty: tuple[str, ...] = ()
    before = HostView(("c1",), ("10 init",), empty, empty, ("/run/netns/a",))
    after = HostView(("c1",), empty, ("/x tmpfs t",), empty, ("/run/netns/a",))

    assert before.differences(before) == {}
    assert before.differences(after) == {
        "processes": {"appeared": [], "vanished": ["10 init"]},
        "mounts": {"appeared": ["/x tmpfs t"], "vanished": []},
    }


def test_failing_values_lists_only_the_values_that_fail_alone() -> None:
    """A failing batch is retried value by value; a passing batch costs one attempt."""
    from conformance.runtime.test_features import _failing_values

    calls: list[list[str]] = []

    def attempt(values: list[str]) -> str | None:
        calls.append(values)
        return "refused" if "bad" in values else None

    assert _failing_values(["a", "b"], attempt) == []
    assert calls == [["a", "b"]]
    assert _failing_values(["a", "bad", "c"], attempt) == ["bad: refused"]
    assert _failing_values([], attempt) == []


class TestMemoryPolicyHelpers:
    """The harness's reading of node lists and of the probe's get_mempolicy report."""

    def test_node_lists_take_ranges_and_single_nodes(self) -> None:
        """``0-2,5`` is nodes 0, 1, 2 and 5; an empty list is no nodes."""
        assert numa.parse_nodes("0-2,5") == {0, 1, 2, 5}
        assert numa.parse_nodes("") == set()

    def test_report_is_decoded_into_config_names(self) -> None:
        """Mode number and flag bits become the config's names; nodes stay sorted numbers."""
        report = {"mempolicy": {"errno": 0, "mode": 2, "flags": 1 << 15, "nodes": [3, 0]}}

        assert numa.seen_policy(report) == {
            "mode": "MPOL_BIND",
            "flags": ["MPOL_F_STATIC_NODES"],
            "nodes": [0, 3],
        }

    def test_a_failed_get_mempolicy_is_shown_as_is(self) -> None:
        """A probe that could not read its policy yields the raw report, never a policy."""
        report = {"mempolicy": {"errno": 38}}

        assert numa.seen_policy(report) == {"get_mempolicy": {"errno": 38}}

    def test_thread_policy_is_put_back(self) -> None:
        """The harness's own thread policy is the same before and after a trial."""
        before = numa._get()
        with numa.thread_policy("MPOL_PREFERRED", (), numa.host_memory_nodes()[:1]) as err:
            assert err == 0
            assert numa._get()[0] == numa.MODES["MPOL_PREFERRED"]

        assert numa._get() == before
