"""Streaming Exec, Attach and PortForward over the WebSocket channel protocol."""

from __future__ import annotations

import contextlib
import struct

import pytest

from conformance.core import check, check_equal
from conformance.cri.helpers import wait_for
from conformance.cri.streaming import ChannelStream
from wire.proto.cri import api_pb2 as pb

pytestmark = pytest.mark.timeout(60)


def _url(resp, rpc: str) -> str:
    check(
        resp.url.startswith(("http://", "https://")),
        f"{rpc}Response.url",
        "an http(s) URL",
        resp.url,
    )
    return str(resp.url)


@contextlib.contextmanager
def _stream(url: str):
    stream = ChannelStream(url)
    try:
        yield stream
    finally:
        stream.close()


@pytest.mark.requirement("CRI-052")
def test_exec_streams_stdout_stderr_and_status(cri):
    """Exec without stdin or tty streams stdout and stderr and ends with a failure status
    for a non-zero exit."""
    pod_id, config = cri.run_pod()
    cid = cri.run_container(pod_id, config)
    req = pb.ExecRequest(
        container_id=cid,
        cmd=["sh", "-c", "echo -n out; echo -n err >&2; exit 3"],
        stdout=True,
        stderr=True,
    )

    url = _url(cri.client.runtime.Exec(req), "Exec")
    with _stream(url) as stream:
        stream.read_all()

    check_equal(stream.output(1), b"out", "stdout channel (1)")
    check_equal(stream.output(2), b"err", "stderr channel (2)")
    status = stream.status()
    check(
        status and status.get("status") == "Failure",
        "status channel (3)",
        "a Failure status for exit code 3",
        status,
    )
    causes = (status or {}).get("details", {}).get("causes", [])
    check(
        {"reason": "ExitCode", "message": "3"} in causes,
        "status.details.causes",
        "ExitCode 3",
        causes,
    )


@pytest.mark.requirement("CRI-052")
def test_exec_with_stdin_and_tty_echoes_input(cri):
    """Exec with stdin and a tty runs the command on the input sent over channel 0."""
    pod_id, config = cri.run_pod()
    cid = cri.run_container(pod_id, config)
    req = pb.ExecRequest(container_id=cid, cmd=["sh"], stdin=True, stdout=True, tty=True)

    url = _url(cri.client.runtime.Exec(req), "Exec")
    with _stream(url) as stream:
        stream.send(0, b"echo hel''lo-tty; exit 0\n")
        stream.read_all()

    out = stream.output(1)
    check(b"hello-tty" in out, "stdout channel (1)", "hello-tty", out)
    status = stream.status()
    check(
        status is None or status.get("status") == "Success", "status channel (3)", "Success", status
    )


@pytest.mark.requirement("CRI-052")
def test_attach_streams_the_container_process(cri):
    """Attach connects to the container's main process: input reaches it, output returns."""
    pod_id, config = cri.run_pod()
    ctr = cri.container_config(command=("sh",), stdin=True)
    cid = cri.run_container(pod_id, config, ctr)
    req = pb.AttachRequest(container_id=cid, stdin=True, stdout=True, stderr=True)

    url = _url(cri.client.runtime.Attach(req), "Attach")
    with _stream(url) as stream:
        stream.send(0, b"echo attached-$((40+2))\n")
        found = stream.read_until(lambda s: b"attached-42" in s.output(1), timeout=10)

    check(found, "stdout channel (1) of Attach", "attached-42", stream.output(1))


@pytest.mark.requirement("CRI-052")
def test_port_forward_reaches_the_pod_port(cri):
    """PortForward carries a TCP connection to a port inside the pod."""
    pod_id, config = cri.run_pod()
    cid = cri.run_container(pod_id, config, cri.container_config(image="httpd", command=()))
    wait_for(
        lambda: (
            cri.exec_sync(
                cid, ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
            ).exit_code
            == 0
        ),
        "httpd listening in the pod",
        timeout=15,
    )

    url = _url(
        cri.client.runtime.PortForward(pb.PortForwardRequest(pod_sandbox_id=pod_id, port=[8080])),
        "PortForward",
    )
    sep = "&" if "?" in url else "?"
    with _stream(f"{url}{sep}ports=8080") as stream:
        stream.read_until(lambda s: len(s.output(0)) >= 2 and len(s.output(1)) >= 2)
        announced = [struct.unpack("<H", stream.output(ch)[:2])[0] for ch in (0, 1)]
        stream.channels.clear()
        stream.send(0, b"GET /index.html HTTP/1.0\r\nHost: pod\r\n\r\n")
        stream.read_until(lambda s: b"conformance kit httpd: hello" in s.output(0), timeout=10)

    check_equal(announced, [8080, 8080], "port announced on the data and error channels")
    check(
        b"conformance kit httpd: hello" in stream.output(0),
        "data channel (0)",
        "the httpd page",
        stream.output(0)[:300],
    )
