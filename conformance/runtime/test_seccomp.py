"""Seccomp filters (config-linux.md: Seccomp)."""

from __future__ import annotations

import errno
import re
import signal
from pathlib import Path
from typing import Any

import pytest

from conformance.core import check, check_equal, skip_host
from conformance.runtime.bundle import Bundle
from conformance.runtime.driver import Container, run_probe

SYSCALL_HEADER = Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h")


def _filter(default: str, rules: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "defaultAction": default,
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": rules,
        **extra,
    }


def _all_syscalls() -> list[str]:
    if not SYSCALL_HEADER.exists():
        skip_host(f"{SYSCALL_HEADER} is missing (install libc6-dev) to build an allow list")
    names = re.findall(r"#define __NR_(\w+)\s+\d+", SYSCALL_HEADER.read_text())
    return sorted(set(names))


@pytest.mark.requirement("linux-seccomp-errno")
def test_errno_action_uses_eperm_by_default(container: Container, bundle: Bundle) -> None:
    """A rule with SCMP_ACT_ERRNO and no errnoRet makes the call fail with EPERM."""
    bundle.linux["seccomp"] = _filter(
        "SCMP_ACT_ALLOW", [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}]
    )

    report = run_probe(container, bundle, "--try", "getppid", "--try", "getpgrp")

    check_equal(report["try"]["getppid"], {"ret": -1, "errno": errno.EPERM}, "getppid()")
    check_equal(report["try"]["getpgrp"]["errno"], 0, "getpgrp() (not filtered)")


@pytest.mark.requirement("linux-seccomp-errno")
def test_errno_ret_is_returned(container: Container, bundle: Bundle) -> None:
    """errnoRet chooses the errno a filtered call fails with."""
    bundle.linux["seccomp"] = _filter(
        "SCMP_ACT_ALLOW",
        [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EXDEV}],
    )

    report = run_probe(container, bundle, "--try", "getppid")

    check_equal(report["try"]["getppid"], {"ret": -1, "errno": errno.EXDEV}, "getppid()")


@pytest.mark.requirement("linux-seccomp-default-action")
def test_default_errno_ret_applies_to_unlisted_calls(container: Container, bundle: Bundle) -> None:
    """With defaultAction ERRNO and defaultErrnoRet, calls no rule allows fail with that errno."""
    allowed = [n for n in _all_syscalls() if n not in ("getppid", "getpgrp")]
    bundle.linux["seccomp"] = _filter(
        "SCMP_ACT_ERRNO",
        [{"names": allowed, "action": "SCMP_ACT_ALLOW"}],
        defaultErrnoRet=errno.ENOTSUP,
    )

    report = run_probe(container, bundle, "--try", "getppid", "--try", "sched_yield")

    check_equal(report["try"]["getppid"], {"ret": -1, "errno": errno.ENOTSUP}, "getppid()")
    check_equal(report["try"]["sched_yield"], {"ret": 0, "errno": 0}, "sched_yield()")


@pytest.mark.requirement("linux-seccomp-args")
def test_argument_conditions_select_calls(container: Container, bundle: Bundle) -> None:
    """A rule conditioned on an argument value only affects calls with that value."""
    prio_pgrp = 1
    bundle.linux["seccomp"] = _filter(
        "SCMP_ACT_ALLOW",
        [
            {
                "names": ["getpriority"],
                "action": "SCMP_ACT_ERRNO",
                "errnoRet": errno.EACCES,
                "args": [{"index": 0, "value": prio_pgrp, "op": "SCMP_CMP_EQ"}],
            }
        ],
    )

    report = run_probe(container, bundle, "--try", "getpriority:1", "--try", "getpriority:0")

    check_equal(report["try"]["getpriority:1"]["errno"], errno.EACCES, "getpriority(PRIO_PGRP)")
    check_equal(report["try"]["getpriority:0"]["errno"], 0, "getpriority(PRIO_PROCESS)")


@pytest.mark.requirement("linux-seccomp-kill")
def test_kill_process_action_ends_the_process(container: Container, bundle: Bundle) -> None:
    """SCMP_ACT_KILL_PROCESS on a call ends the process with SIGSYS before it can report."""
    bundle.linux["seccomp"] = _filter(
        "SCMP_ACT_ALLOW", [{"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"}]
    )
    bundle.probe("--try", "getppid", out="report.json")

    container.run_to_exit()

    check(
        not (bundle.shared / "report.json").exists(),
        "probe report",
        "none (killed)",
        "the probe survived the filtered call",
    )
    if container.exit_code is not None:
        check_equal(container.exit_code, -int(signal.SIGSYS), "exit of the container process")
