"""Linux mount options beyond the classic flags: nosymfollow and the recursive ``r*`` options.

config.md, "Linux mount options": both are SHOULD-level options. The recursive ones are set
with mount_setattr(2) on the whole tree, so the test builds a host directory with a mount
inside it and bind-mounts it recursively into the container.
"""

from __future__ import annotations

import errno
import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.core import check, check_equal, skip_capability
from conformance.core.errors import EnvironmentProblem
from conformance.runtime.bundle import Bundle
from conformance.runtime.driver import Container, Runtime, run_probe
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
