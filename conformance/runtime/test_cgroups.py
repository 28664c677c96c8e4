"""Control groups: placement and resource limits (config-linux.md: Control groups)."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from conformance.core import (
    Violation,
    check,
    check_equal,
    current_evidence,
    skip_config,
    skip_host,
)
from conformance.runtime.bundle import CGROUP_PARENT, Bundle
from conformance.runtime.cgroupfs import (
    CgroupView,
    host_mounts,
    huge_page_sizes,
    membership,
    view_for,
)
from conformance.runtime.driver import Container, Runtime, run_probe


def _needs_cgroups(runtime: Runtime) -> None:
    if not runtime.target.cgroups:
        skip_config("this invocation of the runtime runs without cgroup management")


@pytest.fixture(scope="session")
def cgroup_view(runtime: Runtime) -> CgroupView:
    """The hierarchies the runtime manages, as its invocation shows them (see cgroupfs)."""
    return view_for(runtime.target.cgroup_view)


def _require(view: CgroupView, controller: str) -> None:
    reason = view.unreachable(controller)
    if reason:
        skip_host(reason)


def _cgroup_dir(view: CgroupView, pid: int, controller: str) -> Path:
    """The directory of ``pid``'s cgroup in the hierarchy holding ``controller``."""
    members = membership(pid)
    directory = view.directory(controller, members)
    if directory is None:
        raise Violation(
            f"/proc/{pid}/cgroup",
            f"membership of a {view.mode} hierarchy holding {controller or 'cgroup2'}",
            members,
        )
    return directory


def _limit_file(view: CgroupView, pid: int, controller: str, v1: str, v2: str) -> Path:
    """The file of ``controller`` in ``pid``'s cgroup: the v1 name, or the v2 one."""
    return _cgroup_dir(view, pid, controller) / (v1 if view.mode == "v1" else v2)


@pytest.fixture
def cgroup_bundle(runtime: Runtime, bundle: Bundle, container: Container) -> Bundle:
    """The bundle with an absolute cgroupsPath unique to the container."""
    _needs_cgroups(runtime)
    bundle.linux["cgroupsPath"] = f"/{CGROUP_PARENT}/{container.cid}"
    return bundle


@pytest.mark.requirement("linux-cgroups-path")
def test_process_is_placed_in_cgroups_path(container: Container, cgroup_bundle: Bundle) -> None:
    """The created container's process is in the cgroup cgroupsPath names."""
    container.must_create()

    members = membership(container.pid or 0)

    expected = cgroup_bundle.linux["cgroupsPath"]
    placed = [c for c, path in members.items() if path == expected]
    check(placed, f"/proc/{container.pid}/cgroup", f"membership of {expected}", members)


@pytest.mark.requirement("linux-cgroups-memory")
def test_memory_limit_is_applied(
    container: Container, cgroup_bundle: Bundle, cgroup_view: CgroupView
) -> None:
    """resources.memory.limit is the cgroup's memory limit."""
    _require(cgroup_view, "memory")
    limit = 96 * 1024 * 1024
    cgroup_bundle.linux["resources"] = {"memory": {"limit": limit}}
    container.must_create()

    pid = container.pid or 0
    path = _limit_file(cgroup_view, pid, "memory", "memory.limit_in_bytes", "memory.max")

    check_equal(path.read_text().strip(), str(limit), str(path))


@pytest.mark.requirement("linux-cgroups-pids")
@pytest.mark.parametrize("limit", [64, 1])
def test_pids_limit_is_applied(
    container: Container, cgroup_bundle: Bundle, cgroup_view: CgroupView, limit: int
) -> None:
    """resources.pids.limit is the cgroup's pids.max."""
    _require(cgroup_view, "pids")
    cgroup_bundle.linux["resources"] = {"pids": {"limit": limit}}
    container.must_create()

    path = _limit_file(cgroup_view, container.pid or 0, "pids", "pids.max", "pids.max")

    check_equal(path.read_text().strip(), str(limit), str(path))


@pytest.mark.requirement("linux-cgroups-pids-zero")
def test_pids_limit_zero_forbids_new_tasks(
    runtime: Runtime, container: Container, cgroup_bundle: Bundle, cgroup_view: CgroupView
) -> None:
    """pids.limit 0 is a real limit (spec 1.3): pids.max reads 0 and the process cannot fork.

    The init was moved into the cgroup rather than forked there, so it still runs; only new
    tasks are refused (EAGAIN), which the probe shows by trying one fork.
    """
    _require(cgroup_view, "pids")
    cgroup_bundle.linux["resources"] = {"pids": {"limit": 0}}
    cgroup_bundle.probe("--try", "fork", out="report.json")
    container.must_create()

    path = _limit_file(cgroup_view, container.pid or 0, "pids", "pids.max", "pids.max")
    check_equal(path.read_text().strip(), "0", str(path))
    container.must_start()
    container.wait()
    report = container.probe_report("report.json")

    check_equal(report["try"]["fork"].get("errno"), errno.EAGAIN, "fork() in the container")


@pytest.mark.requirement("delete-releases", "linux-cgroups-path")
def test_delete_removes_the_cgroup(
    runtime: Runtime, container: Container, cgroup_bundle: Bundle
) -> None:
    """Deleting the container removes the cgroup create made for it."""
    container.must_create()
    paths = []
    mounts = host_mounts()
    for controller, member in membership(container.pid or 0).items():
        mount = mounts.get(controller)
        if mount is not None and member == cgroup_bundle.linux["cgroupsPath"]:
            paths.append(mount / member.lstrip("/"))
    check(paths, "cgroup directories of the container", "at least one", paths)
    runtime.kill(container.cid, "KILL")
    container.wait()

    res = runtime.delete(container.cid)

    check(res.ok, "delete", "exit status 0", res.returncode)
    left = [str(p) for p in paths if p.exists()]
    check_equal(left, [], "cgroup directories after delete")


@pytest.mark.requirement("linux-cgroups-devices")
@pytest.mark.parametrize(("allowed", "expected_errno"), [(False, errno.EPERM), (True, errno.ENXIO)])
def test_device_allow_list_is_enforced(
    runtime: Runtime,
    container: Container,
    bundle: Bundle,
    cgroup_view: CgroupView,
    allowed: bool,
    expected_errno: int,
) -> None:
    """resources.devices decides whether a device node may be opened: EPERM when denied.

    The node is a block device number from the range reserved for local use (240-254), with
    no driver behind it, so an allowed open fails with ENXIO and a denied one with EPERM: the
    errno tells the cgroup's verdict. On cgroup v2 the rules need a BPF device program
    (there is no devices controller), so the test needs no controller there.
    """
    _needs_cgroups(runtime)
    if cgroup_view.mode == "v1":
        _require(cgroup_view, "devices")
    bundle.linux["cgroupsPath"] = f"/{CGROUP_PARENT}/{container.cid}"
    bundle.linux["devices"] = [
        {"path": "/dev/conf-loop", "type": "b", "major": 241, "minor": 7, "fileMode": 0o600}
    ]
    rules: list[dict[str, object]] = [{"allow": False, "access": "rwm"}]
    if allowed:
        rules.append({"allow": True, "type": "b", "major": 241, "minor": 7, "access": "rwm"})
    bundle.linux["resources"] = {"devices": rules}

    report = run_probe(container, bundle, "--read", "/dev/conf-loop")

    check_equal(
        report["read"]["/dev/conf-loop"].get("errno"), expected_errno, "open /dev/conf-loop errno"
    )


def _v2_weight(shares: int) -> int:
    """The conversion of cpu shares to a cgroup v2 weight runtimes agree on."""
    return 1 + ((shares - 2) * 9999) // 262142


@pytest.mark.requirement("linux-cgroups-cpu")
def test_cpu_shares_and_quota_are_applied(
    container: Container, cgroup_bundle: Bundle, cgroup_view: CgroupView
) -> None:
    """resources.cpu shares, quota and period land in the cgroup (v1 files, or v2's)."""
    _require(cgroup_view, "cpu")
    cgroup_bundle.linux["resources"] = {"cpu": {"shares": 512, "quota": 50000, "period": 100000}}
    container.must_create()
    pid = container.pid or 0

    base = _limit_file(cgroup_view, pid, "cpu", "cpu.shares", "cpu.weight").parent
    if cgroup_view.mode == "v1":
        names = ("cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us")
        expected = {"cpu.shares": "512", "cpu.cfs_quota_us": "50000", "cpu.cfs_period_us": "100000"}
    else:
        names = ("cpu.weight", "cpu.max")
        expected = {"cpu.weight": str(_v2_weight(512)), "cpu.max": "50000 100000"}
    got = {name: (base / name).read_text().strip() for name in names}
    check_equal(got, expected, f"cpu controller files in {base}")


def _huge_page(view: CgroupView) -> tuple[str, int]:
    """The smallest huge page size (name, bytes), once hugetlb is known to be reachable."""
    _require(view, "hugetlb")
    sizes = huge_page_sizes()
    if not sizes:
        skip_host("the kernel offers no huge page sizes (/sys/kernel/mm/hugepages is empty)")
    return next(iter(sizes.items()))


@pytest.mark.requirement("linux-cgroups-hugetlb")
def test_hugepage_limit_is_applied(
    container: Container, cgroup_bundle: Bundle, cgroup_view: CgroupView
) -> None:
    """hugepageLimits set the hugetlb limit of each page size: the reservation limit where the
    kernel has one (rsvd files), else the page fault limit."""
    name, size = _huge_page(cgroup_view)
    limit = 4 * size
    cgroup_bundle.linux["resources"] = {"hugepageLimits": [{"pageSize": name, "limit": limit}]}
    container.must_create()

    pid = container.pid or 0
    plain = _limit_file(
        cgroup_view, pid, "hugetlb", f"hugetlb.{name}.limit_in_bytes", f"hugetlb.{name}.max"
    )
    rsvd = _limit_file(
        cgroup_view,
        pid,
        "hugetlb",
        f"hugetlb.{name}.rsvd.limit_in_bytes",
        f"hugetlb.{name}.rsvd.max",
    )
    files = {p.name: p.read_text().strip() for p in (plain, rsvd) if p.exists()}
    current_evidence().note("hugetlb files of the container's cgroup", files=files)
    path = rsvd if rsvd.exists() else plain

    check_equal(path.read_text().strip(), str(limit), str(path))


@pytest.mark.requirement("linux-cgroups-hugetlb-invalid")
def test_unknown_hugepage_size_fails_create(
    runtime: Runtime, container: Container, cgroup_bundle: Bundle, cgroup_view: CgroupView
) -> None:
    """A pageSize with no hugetlb control file on the host fails create; no container is left."""
    _huge_page(cgroup_view)
    bogus = "3MB"
    cgroup_bundle.linux["resources"] = {"hugepageLimits": [{"pageSize": bogus, "limit": 1 << 22}]}

    res = container.create()

    check(not res.ok, f"create with hugepageLimits pageSize {bogus}", "an error", res.returncode)
    check(not runtime.state(container.cid).ok, "state after the failed create", "no container", "")


def _require_v2(view: CgroupView) -> None:
    if view.mode != "v2":
        skip_host(
            "unified keys are cgroup v2 files and the runtime manages v1 hierarchies here "
            f"({view.how}); run with a cgroup2 view, e.g. --runtime-cgroup-view=unified"
        )


@pytest.mark.requirement("linux-cgroups-unified")
def test_unified_keys_are_written_verbatim(
    container: Container, cgroup_bundle: Bundle, cgroup_view: CgroupView
) -> None:
    """Each unified key is written, value unchanged, to the file of that name in the
    container's cgroup, also keys no runtime maps (core files) and controller files, whose
    controller the runtime must enable."""
    _require_v2(cgroup_view)
    unified = {"cgroup.max.descendants": "7", "cgroup.max.depth": "3"}
    if not cgroup_view.unreachable("hugetlb") and (sizes := huge_page_sizes()):
        name, size = next(iter(sizes.items()))
        unified[f"hugetlb.{name}.max"] = str(2 * size)
    cgroup_bundle.linux["resources"] = {"unified": unified}
    container.must_create()

    directory = _cgroup_dir(cgroup_view, container.pid or 0, "")
    got = {key: (directory / key).read_text().strip() for key in unified}

    check_equal(got, unified, f"files in {directory}")


@pytest.mark.requirement("linux-cgroups-unified-unknown")
def test_unified_key_of_an_absent_controller_fails_create(
    runtime: Runtime, container: Container, cgroup_bundle: Bundle
) -> None:
    """A unified key naming a controller the host does not have fails create."""
    cgroup_bundle.linux["resources"] = {"unified": {"conformance_nosuch.max": "1"}}

    res = container.create()

    check(not res.ok, "create with unified key conformance_nosuch.max", "an error", res.returncode)
    check(not runtime.state(container.cid).ok, "state after the failed create", "no container", "")
