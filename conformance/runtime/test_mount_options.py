"""Linux mount options beyond the classic flags: nosymfollow, the recursive ``r*`` options
and idmapped mounts (``idmap``/``ridmap`` with a mount's ``uidMappings``/``gidMappings``).

config.md, "Linux mount options": all are SHOULD-level options. The recursive ones are set
with mount_setattr(2) on the whole tree, so the tests build a host directory with a mount
inside it and bind-mount it recursively into the container.
"""

from __future__ import annotations

import errno
import logging
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.core import check, check_equal, not_applicable, skip_capability, skip_host
from conformance.core.errors import EnvironmentProblem
from conformance.runtime.bundle import Bundle
from conformance.runtime.driver import Container, Runtime, run_probe
from conformance.runtime.hostcheck import idmap_unsupported
from conformance.runtime.observe import mount_at

log = logging.getLogger(__name__)

RECURSIVE = {"rro": "ro", "rnosuid": "nosuid", "rnodev": "nodev", "rnoexec": "noexec"}
"""Recursive option → the per-mount flag mountinfo shows for it on every mount of the tree."""


def _advertised_mount_options(runtime: Runtime) -> set[str] | None:
    if runtime.features is None:
        return None
    options = runtime.features.get("mountOptions")
    return set(options) if isinstance(options, list) else None


@pytest.fixture
def tree_with_submount(bundle: Bundle) -> Iterator[Path]:
    """A host directory ``tree`` in the bundle with a tmpfs mounted on ``tree/sub``.

    The tmpfs is unmounted (lazily, in case a container still pins it) at teardown.
    """
    tree = bundle.path / "tree"
    sub = tree / "sub"
    sub.mkdir(parents=True)
    (tree / "top-file").write_text("top\n")
    log.debug("mounting a tmpfs on %s", sub)
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=755", "conformance-rtree", str(sub)],
        capture_output=True,
        text=True,
        check=False,
    )
    if res.returncode != 0:
        raise EnvironmentProblem(f"failed to mount a tmpfs on {sub}: {res.stderr.strip()}")
    try:
        yield tree
    finally:
        subprocess.run(["umount", "-l", str(sub)], capture_output=True, check=False)


@pytest.mark.requirement("config-mounts-nosymfollow")
def test_nosymfollow_refuses_symlinks_on_the_mount(
    runtime: Runtime, container: Container, bundle: Bundle
) -> None:
    """With nosymfollow, opening a path through a symlink on that mount fails with ELOOP."""
    advertised = _advertised_mount_options(runtime)
    if advertised is not None and "nosymfollow" not in advertised:
        skip_capability("mount option nosymfollow", "features.mountOptions does not list it")
    source = bundle.path / "links"
    source.mkdir()
    (source / "target").write_text("reached\n")
    (source / "link").symlink_to("target")
    bundle.add_mount(
        {
            "destination": "/nsf",
            "type": "bind",
            "source": str(source),
            "options": ["bind", "nosymfollow"],
        }
    )

    report = run_probe(container, bundle, "--read", "/nsf/link", "--read", "/nsf/target")

    mount = mount_at(report, "/nsf")
    check(mount is not None, "mountinfo /nsf", "a mount", "none")
    assert mount is not None
    check("nosymfollow" in mount.options, "mountinfo /nsf options", "nosymfollow", mount.options)
    check_equal(report["read"]["/nsf/link"].get("errno"), errno.ELOOP, "open /nsf/link errno")
    check_equal(report["read"]["/nsf/target"].get("data"), "reached\n", "read /nsf/target")


@pytest.mark.requirement("config-mounts-recursive")
def test_recursive_options_reach_every_submount(
    runtime: Runtime, container: Container, bundle: Bundle, tree_with_submount: Path
) -> None:
    """rro, rnosuid, rnodev and rnoexec on an rbind mount also apply to the mount below it."""
    advertised = _advertised_mount_options(runtime)
    if advertised is None:
        skip_capability("recursive mount options", "no features document lists mountOptions")
    wanted = [opt for opt in RECURSIVE if opt in advertised]
    if not wanted:
        skip_capability("recursive mount options", "features.mountOptions lists none of them")
    bundle.add_mount(
        {
            "destination": "/rtree",
            "type": "bind",
            "source": str(tree_with_submount),
            "options": ["rbind", *wanted],
        }
    )

    report = run_probe(container, bundle, "--write", "/rtree/sub/new", "--write", "/rtree/new")

    for point in ("/rtree", "/rtree/sub"):
        mount = mount_at(report, point)
        check(mount is not None, f"mountinfo {point}", "a mount", "none")
        assert mount is not None
        for option in wanted:
            flag = RECURSIVE[option]
            check(flag in mount.options, f"mountinfo {point} options", flag, sorted(mount.options))
    if "rro" in wanted:
        for path in ("/rtree/new", "/rtree/sub/new"):
            check_equal(report["write"][path].get("errno"), errno.EROFS, f"write {path} errno")
        check(
            not (tree_with_submount / "sub" / "new").exists(),
            "host tree/sub/new",
            "not created",
            "created",
        )


# -- idmapped mounts -------------------------------------------------------------------------

MOUNT_UIDS = [{"containerID": 1000, "hostID": 5000, "size": 10}]
MOUNT_GIDS = [{"containerID": 2000, "hostID": 6000, "size": 10}]
"""The mount's mappings: on-disk uid 1000+k shows as 5000+k, gid 2000+k as 6000+k."""

UNMAPPED = 3000
"""An on-disk owner outside both mappings: it must show as the kernel's overflow id."""


def _require_idmap_offered(runtime: Runtime) -> None:
    """Skip as an absent capability when features says idmapped mounts are not offered."""
    features = runtime.features
    if features is None:
        return  # nothing advertised either way: tried, a SHOULD miss is a warning
    idmap = ((features.get("linux") or {}).get("mountExtensions") or {}).get("idmap") or {}
    if idmap.get("enabled") is False:
        skip_capability("idmapped mounts", "features.linux.mountExtensions.idmap.enabled is false")
    advertised = _advertised_mount_options(runtime)
    if advertised is not None and "idmap" not in advertised:
        skip_capability("idmapped mounts", "features.mountOptions does not list idmap")


def _overflow_id(kind: str) -> int:
    return int(Path(f"/proc/sys/kernel/overflow{kind}").read_text())


def _owned(path: Path, uid: int, gid: int, text: str = "x\n") -> Path:
    path.write_text(text)
    os.chown(path, uid, gid)
    return path


def _expect_owner(report: dict[str, Any], path: str, uid: int, gid: int) -> None:
    seen = report["stat"][path]
    check(seen.get("ok"), f"stat {path}", "the file", seen)
    check_equal((seen["uid"], seen["gid"]), (uid, gid), f"stat {path} (uid, gid)")


@pytest.mark.requirement("config-mounts-idmap")
def test_idmap_mount_shows_owners_through_the_mapping(
    runtime: Runtime, container: Container, bundle: Bundle
) -> None:
    """A bind mount with idmap and uid/gid mappings shows each owner through the mappings."""
    _require_idmap_offered(runtime)
    source = bundle.path / "idmap-source"
    source.mkdir()
    if reason := idmap_unsupported(source):
        skip_host(f"the kernel cannot idmap the bind source: {reason}")
    _owned(source / "first", 1000, 2000)
    _owned(source / "last", 1009, 2009)
    _owned(source / "unmapped", UNMAPPED, UNMAPPED)
    bundle.add_mount(
        {
            "destination": "/idm",
            "type": "bind",
            "source": str(source),
            "options": ["bind", "idmap"],
            "uidMappings": MOUNT_UIDS,
            "gidMappings": MOUNT_GIDS,
        }
    )

    report = run_probe(
        container, bundle, "--stat", "/idm/first", "--stat", "/idm/last", "--stat", "/idm/unmapped"
    )

    _expect_owner(report, "/idm/first", 5000, 6000)
    _expect_owner(report, "/idm/last", 5009, 6009)
    _expect_owner(report, "/idm/unmapped", _overflow_id("uid"), _overflow_id("gid"))
    host = (source / "first").stat()
    check_equal((host.st_uid, host.st_gid), (1000, 2000), "host owner of the source file")


@pytest.mark.requirement("config-mounts-ridmap")
def test_ridmap_mount_maps_owners_on_submounts_too(
    runtime: Runtime, container: Container, bundle: Bundle, tree_with_submount: Path
) -> None:
    """With ridmap on an rbind mount, files on a mount below the source are mapped as well."""
    _require_idmap_offered(runtime)
    if reason := idmap_unsupported(tree_with_submount, recursive=True):
        skip_host(f"the kernel cannot idmap the rbind source tree recursively: {reason}")
    _owned(tree_with_submount / "top", 1000, 2000)
    _owned(tree_with_submount / "sub" / "below", 1001, 2001)
    bundle.add_mount(
        {
            "destination": "/ridm",
            "type": "bind",
            "source": str(tree_with_submount),
            "options": ["rbind", "ridmap"],
            "uidMappings": MOUNT_UIDS,
            "gidMappings": MOUNT_GIDS,
        }
    )

    report = run_probe(container, bundle, "--stat", "/ridm/top", "--stat", "/ridm/sub/below")

    _expect_owner(report, "/ridm/top", 5000, 6000)
    _expect_owner(report, "/ridm/sub/below", 5001, 6001)


@pytest.mark.requirement("config-mounts-idmap-unmapped")
def test_idmap_without_any_mapping_is_an_error(
    runtime: Runtime, container: Container, bundle: Bundle
) -> None:
    """idmap on a mount with no mappings in a container without a user namespace fails create."""
    _require_idmap_offered(runtime)
    source = bundle.path / "idmap-source"
    source.mkdir()
    bundle.add_mount(
        {
            "destination": "/idm",
            "type": "bind",
            "source": str(source),
            "options": ["bind", "idmap"],
        }
    )

    res = container.create()

    check(
        not res.ok,
        "create with mounts[].options idmap, no mappings and no user namespace",
        "a non-zero exit",
        f"exit {res.returncode}",
    )


@pytest.mark.requirement("config-mounts-idmap-userns")
def test_idmap_without_mappings_uses_the_container_user_namespace(
    runtime: Runtime,
    make_bundle: Callable[..., Bundle],
    make_container: Callable[..., Container],
) -> None:
    """idmap with no mount mappings in a user-namespaced container may use its mappings."""
    _require_idmap_offered(runtime)
    bundle = make_bundle(traversable=True)
    source = bundle.path / "idmap-source"
    source.mkdir()
    if reason := idmap_unsupported(source):
        skip_host(f"the kernel cannot idmap the bind source: {reason}")
    _owned(source / "file", 1000, 1001)
    # The rootfs belongs to host root, which the container's namespace does not map: the
    # runtime could not create the mount point in it.
    (bundle.rootfs / "idm").mkdir()
    bundle.set_namespace("user")
    bundle.linux["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.linux["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.add_mount(
        {
            "destination": "/idm",
            "type": "bind",
            "source": str(source),
            "options": ["bind", "idmap"],
        }
    )
    bundle.probe("--stat", "/idm/file", out="report.json")
    container = make_container(bundle)
    created = container.create()
    if not created.ok:
        not_applicable(
            "the runtime refuses idmap without mount mappings, which the spec allows: "
            + created.stderr.strip()[-200:]
        )
    container.must_start()
    container.wait()

    report = container.probe_report("report.json")

    # Through the container's own mapping the on-disk owner reads unchanged inside; without
    # the idmapping, host uid 1000 is outside the namespace and would read as the overflow id.
    _expect_owner(report, "/idm/file", 1000, 1001)
