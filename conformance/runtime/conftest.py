"""Fixtures of the runtime suite: the target runtime, bundles and containers.

The default target is decided in one place, :func:`default_target_command` (CI switches it
there); everything else is built from the options in ``options.py``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.core import skip_host
from conformance.core.errors import ConfigurationError, HarnessError
from conformance.runtime import target as target_mod
from conformance.runtime.bundle import CGROUP_PARENT, Bundle, base_config
from conformance.runtime.driver import Container, Runtime, alive, become_subreaper
from conformance.runtime.leftovers import cgroups_named
from conformance.runtime.rootfs import cached_rootfs, clone_rootfs

log = logging.getLogger(__name__)

FALLBACK_OCI_VERSION = "1.0.2"
"""Declared in configs when the runtime reports neither features nor a spec version."""


def default_target_command() -> tuple[list[str], str]:
    """The runtime command used when no target option is given, and why (the one switch)."""
    return target_mod.default_command()


def _declared_oci_version(features: dict[str, Any] | None, spec: str) -> str:
    if features and isinstance(features.get("ociVersionMax"), str):
        return str(features["ociVersionMax"])
    if spec:
        return spec
    return FALLBACK_OCI_VERSION


def _resolve_target(conformance: Any, root: Path) -> target_mod.RuntimeTarget:
    runtime = conformance.option("--runtime")
    wrapper = conformance.option("--runtime-wrapper")
    preset = conformance.option("--runtime-preset")
    args = conformance.option("--runtime-arg") or []
    if runtime or preset:
        return target_mod.resolve(runtime, args, wrapper, preset, root)
    command, how = default_target_command()
    prefix = target_mod.shlex.split(wrapper) if wrapper else []
    return target_mod.RuntimeTarget([*prefix, *command], list(args), root, how)


def _shared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.getbasetemp()
    # Under pytest-xdist every worker has its own basetemp below one common parent.
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def runtime(conformance: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    """The runtime under test, identified and recorded; swept clean at the end."""
    if os.geteuid() != 0:
        skip_host("the runtime suite needs root (namespaces, mounts, cgroups)")
    configured_root = conformance.option("--runtime-root")
    root = Path(configured_root) if configured_root else tmp_path_factory.mktemp("runtime-root")
    root.mkdir(parents=True, exist_ok=True)
    target = _resolve_target(conformance, root.resolve())
    if conformance.option("--runtime-no-cgroups"):
        target.cgroups = False
    view = conformance.option("--runtime-cgroup-view")
    if view:
        if view not in target_mod.CGROUP_VIEWS:
            choices = ", ".join(target_mod.CGROUP_VIEWS)
            raise ConfigurationError(f"--runtime-cgroup-view {view!r}: choose one of {choices}")
        target.cgroup_view = view
    ident = target.identify()
    features = target.features()
    rt = Runtime(
        target=target,
        name=ident["name"],
        version=ident["version"],
        oci_version=_declared_oci_version(features, ident["spec"]),
        features=features,
        timeout=float(conformance.option("--runtime-command-timeout")),
    )
    conformance.record_target(
        "runtime",
        kind="reference:cli" if target.is_reference else "cli",
        address=" ".join(target.command + target.global_args),
        name=rt.name,
        version=rt.version,
        spec=ident["spec"],
        oci_version_declared=rt.oci_version,
        features=features is not None,
        how=target.how,
        cgroups=target.cgroups,
        cgroup_view=target.cgroup_view,
        root=str(root),
    )
    become_subreaper()
    yield rt
    _sweep_and_check(rt)


def _remove_empty_parents() -> None:
    for parent in Path("/sys/fs/cgroup").glob(f"*/{CGROUP_PARENT}"):
        # Another worker may still use it: ENOTEMPTY/EBUSY just mean "not yet".
        with contextlib.suppress(OSError):
            parent.rmdir()


def _sweep_and_check(rt: Runtime) -> None:
    left = rt.sweep()
    _remove_empty_parents()
    leftovers = [f"container {cid} still answers state" for cid in left]
    leftovers += [f"state entry {p.name}" for p in rt.target.root.iterdir() if p.name in rt.created]
    leftovers += [f"cgroup {p}" for p in cgroups_named(*rt.created)]
    if leftovers:
        raise HarnessError("the run left resources behind: " + "; ".join(leftovers))


@pytest.fixture(scope="session")
def rootfs_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The busybox rootfs with the probe, built once per run (file-locked across workers)."""
    return cached_rootfs(_shared_dir(tmp_path_factory) / "runtime-rootfs")


def new_id() -> str:
    """A container id no other test or worker uses."""
    return "conf-" + secrets.token_hex(5)


@pytest.fixture
def make_bundle(
    runtime: Runtime, rootfs_template: Path, tmp_path: Path
) -> Iterator[Callable[..., Bundle]]:
    """Factory of bundles in the test's temporary directory (or a world-traversable one)."""
    counter = iter(range(1000))
    public: list[Path] = []

    def make(args: list[str] | None = None, traversable: bool = False) -> Bundle:
        base = tmp_path
        if traversable:
            # pytest's temp root is 0700; a user namespace's mapped ids must reach the rootfs.
            base = Path(tempfile.mkdtemp(prefix="conformance-runtime-"))
            os.chmod(base, 0o755)
            public.append(base)
        path = base / f"bundle{next(counter)}"
        path.mkdir()
        shared = base / "shared"
        shared.mkdir(exist_ok=True)
        os.chmod(shared, 0o777)
        clone_rootfs(rootfs_template, path / "rootfs")
        config = base_config(runtime.oci_version, args or ["/probe"], shared)
        return Bundle(path, shared, config)

    yield make
    for base in public:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def bundle(make_bundle: Callable[..., Bundle]) -> Bundle:
    """A bundle running the probe with the conventional config."""
    return make_bundle()


@pytest.fixture
def make_container(runtime: Runtime, tmp_path: Path) -> Iterator[Callable[..., Container]]:
    """Factory of containers; each is force-deleted and its process killed afterwards."""
    made: list[Container] = []

    def make(bundle: Bundle, cid: str | None = None, write: bool = True) -> Container:
        ct = Container(runtime, cid or new_id(), bundle.path, tmp_path, shared=bundle.shared)
        ct.on_create = bundle.write if write else None
        made.append(ct)
        return ct

    yield make
    for ct in reversed(made):
        ct.cleanup()
    still = [ct.cid for ct in made if ct.pid is not None and alive(ct.pid)]
    if still:
        raise HarnessError(f"container processes survived cleanup: {still}")


@pytest.fixture
def container(bundle: Bundle, make_container: Callable[..., Container]) -> Container:
    """A container (not yet created) for ``bundle``; its config is written at create."""
    return make_container(bundle)
