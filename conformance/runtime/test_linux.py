"""Linux container configuration (config-linux.md, runtime-linux.md)."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.core import check, check_equal, current_evidence, skip_host
from conformance.runtime import lsm
from conformance.runtime.bundle import Bundle
from conformance.runtime.driver import Container, run_probe, start_signal_waiter
from conformance.runtime.holder import holding
from conformance.runtime.observe import id_map, mount_at, parse_mountinfo

PROC_NS = {
    "pid": "pid",
    "network": "net",
    "ipc": "ipc",
    "uts": "uts",
    "mount": "mnt",
    "cgroup": "cgroup",
    "user": "user",
    "time": "time",
}
"""Config namespace type → its /proc/<pid>/ns entry."""


def own_namespace(kind: str) -> str:
    """The harness's own namespace link for a config namespace type."""
    return os.readlink(f"/proc/self/ns/{PROC_NS[kind]}")


@pytest.fixture
def ns_holder() -> Iterator[int]:
    """A process in new network, IPC and UTS namespaces, for joining by path."""
    with holding("--net", "--ipc", "--uts") as pid:
        yield pid


@pytest.mark.requirement("linux-namespaces-new")
def test_listed_namespaces_are_new(container: Container, bundle: Bundle) -> None:
    """Each listed namespace without a path differs from the runtime's own."""
    kinds = [n["type"] for n in bundle.linux["namespaces"]]

    report = run_probe(container, bundle)

    for kind in kinds:
        seen = report["namespaces"][PROC_NS[kind]]
        check(
            seen != own_namespace(kind), f"/proc/self/ns/{PROC_NS[kind]}", "a new namespace", seen
        )


@pytest.mark.requirement("linux-namespaces-inherit")
def test_unlisted_namespaces_are_inherited(container: Container, bundle: Bundle) -> None:
    """Without network and IPC entries the container shares the runtime's namespaces."""
    bundle.drop_namespace("network")
    bundle.drop_namespace("ipc")
    bundle.config["mounts"] = [m for m in bundle.config["mounts"] if m["type"] != "sysfs"]

    report = run_probe(container, bundle)

    for kind in ("network", "ipc"):
        check_equal(
            report["namespaces"][PROC_NS[kind]],
            own_namespace(kind),
            f"/proc/self/ns/{PROC_NS[kind]}",
        )


@pytest.mark.requirement("linux-namespaces-join")
def test_namespace_paths_are_joined(container: Container, bundle: Bundle, ns_holder: int) -> None:
    """Namespaces given by path are the ones the container ends up in."""
    for kind in ("network", "ipc", "uts"):
        bundle.set_namespace(kind, f"/proc/{ns_holder}/ns/{PROC_NS[kind]}")

    report = run_probe(container, bundle)

    for kind in ("network", "ipc", "uts"):
        expected = os.readlink(f"/proc/{ns_holder}/ns/{PROC_NS[kind]}")
        check_equal(report["namespaces"][PROC_NS[kind]], expected, f"{kind} namespace")


WRONG_KIND = {
    "pid": "net",
    "network": "ipc",
    "mount": "uts",
    "ipc": "uts",
    "uts": "ipc",
    "user": "uts",
    "cgroup": "ipc",
    "time": "uts",
}
"""Config namespace type → the /proc/<pid>/ns entry of another type its path is pointed at."""


@pytest.mark.requirement("linux-namespaces-wrong-type")
@pytest.mark.parametrize("kind", list(WRONG_KIND))
def test_namespace_path_of_another_type_fails(
    container: Container, bundle: Bundle, ns_holder: int, kind: str
) -> None:
    """A namespace entry whose path is a namespace of another type fails create."""
    if not Path(f"/proc/self/ns/{PROC_NS[kind]}").exists():
        skip_host(f"the kernel has no {kind} namespaces")
    other = WRONG_KIND[kind]
    # The holder's namespaces, not the harness's own: a runtime that skips the type check and
    # joins whatever the file is changes only a throwaway process's namespaces.
    bundle.set_namespace(kind, f"/proc/{ns_holder}/ns/{other}")

    res = container.create()

    check(
        not res.ok, f"create with a {other} namespace as {kind}", "a non-zero exit", res.returncode
    )


@pytest.mark.requirement("linux-namespaces-duplicate")
def test_duplicate_namespace_type_fails(container: Container, bundle: Bundle) -> None:
    """Listing the same namespace type twice fails create."""
    bundle.linux["namespaces"].append({"type": "ipc"})

    res = container.create()

    check(not res.ok, "create with ipc listed twice", "a non-zero exit", res.returncode)


@pytest.mark.requirement("linux-id-mappings")
def test_user_namespace_mappings_are_written(
    make_bundle: Callable[..., Bundle], make_container: Callable[..., Container]
) -> None:
    """uidMappings and gidMappings become the user namespace's uid_map and gid_map."""
    bundle = make_bundle(traversable=True)
    container = make_container(bundle)
    bundle.set_namespace("user")
    bundle.linux["uidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
    bundle.linux["gidMappings"] = [{"containerID": 0, "hostID": 300000, "size": 65536}]

    report = run_probe(container, bundle)

    check_equal(id_map(report["uid_map"]), [(0, 200000, 65536)], "/proc/self/uid_map")
    check_equal(id_map(report["gid_map"]), [(0, 300000, 65536)], "/proc/self/gid_map")
    check(
        report["namespaces"]["user"] != own_namespace("user"),
        "user namespace",
        "a new one",
        report["namespaces"]["user"],
    )


@pytest.mark.requirement("linux-devices")
def test_configured_devices_are_created(container: Container, bundle: Bundle) -> None:
    """linux.devices entries exist with their type, numbers, mode and owner."""
    bundle.linux["devices"] = [
        {"path": "/dev/conf-null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o640,
         "uid": 1000, "gid": 44},
        {"path": "/dev/conf-loop", "type": "b", "major": 7, "minor": 200, "fileMode": 0o600,
         "uid": 0, "gid": 0},
        {"path": "/dev/conf-fifo", "type": "p", "fileMode": 0o620, "uid": 0, "gid": 29},
    ]  # fmt: skip

    report = run_probe(
        container, bundle, *[a for d in bundle.linux["devices"] for a in ("--stat", d["path"])]
    )

    kinds = {"c": "char", "b": "block", "p": "fifo"}
    for dev in bundle.linux["devices"]:
        seen = report["stat"][dev["path"]]
        check(seen.get("ok"), dev["path"], "to exist", seen)
        check_equal(seen["type"], kinds[dev["type"]], f"{dev['path']} type")
        if dev["type"] != "p":
            check_equal(
                (seen["major"], seen["minor"]),
                (dev["major"], dev["minor"]),
                f"{dev['path']} major:minor",
            )
        check_equal(oct(seen["mode"]), oct(dev["fileMode"]), f"{dev['path']} mode")
        check_equal((seen["uid"], seen["gid"]), (dev["uid"], dev["gid"]), f"{dev['path']} owner")


DEFAULT_DEVICES = {
    "/dev/null": (1, 3),
    "/dev/zero": (1, 5),
    "/dev/full": (1, 7),
    "/dev/random": (1, 8),
    "/dev/urandom": (1, 9),
    "/dev/tty": (5, 0),
}


@pytest.mark.requirement("linux-default-devices")
def test_default_devices_are_provided(container: Container, bundle: Bundle) -> None:
    """The standard character devices exist, and /dev/ptmx is a device or a link into pts."""
    paths = [*DEFAULT_DEVICES, "/dev/ptmx"]

    report = run_probe(container, bundle, *[a for p in paths for a in ("--stat", p)])

    for path, numbers in DEFAULT_DEVICES.items():
        seen = report["stat"][path]
        check(seen.get("type") == "char", path, "a character device", seen)
        check_equal((seen["major"], seen["minor"]), numbers, f"{path} major:minor")
    ptmx = report["stat"]["/dev/ptmx"]
    ok = (ptmx.get("type") == "char" and (ptmx["major"], ptmx["minor"]) == (5, 2)) or (
        ptmx.get("type") == "symlink" and ptmx.get("target") in ("pts/ptmx", "/dev/pts/ptmx")
    )
    check(ok, "/dev/ptmx", "char 5:2 or a symlink to pts/ptmx", ptmx)


DEFAULT_FILESYSTEMS = {"/proc": "proc", "/sys": "sysfs", "/dev/pts": "devpts", "/dev/shm": "tmpfs"}
"""Mount point → filesystem type a Linux process expects (config-linux.md, Default Filesystems)."""


@pytest.mark.requirement("linux-default-filesystems")
def test_default_filesystems_are_mounted(container: Container, bundle: Bundle) -> None:
    """With the conventional mounts configured, each path carries its filesystem type."""
    report = run_probe(container, bundle)

    for point, fstype in DEFAULT_FILESYSTEMS.items():
        mount = mount_at(report, point)
        check(mount is not None, f"mountinfo {point}", f"a {fstype} mount", "no mount")
        assert mount is not None
        check_equal(mount.fstype, fstype, f"mountinfo {point} type")


@pytest.mark.requirement("linux-dev-symlinks")
def test_dev_symlinks_point_at_the_process_descriptors(
    container: Container, bundle: Bundle
) -> None:
    """/dev/fd, /dev/stdin, /dev/stdout and /dev/stderr are links into /proc/self/fd."""
    links = {
        "/dev/fd": "/proc/self/fd",
        "/dev/stdin": "/proc/self/fd/0",
        "/dev/stdout": "/proc/self/fd/1",
        "/dev/stderr": "/proc/self/fd/2",
    }

    report = run_probe(container, bundle, *[a for p in links for a in ("--stat", p)])

    for path, target in links.items():
        seen = report["stat"][path]
        check(seen.get("type") == "symlink", path, "a symbolic link", seen)
        check_equal(seen.get("target"), target, f"{path} target")


@pytest.mark.requirement("linux-file-descriptors")
def test_only_stdio_is_open(container: Container, bundle: Bundle) -> None:
    """The process starts with exactly descriptors 0, 1 and 2 open."""
    report = run_probe(container, bundle)

    current_evidence().note("open descriptors", fds=report["fds"])
    check_equal(sorted(report["fds"], key=int), ["0", "1", "2"], "/proc/self/fd")


@pytest.mark.requirement("linux-sysctl")
def test_sysctls_are_set(container: Container, bundle: Bundle) -> None:
    """Namespaced sysctls from the config are in effect in the container."""
    bundle.linux["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.shm_rmid_forced": "1"}

    report = run_probe(
        container, bundle, *[a for k in bundle.linux["sysctl"] for a in ("--sysctl", k)]
    )

    for name, value in bundle.linux["sysctl"].items():
        check_equal(report["sysctl"].get(name), value, f"/proc/sys/{name.replace('.', '/')}")


@pytest.mark.requirement("linux-masked-paths")
def test_masked_paths_cannot_be_read(container: Container, bundle: Bundle) -> None:
    """A masked file reads as empty or fails; a masked directory hides its entries."""
    (bundle.rootfs / "masked-file").write_text("secret")
    (bundle.rootfs / "masked-dir").mkdir()
    (bundle.rootfs / "masked-dir" / "inside").write_text("secret")
    bundle.linux["maskedPaths"] = ["/masked-file", "/masked-dir", "/does-not-exist"]

    report = run_probe(container, bundle, "--read", "/masked-file", "--read", "/masked-dir/inside")

    masked_file = report["read"]["/masked-file"]
    check(masked_file.get("data", "") == "", "/masked-file", "no content", masked_file)
    inside = report["read"]["/masked-dir/inside"]
    check(not inside.get("ok"), "/masked-dir/inside", "hidden", inside)


@pytest.mark.requirement("linux-readonly-paths")
def test_readonly_paths_cannot_be_written(container: Container, bundle: Bundle) -> None:
    """Writes below a read-only path fail with EROFS; the rest of the root stays writable."""
    (bundle.rootfs / "ro-dir").mkdir()
    bundle.linux["readonlyPaths"] = ["/ro-dir", "/does-not-exist"]

    report = run_probe(container, bundle, "--write", "/ro-dir/new", "--write", "/tmp/new")

    check_equal(report["write"]["/ro-dir/new"].get("errno"), errno.EROFS, "write /ro-dir/new")
    check(
        report["write"]["/tmp/new"].get("ok"),
        "write /tmp/new",
        "to succeed",
        report["write"]["/tmp/new"],
    )


PROPAGATION_TAGS = {
    "private": (set(), {"shared", "master", "unbindable"}, False),
    "shared": ({"shared"}, {"unbindable"}, None),
    "slave": ({"master"}, {"shared", "unbindable"}, True),
    "unbindable": ({"unbindable"}, {"shared", "master"}, False),
}
"""rootfsPropagation → (tags the root mount must carry, tags it must not carry, whether a mount
the host makes below the rootfs afterwards shows up in the container; ``None``: not judged,
since a shared root may or may not be a peer of the host's mount)."""


@contextlib.contextmanager
def _shared_host_mount(rootfs: Path) -> Iterator[Path]:
    """Make the bundle's rootfs a shared mount on the host; yields a directory in it where
    the test may mount later. Everything is unmounted afterwards, also on failure.

    Without this the rootfs would sit on whatever the host has (often a private /), and a
    slave or private root could not be told apart by what propagates.
    """
    target = rootfs / "propagated"
    target.mkdir()
    subprocess.run(["mount", "--bind", str(rootfs), str(rootfs)], check=True)
    try:
        subprocess.run(["mount", "--make-shared", str(rootfs)], check=True)
        yield target
    finally:
        subprocess.run(["umount", "--lazy", str(target)], capture_output=True)
        subprocess.run(["umount", "--lazy", str(rootfs)], check=True)


def _tag_kinds(optional: tuple[str, ...]) -> set[str]:
    """The propagation kinds among mountinfo's optional fields (shared:N, master:N,
    unbindable)."""
    return {t.partition(":")[0] for t in optional} & {"shared", "master", "unbindable"}


@pytest.mark.requirement("linux-rootfs-propagation")
@pytest.mark.parametrize("propagation", list(PROPAGATION_TAGS))
def test_rootfs_propagation_is_applied(
    container: Container, bundle: Bundle, propagation: str
) -> None:
    """The root mount carries the configured propagation: its mountinfo tags, and whether a
    mount the host makes below the rootfs after start reaches the container."""
    must, must_not, propagates = PROPAGATION_TAGS[propagation]
    bundle.linux["rootfsPropagation"] = propagation
    with _shared_host_mount(bundle.rootfs) as host_dir:
        start_signal_waiter(container, bundle)
        subprocess.run(
            ["mount", "-t", "tmpfs", "conformance-propagated", str(host_dir)], check=True
        )
        container.runtime.kill(container.cid, "USR1")
        container.wait()
        report = container.probe_report("report.json")

    root = mount_at(report, "/")
    check(root is not None, "mountinfo /", "a root mount", None)
    assert root is not None
    kinds = _tag_kinds(root.optional)
    current_evidence().note("root mount propagation", optional=list(root.optional))
    check(must <= kinds, f"propagation tags of / ({propagation})", sorted(must), root.optional)
    check(not kinds & must_not, f"propagation tags of / ({propagation})",
          f"none of {sorted(must_not)}", root.optional)  # fmt: skip
    seen = mount_at(report, "/propagated")
    current_evidence().note("host mount below the rootfs seen inside", seen=seen is not None)
    if propagates is not None:
        check_equal(seen is not None, propagates, f"host mount at /propagated ({propagation})")


@pytest.mark.requirement("linux-personality")
def test_personality_linux32_is_applied(container: Container, bundle: Bundle) -> None:
    """personality LINUX32 makes uname report a 32-bit machine."""
    bundle.linux["personality"] = {"domain": "LINUX32"}

    report = run_probe(container, bundle)

    check_equal(report["machine"], "i686", "uname().machine")


@pytest.mark.requirement("linux-mount-label")
def test_mount_label_is_the_context_of_mounts(container: Container, bundle: Bundle) -> None:
    """linux.mountLabel is the SELinux context of a tmpfs the config mounts (context=)."""
    reason = lsm.selinux_off()
    if reason:
        skip_host(reason)
    label = lsm.selinux_container_contexts().get("file")
    if not label:
        skip_host("the SELinux policy names no container file context (lxc_contexts)")
    bundle.linux["mountLabel"] = label
    bundle.add_mount({"destination": "/conf-label", "type": "tmpfs", "source": "tmpfs"})

    report = run_probe(container, bundle)

    mount = mount_at(report, "/conf-label")
    check(mount is not None, "mountinfo", "a mount at /conf-label", None)
    assert mount is not None
    contexts = [o for o in mount.super_options if o.startswith("context=")]
    check_equal([c.split("=", 1)[1].strip('"') for c in contexts], [label], "tmpfs context=")


@pytest.mark.requirement("linux-time-offsets")
def test_time_offsets_are_written(container: Container, bundle: Bundle) -> None:
    """A new time namespace gets the configured monotonic and boottime offsets (since v1.1)."""
    if not Path("/proc/self/timens_offsets").exists():
        skip_host("the kernel has no time namespaces")
    bundle.set_namespace("time")
    bundle.linux["timeOffsets"] = {
        "monotonic": {"secs": 86400, "nanosecs": 5},
        "boottime": {"secs": 3600, "nanosecs": 0},
    }

    report = run_probe(container, bundle)

    offsets = _time_offsets(report)
    check_equal(offsets.get("monotonic"), (86400, 5), "timens_offsets monotonic")
    check_equal(offsets.get("boottime"), (3600, 0), "timens_offsets boottime")


def _time_offsets(report: dict[str, Any]) -> dict[str, tuple[int, int]]:
    offsets = {}
    for line in (report.get("timens_offsets") or "").splitlines():
        clock, secs, nanos = line.split()
        offsets[clock] = (int(secs), int(nanos))
    return offsets


@pytest.mark.requirement("linux-namespaces-join")
def test_cgroup_namespace_path_is_joined(container: Container, bundle: Bundle) -> None:
    """A cgroup namespace given by path is the one the container ends up in."""
    with holding("--cgroup") as holder:
        path = f"/proc/{holder}/ns/cgroup"
        bundle.set_namespace("cgroup", path)

        report = run_probe(container, bundle)

        check_equal(report["namespaces"]["cgroup"], os.readlink(path), "cgroup namespace")


@pytest.mark.requirement("linux-namespaces-join")
def test_pid_namespace_path_is_joined(container: Container, bundle: Bundle) -> None:
    """A joined PID namespace holds the process, which is not that namespace's init."""
    with holding("--pid", "--fork", "--kill-child") as holder:
        path = f"/proc/{holder}/ns/pid"
        expected = os.readlink(path)
        bundle.set_namespace("pid", path)

        report = run_probe(container, bundle)

    check_equal(report["namespaces"]["pid"], expected, "pid namespace")
    check(
        report["pid"] != 1,
        "getpid() in the joined namespace",
        "not 1 (the holder is)",
        report["pid"],
    )


@pytest.mark.requirement("linux-namespaces-join")
def test_mount_namespace_path_is_joined(container: Container, bundle: Bundle) -> None:
    """A joined mount namespace is the one the container's mounts and root are made in."""
    # The holder has a private copy of the host's mounts: what the runtime mounts and
    # pivots there never reaches the host.
    with holding("--mount", "--propagation", "private") as holder:
        path = f"/proc/{holder}/ns/mnt"
        expected = os.readlink(path)
        bundle.set_namespace("mount", path)

        report = run_probe(container, bundle)
        holder_mounts = parse_mountinfo(Path(f"/proc/{holder}/mountinfo").read_text())
        holder_points = [m.point for m in holder_mounts]

    check_equal(report["namespaces"]["mnt"], expected, "mount namespace")
    check(mount_at(report, "/shared") is not None, "mountinfo /shared", "a mount", None)
    current_evidence().note("mount points the holder sees", points=holder_points)
    check(
        any(p.endswith("/shared") for p in holder_points),
        f"/proc/{holder}/mountinfo",
        "the container's /shared mount, made in the joined namespace",
        "not there",
    )


USERNS_MAPS = ("0 200000 65536\n", "0 300000 65536\n")
"""uid_map and gid_map of the user namespace holder."""


def _run_in_joined_userns(
    make_bundle: Callable[..., Bundle], make_container: Callable[..., Container], *options: str
) -> tuple[dict[str, Any], str]:
    """Run the probe in a user namespace joined by path (no uidMappings/gidMappings: the
    namespace already has its maps); returns the report and the namespace's link."""
    bundle = make_bundle(traversable=True)
    container = make_container(bundle)
    with holding("--user", id_maps=USERNS_MAPS) as holder:
        path = f"/proc/{holder}/ns/user"
        expected = os.readlink(path)
        bundle.set_namespace("user", path)

        report = run_probe(container, bundle, *options)

    return report, expected


@pytest.mark.requirement("linux-namespaces-join")
def test_user_namespace_path_is_joined(
    make_bundle: Callable[..., Bundle], make_container: Callable[..., Container]
) -> None:
    """A joined user namespace is the container's, with the maps its creator wrote."""
    report, expected = _run_in_joined_userns(make_bundle, make_container)

    check_equal(report["namespaces"]["user"], expected, "user namespace")
    check_equal(id_map(report["uid_map"]), [(0, 200000, 65536)], "/proc/self/uid_map")
    check_equal(id_map(report["gid_map"]), [(0, 300000, 65536)], "/proc/self/gid_map")


@pytest.mark.requirement("linux-default-devices")
def test_default_devices_in_a_joined_user_namespace(
    make_bundle: Callable[..., Bundle], make_container: Callable[..., Container]
) -> None:
    """The default devices exist in a container that joined a user namespace by path, where
    mknod is refused (a runtime binds or otherwise provides them)."""
    options = [a for p in DEFAULT_DEVICES for a in ("--stat", p)]

    report, _ = _run_in_joined_userns(make_bundle, make_container, *options)

    for path, numbers in DEFAULT_DEVICES.items():
        seen = report["stat"][path]
        check(seen.get("type") == "char", path, "a character device", seen)
        check_equal((seen["major"], seen["minor"]), numbers, f"{path} major:minor")


@pytest.mark.requirement("linux-namespaces-join")
def test_time_namespace_path_is_joined(container: Container, bundle: Bundle) -> None:
    """A joined time namespace is the container's, with the offsets its creator set."""
    if not Path("/proc/self/timens_offsets").exists():
        skip_host("the kernel has no time namespaces")
    with holding("--time", "--monotonic", "86400", "--boottime", "3600") as holder:
        path = f"/proc/{holder}/ns/time"
        expected = os.readlink(path)
        bundle.set_namespace("time", path)

        report = run_probe(container, bundle)

    check_equal(report["namespaces"]["time"], expected, "time namespace")
    offsets = _time_offsets(report)
    check_equal(offsets.get("monotonic"), (86400, 0), "timens_offsets monotonic")
    check_equal(offsets.get("boottime"), (3600, 0), "timens_offsets boottime")
