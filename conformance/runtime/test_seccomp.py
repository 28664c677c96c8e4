"""Seccomp filters (config-linux.md: Seccomp)."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import select
import shutil
import signal
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.core import check, check_equal, current_evidence, skip_capability, skip_host
from conformance.core.errors import Violation
from conformance.runtime.bundle import Bundle
from conformance.runtime.driver import Container, Runtime, run_probe
from conformance.runtime.hostcheck import (
    AUDIT_SECCOMP,
    GETPPID_NR,
    KernelLog,
    seccomp_log_unobservable,
    ssb_seccomp_mode_missing,
)
from conformance.runtime.observe import status_fields

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


def _require_flag(runtime: Runtime, flag: str) -> None:
    """Skip as an absent capability when features' supportedFlags leaves ``flag`` out."""
    seccomp = ((runtime.features or {}).get("linux") or {}).get("seccomp")
    supported = (seccomp or {}).get("supportedFlags")
    if supported is not None and flag not in supported:
        skip_capability(f"seccomp flag {flag}", "features.linux.seccomp.supportedFlags omits it")


@pytest.mark.requirement("linux-seccomp-flag-log")
def test_log_flag_writes_filtered_calls_to_the_kernel_log(
    runtime: Runtime, container: Container, bundle: Bundle
) -> None:
    """With SECCOMP_FILTER_FLAG_LOG, a call failed by an ERRNO rule leaves an audit record."""
    _require_flag(runtime, "SECCOMP_FILTER_FLAG_LOG")
    if reason := seccomp_log_unobservable():
        skip_host(f"seccomp actions cannot be seen in the kernel log: {reason}")
    # Without the flag an ERRNO action is never logged (it is only with the flag, and only
    # because "errno" is in /proc/sys/kernel/seccomp/actions_logged).
    bundle.linux["seccomp"] = _filter(
        "SCMP_ACT_ALLOW",
        [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}],
        flags=["SECCOMP_FILTER_FLAG_LOG"],
    )

    with KernelLog() as klog:
        report = run_probe(container, bundle, "--try", "getppid")
        pid = container.pid
        needles = (AUDIT_SECCOMP, f" pid={pid} ", f" syscall={GETPPID_NR} ")
        record = klog.wait_for(needles, 3.0)

    current_evidence().attach("kernel log records", "\n".join(klog.seen[-20:]))
    check_equal(report["try"]["getppid"], {"ret": -1, "errno": errno.EPERM}, "getppid()")
    check(
        record is not None,
        "kernel log (/dev/kmsg)",
        f"an audit {AUDIT_SECCOMP} record for pid {pid}, syscall {GETPPID_NR}",
        "none within 3 s",
    )


@pytest.mark.requirement("linux-seccomp-flag-spec-allow")
def test_spec_allow_flag_keeps_speculative_store_bypass_unmitigated(
    runtime: Runtime, container: Container, bundle: Bundle
) -> None:
    """With SECCOMP_FILTER_FLAG_SPEC_ALLOW the filter does not force the SSB mitigation."""
    _require_flag(runtime, "SECCOMP_FILTER_FLAG_SPEC_ALLOW")
    if reason := ssb_seccomp_mode_missing():
        skip_host(reason)
    bundle.linux["seccomp"] = _filter(
        "SCMP_ACT_ALLOW",
        [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}],
        flags=["SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
    )

    report = run_probe(container, bundle)

    seen = status_fields(report).get("Speculation_Store_Bypass", "")
    check("force mitigated" not in seen, "Speculation_Store_Bypass", "not force mitigated", seen)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A listening AF_UNIX stream socket at a short path (sun_path holds 108 bytes)."""
    directory = tempfile.mkdtemp(prefix="oci-seccomp-", dir="/tmp")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(os.path.join(directory, "listener.sock"))
        sock.listen(4)
        yield sock
    finally:
        sock.close()
        shutil.rmtree(directory, ignore_errors=True)


def _receive_state(sock: socket.socket, timeout: float) -> tuple[bytes, list[int]]:
    """Accept one connection; read it to EOF, collecting every SCM_RIGHTS fd.

    Raises a Violation when nothing connects or the runtime keeps the connection open.
    """
    ready, _, _ = select.select([sock], [], [], timeout)
    if not ready:
        raise Violation("listenerPath", "a connection from the runtime", "none within the timeout")
    conn, _ = sock.accept()
    data, fds = b"", []
    with conn:
        conn.settimeout(timeout)
        while True:
            try:
                chunk, got, _, _ = socket.recv_fds(conn, 65536, 8)
            except TimeoutError as err:
                raise Violation(
                    "listenerPath connection", "closed after the state", "open"
                ) from err
            fds.extend(got)
            if not chunk:
                return data, fds
            data += chunk


@pytest.mark.requirement("linux-seccomp-notify")
def test_notify_listener_receives_state_and_seccomp_fd(
    runtime: Runtime, container: Container, bundle: Bundle, listener: socket.socket
) -> None:
    """The runtime sends the process state and the notify fd to listenerPath over SCM_RIGHTS."""
    actions = ((runtime.features or {}).get("linux") or {}).get("seccomp") or {}
    if "SCMP_ACT_NOTIFY" not in (actions.get("actions") or []):
        skip_capability("seccomp SCMP_ACT_NOTIFY", "features does not list the action")
    bundle.linux["seccomp"] = _filter(
        "SCMP_ACT_ALLOW",
        [{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}],
        listenerPath=listener.getsockname(),
    )
    bundle.probe("--try", "getppid", "--try", "getpgrp", out="report.json")

    container.must_create()
    # The runtime connects during create or at start at the latest; its connect completes
    # on the backlog, so nothing it does blocks on us accepting.
    ready, _, _ = select.select([listener], [], [], 5.0)
    if not ready:
        container.must_start()
    data, fds = _receive_state(listener, 10.0)
    current_evidence().attach("state sent to listenerPath", data.decode(errors="replace"))
    try:
        check_equal(len(fds), 1, "file descriptors passed with SCM_RIGHTS")
        target = os.readlink(f"/proc/self/fd/{fds[0]}")
        check_equal(target, "anon_inode:seccomp notify", "the passed fd")
    finally:
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)
    try:
        state = json.loads(data)
    except json.JSONDecodeError as err:
        raise Violation("listenerPath data", "a JSON process state", data[:200]) from err
    check_equal(state.get("fds"), ["seccompFd"], "process state fds")
    check_equal((state.get("state") or {}).get("id"), container.cid, "process state state.id")
    check_equal(state.get("pid"), container.read_pid_file(), "process state pid")

    # With the only listener closed, the kernel fails every notified call with ENOSYS.
    if container.state().get("status") == "created":
        container.must_start()
    container.wait()
    report = container.probe_report("report.json")
    check_equal(report["try"]["getppid"], {"ret": -1, "errno": errno.ENOSYS}, "getppid()")
    check_equal(report["try"]["getpgrp"]["errno"], 0, "getpgrp() (not filtered)")
