"""Networking: DNS config, hostname, port mappings, namespace options."""

from __future__ import annotations

import os

import pytest
import requests

from conformance.core import check, check_equal
from conformance.cri.helpers import wait_for
from conformance.cri.registry import free_port
from wire.proto.cri import api_pb2 as pb

pytestmark = pytest.mark.timeout(90)

HTTPD_PORT = 8080
HTTPD_BODY = "conformance kit httpd: hello\n"


def _ns(cri, cid: str, kind: str) -> str:
    return cri.exec_ok(cid, ["readlink", f"/proc/self/ns/{kind}"]).strip()


def _get(url: str) -> str:
    try:
        resp = requests.get(url, timeout=2)
    except requests.RequestException:
        return ""
    return resp.text if resp.status_code == 200 else ""


@pytest.mark.requirement("CRI-012")
def test_dns_config_is_written_to_resolv_conf(cri):
    """The pod's DNS servers, search domains and options appear in /etc/resolv.conf."""
    config = cri.pod_config("dns")
    config.dns_config.CopyFrom(
        pb.DNSConfig(servers=["10.231.255.53"], searches=["cri.test.example"], options=["ndots:3"])
    )
    pod_id, _ = cri.run_pod(config)
    cid = cri.run_container(pod_id, config)

    lines = cri.exec_ok(cid, ["cat", "/etc/resolv.conf"]).splitlines()

    words = [line.split() for line in lines]
    check(["nameserver", "10.231.255.53"] in words, "/etc/resolv.conf", "nameserver line", lines)
    check(["search", "cri.test.example"] in words, "/etc/resolv.conf", "search line", lines)
    check(["options", "ndots:3"] in words, "/etc/resolv.conf", "options line", lines)


@pytest.mark.requirement("CRI-012")
def test_pod_hostname_is_the_container_hostname(cri):
    """A container's hostname is the pod's configured hostname."""
    config = cri.pod_config("host")
    config.hostname = "cri-" + config.metadata.uid[:12]
    pod_id, _ = cri.run_pod(config)
    cid = cri.run_container(pod_id, config)

    got = cri.exec_ok(cid, ["hostname"]).strip()

    check_equal(got, config.hostname, "hostname in the container")


@pytest.mark.requirement("CRI-013")
def test_port_mapping_with_host_port_is_reachable(cri):
    """A TCP port mapping with a host port forwards host connections to the container."""
    host_port = free_port()
    config = cri.pod_config("portmap")
    config.port_mappings.append(
        pb.PortMapping(
            protocol=pb.TCP, container_port=HTTPD_PORT, host_port=host_port, host_ip="127.0.0.1"
        )
    )
    pod_id, _ = cri.run_pod(config)
    cri.run_container(pod_id, config, cri.container_config(image="httpd", command=(), name="web"))

    status = cri.pod_status(pod_id)
    body = wait_for(
        lambda: _get(f"http://{status.network.ip}:{HTTPD_PORT}/"), "httpd on the pod IP", timeout=15
    )
    check_equal(body, HTTPD_BODY, f"GET http://{status.network.ip}:{HTTPD_PORT}/")
    body = wait_for(
        lambda: _get(f"http://127.0.0.1:{host_port}/"),
        f"httpd through host port {host_port}",
        timeout=15,
    )
    check_equal(body, HTTPD_BODY, f"GET http://127.0.0.1:{host_port}/")


@pytest.mark.requirement("CRI-014", "CRI-018")
def test_host_network_pod_shares_the_node_network(cri):
    """A pod with network NODE uses the host's network namespace and reports no pod IP."""
    options = pb.NamespaceOption(network=pb.NODE)
    config = cri.pod_config(
        "hostnet", security_context=pb.LinuxSandboxSecurityContext(namespace_options=options)
    )
    pod_id, _ = cri.run_pod(config)
    cid = cri.run_container(pod_id, config)

    check_equal(_ns(cri, cid, "net"), os.readlink("/proc/self/ns/net"), "container net ns")
    status = cri.pod_status(pod_id)
    check_equal(status.network.ip, "", "PodSandboxStatus.network.ip of a host-network pod")
    check_equal(
        status.linux.namespaces.options.network,
        pb.NODE,
        "PodSandboxStatus.linux.namespaces.options.network",
    )


@pytest.mark.requirement("CRI-014")
def test_pod_network_is_not_the_node_network(cri):
    """A pod with network POD has a network namespace of its own."""
    pod_id, config = cri.run_pod()
    cid = cri.run_container(pod_id, config)

    check(
        _ns(cri, cid, "net") != os.readlink("/proc/self/ns/net"),
        "container net ns",
        "not the host's",
        _ns(cri, cid, "net"),
    )


@pytest.mark.requirement("CRI-014")
@pytest.mark.parametrize("mode", ["NODE", "POD", "CONTAINER"])
def test_pid_namespace_mode(cri, mode):
    """PID namespace NODE shares the host's, POD shares one per pod, CONTAINER isolates."""
    options = pb.NamespaceOption(pid=pb.NamespaceMode.Value(mode))
    sc = pb.LinuxSandboxSecurityContext(namespace_options=options)
    config = cri.pod_config("pid", security_context=sc)
    pod_id, _ = cri.run_pod(config)
    ctr_sc = pb.LinuxContainerSecurityContext(namespace_options=options)
    linux = pb.LinuxContainerConfig(security_context=ctr_sc)
    first = cri.run_container(pod_id, config, cri.container_config(linux=linux))
    second = cri.run_container(pod_id, config, cri.container_config(linux=linux))

    a, b = _ns(cri, first, "pid"), _ns(cri, second, "pid")
    host = os.readlink("/proc/self/ns/pid")
    if mode == "NODE":
        check_equal(a, host, "pid ns of a NODE-mode container")
    elif mode == "POD":
        check(
            a == b != host,
            "pid ns of two POD-mode containers",
            "one shared, not the host's",
            (a, b),
        )
        # the sandbox's process is visible in a pod-shared PID namespace
        check(
            "1" in cri.exec_ok(first, ["sh", "-c", "ls /proc | grep -x 1"]).split(),
            "/proc/1 in a POD-mode container",
            "present",
            "absent",
        )
    else:
        check(
            a != b and host not in (a, b),
            "pid ns of two CONTAINER-mode containers",
            "distinct",
            (a, b),
        )


@pytest.mark.requirement("CRI-014")
@pytest.mark.parametrize("mode", ["NODE", "POD"])
def test_ipc_namespace_mode(cri, mode):
    """IPC namespace NODE shares the host's; POD gives the pod its own."""
    options = pb.NamespaceOption(ipc=pb.NamespaceMode.Value(mode))
    sc = pb.LinuxSandboxSecurityContext(namespace_options=options)
    config = cri.pod_config("ipc", security_context=sc)
    pod_id, _ = cri.run_pod(config)
    ctr_sc = pb.LinuxContainerSecurityContext(namespace_options=options)
    cid = cri.run_container(
        pod_id, config, cri.container_config(linux=pb.LinuxContainerConfig(security_context=ctr_sc))
    )

    got = _ns(cri, cid, "ipc")

    host = os.readlink("/proc/self/ns/ipc")
    check(
        (got == host) == (mode == "NODE"),
        "ipc ns of the container",
        "the host's" if mode == "NODE" else "not the host's",
        got,
    )


@pytest.mark.requirement("CRI-014")
def test_pid_namespace_target_joins_the_target_container(cri):
    """PID namespace TARGET puts the container in the PID namespace of the target container."""
    pod_id, config = cri.run_pod()
    target = cri.run_container(pod_id, config)
    options = pb.NamespaceOption(pid=pb.TARGET, target_id=target)
    sc = pb.LinuxContainerSecurityContext(namespace_options=options)
    joined = cri.run_container(
        pod_id, config, cri.container_config(linux=pb.LinuxContainerConfig(security_context=sc))
    )

    check_equal(_ns(cri, joined, "pid"), _ns(cri, target, "pid"), "pid ns of the TARGET container")
