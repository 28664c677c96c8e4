"""What a container can leave on the host, as a snapshot to compare (runtime.md#errors).

An operation that fails must leave the host as if it had not been attempted. A
:class:`HostView` gathers everything a runtime could have made for one container: state
entries under its root, processes, mounts, cgroup directories and network namespaces.
Tests take one before and one after the failing operation; any difference is the evidence.

The view is scoped so tests running in parallel (pytest-xdist, or other jobs on the host) do
not disturb it: processes are the harness's own children (container inits re-parent to the
harness, a child subreaper) plus those naming the bundle or id; mounts, cgroups and network
namespaces are those naming the bundle, the id or the runtime's root. Network namespaces are
never taken host-wide: other suites of the same run (CNI, CRI) add and remove named ones all the
time on the other workers, and a namespace a runtime pins for a container is bound at a path in
its state directory or named after the container.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, fields
from pathlib import Path

from conformance.core.errors import EnvironmentProblem
from conformance.runtime import cgroupfs
from conformance.runtime.driver import alive

CGROUP_ROOT = cgroupfs.CGROUP_ROOT
NETNS_DIR = Path("/run/netns")


@dataclass(frozen=True)
class HostView:
    """One snapshot; each field is a sorted tuple of printable items."""

    state_entries: tuple[str, ...]
    processes: tuple[str, ...]
    mounts: tuple[str, ...]
    cgroups: tuple[str, ...]
    network_namespaces: tuple[str, ...]

    def differences(self, later: HostView) -> dict[str, dict[str, list[str]]]:
        """Field → items that appeared and vanished between this view and ``later``."""
        out = {}
        for item in fields(self):
            before, after = set(getattr(self, item.name)), set(getattr(later, item.name))
            if before != after:
                out[item.name] = {
                    "appeared": sorted(after - before),
                    "vanished": sorted(before - after),
                }
        return out


def host_view(runtime_root: Path, cid: str, bundle: Path) -> HostView:
    """Snapshot what the runtime keeps or made for container ``cid`` of ``bundle``."""
    marks = (cid, str(bundle))
    return HostView(
        state_entries=tuple(sorted(p.name for p in _entries(runtime_root) if cid in p.name)),
        processes=tuple(sorted(_processes(marks))),
        mounts=tuple(sorted(_mounts((*marks, str(runtime_root))))),
        cgroups=tuple(sorted(str(p) for p in cgroups_named(cid))),
        network_namespaces=tuple(sorted(n for n in _network_namespaces() if cid in n)),
    )


def _entries(root: Path) -> list[Path]:
    try:
        return list(root.iterdir())
    except FileNotFoundError:
        return []


def _processes(marks: tuple[str, ...]) -> list[str]:
    """Live children of the harness, and processes whose argv or cwd names a mark."""
    me = os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(entry / "cwd")
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # the process ended while it was being read
        named = any(m in cmdline or cwd.startswith(m) for m in marks)
        if (ppid == me or named) and alive(int(entry.name)):
            found.append(f"{entry.name} {cmdline.strip()[:120]}")
    return found


def _mounts(marks: tuple[str, ...]) -> list[str]:
    """Host mounts naming a mark (nsfs mounts included: a bound namespace file of the
    container sits in the runtime's root or the bundle, or carries the id)."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        head, _, tail = line.partition(" - ")
        point = head.split()[4]
        fstype, source = ([*tail.split(), "", ""])[:2]
        if any(m in line for m in marks):
            found.append(f"{point} {fstype} {source}")
    return found


def cgroups_named(*ids: str) -> list[Path]:
    """cgroup directories called after one of ``ids``, up to three levels below each hierarchy.

    Other workers create and remove cgroups while this walks, so a directory that vanishes
    mid-walk is simply not there (a glob would raise FileNotFoundError).
    """
    found: list[Path] = []
    level = [CGROUP_ROOT]
    for _depth in range(4):
        below: list[Path] = []
        for parent in level:
            found += [parent / cid for cid in ids if (parent / cid).is_dir()]
            below += _subdirs(parent)
        level = below
    return found


def _subdirs(path: Path) -> list[Path]:
    try:
        with os.scandir(path) as entries:
            return [Path(e.path) for e in entries if e.is_dir(follow_symlinks=False)]
    except (FileNotFoundError, NotADirectoryError):
        return []


def _network_namespaces() -> list[str]:
    """Named network namespaces: ``/run/netns`` entries and what ``ip netns list`` shows."""
    names = [f"/run/netns/{p.name}" for p in _entries(NETNS_DIR)]
    try:
        res = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        return names
    except subprocess.TimeoutExpired as err:
        raise EnvironmentProblem("`ip netns list` did not answer within 30 s") from err
    names += [f"ip netns {line.split()[0]}" for line in res.stdout.splitlines() if line.strip()]
    return names


def own_cgroup_dirs(pid: int) -> list[Path]:
    """Host directories of ``pid``'s cgroups that are not the harness's own (the ones a
    runtime made or chose for the container)."""
    mine = set(_cgroup_dirs(os.getpid()))
    return [d for d in _cgroup_dirs(pid) if d not in mine]


def _cgroup_dirs(pid: int) -> list[Path]:
    mounts = cgroupfs.host_mounts()
    dirs = {
        mounts[controller] / path.lstrip("/")
        for controller, path in cgroupfs.membership(pid).items()
        if controller in mounts
    }
    return sorted(dirs)
