"""The ``features`` command (features.md, features-linux.md)."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conformance.core import (
    Violation,
    check,
    check_equal,
    current_evidence,
    skip_capability,
    skip_host,
)
from conformance.runtime import numa
from conformance.runtime.bundle import SHARED_IN_CONTAINER, Bundle
from conformance.runtime.driver import Container, Runtime, run_probe
from conformance.runtime.observe import CAPABILITIES, capability_sets, mount_at
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


# -- every advertised value is recognised -------------------------------------------------
#
# One container tries all advertised values of a kind at once; only when it fails is each
# value tried alone, so the failure message lists exactly the values that do not work.


def _failing_values(values: list[str], attempt: Callable[[list[str]], str | None]) -> list[str]:
    """``value: problem`` for each value ``attempt`` fails with (batch first, then alone)."""
    if not values or attempt(values) is None:
        return []
    problems = []
    for value in values:
        problem = attempt([value])
        if problem is not None:
            problems.append(f"{value}: {problem}")
    return problems or [f"{', '.join(values)}: fail together, each passes alone"]


def _runs(
    make_bundle: Callable[..., Bundle],
    make_container: Callable[..., Container],
    change: Callable[[Bundle], None],
    *probe_options: str,
) -> tuple[dict[str, Any] | None, str | None]:
    """Run the probe in a fresh bundle changed by ``change``: (report, None) or (None, why)."""
    bundle = make_bundle()
    change(bundle)
    try:
        return run_probe(make_container(bundle), bundle, *probe_options), None
    except Violation as err:
        return None, str(err).splitlines()[0][:300]


def _seccomp_features(runtime: Runtime, field: str) -> tuple[dict[str, Any], list[str]]:
    seccomp = (_features(runtime).get("linux") or {}).get("seccomp") or {}
    values = seccomp.get(field)
    if not seccomp.get("enabled") or not values:
        skip_capability(f"features.linux.seccomp.{field}", "not advertised")
    return seccomp, list(values)


def _seccomp_filter(rules: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules, **extra}


@pytest.mark.requirement("features-seccomp-operators")
def test_every_advertised_seccomp_operator_is_accepted(
    runtime: Runtime,
    make_bundle: Callable[..., Bundle],
    make_container: Callable[..., Container],
) -> None:
    """A rule condition with each advertised seccomp operator is accepted; the process runs."""
    _, operators = _seccomp_features(runtime, "operators")

    def attempt(ops: list[str]) -> str | None:
        # getpgrp is never called by the probe unless asked, so the rules change nothing.
        rules = [
            {
                "names": ["getpgrp"],
                "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 0, "value": 1, "valueTwo": 1, "op": op}],
            }
            for op in ops
        ]
        return _runs(make_bundle, make_container, _set_seccomp(_seccomp_filter(rules)))[1]

    check_equal(_failing_values(operators, attempt), [], "advertised seccomp operators refused")


@pytest.mark.requirement("features-seccomp-archs")
def test_every_advertised_seccomp_architecture_is_accepted(
    runtime: Runtime,
    make_bundle: Callable[..., Bundle],
    make_container: Callable[..., Container],
) -> None:
    """A filter listing each advertised architecture (with the native one) is accepted."""
    _, advertised = _seccomp_features(runtime, "archs")
    # libseccomp (so every runtime built on it) refuses to put architectures of the other
    # byte order into one filter with the native x86-64 (EDOM): those are not tried.
    archs = [a for a in advertised if a not in BIG_ENDIAN_ARCHS]
    skipped = sorted(set(advertised) - set(archs))
    current_evidence().attach("not tried (big-endian)", " ".join(skipped))

    def attempt(names: list[str]) -> str | None:
        listed = sorted({"SCMP_ARCH_X86_64", *names})
        rules = [{"names": ["getpgrp"], "action": "SCMP_ACT_ERRNO"}]
        config = _seccomp_filter(rules, architectures=listed)
        return _runs(make_bundle, make_container, _set_seccomp(config))[1]

    check_equal(_failing_values(archs, attempt), [], "advertised seccomp architectures refused")


BIG_ENDIAN_ARCHS = frozenset(
    {
        *("SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_PPC"),
        *("SCMP_ARCH_PPC64", "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_PARISC"),
        *("SCMP_ARCH_PARISC64", "SCMP_ARCH_M68K", "SCMP_ARCH_SHEB"),
    }
)
"""Seccomp architectures whose byte order differs from this (little-endian) host's."""

WAIT_KILLABLE = "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"
"""The one flag the kernel only takes together with a notify listener (and without TSYNC)."""


@pytest.mark.requirement("features-seccomp-flags")
def test_every_supported_seccomp_flag_is_accepted(
    runtime: Runtime,
    make_bundle: Callable[..., Bundle],
    make_container: Callable[..., Container],
    tmp_path: Path,
) -> None:
    """A filter with each flag of supportedFlags is accepted and the process runs."""
    seccomp, flags = _seccomp_features(runtime, "supportedFlags")
    plain = [f for f in flags if f != WAIT_KILLABLE]

    def attempt(names: list[str]) -> str | None:
        rules = [{"names": ["getpgrp"], "action": "SCMP_ACT_ERRNO"}]
        config = _seccomp_filter(rules, flags=names)
        return _runs(make_bundle, make_container, _set_seccomp(config))[1]

    problems = _failing_values(plain, attempt)
    if WAIT_KILLABLE in flags:
        problems += _wait_killable_problems(seccomp, make_bundle, make_container)
    check_equal(problems, [], "advertised seccomp flags refused")


def _wait_killable_problems(
    seccomp: dict[str, Any],
    make_bundle: Callable[..., Bundle],
    make_container: Callable[..., Container],
) -> list[str]:
    if "SCMP_ACT_NOTIFY" not in (seccomp.get("actions") or []):
        return [f"{WAIT_KILLABLE}: advertised without SCMP_ACT_NOTIFY, which the flag needs"]
    directory = tempfile.mkdtemp(prefix="oci-flags-", dir="/tmp")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        # The runtime's connection completes on the backlog; nothing here needs to accept it,
        # and the notified call (getpgrp) is never made.
        sock.bind(os.path.join(directory, "listener.sock"))
        sock.listen(4)
        rules = [{"names": ["getpgrp"], "action": "SCMP_ACT_NOTIFY"}]
        config = _seccomp_filter(rules, flags=[WAIT_KILLABLE], listenerPath=sock.getsockname())
        problem = _runs(make_bundle, make_container, _set_seccomp(config))[1]
    finally:
        sock.close()
        shutil.rmtree(directory, ignore_errors=True)
    return [] if problem is None else [f"{WAIT_KILLABLE}: {problem}"]


def _set_seccomp(config: dict[str, Any]) -> Callable[[Bundle], None]:
    def change(bundle: Bundle) -> None:
        bundle.linux["seccomp"] = config

    return change


@pytest.mark.requirement("features-memory-policy")
def test_every_advertised_memory_policy_item_is_accepted(
    runtime: Runtime,
    make_bundle: Callable[..., Bundle],
    make_container: Callable[..., Container],
) -> None:
    """Each mode and flag memoryPolicy advertises is accepted and the process runs with it."""
    advertised = (_features(runtime).get("linux") or {}).get("memoryPolicy") or {}
    if not advertised.get("modes") and not advertised.get("flags"):
        skip_capability("features.linux.memoryPolicy", "no modes or flags advertised")
    node = str(numa.host_memory_nodes()[0])
    items = [(m, (), "" if m in numa.NODELESS else node) for m in advertised.get("modes") or []]
    items += [("MPOL_BIND", (f,), node) for f in advertised.get("flags") or []]
    problems, untried = [], []
    for mode, flags, nodes in items:
        name = flags[0] if flags else mode
        if mode not in numa.MODES or not set(flags) <= set(numa.FLAGS):
            untried.append(f"{name}: not a name of the spec, its use is unknown to the harness")
            continue
        refused = numa.host_refuses(mode, flags, numa.parse_nodes(nodes))
        if refused:
            untried.append(f"{name}: {refused}")
            continue
        policy = numa.config_policy(mode, nodes, flags)
        report, why = _runs(make_bundle, make_container, _set_memory_policy(policy))
        seen = None if report is None else numa.seen_policy(report)
        want = {"mode": mode, "flags": list(flags), "nodes": sorted(numa.parse_nodes(nodes))}
        if why is not None or seen != want:
            problems.append(f"{name}: {why or f'get_mempolicy gave {seen}, not {want}'}")
    current_evidence().note("advertised memoryPolicy items not tried", items=untried)
    if len(untried) == len(items):
        skip_host(f"no advertised memoryPolicy item can be tried here: {untried}")
    check_equal(problems, [], "advertised memoryPolicy modes and flags refused or not applied")


def _set_memory_policy(policy: dict[str, Any]) -> Callable[[Bundle], None]:
    def change(bundle: Bundle) -> None:
        bundle.linux["memoryPolicy"] = policy

    return change


def _host_bounding_set() -> set[str]:
    mask = 0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapBnd:"):
            mask = int(line.split(":", 1)[1], 16)
    return {cap for bit, cap in enumerate(CAPABILITIES) if mask >> bit & 1}


@pytest.mark.requirement("features-capabilities")
def test_every_advertised_capability_is_granted(
    runtime: Runtime,
    make_bundle: Callable[..., Bundle],
    make_container: Callable[..., Container],
) -> None:
    """Each advertised capability, named in all five sets, runs and is held where the host can."""
    advertised = (_features(runtime).get("linux") or {}).get("capabilities")
    if not advertised:
        skip_capability("features.linux.capabilities")
    grantable = _host_bounding_set()
    # A capability outside the runtime's own bounding set cannot be granted; since 1.1 that
    # is only a warning (config-process-capabilities-ungrantable), so it is not tried here.
    caps_tried = [c for c in advertised if c in grantable]
    left_out = sorted(set(advertised) - set(caps_tried))
    current_evidence().attach("not tried (outside the host bounding set)", " ".join(left_out))

    def attempt(caps: list[str]) -> str | None:
        def change(bundle: Bundle) -> None:
            bundle.process["capabilities"] = {s: list(caps) for s in CAP_SETS}

        report, problem = _runs(make_bundle, make_container, change)
        if report is None:
            return problem
        seen = capability_sets(report)
        missing = {name: sorted(c for c in caps if c not in seen[name]) for name in CAP_SETS}
        missing = {name: caps for name, caps in missing.items() if caps}
        return f"not held: {missing}" if missing else None

    check_equal(_failing_values(caps_tried, attempt), [], "advertised capabilities")


CAP_SETS = ("bounding", "effective", "permitted", "inheritable", "ambient")

BIND_ONLY = {"bind", "rbind"}
"""Options that make the entry a bind mount."""

RECURSIVE_ATTRS = {
    *("rro", "rrw", "rnosuid", "rsuid", "rnodev", "rdev", "rnoexec", "rexec"),
    *("rnoatime", "rrelatime", "rnorelatime", "rstrictatime", "rnodiratime", "rdiratime"),
    *("rnosymfollow", "rsymfollow"),
}
"""Recursive attributes (mount_setattr with AT_RECURSIVE): tried on an rbind tree."""

SEPARATE_TESTS = {"idmap", "ridmap"}
"""Options that need more than a mount entry (mappings): covered by config-mounts-idmap."""

VISIBLE = {
    "ro": ("ro", True),
    "rw": ("ro", False),
    "nosuid": ("nosuid", True),
    "suid": ("nosuid", False),
    "nodev": ("nodev", True),
    "dev": ("nodev", False),
    "noexec": ("noexec", True),
    "exec": ("noexec", False),
    "noatime": ("noatime", True),
    "atime": ("noatime", False),
    "nodiratime": ("nodiratime", True),
    "diratime": ("nodiratime", False),
    "strictatime": ("relatime", False),
    "nosymfollow": ("nosymfollow", True),
    "symfollow": ("nosymfollow", False),
    "rro": ("ro", True),
    "rrw": ("ro", False),
    "rnosuid": ("nosuid", True),
    "rsuid": ("nosuid", False),
    "rnodev": ("nodev", True),
    "rdev": ("nodev", False),
    "rnoexec": ("noexec", True),
    "rexec": ("noexec", False),
    "rnoatime": ("noatime", True),
    "rnodiratime": ("nodiratime", True),
    "rstrictatime": ("relatime", False),
    "rnosymfollow": ("nosymfollow", True),
    "rsymfollow": ("nosymfollow", False),
}
"""Option → (per-mount flag in mountinfo, whether it must be there) on a fresh mount."""


def _option_mounts(option: str, index: int, source: Path) -> list[dict[str, Any]]:
    """The mount entries that try ``option`` at ``/opt-check/<index>``."""
    destination = f"/opt-check/{index}"
    tmpfs = {"destination": destination, "type": "tmpfs", "source": "tmpfs"}
    bind = {"destination": destination, "type": "bind", "source": str(source)}
    if option in BIND_ONLY:
        return [{**bind, "options": [option]}]
    if option in RECURSIVE_ATTRS:
        return [{**bind, "options": ["rbind", option]}]
    if option == "remount":
        # A remount changes a mount already there: the tmpfs listed just before it.
        return [{**tmpfs, "options": ["size=64k"]}, {**tmpfs, "options": ["remount"]}]
    return [{**tmpfs, "options": [option, "size=64k"]}]


@pytest.mark.requirement("features-mount-options")
def test_every_advertised_mount_option_is_recognised(
    runtime: Runtime,
    make_bundle: Callable[..., Bundle],
    make_container: Callable[..., Container],
) -> None:
    """A mount with each advertised option runs, and options visible in mountinfo apply."""
    advertised = _features(runtime).get("mountOptions")
    if not advertised:
        skip_capability("features.mountOptions")
    options = sorted(o for o in advertised if o not in SEPARATE_TESTS)

    def attempt(opts: list[str]) -> str | None:
        points = {f"/opt-check/{i}": o for i, o in enumerate(opts)}

        def change(bundle: Bundle) -> None:
            source = bundle.path / "bind-source"
            source.mkdir(exist_ok=True)
            for i, option in enumerate(opts):
                for entry in _option_mounts(option, i, source):
                    bundle.add_mount(entry)

        report, problem = _runs(make_bundle, make_container, change)
        if report is None:
            return problem
        wrong = []
        for point, option in points.items():
            # Alone, the caller names the option already.
            label = f"{option}: " if len(points) > 1 else ""
            mount = mount_at(report, point)
            if mount is None:
                wrong.append(f"{label}no mount at {point}")
            elif option in VISIBLE:
                flag, present = VISIBLE[option]
                if (flag in mount.options) != present:
                    state = "shows" if flag in mount.options else "lacks"
                    wrong.append(f"{label}mountinfo {state} {flag} ({sorted(mount.options)})")
        return "; ".join(wrong) or None

    check_equal(_failing_values(options, attempt), [], "advertised mount options")
