"""Unit tests of the runtime suite's cgroup and LSM helpers (no root): parsing, views, presets."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.runtime import cgroupfs, lsm, target

HYBRID_MOUNTINFO = """\
25 30 0:22 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate
27 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid - cgroup cgroup rw,xattr,name=systemd
28 25 0:25 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
"""


class TestParsing:
    """/proc/PID/cgroup and mountinfo text become maps by controller."""

    def test_membership_splits_joined_controllers(self) -> None:
        """Joined controllers share a path; the v2 line has the empty key."""
        text = "4:memory:/a/b\n1:cpu,cpuacct:/c\n0::/conformance/x\n"

        assert cgroupfs.parse_membership(text) == {
            "memory": "/a/b",
            "cpu": "/c",
            "cpuacct": "/c",
            "": "/conformance/x",
        }

    def test_mounts_by_controller(self) -> None:
        """Each v1 option names a controller; cgroup2 is the empty key."""
        mounts = cgroupfs.parse_mounts(HYBRID_MOUNTINFO)

        assert mounts[""] == Path("/sys/fs/cgroup/unified")
        assert mounts["memory"] == Path("/sys/fs/cgroup/memory")
        assert mounts["cpuacct"] == Path("/sys/fs/cgroup/cpu,cpuacct")
        assert mounts["name=systemd"] == Path("/sys/fs/cgroup/systemd")

    @pytest.mark.parametrize(("kib", "name"), [(64, "64KB"), (2048, "2MB"), (1048576, "1GB")])
    def test_page_size_names(self, kib: int, name: str) -> None:
        """Sizes are named as in hugetlb.<size>.* files."""
        assert cgroupfs.page_size_name(kib) == name

    def test_huge_page_sizes_smallest_first(self, tmp_path: Path) -> None:
        """hugepages-<N>kB entries become name → bytes."""
        for entry in ("hugepages-1048576kB", "hugepages-2048kB"):
            (tmp_path / entry).mkdir()

        assert cgroupfs.huge_page_sizes(tmp_path) == {"2MB": 2 << 20, "1GB": 1 << 30}


def _hybrid(tmp_path: Path) -> dict[str, Path]:
    unified = tmp_path / "unified"
    unified.mkdir()
    (unified / "cgroup.controllers").write_text("hugetlb\n")
    mounts = cgroupfs.parse_mounts(HYBRID_MOUNTINFO)
    mounts[""] = unified
    return mounts


class TestViews:
    """Which controllers a runtime reaches, and where its files are, per view."""

    def test_host_view_of_a_hybrid_host_is_v1(self, tmp_path: Path) -> None:
        """In the host view the v1 hierarchies count; hugetlb is out of reach with a reason."""
        view = cgroupfs.view_for("host", _hybrid(tmp_path))

        assert view.mode == "v1"
        assert view.unreachable("memory") is None
        reason = view.unreachable("hugetlb") or ""
        assert "only in this hybrid host's unified hierarchy" in reason
        assert "no v1 hierarchy of the pids controller" in (view.unreachable("pids") or "")

    def test_unified_view_offers_the_cgroup2_controllers(self, tmp_path: Path) -> None:
        """In the unified view only cgroup.controllers of the cgroup2 mount counts."""
        mounts = _hybrid(tmp_path)
        view = cgroupfs.view_for("unified", mounts)

        assert view.mode == "v2"
        assert view.unreachable("hugetlb") is None
        assert "lists: hugetlb" in (view.unreachable("memory") or "")

    def test_directories_follow_the_membership(self, tmp_path: Path) -> None:
        """v1 mode reads the controller's line, v2 mode the 0:: line."""
        mounts = _hybrid(tmp_path)
        members = {"memory": "/conformance/a", "": "/conformance/b"}

        v1 = cgroupfs.view_for("host", mounts).directory("memory", members)
        v2 = cgroupfs.view_for("unified", mounts).directory("hugetlb", members)

        assert v1 == Path("/sys/fs/cgroup/memory/conformance/a")
        assert v2 == mounts[""] / "conformance/b"

    def test_pure_v2_host_is_v2_in_the_host_view(self, tmp_path: Path) -> None:
        """Without v1 hierarchies the host view is the cgroup2 mount."""
        unified = tmp_path / "cg"
        unified.mkdir()
        (unified / "cgroup.controllers").write_text("cpu memory pids\n")

        view = cgroupfs.view_for("host", {"": unified})

        assert view.mode == "v2"
        assert view.unreachable("pids") is None


class TestPresets:
    """The cgroup2 presets run through the view wrapper with cgroups managed."""

    def test_reference_cgroup2_preset(self, tmp_path: Path) -> None:
        """The reference preset runs the bundled module behind the cgroup2 wrapper."""
        resolved = target.resolve(None, [], None, "reference-cgroup2", tmp_path)

        assert resolved.command[1].endswith("presets/cgroup2-view.sh")
        assert resolved.command[-2:] == ["-m", "reference_impl.runtime"]
        assert resolved.cgroups
        assert resolved.cgroup_view == "unified"

    def test_runc_cgroup2_preset(self, tmp_path: Path) -> None:
        """runc's cgroup2 preset keeps cgroup management on."""
        resolved = target.resolve("/usr/sbin/runc", [], None, "runc-cgroup2", tmp_path)

        assert resolved.command[-1] == "/usr/sbin/runc"
        assert resolved.cgroup_view == "unified"

    def test_plain_presets_use_the_host_view(self, tmp_path: Path) -> None:
        """Other presets leave the runtime the host's layout."""
        assert target.resolve(None, [], None, "runc", tmp_path).cgroup_view == "host"


def _fake_root(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


class TestLsm:
    """Security modules and the bounding set are read from the file system."""

    def test_nothing_enabled(self, tmp_path: Path) -> None:
        """Without lsm, apparmor module or selinuxfs, both are off with a reason."""
        root = _fake_root(tmp_path, {})

        assert "AppArmor is not enabled" in (lsm.apparmor_off(root) or "")
        assert "SELinux is not enabled" in (lsm.selinux_off(root) or "")

    def test_lsm_list_decides(self, tmp_path: Path) -> None:
        """/sys/kernel/security/lsm names the active modules."""
        root = _fake_root(tmp_path, {"/sys/kernel/security/lsm": "lockdown,capability,apparmor"})

        assert lsm.apparmor_off(root) is None
        assert "not an active LSM" in (lsm.selinux_off(root) or "")

    def test_apparmor_profiles_in_enforce_mode(self, tmp_path: Path) -> None:
        """Only enforcing profiles are offered."""
        profiles = "docker-default (enforce)\nlsb_release (complain)\n/usr/bin/man (enforce)\n"
        root = _fake_root(tmp_path, {"/sys/kernel/security/apparmor/profiles": profiles})

        assert lsm.apparmor_profiles(root) == ["docker-default", "/usr/bin/man"]

    def test_selinux_container_contexts(self, tmp_path: Path) -> None:
        """The policy's lxc_contexts give the process and file contexts."""
        root = _fake_root(
            tmp_path,
            {
                "/etc/selinux/config": "SELINUX=enforcing\nSELINUXTYPE=targeted\n",
                "/etc/selinux/targeted/contexts/lxc_contexts": (
                    'process = "system_u:system_r:container_t:s0"\n'
                    'file = "system_u:object_r:container_file_t:s0"\n'
                ),
            },
        )

        contexts = lsm.selinux_container_contexts(root)

        assert contexts["process"] == "system_u:system_r:container_t:s0"
        assert contexts["file"] == "system_u:object_r:container_file_t:s0"

    def test_bounding_set_without_sys_resource(self, tmp_path: Path) -> None:
        """A CapBnd without bit 24 makes CAP_SYS_RESOURCE a reason to skip."""
        root = _fake_root(tmp_path, {"/proc/self/status": "CapBnd:\t000001fffeffffff\n"})

        assert "CAP_SYS_RESOURCE" not in lsm.bounding_set(root)
        reason = lsm.missing_from_bounding_set(["CAP_KILL", "CAP_SYS_RESOURCE"], root)
        assert "lacks CAP_SYS_RESOURCE" in (reason or "")
        assert lsm.missing_from_bounding_set(["CAP_KILL"], root) is None
