"""How the suite reaches a mesh: the :class:`Mesh` interface and the bundled reference's adapter.

A mesh is driven only through what an SMI user has: its API (apply and delete objects, read
TrafficMetrics), workloads it runs (versioned backends, a traffic client with a service
account), and traffic from that client. The Kubernetes adapter lives in
:mod:`conformance.smi.cluster`.
"""

from __future__ import annotations

import abc
import json
import logging
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from conformance.core import EnvironmentProblem, HarnessError, current_evidence

log = logging.getLogger(__name__)

APP_PATH = Path(__file__).with_name("app.py")
"""The test application (backend and traffic client), standard library only."""

SMI_VERSIONS = {
    "TrafficSplit": "split.smi-spec.io/v1alpha4",
    "TrafficTarget": "access.smi-spec.io/v1alpha3",
    "HTTPRouteGroup": "specs.smi-spec.io/v1alpha4",
    "TCPRoute": "specs.smi-spec.io/v1alpha4",
    "UDPRoute": "specs.smi-spec.io/v1alpha4",
}
PLURALS = {
    "TrafficSplit": "trafficsplits",
    "TrafficTarget": "traffictargets",
    "HTTPRouteGroup": "httproutegroups",
    "TCPRoute": "tcproutes",
    "UDPRoute": "udproutes",
}
METRICS_PREFIX = "/apis/metrics.smi-spec.io/v1alpha1"
READY_TIMEOUT = 60.0
EVIDENCE_DETAIL = 20
"""Traffic batches up to this size are recorded request by request; larger ones as a table."""


class MeshApiError(Exception):
    """The mesh's API refused a request; ``status`` and the decoded ``body`` say how."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {json.dumps(body)[:500]}")
        self.status = status
        self.body = body


class TargetUnreachableError(HarnessError):
    """The configured target cannot be reached; ``config`` tells a bad option from a down host."""

    def __init__(self, message: str, *, config: bool = False) -> None:
        super().__init__(message)
        self.config = config


@dataclass(frozen=True)
class HttpCall:
    """One HTTP request a client sends to a service."""

    path: str = "/"
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form for the traffic client."""
        return {
            "path": self.path,
            "method": self.method,
            "headers": self.headers,
            "body": self.body,
        }


@dataclass(frozen=True)
class HttpResult:
    """What came back for one :class:`HttpCall`."""

    status: int | None
    body: str
    ms: float
    error: str = ""

    def json(self) -> dict[str, Any] | None:
        """The backend's JSON echo, or ``None`` when the reply is not one."""
        try:
            data = json.loads(self.body)
        except ValueError:
            return None
        return data if isinstance(data, dict) and "service" in data else None

    @property
    def backend(self) -> str | None:
        """The service name of the backend that answered, or ``None``."""
        data = self.json()
        return str(data["service"]) if data else None

    @property
    def delivered(self) -> bool:
        """True when a backend of the test application produced the reply."""
        return self.backend is not None


@dataclass(frozen=True)
class TcpResult:
    """What came back on one TCP connection."""

    connected: bool
    reply: str
    error: str = ""

    def json(self) -> dict[str, Any] | None:
        """The backend's JSON echo line, or ``None``."""
        try:
            data = json.loads(self.reply.strip() or "null")
        except ValueError:
            return None
        return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class Workload:
    """Pods the suite deployed: a backend deployment or a traffic client pod."""

    namespace: str
    name: str
    service_account: str
    pods: tuple[str, ...]
    kind: str = "Deployment"


@dataclass(frozen=True)
class ServicePort:
    """A service port and the container port it forwards to."""

    port: int
    target_port: int
    name: str


HTTP_PORT = ServicePort(80, 8080, "http")


def smi_object(kind: str, namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """An SMI object of the suite's target version."""
    return {
        "apiVersion": SMI_VERSIONS[kind],
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def _record_traffic(label: str, calls: list[Any], results: list[Any]) -> None:
    ev = current_evidence()
    if len(results) <= EVIDENCE_DETAIL:
        for call, result in zip(calls, results, strict=True):
            ev.note(label, request=_as_dict(call), response=_as_dict(result))
        return
    # One CSV line per request keeps a 600-request batch within the evidence body limit.
    lines = ["i,status,backend,ms,error"]
    lines += [
        f"{i},{r.status},{r.backend or ''},{r.ms:.2f},{r.error}" for i, r in enumerate(results)
    ]
    ev.note(f"{label}: {len(results)} requests", request=_as_dict(calls[0]))
    ev.attach(f"{label}: every response (CSV)", "\n".join(lines))


def _as_dict(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if hasattr(value, "__dataclass_fields__"):
        return {k: getattr(value, k) for k in value.__dataclass_fields__}
    return value


class Mesh(abc.ABC):
    """A service mesh under test.

    Attributes:
        name: the implementation's own name, as it reports it.
        version: its version, as it reports it.
        mode: ``enforcing`` (access denied without a TrafficTarget) or ``permissive``.
        kind: ``reference`` or ``kubernetes``; ``address`` where it is reached.
    """

    name: str = ""
    version: str = ""
    mode: str = "enforcing"
    kind: str = ""
    address: str = ""

    def details(self) -> dict[str, Any]:
        """Facts recorded with the target (served versions, mode, identity source)."""
        return {"mode": self.mode, "versions": dict(SMI_VERSIONS)}

    # -- namespaces and objects ----------------------------------------------------------

    @abc.abstractmethod
    def create_namespace(self, namespace: str) -> None:
        """Create a namespace the suite owns (meshed, with the configured labels)."""

    @abc.abstractmethod
    def delete_namespace(self, namespace: str) -> None:
        """Delete a namespace and everything in it; tolerate one that is gone."""

    @abc.abstractmethod
    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create an SMI object; the stored object, or :class:`MeshApiError`."""

    @abc.abstractmethod
    def replace(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Replace an existing SMI object (resourceVersion is taken from the stored one)."""

    @abc.abstractmethod
    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        """Read an SMI object; :class:`MeshApiError` (404) when absent."""

    @abc.abstractmethod
    def delete(self, kind: str, namespace: str, name: str) -> None:
        """Delete an SMI object; :class:`MeshApiError` when the mesh refuses."""

    @abc.abstractmethod
    def post_raw(self, kind: str, namespace: str, body: bytes) -> tuple[int, Any]:
        """POST raw bytes as an SMI object: the status and the decoded answer."""

    # -- workloads -----------------------------------------------------------------------

    @abc.abstractmethod
    def deploy_backend(
        self,
        namespace: str,
        name: str,
        version: str,
        service_account: str,
        *,
        labels: dict[str, str],
        http_ports: tuple[int, ...] = (8080,),
        tcp_ports: tuple[int, ...] = (),
        replicas: int = 1,
    ) -> Workload:
        """Run the test application as a deployment; returns once its pods are ready."""

    @abc.abstractmethod
    def create_service(
        self, namespace: str, name: str, selector: dict[str, str], ports: tuple[ServicePort, ...]
    ) -> None:
        """Create a Kubernetes-style service selecting pods by labels."""

    @abc.abstractmethod
    def deploy_client(self, namespace: str, name: str, service_account: str) -> Workload:
        """Run a meshed traffic client pod with the given service account; ready on return."""

    # -- traffic and metrics -------------------------------------------------------------

    @abc.abstractmethod
    def _send_http(
        self, client: Workload, host: str, port: int, calls: list[HttpCall]
    ) -> list[HttpResult]: ...

    @abc.abstractmethod
    def _send_tcp(self, client: Workload, host: str, port: int, payload: str) -> TcpResult: ...

    def send_http(
        self,
        client: Workload,
        service: str,
        calls: list[HttpCall],
        *,
        namespace: str | None = None,
        port: int = 80,
    ) -> list[HttpResult]:
        """Send ``calls`` from the client's pod to ``service`` over one keep-alive connection."""
        host = f"{service}.{namespace or client.namespace}"
        results = self._send_http(client, host, port, calls)
        _record_traffic(f"http {client.name} -> {host}:{port}", calls, results)
        return results

    def send_tcp(
        self,
        client: Workload,
        service: str,
        port: int,
        payload: str = "ping",
        *,
        namespace: str | None = None,
    ) -> TcpResult:
        """Open a TCP connection from the client's pod, send one line, read one line."""
        host = f"{service}.{namespace or client.namespace}"
        result = self._send_tcp(client, host, port, payload)
        current_evidence().note(
            f"tcp {client.name} -> {host}:{port}", payload=payload, result=_as_dict(result)
        )
        return result

    @abc.abstractmethod
    def get_metrics(self, path: str, params: dict[str, str] | None = None) -> tuple[int, Any]:
        """GET ``/apis/metrics.smi-spec.io/v1alpha1`` + ``path``: status and decoded body."""

    def close(self) -> None:  # noqa: B027 - optional hook: adapters without resources keep it
        """Release what the adapter holds (connections, the reference's process)."""


# -- the reference mesh -----------------------------------------------------------------


def project_root() -> Path:
    """The directory holding the ``conformance`` and ``reference_impl`` packages."""
    return Path(__file__).resolve().parents[2]


def start_reference(
    state_dir: Path, extra_args: tuple[str, ...] = (), timeout: float = 30.0
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``python -m reference_impl.smi`` on a free loopback port; (process, base URL)."""
    port_file = state_dir / "api.port"
    port_file.unlink(missing_ok=True)
    argv = [
        sys.executable,
        "-m",
        "reference_impl.smi",
        "--listen",
        "127.0.0.1:0",
        "--state-dir",
        str(state_dir),
        "--port-file",
        str(port_file),
        "--exit-with-parent",
        *extra_args,
    ]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(project_root()), env.get("PYTHONPATH")]))
    log_file = (state_dir / "mesh.log").open("ab")
    try:
        proc = subprocess.Popen(argv, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    finally:
        log_file.close()
    deadline = time.monotonic() + timeout
    while not port_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_process(proc)
            tail = (state_dir / "mesh.log").read_text(errors="replace")[-2000:]
            raise EnvironmentProblem(f"the reference mesh did not start: {tail}")
        time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port_file.read_text().strip()}"


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout``."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


class _RecordingClient(httpx.Client):
    """An httpx client that records every exchange as evidence."""

    def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        response = super().send(request, **kwargs)
        current_evidence().http(
            request.method,
            str(request.url),
            request_headers=dict(request.headers),
            request_body=request.content,
            status=response.status_code,
            response_headers=dict(response.headers),
            response_body=response.content,
        )
        return response


def _decode(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


class ReferenceMesh(Mesh):
    """The bundled reference mesh, reached over its API on 127.0.0.1."""

    kind = "reference"

    def __init__(self, base_url: str, process: subprocess.Popen[bytes] | None = None) -> None:
        self.address = base_url
        self.process = process
        self.api = _RecordingClient(base_url=base_url, timeout=30.0)
        self._egress: dict[tuple[str, str], httpx.Client] = {}
        info = self.api.get("/version").json()
        self.name = str(info.get("implementation", "smi-reference-mesh"))
        self.version = str(info.get("gitVersion", ""))
        self.mode = str(info.get("mode", "enforcing"))

    def details(self) -> dict[str, Any]:
        return {**super().details(), "identity": "mTLS SPIFFE URI SAN, verified by the mesh"}

    # -- objects -------------------------------------------------------------------------

    @staticmethod
    def _path(kind: str, namespace: str, name: str = "") -> str:
        api = SMI_VERSIONS[kind]
        path = f"/apis/{api}/namespaces/{namespace}/{PLURALS[kind]}"
        return f"{path}/{name}" if name else path

    def _checked(self, response: httpx.Response) -> dict[str, Any]:
        body = _decode(response)
        if response.status_code >= 300:
            raise MeshApiError(response.status_code, body)
        return body  # type: ignore[no-any-return]

    def create_namespace(self, namespace: str) -> None:
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
        self._checked(self.api.post("/api/v1/namespaces", json=body))

    def delete_namespace(self, namespace: str) -> None:
        response = self.api.delete(f"/api/v1/namespaces/{namespace}")
        if response.status_code not in (200, 404):
            raise HarnessError(f"cannot delete namespace {namespace}: {response.text}")

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        return self._checked(self.api.post(self._path(obj["kind"], meta["namespace"]), json=obj))

    def replace(self, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        path = self._path(obj["kind"], meta["namespace"], meta["name"])
        return self._checked(self.api.put(path, json=obj))

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        return self._checked(self.api.get(self._path(kind, namespace, name)))

    def delete(self, kind: str, namespace: str, name: str) -> None:
        self._checked(self.api.delete(self._path(kind, namespace, name)))

    def post_raw(self, kind: str, namespace: str, body: bytes) -> tuple[int, Any]:
        response = self.api.post(
            self._path(kind, namespace), content=body, headers={"content-type": "application/json"}
        )
        return response.status_code, _decode(response)

    # -- workloads -----------------------------------------------------------------------

    def deploy_backend(
        self,
        namespace: str,
        name: str,
        version: str,
        service_account: str,
        *,
        labels: dict[str, str],
        http_ports: tuple[int, ...] = (8080,),
        tcp_ports: tuple[int, ...] = (),
        replicas: int = 1,
    ) -> Workload:
        args = ["serve", "--name", name, "--version", version]
        ports = []
        for port in http_ports:
            args += ["--http", str(port)]
            ports.append({"name": f"http-{port}", "containerPort": port})
        for port in tcp_ports:
            args += ["--tcp", str(port)]
            ports.append({"name": f"tcp-{port}", "containerPort": port})
        pod_spec = {
            "serviceAccountName": service_account,
            "containers": [
                {"name": "app", "command": ["python", str(APP_PATH), *args], "ports": ports}
            ],
        }
        deployment = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": pod_spec},
            },
        }
        self._checked(
            self.api.post(f"/apis/apps/v1/namespaces/{namespace}/deployments", json=deployment)
        )
        selector = ",".join(f"{k}={v}" for k, v in labels.items())
        pods = self._wait_pods(namespace, selector, replicas)
        return Workload(namespace, name, service_account, pods)

    def _wait_pods(self, namespace: str, selector: str, count: int) -> tuple[str, ...]:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            response = self.api.get(
                f"/api/v1/namespaces/{namespace}/pods", params={"labelSelector": selector}
            )
            items = self._checked(response)["items"]
            ready = [
                p["metadata"]["name"]
                for p in items
                if any(
                    c.get("type") == "Ready" and c.get("status") == "True"
                    for c in p["status"].get("conditions", [])
                )
            ]
            if len(ready) >= count:
                return tuple(sorted(ready))
            if time.monotonic() > deadline:
                raise HarnessError(f"pods {selector} in {namespace} not ready: {items}")
            time.sleep(0.05)

    def create_service(
        self, namespace: str, name: str, selector: dict[str, str], ports: tuple[ServicePort, ...]
    ) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "selector": selector,
                "ports": [
                    {"name": p.name, "port": p.port, "targetPort": p.target_port} for p in ports
                ],
            },
        }
        self._checked(self.api.post(f"/api/v1/namespaces/{namespace}/services", json=body))

    def deploy_client(self, namespace: str, name: str, service_account: str) -> Workload:
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
            "spec": {"serviceAccountName": service_account, "containers": [{"name": "client"}]},
        }
        self._checked(self.api.post(f"/api/v1/namespaces/{namespace}/pods", json=body))
        self._wait_pods(namespace, f"app={name}", 1)
        return Workload(namespace, name, service_account, (name,), kind="Pod")

    # -- traffic -------------------------------------------------------------------------

    def egress_address(self, client: Workload) -> str:
        pod = self._checked(
            self.api.get(f"/api/v1/namespaces/{client.namespace}/pods/{client.name}")
        )
        return str(pod["status"]["sidecar"]["egress"])

    def _egress_client(self, client: Workload) -> httpx.Client:
        key = (client.namespace, client.name)
        if key not in self._egress:
            base = f"http://{self.egress_address(client)}"
            self._egress[key] = httpx.Client(base_url=base, timeout=30.0)
        return self._egress[key]

    def _send_http(
        self, client: Workload, host: str, port: int, calls: list[HttpCall]
    ) -> list[HttpResult]:
        egress = self._egress_client(client)
        results = []
        for call in calls:
            started = time.perf_counter()
            headers = {**call.headers, "host": f"{host}:{port}"}
            try:
                response = egress.request(
                    call.method, call.path, headers=headers, content=call.body
                )
                ms = (time.perf_counter() - started) * 1000
                results.append(HttpResult(response.status_code, response.text, ms))
            except httpx.HTTPError as err:
                ms = (time.perf_counter() - started) * 1000
                results.append(HttpResult(None, "", ms, error=repr(err)))
        return results

    def _send_tcp(self, client: Workload, host: str, port: int, payload: str) -> TcpResult:
        # The egress sidecar tunnels TCP with HTTP CONNECT, as a forward proxy does.
        address, _, egress_port = self.egress_address(client).rpartition(":")
        try:
            with socket.create_connection((address, int(egress_port)), timeout=10) as sock:
                sock.sendall(
                    f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
                )
                head = _read_until(sock, b"\r\n\r\n")
                if not head.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200")):
                    return TcpResult(False, "", error=head.decode(errors="replace").strip())
                sock.sendall(payload.encode() + b"\n")
                reply = _read_until(sock, b"\n")
                return TcpResult(True, reply.decode(errors="replace"))
        except OSError as err:
            return TcpResult(False, "", error=repr(err))

    def get_metrics(self, path: str, params: dict[str, str] | None = None) -> tuple[int, Any]:
        response = self.api.get(METRICS_PREFIX + path, params=params)
        return response.status_code, _decode(response)

    def close(self) -> None:
        for client in self._egress.values():
            client.close()
        self.api.close()
        if self.process is not None:
            stop_process(self.process)


def _read_until(sock: socket.socket, end: bytes) -> bytes:
    data = b""
    while end not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data
