"""Control groups: placement and resource limits (config-linux.md: Control groups)."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from conformance.core import check, check_equal, skip_config, skip_host
from conformance.runtime.bundle import CGROUP_PARENT, Bundle
from conformance.runtime.driver import Container, Runtime, run_probe

CGROUP_ROOT = Path("/sys/fs/cgroup")


def _needs_cgroups(runtime: Runtime) -> None:
    if not runtime.target.cgroups:
        skip_config("this invocation of the runtime runs without cgroup management")


def _membership(pid: int) -> dict[str, str]:
    """Controller (``""`` for the v2 hierarchy) → cgroup path of ``pid``."""
    found = {}
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            found[controller] = path
    return found


def _mount_of(controller: str) -> Path | None:
    """Where the hierarchy of ``controller`` (``""``: cgroup2) is mounted on the host."""
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        head, _, tail = line.partition(" - ")
        fstype, _, opts = [*tail.split(), "", "", ""][:3]
        point = head.split()[4]
        if controller == "" and fstype == "cgroup2":
            return Path(point)
        if fstype == "cgroup" and controller in opts.split(","):
            return Path(point)
    return None


def _limit_file(pid: int, v1: tuple[str, str], v2: str) -> Path:
    """The limit file of ``pid``'s cgroup: the v1 controller's, else the v2 one."""
    members = _membership(pid)
    controller, name = v1
    if controller in members and (mount := _mount_of(controller)) is not None:
        return mount / members[controller].lstrip("/") / name
    if "" in members and (mount := _mount_of("")) is not None:
        return mount / members[""].lstrip("/") / v2
    skip_host(f"no {controller} controller hierarchy is mounted")


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

    members = _membership(container.pid or 0)

    expected = cgroup_bundle.linux["cgroupsPath"]
    placed = [c for c, path in members.items() if path == expected]
    check(placed, f"/proc/{container.pid}/cgroup", f"membership of {expected}", members)


@pytest.mark.requirement("linux-cgroups-memory")
def test_memory_limit_is_applied(container: Container, cgroup_bundle: Bundle) -> None:
    """resources.memory.limit is the cgroup's memory limit."""
    limit = 96 * 1024 * 1024
    cgroup_bundle.linux["resources"] = {"memory": {"limit": limit}}
    container.must_create()

    path = _limit_file(container.pid or 0, ("memory", "memory.limit_in_bytes"), "memory.max")

    check_equal(path.read_text().strip(), str(limit), str(path))


@pytest.mark.requirement("linux-cgroups-pids")
@pytest.mark.parametrize("limit", [64, 1])
def test_pids_limit_is_applied(container: Container, cgroup_bundle: Bundle, limit: int) -> None:
    """resources.pids.limit is the cgroup's pids.max."""
    cgroup_bundle.linux["resources"] = {"pids": {"limit": limit}}
    container.must_create()

    path = _limit_file(container.pid or 0, ("pids", "pids.max"), "pids.max")

    check_equal(path.read_text().strip(), str(limit), str(path))


@pytest.mark.requirement("delete-releases", "linux-cgroups-path")
def test_delete_removes_the_cgroup(
    runtime: Runtime, container: Container, cgroup_bundle: Bundle
) -> None:
    """Deleting the container removes the cgroup create made for it."""
    container.must_create()
    paths = []
    for controller, member in _membership(container.pid or 0).items():
        mount = _mount_of(controller)
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
    runtime: Runtime, container: Container, bundle: Bundle, allowed: bool, expected_errno: int
) -> None:
    """resources.devices decides whether a device node may be opened: EPERM when denied.

    The node is a block device number from the range reserved for local use (240-254), with
    no driver behind it, so an allowed open fails with ENXIO and a denied one with EPERM: the
    errno tells the cgroup's verdict.
    """
    _needs_cgroups(runtime)
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
def test_cpu_shares_and_quota_are_applied(container: Container, cgroup_bundle: Bundle) -> None:
    """resources.cpu shares, quota and period land in the cgroup (v1 files, or v2's)."""
    cgroup_bundle.linux["resources"] = {"cpu": {"shares": 512, "quota": 50000, "period": 100000}}
    container.must_create()
    pid = container.pid or 0

    base = _limit_file(pid, ("cpu", "cpu.shares"), "cpu.weight").parent
    if (base / "cpu.shares").exists():
        names = ("cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us")
        expected = {"cpu.shares": "512", "cpu.cfs_quota_us": "50000", "cpu.cfs_period_us": "100000"}
    else:
        names = ("cpu.weight", "cpu.max")
        expected = {"cpu.weight": str(_v2_weight(512)), "cpu.max": "50000 100000"}
    got = {name: (base / name).read_text().strip() for name in names}
    check_equal(got, expected, f"cpu controller files in {base}")
