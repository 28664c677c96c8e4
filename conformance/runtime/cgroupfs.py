"""Where a container's cgroup files are, seen from the host (config-linux.md: Control groups).

A runtime manages either the v1 hierarchies (one per controller) or one cgroup2 hierarchy.
Which of them it uses depends on the host and on how it is invoked: on a hybrid host a runtime
in v1 mode (runc's cgroupfs manager, the reference) uses the v1 hierarchies, while a wrapper
that mounts cgroup2 at ``/sys/fs/cgroup`` (the ``cgroup2-view.sh`` preset) makes it take its
v2 path in the host's unified hierarchy. :class:`CgroupView` captures that choice, so a test
knows before create whether a controller is reachable and, after create, which file holds a
limit. Parsing is split from reading ``/proc`` so the unit tests can feed text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from conformance.runtime.observe import parse_mountinfo

V2 = ""
"""Key of the cgroup2 hierarchy in membership and mount maps (``0::/path`` in /proc/PID/cgroup)."""

CGROUP_ROOT = Path("/sys/fs/cgroup")
HUGEPAGES = Path("/sys/kernel/mm/hugepages")


def parse_membership(text: str) -> dict[str, str]:
    """``/proc/PID/cgroup`` text as controller (``""`` for cgroup2) → cgroup path."""
    found = {}
    for line in text.splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [V2]:
            found[controller] = path
    return found


def membership(pid: int) -> dict[str, str]:
    """Controller (``""`` for the v2 hierarchy) → cgroup path of ``pid``."""
    return parse_membership(Path(f"/proc/{pid}/cgroup").read_text())


def parse_mounts(mountinfo: str) -> dict[str, Path]:
    """Controller → mount point of its hierarchy; ``""`` names the (first) cgroup2 mount."""
    mounts: dict[str, Path] = {}
    for mount in parse_mountinfo(mountinfo):
        if mount.fstype == "cgroup2":
            mounts.setdefault(V2, Path(mount.point))
        elif mount.fstype == "cgroup":
            for opt in mount.super_options:
                if opt not in ("rw", "ro") and not opt.startswith(("release_agent", "clone_")):
                    mounts.setdefault(opt, Path(mount.point))
    return mounts


def host_mounts() -> dict[str, Path]:
    """The cgroup hierarchies mounted in the harness's mount namespace."""
    return parse_mounts(Path("/proc/self/mountinfo").read_text())


def page_size_name(kib: int) -> str:
    """The kernel's name of a huge page size in hugetlb file names: 2048 → ``2MB``."""
    for unit, scale in (("GB", 1 << 20), ("MB", 1 << 10)):
        if kib >= scale and kib % scale == 0:
            return f"{kib // scale}{unit}"
    return f"{kib}KB"


def huge_page_sizes(base: Path = HUGEPAGES) -> dict[str, int]:
    """Huge page sizes the kernel offers, name → bytes, smallest first."""
    sizes = {}
    entries = sorted(base.glob("hugepages-*kB")) if base.is_dir() else []
    for entry in entries:
        kib = int(entry.name.removeprefix("hugepages-").removesuffix("kB"))
        sizes[page_size_name(kib)] = kib * 1024
    return dict(sorted(sizes.items(), key=lambda item: item[1]))


def _controllers_file(directory: Path) -> frozenset[str]:
    try:
        return frozenset((directory / "cgroup.controllers").read_text().split())
    except OSError:
        return frozenset()


@dataclass(frozen=True)
class CgroupView:
    """The cgroup hierarchies a runtime manages, by their host mount points.

    Attributes:
        mode: ``v1`` (one hierarchy per controller) or ``v2`` (one cgroup2 hierarchy).
        v1: controller → host mount point of its v1 hierarchy (v1 mode only).
        v2: host mount point of the cgroup2 hierarchy the runtime uses (v2 mode only).
        v2_controllers: controllers that cgroup2 hierarchy offers (its cgroup.controllers).
        unified_only: on a hybrid host in v1 mode, controllers found only in the host's
            unified hierarchy (out of the runtime's reach there).
        how: one line saying how the view was decided, for skip reasons.
    """

    mode: str
    v1: dict[str, Path] = field(default_factory=dict)
    v2: Path | None = None
    v2_controllers: frozenset[str] = frozenset()
    unified_only: frozenset[str] = frozenset()
    how: str = ""

    def unreachable(self, controller: str) -> str | None:
        """Why ``controller`` is out of the runtime's reach in this view, or ``None``."""
        if self.mode == "v1":
            if controller in self.v1:
                return None
            if controller in self.unified_only:
                return (
                    f"the {controller} controller exists only in this hybrid host's unified "
                    "hierarchy, which a runtime managing the v1 hierarchies does not use "
                    f"({self.how}); run with a cgroup2 view, e.g. --runtime-cgroup-view=unified "
                    "with the presets/cgroup2-view.sh wrapper"
                )
            return f"no v1 hierarchy of the {controller} controller is mounted ({self.how})"
        if controller in self.v2_controllers:
            return None
        offered = " ".join(sorted(self.v2_controllers)) or "nothing"
        return (
            f"the {controller} controller is not in the cgroup2 hierarchy the runtime uses "
            f"({self.v2}/cgroup.controllers lists: {offered}; {self.how})"
        )

    def directory(self, controller: str, members: dict[str, str]) -> Path | None:
        """The directory of a process's cgroup that holds ``controller``'s files."""
        if self.mode == "v1":
            point, key = self.v1.get(controller), controller
        else:
            point, key = self.v2, V2
        if point is None or key not in members:
            return None
        return point / members[key].lstrip("/")


def view_for(declared: str, mounts: dict[str, Path] | None = None) -> CgroupView:
    """The view of a runtime invoked with cgroup view ``declared`` (``host`` or ``unified``).

    ``host``: on a pure v2 host the runtime uses ``/sys/fs/cgroup``; on a v1 or hybrid host
    it is taken to manage the v1 hierarchies (what runc and the reference do), and the
    controllers only the hybrid unified hierarchy has are out of its reach. ``unified``: the
    invocation shows the runtime the host's cgroup2 hierarchy alone.
    """
    mounts = host_mounts() if mounts is None else mounts
    unified = mounts.get(V2)
    v1 = {name: point for name, point in mounts.items() if name != V2}
    if declared == "unified" or not v1:
        if unified is None:
            return CgroupView("v2", how="no cgroup2 hierarchy is mounted on this host")
        how = f"the runtime sees the host's cgroup2 hierarchy {unified}"
        return CgroupView("v2", v2=unified, v2_controllers=_controllers_file(unified), how=how)
    extra = _controllers_file(unified) - set(v1) if unified is not None else frozenset()
    how = "the runtime sees the host's v1 hierarchies"
    return CgroupView("v1", v1=v1, unified_only=frozenset(extra), how=how)
