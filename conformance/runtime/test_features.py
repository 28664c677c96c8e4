"""The ``features`` command (features.md, features-linux.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from conformance.core import Violation, check, check_equal, skip_capability
from conformance.runtime.bundle import SHARED_IN_CONTAINER, Bundle
from conformance.runtime.driver import Container, Runtime, run_probe
from conformance.runtime.rootfs import PROBE_IN_CONTAINER, probe_binary
from conformance.runtime.schemas import validate_features
from conformance.runtime.test_linux import PROC_NS, own_namespace


def _features(runtime: Runtime) -> dict[str, Any]:
    if runtime.features is None:
        skip_capability("features command", "the runtime has no working `features` subcommand")
    return runtime.features


@pytest.mark.requirement("features-document")
def test_features_document_is_valid(runtime: Runtime) -> None:
    """features prints a document with ociVersionMin/Max and correctly typed fields."""
    document = _features(runtime)

    validate_features(document)


@pytest.mark.requirement("features-oci-versions")
@pytest.mark.parametrize("field", ["ociVersionMin", "ociVersionMax"])
def test_advertised_oci_versions_are_accepted(
    runtime: Runtime, container: Container, bundle: Bundle, field: str
) -> None:
    """A config declaring the advertised minimum or maximum ociVersion runs."""
    version = _features(runtime).get(field)
    check(isinstance(version, str), f"features.{field}", "a version string", version)
    bundle.config["ociVersion"] = version

    report = run_probe(container, bundle)

    check_equal(report["args"][0], PROBE_IN_CONTAINER, f"program run with ociVersion {version}")


@pytest.mark.requirement("features-namespaces")
def test_every_advertised_namespace_can_be_created(
    runtime: Runtime,
    make_bundle: Callable[..., Bundle],
    make_container: Callable[..., Container],
) -> None:
    """Each namespace type features lists can be requested and yields a new namespace."""
    advertised = (_features(runtime).get("linux") or {}).get("namespaces")
    if not advertised:
        skip_capability("features.linux.namespaces")
    problems = []
    for kind in advertised:
        if kind not in PROC_NS:
            problems.append(f"{kind}: not a namespace type of the spec")
            continue
        bundle = make_bundle(traversable=True)
        bundle.set_namespace(kind)
        if kind == "user":
            bundle.linux["uidMappings"] = [{"containerID": 0, "hostID": 0, "size": 65536}]
            bundle.linux["gidMappings"] = [{"containerID": 0, "hostID": 0, "size": 65536}]
        try:
            report = run_probe(make_container(bundle), bundle)
        except Violation as err:
            problems.append(f"{kind}: {err}")
            continue
        seen = report["namespaces"][PROC_NS[kind]]
        if seen == own_namespace(kind):
            problems.append(f"{kind}: the container shares the runtime's namespace {seen}")
    check_equal(problems, [], "advertised namespaces that cannot be used")


@pytest.mark.requirement("features-hooks")
def test_every_advertised_hook_kind_runs(
    runtime: Runtime, container: Container, bundle: Bundle
) -> None:
    """Every hook kind features lists is run over a full lifecycle."""
    advertised = _features(runtime).get("hooks")
    if not advertised:
        skip_capability("features.hooks")
    hooks: dict[str, list[dict[str, Any]]] = {}
    for kind in advertised:
        inside = kind == "startContainer"
        base = SHARED_IN_CONTAINER if inside else str(bundle.shared)
        path = PROBE_IN_CONTAINER if inside else str(probe_binary())
        args = ["probe", "--append", f"{base}/hooks.log:{kind}", "--out", f"{base}/{kind}.json"]
        hooks[kind] = [{"path": path, "args": args}]
    bundle.config["hooks"] = hooks
    bundle.probe()

    container.run_to_exit()
    runtime.delete(container.cid)

    log = bundle.shared / "hooks.log"
    ran = log.read_text().split() if log.exists() else []
    check_equal(sorted(set(ran)), sorted(set(advertised)), "hook kinds that ran")


@pytest.mark.requirement("features-seccomp")
def test_every_advertised_seccomp_action_is_accepted(
    runtime: Runtime,
    make_bundle: Callable[..., Bundle],
    make_container: Callable[..., Container],
) -> None:
    """A rule with each advertised seccomp action is accepted and the container runs."""
    seccomp = (_features(runtime).get("linux") or {}).get("seccomp") or {}
    if not seccomp.get("enabled") or not seccomp.get("actions"):
        skip_capability("features.linux.seccomp.actions")
    problems = []
    for action in seccomp["actions"]:
        if action == "SCMP_ACT_NOTIFY":
            continue  # needs a listener; the rule alone is not a complete config
        bundle = make_bundle()
        # The probe never calls getpgrp unless asked, so any action leaves it running.
        rule: dict[str, Any] = {"names": ["getpgrp"], "action": action}
        bundle.linux["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule]}
        try:
            run_probe(make_container(bundle), bundle)
        except Violation as err:
            problems.append(f"{action}: {err}")
    check_equal(problems, [], "advertised seccomp actions that were refused")
