"""Linux container configuration (config-linux.md, runtime-linux.md)."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conformance.core import check, check_equal, current_evidence, skip_host
from conformance.core.errors import EnvironmentProblem
from conformance.runtime import lsm
from conformance.runtime.bundle import Bundle
from conformance.runtime.driver import Container, run_probe
from conformance.runtime.observe import id_map, mount_at

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
    """A process in new network, IPC and UTS namespaces, for joining by path.

    It prints a line once unshare(1) is done, so no polling is needed.
    """
    proc = subprocess.Popen(
        ["unshare", "--net", "--ipc", "--uts", "--", "/bin/busybox", "sh", "-c",
         "echo ready; exec /bin/busybox sleep 600"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise EnvironmentProblem("the namespace holder did not start (unshare failed)")
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


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


@pytest.mark.requirement("linux-namespaces-wrong-type")
def test_namespace_path_of_another_type_fails(
    container: Container, bundle: Bundle, ns_holder: int
) -> None:
    """A network entry pointing at an IPC namespace fails create."""
    bundle.set_namespace("network", f"/proc/{ns_holder}/ns/ipc")

    res = container.create()

    check(not res.ok, "create with an IPC namespace as network", "a non-zero exit", res.returncode)


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


@pytest.mark.requirement("linux-rootfs-propagation")
@pytest.mark.parametrize(("propagation", "tag"), [("private", None), ("shared", "shared:")])
def test_rootfs_propagation_is_applied(
    container: Container, bundle: Bundle, propagation: str, tag: str | None
) -> None:
    """The root mount is shared or private as rootfsPropagation says."""
    bundle.linux["rootfsPropagation"] = propagation

    report = run_probe(container, bundle)

    root = mount_at(report, "/")
    check(root is not None, "mountinfo /", "a root mount", None)
    assert root is not None
    tags = [t for t in root.optional if t.startswith(("shared:", "master:"))]
    if tag is None:
        check_equal(tags, [], "propagation tags of / (private)")
    else:
        check(any(t.startswith(tag) for t in tags), "propagation tags of /", tag, tags)


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

    offsets = {}
    for line in (report.get("timens_offsets") or "").splitlines():
        clock, secs, nanos = line.split()
        offsets[clock] = (int(secs), int(nanos))
    check_equal(offsets.get("monotonic"), (86400, 5), "timens_offsets monotonic")
    check_equal(offsets.get("boottime"), (3600, 0), "timens_offsets boottime")


@contextlib.contextmanager
def _holding(*unshare_args: str) -> Iterator[int]:
    """A process that unshare(1) put in new namespaces; yields its pid, kills it afterwards."""
    proc = subprocess.Popen(
        ["unshare", *unshare_args, "--", "/bin/busybox", "sh", "-c",
         "echo ready; exec /bin/busybox sleep 600"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            err = proc.stderr.read() if proc.stderr is not None else ""
            raise EnvironmentProblem(f"failed to unshare {unshare_args}: {err.strip()}")
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


@pytest.mark.requirement("linux-namespaces-join")
def test_cgroup_namespace_path_is_joined(container: Container, bundle: Bundle) -> None:
    """A cgroup namespace given by path is the one the container ends up in."""
    with _holding("--cgroup") as holder:
        path = f"/proc/{holder}/ns/cgroup"
        bundle.set_namespace("cgroup", path)

        report = run_probe(container, bundle)

        check_equal(report["namespaces"]["cgroup"], os.readlink(path), "cgroup namespace")
