"""The process the container runs (config.md: Process, User, POSIX and Linux process)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from conformance.core import check, check_equal, current_evidence, skip_host
from conformance.runtime import lsm
from conformance.runtime.bundle import Bundle
from conformance.runtime.driver import Container, run_probe
from conformance.runtime.observe import CAPABILITIES, capability_sets, env_map, status_fields


@pytest.mark.requirement("config-process-args")
def test_args_are_run_with_path_lookup(container: Container, bundle: Bundle) -> None:
    """A bare program name in args[0] is found through the container's PATH; argv is kept."""
    bundle.process["env"] = ["PATH=/usr/bin:/", "TERM=dumb"]
    bundle.process["args"] = ["probe", "--out", "/shared/report.json", "--", "two words", ""]

    container.run_to_exit()

    report = container.probe_report("report.json")
    check_equal(report["args"], bundle.process["args"], "/proc/self/cmdline (argv)")


@pytest.mark.requirement("config-process-env")
def test_env_holds_the_configured_variables(container: Container, bundle: Bundle) -> None:
    """Every configured variable reaches the process with its value."""
    bundle.process["env"] = ["PATH=/bin", "ONE=1", "SPACED=a b c", "EMPTY="]

    report = run_probe(container, bundle)

    env = env_map(report)
    for item in bundle.process["env"]:
        name, _, value = item.partition("=")
        check_equal(env.get(name), value, f"environment variable {name}")


@pytest.mark.requirement("config-process-cwd")
def test_cwd_is_the_working_directory(container: Container, bundle: Bundle) -> None:
    """The process starts in process.cwd."""
    bundle.process["cwd"] = "/home/user"

    report = run_probe(container, bundle)

    check_equal(report["cwd"], "/home/user", "getcwd()")


@pytest.mark.requirement("config-process-user")
def test_user_ids_and_groups_are_applied(container: Container, bundle: Bundle) -> None:
    """uid, gid and additionalGids become the real, effective and saved ids and the groups."""
    bundle.process["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [29, 44]}

    report = run_probe(container, bundle)

    check_equal(report["uid"], [1000, 1000, 1000], "real/effective/saved uid")
    check_equal(report["gid"], [1000, 1000, 1000], "real/effective/saved gid")
    groups = set(report["groups"]) - {1000}
    check_equal(sorted(groups), [29, 44], "supplementary groups (besides the primary gid)")


@pytest.mark.requirement("config-process-umask")
def test_umask_is_applied(container: Container, bundle: Bundle) -> None:
    """process.user.umask is the process's umask."""
    bundle.process["user"] = {"uid": 0, "gid": 0, "umask": 0o027}

    report = run_probe(container, bundle)

    check_equal(oct(report["umask"]), oct(0o027), "umask")


@pytest.mark.requirement("config-process-rlimits")
def test_rlimits_are_set(container: Container, bundle: Bundle) -> None:
    """Each configured rlimit has the configured soft and hard values."""
    limits = {"RLIMIT_NOFILE": (256, 512), "RLIMIT_CORE": (4096, 8192), "RLIMIT_NPROC": (99, 100)}
    bundle.process["rlimits"] = [
        {"type": name, "soft": soft, "hard": hard} for name, (soft, hard) in limits.items()
    ]

    report = run_probe(container, bundle)

    for name, (soft, hard) in limits.items():
        check_equal(report["rlimits"].get(name), [soft, hard], f"getrlimit({name})")


@pytest.mark.requirement("config-process-rlimits-invalid")
def test_unknown_rlimit_fails_create(container: Container, bundle: Bundle) -> None:
    """An rlimit type the kernel does not have makes create fail."""
    bundle.process["rlimits"] = [{"type": "RLIMIT_CONFORMANCE", "soft": 1, "hard": 1}]

    res = container.create()

    check(not res.ok, "create with an unknown rlimit", "a non-zero exit status", res.returncode)


@pytest.mark.requirement("config-process-capabilities")
def test_capability_sets_are_exactly_the_configured_ones(
    container: Container, bundle: Bundle
) -> None:
    """All five capability sets of a root process equal the configured lists."""
    full = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP"]
    caps = {
        "bounding": full,
        "permitted": full,
        "effective": full,
        "inheritable": ["CAP_KILL", "CAP_CHOWN"],
        "ambient": ["CAP_KILL"],
    }
    _require_bounding(full)
    bundle.process["capabilities"] = caps

    report = run_probe(container, bundle)

    seen = capability_sets(report)
    for name, expected in caps.items():
        check_equal(sorted(seen[name]), sorted(expected), f"/proc/self/status {name} set")


def _require_bounding(names: list[str]) -> None:
    reason = lsm.missing_from_bounding_set(names)
    if reason:
        skip_host(reason)


@pytest.mark.requirement("config-process-capabilities")
def test_every_kernel_capability_can_be_granted(container: Container, bundle: Bundle) -> None:
    """A root process given every capability the kernel defines holds all of them."""
    every = lsm.kernel_capabilities()
    _require_bounding(every)
    bundle.process["capabilities"] = {k: every for k in ("bounding", "permitted", "effective")}

    report = run_probe(container, bundle)

    seen = capability_sets(report)
    for name in ("bounding", "permitted", "effective"):
        check_equal(sorted(seen[name]), sorted(every), f"/proc/self/status {name} set")


@pytest.mark.requirement("config-process-capabilities-unknown")
def test_unknown_capability_is_not_fatal(container: Container, bundle: Bundle) -> None:
    """A capability name the runtime does not know is warned about; the container still runs."""
    caps = ["CAP_CHOWN", "CAP_KILL", "CAP_CONFORMANCE_UNKNOWN"]
    bundle.process["capabilities"] = {k: caps for k in ("bounding", "permitted", "effective")}

    report = run_probe(container, bundle)

    seen = capability_sets(report)
    check_equal(sorted(seen["effective"]), ["CAP_CHOWN", "CAP_KILL"], "effective set")


@pytest.mark.requirement("config-process-capabilities-ungrantable")
def test_ungrantable_capability_is_not_fatal(container: Container, bundle: Bundle) -> None:
    """A capability outside the runtime's bounding set is warned about; the process runs."""
    own = capability_sets({"status": Path("/proc/self/status").read_text()})["bounding"]
    last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    missing = [cap for cap in CAPABILITIES[: last + 1] if cap not in own]
    if not missing:
        skip_host("the harness' bounding set holds every capability the kernel knows")
    caps = ["CAP_CHOWN", "CAP_KILL", missing[0]]
    current_evidence().attach("ungrantable capability", missing[0])
    bundle.process["capabilities"] = {k: caps for k in ("bounding", "permitted", "effective")}

    report = run_probe(container, bundle)

    # Whether the ungrantable one shows up depends on where the runtime grants (a sandbox
    # kernel may hold it); the grantable ones must be there.
    held = capability_sets(report)["effective"]
    check({"CAP_CHOWN", "CAP_KILL"} <= held, "effective set", "CAP_CHOWN, CAP_KILL", sorted(held))


@pytest.mark.requirement("config-process-nnp")
@pytest.mark.parametrize("enabled", [True, False])
def test_no_new_privileges_flag(container: Container, bundle: Bundle, enabled: bool) -> None:
    """noNewPrivileges true sets NoNewPrivs; false leaves it as the runtime had it (unset)."""
    own = status_fields({"status": Path("/proc/self/status").read_text()})
    if not enabled and own.get("NoNewPrivs") == "1":
        skip_host("the harness itself runs with no_new_privs set")
    bundle.process["noNewPrivileges"] = enabled

    report = run_probe(container, bundle)

    check_equal(report["no_new_privs"], 1 if enabled else 0, "prctl(PR_GET_NO_NEW_PRIVS)")


@pytest.mark.requirement("config-process-oom-score-adj")
def test_oom_score_adj_is_applied(container: Container, bundle: Bundle) -> None:
    """A configured (raised) oomScoreAdj is the process's oom_score_adj."""
    bundle.process["oomScoreAdj"] = 500

    report = run_probe(container, bundle)

    check_equal((report["oom_score_adj"] or "").strip(), "500", "/proc/self/oom_score_adj")


@pytest.mark.requirement("config-process-oom-score-adj")
def test_negative_oom_score_adj_is_applied(container: Container, bundle: Bundle) -> None:
    """A lowered oomScoreAdj is applied (needs CAP_SYS_RESOURCE on the host)."""
    own = status_fields({"status": Path("/proc/self/status").read_text()})
    cap_sys_resource = 24
    if not int(own.get("CapEff", "0"), 16) >> cap_sys_resource & 1:
        skip_host("root lacks CAP_SYS_RESOURCE, so no oom_score_adj below the caller's value")
    bundle.process["oomScoreAdj"] = -100

    report = run_probe(container, bundle)

    check_equal((report["oom_score_adj"] or "").strip(), "-100", "/proc/self/oom_score_adj")


@pytest.mark.requirement("config-process-oom-score-adj")
def test_unset_oom_score_adj_keeps_the_runtime_value(container: Container, bundle: Bundle) -> None:
    """Without oomScoreAdj the process keeps the value the runtime was started with."""
    own = Path("/proc/self/oom_score_adj").read_text().strip()
    bundle.process.pop("oomScoreAdj", None)

    report = run_probe(container, bundle)

    current_evidence().note("harness oom_score_adj", value=own)
    check_equal((report["oom_score_adj"] or "").strip(), own, "/proc/self/oom_score_adj")


@pytest.mark.requirement("config-hostname")
def test_hostname_is_set(container: Container, bundle: Bundle) -> None:
    """hostname is what uname reports in the container."""
    bundle.config["hostname"] = "conformance-host"

    report = run_probe(container, bundle)

    check_equal(report["hostname"], "conformance-host", "uname().nodename")


@pytest.mark.requirement("config-domainname")
def test_domainname_is_set(container: Container, bundle: Bundle) -> None:
    """domainname is what uname reports in the container."""
    bundle.config["domainname"] = "conformance.example"

    report = run_probe(container, bundle)

    check_equal(report["domainname"], "conformance.example", "uname().domainname")


@pytest.mark.requirement("config-root-readonly")
def test_readonly_root_refuses_writes(container: Container, bundle: Bundle) -> None:
    """With root.readonly, creating a directory in / fails with EROFS."""
    bundle.config["root"]["readonly"] = True

    report = run_probe(container, bundle, "--mkdir", "/conformance-new")

    result = report["mkdir"]["/conformance-new"]
    check_equal(result.get("errno"), errno.EROFS, "mkdir /conformance-new errno")


SCHED_BATCH = 3
IOPRIO_CLASS_BE = 2
IOPRIO_CLASS_SHIFT = 13


@pytest.mark.requirement("config-process-scheduler")
def test_scheduler_policy_and_nice_are_applied(container: Container, bundle: Bundle) -> None:
    """process.scheduler sets the scheduling policy and nice value (since v1.1)."""
    bundle.process["scheduler"] = {"policy": "SCHED_BATCH", "nice": 7}

    report = run_probe(container, bundle)

    check_equal(report["scheduler"]["policy"], SCHED_BATCH, "sched_getscheduler()")
    check_equal(report["scheduler"]["nice"], 7, "getpriority(PRIO_PROCESS)")


@pytest.mark.requirement("config-process-io-priority")
def test_io_priority_is_applied(container: Container, bundle: Bundle) -> None:
    """process.ioPriority sets the I/O scheduling class and level (since v1.1)."""
    bundle.process["ioPriority"] = {"class": "IOPRIO_CLASS_BE", "priority": 6}

    report = run_probe(container, bundle)

    expected = IOPRIO_CLASS_BE << IOPRIO_CLASS_SHIFT | 6
    check_equal(report["ioprio"], expected, "ioprio_get(IOPRIO_WHO_PROCESS) (class << 13 | level)")


APPARMOR_PROFILE_ENV = "CONFORMANCE_APPARMOR_PROFILE"
"""Names a loaded AppArmor profile that lets the probe run (else a common default is used)."""


def _apparmor_profile() -> str:
    reason = lsm.apparmor_off()
    if reason:
        skip_host(reason)
    loaded = lsm.apparmor_profiles()
    wanted = os.environ.get(APPARMOR_PROFILE_ENV)
    candidates = [wanted] if wanted else ["docker-default", "containers-default-0.50.0"]
    for name in candidates:
        if name in loaded:
            return name
    skip_host(
        f"no usable AppArmor profile is loaded in enforce mode (tried {candidates}); load one "
        f"that lets /probe run and name it in {APPARMOR_PROFILE_ENV}"
    )


def _attr_current(report: dict[str, object]) -> str:
    return str(report.get("attr_current") or "").rstrip("\0").strip()


@pytest.mark.requirement("config-process-apparmor")
def test_apparmor_profile_is_applied(container: Container, bundle: Bundle) -> None:
    """process.apparmorProfile is the profile of the process (/proc/self/attr/current)."""
    profile = _apparmor_profile()
    bundle.process["apparmorProfile"] = profile

    report = run_probe(container, bundle)

    label = _attr_current(report)
    check_equal(label.split(" (")[0], profile, "/proc/self/attr/current profile")


@pytest.mark.requirement("config-process-selinux")
def test_selinux_label_is_applied(container: Container, bundle: Bundle) -> None:
    """process.selinuxLabel is the SELinux context of the process (/proc/self/attr/current)."""
    reason = lsm.selinux_off()
    if reason:
        skip_host(reason)
    label = lsm.selinux_container_contexts().get("process")
    if not label:
        skip_host("the SELinux policy names no container process context (lxc_contexts)")
    bundle.process["selinuxLabel"] = label

    report = run_probe(container, bundle)

    check_equal(_attr_current(report), label, "/proc/self/attr/current")
