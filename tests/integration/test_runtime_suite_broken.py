"""The runtime suite's negative checks fail against a deliberately broken runtime.

A small wrapper around runc misbehaves on purpose: it drops ``--pid-file``, removes the
hostname from config.json before passing it on, answers a duplicate ``create`` with exit
status 0 without doing anything, forces every ``delete`` and turns every ``kill`` into
SIGKILL. The suite, run against it, must fail exactly the tests
that check those behaviours, while an unrelated control test still passes.

A second wrapper leaves traces behind when an operation fails (a process after a failed
create, a state entry after a failed start, a network namespace after a failed kill, a mount
after a failed delete) and "refuses" to delete a created container after killing it: every
error-no-effect test and the delete-created test must fail against it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conformance.core.selfrun import run_suite

pytestmark = [pytest.mark.peer, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]

BROKEN_RUNTIME = textwrap.dedent(
    """\
    import json, os, subprocess, sys

    RUNC = os.environ["BROKEN_RUNC"]
    argv = sys.argv[1:]
    if "create" in argv:
        at = argv.index("create")
        head, tail = argv[:at + 1], argv[at + 1:]
        if "--pid-file" in tail:
            i = tail.index("--pid-file")
            del tail[i:i + 2]
        bundle = tail[tail.index("--bundle") + 1] if "--bundle" in tail else "."
        cid = tail[-1]
        config = os.path.join(bundle, "config.json")
        try:
            with open(config) as f:
                data = json.load(f)
            data.pop("hostname", None)
            with open(config, "w") as f:
                json.dump(data, f)
        except (OSError, ValueError):
            pass
        root = argv[argv.index("--root") + 1]
        probe = subprocess.run([RUNC, "--root", root, "state", cid], capture_output=True)
        if probe.returncode == 0:
            sys.exit(0)
        argv = head + tail
    elif "delete" in argv and "--force" not in argv:
        argv.insert(argv.index("delete") + 1, "--force")
    elif "kill" in argv:
        argv[-1] = "KILL"
    os.execv(RUNC, [RUNC, *argv])
    """
)

EXPECTED = {
    "test_pid_file_names_the_pid_state_reports": "failed",
    "test_hostname_is_set": "failed",
    "test_create_with_id_in_use_fails_and_keeps_the_first": "failed",
    "test_delete_of_running_container_fails_and_keeps_it": "failed",
    "test_kill_delivers_the_named_signal": "failed",
    "test_state_of_unknown_id_fails": "passed",
}


@pytest.fixture
def broken_runtime(tmp_path: Path) -> list[str]:
    """The command line of the broken runtime wrapper."""
    if os.geteuid() != 0:
        pytest.skip("the runtime suite needs root")
    runc = shutil.which("runc")
    if runc is None:
        pytest.skip("runc is not installed")
    script = tmp_path / "broken_runtime.py"
    script.write_text(BROKEN_RUNTIME)
    return [sys.executable, str(script)]


def test_suite_fails_the_broken_behaviours(broken_runtime: list[str], tmp_path: Path) -> None:
    """Each misbehaviour (pid file, hostname, duplicate id, delete, kill) fails its test."""
    report_dir = tmp_path / "report"
    selection = " or ".join(EXPECTED)
    argv = [
        sys.executable, "-m", "pytest", "--pyargs", "conformance.runtime",
        f"--runtime={' '.join(broken_runtime)}", "--implementation=broken-runc",
        f"--runtime-root={tmp_path / 'root'}", f"--report-dir={report_dir}",
        "-k", selection, "-p", "no:cacheprovider", "-q",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO), "BROKEN_RUNC": shutil.which("runc") or ""}

    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)

    results = json.loads((report_dir / "runtime" / "results.json").read_text())
    outcomes = {t["nodeid"].split("::")[-1]: t["outcome"] for t in results["tests"]}
    assert outcomes == EXPECTED, proc.stdout[-3000:]


LEAKY_RUNTIME = textwrap.dedent(
    """\
    import json, os, subprocess, sys

    RUNC, MARK = os.environ["BROKEN_RUNC"], os.environ["LEAK_MARK"]
    argv = sys.argv[1:]
    root = argv[argv.index("--root") + 1]
    op = next((a for a in argv if a in ("create", "start", "kill", "delete")), "")
    cid = argv[argv.index(op) + 1] if op in ("start", "kill") else argv[-1]

    def state(cid):
        res = subprocess.run([RUNC, "--root", root, "state", cid], capture_output=True)
        return json.loads(res.stdout) if res.returncode == 0 else {}

    if op in ("create", "start", "kill"):
        rc = subprocess.run([RUNC, *argv]).returncode
        if rc and op == "create":
            subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", MARK],
                             cwd=argv[argv.index("--bundle") + 1], start_new_session=True)
        elif rc and op == "start":
            os.mkdir(os.path.join(root, cid + ".leak"))
        elif rc and op == "kill":
            subprocess.run(["ip", "netns", "add", f"{MARK}-{cid}"])
        sys.exit(rc)
    if op == "delete" and "--force" not in argv:
        doc = state(cid)
        if doc.get("status") == "created":
            subprocess.run([RUNC, "--root", root, "kill", cid, "KILL"])
            sys.exit(1)
        if doc.get("status") == "running":
            leak = os.path.join(doc["bundle"], MARK)
            os.makedirs(leak, exist_ok=True)
            subprocess.run(["mount", "-t", "tmpfs", MARK, leak])
    os.execv(RUNC, [RUNC, *argv])
    """
)

LEAKY_EXPECTED = {
    "test_failed_create_leaves_nothing_behind[unknown-rlimit]": "failed",
    "test_failed_create_leaves_nothing_behind[missing-bind-source]": "failed",
    "test_failed_create_leaves_nothing_behind[failing-createRuntime-hook]": "failed",
    "test_failed_create_leaves_nothing_behind[missing-executable]": "failed",
    "test_failed_second_start_changes_nothing": "failed",
    "test_failed_kill_of_stopped_container_changes_nothing": "failed",
    "test_failed_delete_of_running_container_changes_nothing": "failed",
    "test_delete_of_created_container_is_all_or_nothing": "failed",
}


def _clean_leaks(mark: str) -> None:
    """Undo what the leaky wrapper left: its processes, network namespace and mounts."""
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and mark.encode() in (entry / "cmdline").read_bytes():
                os.kill(int(entry.name), 9)
        except OSError:
            continue
    for name in Path("/run/netns").glob(f"{mark}-*"):
        subprocess.run(["ip", "netns", "delete", name.name], capture_output=True)
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        if mark in line:
            subprocess.run(["umount", "--lazy", line.split()[4]], capture_output=True)


def test_suite_fails_the_leaky_behaviours(broken_runtime: list[str], tmp_path: Path) -> None:
    """Each trace a failed operation leaves, and a half-done delete, fails its test."""
    mark = f"conformance-leak-{os.getpid()}"
    script = tmp_path / "leaky_runtime.py"
    script.write_text(LEAKY_RUNTIME)
    env = {"BROKEN_RUNC": shutil.which("runc") or "", "LEAK_MARK": mark}

    try:
        run = run_suite(
            "runtime",
            tmp_path / "report",
            f"--runtime={sys.executable} {script}",
            "--implementation=leaky-runc",
            f"--runtime-root={tmp_path / 'root'}",
            "-k",
            "test_errors or all_or_nothing",
            env=env,
            timeout=240,
        )
    finally:
        _clean_leaks(mark)

    outcomes = run.outcomes()
    odd = {t["nodeid"]: t["message"][:800] for t in run.tests if t["outcome"] == "error"}
    assert outcomes == LEAKY_EXPECTED, (odd, run.output_tail())
