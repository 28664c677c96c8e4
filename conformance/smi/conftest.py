"""Fixtures of the smi suite: the mesh under test, one namespace per test, and test worlds.

With ``--kubeconfig`` the suite drives a cluster (:mod:`conformance.smi.cluster`); otherwise it
starts the bundled reference mesh on 127.0.0.1 for the session and stops it at the end.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conformance.core import Violation, current_evidence, skip_config, skip_host
from conformance.smi.target import (
    HTTP_PORT,
    HttpCall,
    HttpResult,
    Mesh,
    ReferenceMesh,
    ServicePort,
    TargetUnreachableError,
    Workload,
    smi_object,
    start_reference,
    stop_process,
)

CONVERGE_TIMEOUT = 30.0
"""Seconds an applied object may take to show in traffic before the test fails."""


def _open_mesh(conformance: Any, tmp_path_factory: pytest.TempPathFactory) -> Mesh:
    kubeconfig = conformance.option("--kubeconfig")
    if kubeconfig:
        from conformance.smi.cluster import KubernetesMesh

        try:
            return KubernetesMesh.connect(
                kubeconfig,
                context=conformance.option("--smi-context"),
                backend_image=conformance.option("--smi-backend-image"),
                client_image=conformance.option("--smi-client-image"),
                namespace_labels=conformance.option("--smi-namespace-label") or [],
                mode=conformance.option("--smi-mode"),
            )
        except TargetUnreachableError as err:
            (skip_config if err.config else skip_host)(str(err))
    state: Path = tmp_path_factory.mktemp("smi-reference")
    args = tuple(conformance.option("--smi-reference-args") or ())
    process, url = start_reference(state, args)
    try:
        return ReferenceMesh(url, process)
    except BaseException:
        stop_process(process)
        raise


@pytest.fixture(scope="session")
def mesh(conformance: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    """The mesh under test, recorded as the suite's target."""
    target = _open_mesh(conformance, tmp_path_factory)
    declared = conformance.option("--smi-mode")
    if declared:
        target.mode = declared
    conformance.record_target(
        "smi",
        kind=target.kind,
        address=target.address,
        name=target.name,
        version=target.version,
        **target.details(),
    )
    try:
        yield target
    finally:
        target.close()


@pytest.fixture(scope="session")
def split_requests(conformance: Any) -> int:
    """Requests per distribution check."""
    return int(conformance.option("--smi-requests"))


@pytest.fixture
def namespace(mesh: Mesh, conformance: Any) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards with everything in it."""
    name = f"{conformance.option('--smi-namespace')}-{uuid.uuid4().hex[:8]}"
    mesh.create_namespace(name)
    try:
        yield name
    finally:
        mesh.delete_namespace(name)


@pytest.fixture
def enforcing(mesh: Mesh) -> None:
    """Skip access-control tests on a mesh declared permissive."""
    if mesh.mode != "enforcing":
        skip_config(f"the mesh runs in {mesh.mode} mode; access control is not enforced")


def converge(probe: Callable[[], bool], what: str, timeout: float = CONVERGE_TIMEOUT) -> float:
    """Poll ``probe`` until it holds; the seconds it took (recorded), or a Violation."""
    started = time.monotonic()
    while True:
        if probe():
            took = time.monotonic() - started
            current_evidence().note(f"converged: {what}", seconds=round(took, 3))
            return took
        if time.monotonic() - started > timeout:
            raise Violation(what, f"within {timeout:.0f} s", "never observed")
        time.sleep(0.1)


@dataclass
class World:
    """What one test deployed in its namespace, with helpers to add more."""

    mesh: Mesh
    ns: str
    backends: dict[str, Workload] = field(default_factory=dict)
    clients: dict[str, Workload] = field(default_factory=dict)

    def backend(
        self,
        name: str,
        *,
        account: str,
        version: str = "v1",
        tcp_ports: tuple[int, ...] = (),
        replicas: int = 1,
        service: bool = True,
        service_ports: tuple[ServicePort, ...] | None = None,
    ) -> Workload:
        """Deploy the test backend ``name`` and (by default) a service of the same name."""
        labels = {"app": name}
        workload = self.mesh.deploy_backend(
            self.ns, name, version, account, labels=labels, tcp_ports=tcp_ports, replicas=replicas
        )
        if service:
            ports = service_ports or (
                HTTP_PORT,
                *(ServicePort(p, p, f"tcp-{p}") for p in tcp_ports),
            )
            self.mesh.create_service(self.ns, name, labels, ports)
        self.backends[name] = workload
        return workload

    def client(self, account: str, name: str | None = None) -> Workload:
        """Deploy a traffic client pod running as ``account``."""
        workload = self.mesh.deploy_client(self.ns, name or f"client-{account}", account)
        self.clients[account] = workload
        return workload

    def create(self, kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        """Create an SMI object in this namespace."""
        return self.mesh.create(smi_object(kind, self.ns, name, spec))

    def replace(self, kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        """Replace an SMI object in this namespace."""
        return self.mesh.replace(smi_object(kind, self.ns, name, spec))

    def allow(
        self, name: str, destination: str, sources: list[str], rules: list[dict[str, Any]]
    ) -> None:
        """Create a TrafficTarget from ``sources`` (accounts here) to ``destination``."""
        self.create(
            "TrafficTarget",
            name,
            {
                "destination": {
                    "kind": "ServiceAccount",
                    "name": destination,
                    "namespace": self.ns,
                },
                "rules": rules,
                "sources": [
                    {"kind": "ServiceAccount", "name": s, "namespace": self.ns} for s in sources
                ],
            },
        )

    def allow_all_ports(self, destination: str, sources: list[str]) -> None:
        """Allow ``sources`` to reach ``destination`` on every port (TCPRoute, ports [])."""
        self.create("TCPRoute", f"all-ports-{destination}", {"matches": {"ports": []}})
        self.allow(
            f"all-to-{destination}",
            destination,
            sources,
            [{"kind": "TCPRoute", "name": f"all-ports-{destination}"}],
        )

    def http(
        self, client: Workload, service: str, calls: list[HttpCall] | int, *, path: str = "/"
    ) -> list[HttpResult]:
        """Send requests from ``client`` to ``service``; an int sends that many GETs to ``path``."""
        if isinstance(calls, int):
            calls = [HttpCall(path)] * calls
        return self.mesh.send_http(client, service, calls)


@pytest.fixture
def world(mesh: Mesh, namespace: str) -> World:
    """An empty world in the test's namespace."""
    return World(mesh, namespace)
