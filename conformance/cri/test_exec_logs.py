"""ExecSync, container logs in the CRI log format, ReopenContainerLog, multiple containers."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import pytest

from conformance.core import check, check_equal
from conformance.cri.helpers import rpc_code, wait_for
from conformance.cri.logs import parse_log
from wire.proto.cri import api_pb2 as pb

pytestmark = pytest.mark.timeout(90)


def _log_file(cri, cid: str) -> Path:
    return Path(cri.status(cid).log_path)


@pytest.mark.requirement("CRI-050")
def test_exec_sync_returns_stdout_stderr_and_exit_code(cri):
    """ExecSync gives back the command's stdout, stderr and exit status."""
    pod_id, pod_config = cri.run_pod()
    cid = cri.run_container(pod_id, pod_config)

    resp = cri.exec_sync(cid, ["sh", "-c", "echo -n hello; echo -n oops >&2; exit 7"])

    check_equal(resp.stdout, b"hello", "ExecSyncResponse.stdout")
    check_equal(resp.stderr, b"oops", "ExecSyncResponse.stderr")
    check_equal(resp.exit_code, 7, "ExecSyncResponse.exit_code")


@pytest.mark.requirement("CRI-051")
def test_exec_sync_timeout_fails_and_kills_the_command(cri):
    """ExecSync past its timeout fails with DEADLINE_EXCEEDED and the command is gone."""
    pod_id, pod_config = cri.run_pod()
    cid = cri.run_container(pod_id, pod_config)
    marker = "4242"  # sleep's argument marks the process to look for afterwards

    started = time.monotonic()
    code, _ = rpc_code(lambda: cri.exec_sync(cid, ["sleep", marker], timeout=1, deadline=30))
    elapsed = time.monotonic() - started

    check_equal(code, grpc.StatusCode.DEADLINE_EXCEEDED, "ExecSync(timeout=1) status code")
    check(elapsed < 20, "ExecSync(timeout=1) duration", "about 1 s", elapsed)

    def gone() -> bool:
        out = cri.exec_ok(cid, ["ps", "-o", "args"])
        return f"sleep {marker}" not in out

    wait_for(gone, "the timed-out exec's process in the container", timeout=10)


@pytest.mark.requirement("CRI-050")
def test_exec_sync_of_missing_binary_is_an_error_or_nonzero(cri):
    """ExecSync of a binary that does not exist never reports success."""
    pod_id, pod_config = cri.run_pod()
    cid = cri.run_container(pod_id, pod_config)

    code, resp = rpc_code(lambda: cri.exec_sync(cid, ["/no/such/binary"]))

    if code == grpc.StatusCode.OK:
        check(resp.exit_code != 0, "ExecSyncResponse.exit_code", "non-zero", resp.exit_code)


@pytest.mark.requirement("CRI-042")
def test_container_log_has_cri_format_lines_for_both_streams(cri):
    """Output lands in log_directory/log_path as timestamped stdout and stderr lines."""
    pod_id, pod_config = cri.run_pod()
    script = "echo out-line; echo err-line >&2; printf partial"
    config = cri.container_config(command=("sh", "-c", script))
    cid = cri.run_container(pod_id, pod_config, config)
    cri.wait_exited(cid)

    path = Path(pod_config.log_directory) / config.log_path
    check(path.is_file(), str(path), "the container's log file", "missing")
    status_path = _log_file(cri, cid)
    check_equal(status_path.resolve(), path.resolve(), "ContainerStatus.log_path")
    entries = parse_log(path.read_text(), str(path))

    check(("stdout", "F", "out-line") in entries, str(path), "stdout F out-line", entries)
    check(("stderr", "F", "err-line") in entries, str(path), "stderr F err-line", entries)
    check(
        ("stdout", "P", "partial") in entries,
        str(path),
        "stdout P partial (output without a newline)",
        entries,
    )


@pytest.mark.requirement("CRI-043")
def test_reopen_container_log_starts_a_new_file(cri):
    """After the log is moved away, ReopenContainerLog makes new output go to a new file."""
    pod_id, pod_config = cri.run_pod()
    script = "i=0; while :; do echo line-$i; i=$((i+1)); sleep 0.1; done"
    config = cri.container_config(command=("sh", "-c", script))
    cid = cri.run_container(pod_id, pod_config, config)
    path = Path(pod_config.log_directory) / config.log_path
    wait_for(lambda: path.is_file() and path.stat().st_size > 0, f"{path} written")
    rotated = path.with_name(path.name + ".1")
    path.rename(rotated)

    cri.client.runtime.ReopenContainerLog(pb.ReopenContainerLogRequest(container_id=cid))

    wait_for(lambda: path.is_file() and path.stat().st_size > 0, f"new {path} written")
    size = rotated.stat().st_size
    # while the new file gains three more lines the old one must not grow
    wait_for(lambda: path.read_text().count("\n") >= 4, f"{path} keeps growing")
    check_equal(rotated.stat().st_size, size, f"size of the moved-away {rotated}")
    text = path.read_text()
    parse_log(text[: text.rfind("\n") + 1], str(path))  # the writer may be mid-line


@pytest.mark.requirement("CRI-044")
def test_containers_of_one_pod_share_network_and_keep_own_logs(cri):
    """Two containers of a pod: each logs to its own file, and one reaches the other on
    localhost."""
    pod_id, pod_config = cri.run_pod()
    server = cri.container_config(image="httpd", command=(), name="web")
    server_id = cri.run_container(pod_id, pod_config, server)
    client_cfg = cri.container_config(command=("sh", "-c", "echo client-up; sleep 3600"))
    client_id = cri.run_container(pod_id, pod_config, client_cfg)

    def fetched() -> str:
        resp = cri.exec_sync(client_id, ["wget", "-q", "-O", "-", "http://127.0.0.1:8080/"])
        return resp.stdout.decode() if resp.exit_code == 0 else ""

    body = wait_for(fetched, "httpd of the sibling container on 127.0.0.1:8080", timeout=15)
    check_equal(body, "conformance kit httpd: hello\n", "body from the sibling container")
    wait_for(lambda: "client-up" in _log_file(cri, client_id).read_text(), "client log line")
    check(
        _log_file(cri, server_id) != _log_file(cri, client_id),
        "ContainerStatus.log_path",
        "distinct per container",
        _log_file(cri, server_id),
    )
