"""The data plane: pods as local processes, each behind mutual-TLS sidecar proxies.

For every pod the mesh runs, on 127.0.0.1:

* an **inbound proxy** per container port: TLS with a mandatory client certificate from the
  mesh CA; the caller's SPIFFE identity comes from that certificate and TrafficTargets are
  enforced on it (HTTP: 403 per request; TCP: the stream is closed at once). Allowed HTTP
  requests reach the process with an ``x-forwarded-client-cert`` header naming the verified
  caller, as Envoy-based meshes do; a client-supplied one is dropped.
* an **egress proxy** (the client sidecar): plain HTTP from the workload; ``Host`` names the
  service (``svc``, ``svc.ns``, ``svc.ns.svc.cluster.local``, optional ``:port``, default 80).
  It applies TrafficSplits, picks an endpoint, and calls that endpoint's inbound proxy with
  the pod's own certificate. ``CONNECT svc.ns:port`` opens a TCP stream the same way.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import ssl
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h11

from reference_impl.smi import policy, procs
from reference_impl.smi.ca import MeshCA, parse_spiffe_id, peer_identity, spiffe_id
from reference_impl.smi.h11io import H11Stream, Message, PeerClosedError, end_to_end, splice
from reference_impl.smi.metrics import PodKey, Recorder
from reference_impl.smi.store import Store

log = logging.getLogger(__name__)

SPLITS = "split.smi-spec.io/trafficsplits"
TARGETS = "access.smi-spec.io/traffictargets"
SERVICES = "/services"
ROUTE_RESOURCES = {
    "HTTPRouteGroup": "specs.smi-spec.io/httproutegroups",
    "TCPRoute": "specs.smi-spec.io/tcproutes",
    "UDPRoute": "specs.smi-spec.io/udproutes",
}
XFCC = b"x-forwarded-client-cert"
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
READY_DEADLINE = 30.0


@dataclass(frozen=True)
class Flags:
    """Behaviour switches. The ``debug_*`` ones break the mesh on purpose, to show that the
    suite's negative checks can fail."""

    permissive: bool = False
    debug_ignore_weights: bool = False
    debug_allow_all: bool = False
    debug_accept_invalid: bool = False


@dataclass
class PortRuntime:
    """One container port: where the process listens and where its inbound proxy listens."""

    container_port: int
    name: str
    backend_port: int
    proxy_port: int = 0
    server: asyncio.Server | None = None

    @property
    def http(self) -> bool:
        """Ports named ``http`` or ``http-*`` carry HTTP (the Istio naming convention)."""
        return self.name == "http" or self.name.startswith("http-")


@dataclass
class PodRuntime:
    """A running pod: its process, its proxies, its identity."""

    namespace: str
    name: str
    account: str
    labels: dict[str, str]
    ports: dict[int, PortRuntime] = field(default_factory=dict)
    process: Any = None
    egress: asyncio.Server | None = None
    egress_port: int = 0
    ready: bool = False
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def key(self) -> PodKey:
        """``(namespace, name)``."""
        return (self.namespace, self.name)

    def status(self) -> dict[str, Any]:
        """The pod's ``status`` as the API shows it."""
        exited = self.process is not None and self.process.poll() is not None
        phase = "Failed" if exited else ("Running" if self.ready else "Pending")
        return {
            "phase": phase,
            "podIP": "127.0.0.1",
            "conditions": [{"type": "Ready", "status": str(self.ready and not exited)}],
            "sidecar": {
                "identity": spiffe_id(self.namespace, self.account),
                "egress": f"127.0.0.1:{self.egress_port}",
                "inbound": {str(p.container_port): p.proxy_port for p in self.ports.values()},
            },
        }


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def parse_authority(authority: str, default_ns: str) -> tuple[str, str, int] | None:
    """``(service, namespace, port)`` from ``svc[.ns[.svc.cluster.local]][:port]``."""
    host, _, port_text = authority.partition(":")
    try:
        port = int(port_text) if port_text else 80
    except ValueError:
        return None
    parts = host.lower().split(".")
    if not parts[0]:
        return None
    suffix = parts[2:]
    if suffix and suffix not in (["svc"], ["svc", "cluster", "local"]):
        return None
    namespace = parts[1] if len(parts) > 1 else default_ns
    return parts[0], namespace, port


class Mesh:
    """Pods, their sidecars and the routing decisions, all on one asyncio loop."""

    def __init__(self, store: Store, ca: MeshCA, state_dir: Path, flags: Flags) -> None:
        self.store = store
        self.ca = ca
        self.state_dir = state_dir
        self.flags = flags
        self.recorder = Recorder()
        self.pods: dict[PodKey, PodRuntime] = {}
        self.rng = random.Random()

    # -- pods ----------------------------------------------------------------------------

    async def start_pod(self, obj: dict[str, Any]) -> PodRuntime:
        """Start the sidecars and the process of a stored pod object."""
        meta, spec = obj["metadata"], obj.get("spec") or {}
        pod = PodRuntime(
            namespace=meta["namespace"],
            name=meta["name"],
            account=spec.get("serviceAccountName") or "default",
            labels=dict(meta.get("labels") or {}),
        )
        container = (spec.get("containers") or [{}])[0]
        for port in container.get("ports") or []:
            number = int(port["containerPort"])
            pod.ports[number] = PortRuntime(number, port.get("name", ""), _free_port())
        self.pods[pod.key] = pod
        await self._start_proxies(pod)
        command = [*(container.get("command") or []), *(container.get("args") or [])]
        if command:
            pod.process = procs.spawn(
                self._argv(command),
                env=self._env(pod, container),
                log_path=self.state_dir / "logs" / f"{pod.namespace}.{pod.name}.log",
            )
            self._spawn_task(pod, self._wait_ready(pod))
        else:
            pod.ready = True
        log.info("pod %s/%s started as %s", pod.namespace, pod.name, pod.account)
        return pod

    @staticmethod
    def _argv(command: list[str]) -> list[str]:
        # A pod's "python" is this interpreter: the backends need nothing beyond the stdlib.
        if command and command[0] in ("python", "python3"):
            return [sys.executable, *command[1:]]
        return command

    @staticmethod
    def _env(pod: PodRuntime, container: dict[str, Any]) -> dict[str, str]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        env.update({e["name"]: str(e.get("value", "")) for e in container.get("env") or []})
        env.update(
            {f"SMI_PORT_{p.container_port}": str(p.backend_port) for p in pod.ports.values()}
        )
        env.update({"POD_NAME": pod.name, "POD_NAMESPACE": pod.namespace, "PYTHONUNBUFFERED": "1"})
        env["SMI_BIND_ADDRESS"] = "127.0.0.1"
        return env

    def _spawn_task(self, pod: PodRuntime, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        pod.tasks.add(task)
        task.add_done_callback(pod.tasks.discard)

    async def _wait_ready(self, pod: PodRuntime) -> None:
        deadline = time.monotonic() + READY_DEADLINE
        pending = {p.backend_port for p in pod.ports.values()}
        while pending and time.monotonic() < deadline:
            if pod.process.poll() is not None:
                log.warning("pod %s/%s exited with %s", *pod.key, pod.process.returncode)
                return
            for port in list(pending):
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", port)
                except OSError:
                    continue
                writer.close()
                pending.discard(port)
            if pending:
                await asyncio.sleep(0.05)
        pod.ready = not pending
        log.info("pod %s/%s ready=%s", pod.namespace, pod.name, pod.ready)

    async def _start_proxies(self, pod: PodRuntime) -> None:
        server_ctx = self.ca.server_context(pod.namespace, pod.account)
        for port in pod.ports.values():
            handler = self._inbound_handler(pod, port)
            port.server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=server_ctx)
            port.proxy_port = port.server.sockets[0].getsockname()[1]
        pod.egress = await asyncio.start_server(self._egress_handler(pod), "127.0.0.1", 0)
        pod.egress_port = pod.egress.sockets[0].getsockname()[1]

    async def stop_pod(self, key: PodKey) -> None:
        """Stop a pod's process and sidecars."""
        pod = self.pods.pop(key, None)
        if pod is None:
            return
        servers = [p.server for p in pod.ports.values() if p.server] + [pod.egress]
        for server in servers:
            if server is not None:
                server.close()
        for task in list(pod.tasks):
            task.cancel()
        if pod.process is not None:
            await asyncio.to_thread(procs.stop, pod.process)
        log.info("pod %s/%s stopped", *key)

    async def stop_all(self) -> None:
        """Stop every pod (shutdown)."""
        await asyncio.gather(*(self.stop_pod(k) for k in list(self.pods)))

    # -- service discovery and routing -----------------------------------------------------

    def endpoints(self, namespace: str, service: str, port: int) -> list[tuple[PodRuntime, int]]:
        """Ready pods the service selects, with the container port its ``port`` maps to."""
        svc = self.store.peek((SERVICES, namespace, service))
        if svc is None:
            return []
        spec = svc.get("spec") or {}
        target = next(
            (
                int(p.get("targetPort", p["port"]))
                for p in spec.get("ports") or []
                if p["port"] == port
            ),
            None,
        )
        selector = spec.get("selector") or {}
        if target is None or not selector:
            return []
        return [
            (pod, target)
            for pod in self.pods.values()
            if pod.namespace == namespace
            and pod.ready
            and target in pod.ports
            and all(pod.labels.get(k) == v for k, v in selector.items())
        ]

    def lookup_in(self, namespace: str) -> policy.Lookup:
        """A route lookup for objects in ``namespace``."""

        def lookup(kind: str, name: str) -> dict[str, Any] | None:
            resource = ROUTE_RESOURCES.get(kind)
            return self.store.peek((resource, namespace, name)) if resource else None

        return lookup

    def _split_for(
        self, namespace: str, service: str, request: policy.HttpRequest | None
    ) -> dict[str, Any] | None:
        splits = [s for s in self.store.view(SPLITS, namespace) if s["spec"]["service"] == service]
        splits.sort(key=lambda s: (s["metadata"]["creationTimestamp"], s["metadata"]["name"]))
        lookup = self.lookup_in(namespace)
        for split in splits:
            if policy.split_applies(split, lookup, request):
                return split
        return None

    def _choose(self, split: dict[str, Any], available: Callable[[str], bool]) -> str | None:
        if self.flags.debug_ignore_weights:
            names = [b["service"] for b in split["spec"]["backends"] if available(b["service"])]
            return self.rng.choice(names) if names else None
        return policy.choose_backend(split, available, self.rng)

    def route(
        self, namespace: str, service: str, port: int, request: policy.HttpRequest | None
    ) -> tuple[PodRuntime, int] | str:
        """The endpoint a request to ``service:port`` goes to, or why there is none."""
        chosen = service
        split = self._split_for(namespace, service, request)
        if split is not None:
            picked = self._choose(split, lambda s: bool(self.endpoints(namespace, s, port)))
            if picked is None:
                return f"traffic split {split['metadata']['name']!r} has no backend to send to"
            chosen = picked
        candidates = self.endpoints(namespace, chosen, port)
        if not candidates:
            return f"service {namespace}/{chosen} has no ready endpoint for port {port}"
        return self.rng.choice(candidates)

    def allowed(self, pod: PodRuntime, port: PortRuntime, caller: policy.Caller) -> bool:
        """Whether the destination pod accepts ``caller`` on ``port``."""
        if self.flags.permissive or self.flags.debug_allow_all:
            return True
        targets = self.store.view(TARGETS, pod.namespace)
        return policy.access_allowed(targets, self.lookup_in, pod.namespace, pod.account, caller)

    # -- inbound proxy -------------------------------------------------------------------

    def _inbound_handler(self, pod: PodRuntime, port: PortRuntime) -> Handler:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            identity = peer_identity(writer.get_extra_info("ssl_object"))
            parsed = parse_spiffe_id(identity or "")
            try:
                if parsed is None:
                    log.warning("inbound %s/%s: peer without a mesh identity", *pod.key)
                elif port.http:
                    await self._serve_inbound_http(
                        pod, port, parsed, identity or "", reader, writer
                    )
                else:
                    await self._serve_inbound_tcp(pod, port, parsed, reader, writer)
            except (ConnectionError, OSError, PeerClosedError, h11.ProtocolError) as err:
                log.debug("inbound %s/%s:%d: %s", *pod.key, port.container_port, err)
            finally:
                writer.close()

        return handle

    async def _serve_inbound_tcp(
        self,
        pod: PodRuntime,
        port: PortRuntime,
        source: tuple[str, str],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        caller = policy.Caller(source[0], source[1], port.container_port)
        if not self.allowed(pod, port, caller):
            log.info("deny tcp %s/%s -> %s/%s:%d", *source, *pod.key, port.container_port)
            return
        upstream = await asyncio.open_connection("127.0.0.1", port.backend_port)
        await splice((reader, writer), upstream)

    async def _serve_inbound_http(
        self,
        pod: PodRuntime,
        port: PortRuntime,
        source: tuple[str, str],
        identity: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        down = H11Stream(reader, writer, h11.SERVER)
        up: H11Stream | None = None
        xfcc = f"By={spiffe_id(pod.namespace, pod.account)};URI={identity}".encode()
        try:
            while (msg := await down.read_message()) is not None:
                assert isinstance(msg.head, h11.Request)
                request = policy.HttpRequest(
                    msg.head.method.decode(), msg.head.target.decode(), tuple(msg.headers)
                )
                caller = policy.Caller(source[0], source[1], port.container_port, request)
                if not self.allowed(pod, port, caller):
                    log.info("deny http %s/%s -> %s/%s %s", *source, *pod.key, request.target)
                    body = b"denied by the mesh: no TrafficTarget allows this caller\n"
                    await down.send_response(403, body, [(b"content-type", b"text/plain")])
                else:
                    up = up or await self._connect_plain(port.backend_port)
                    headers = [h for h in end_to_end(msg.head.headers) if h[0].lower() != XFCC]
                    head = h11.Request(
                        method=msg.head.method,
                        target=msg.head.target,
                        headers=[*headers, (XFCC, xfcc)],
                    )
                    response = await self._exchange(up, head, msg.body)
                    await down.send(response.head, response.body)
                    if not up.reusable():
                        await up.close()
                        up = None
                if not down.reusable():
                    break
        finally:
            if up is not None:
                await up.close()

    @staticmethod
    async def _connect_plain(port: int) -> H11Stream:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return H11Stream(reader, writer, h11.CLIENT)

    @staticmethod
    async def _exchange(up: H11Stream, head: h11.Request, body: bytes) -> Message:
        await up.send(head, body)
        response = await up.read_message()
        if response is None:
            raise PeerClosedError("upstream closed before answering")
        response.head = h11.Response(
            status_code=response.head.status_code,  # type: ignore[union-attr]
            headers=end_to_end(response.head.headers),
            reason=response.head.reason,  # type: ignore[union-attr]
        )
        return response

    # -- egress proxy --------------------------------------------------------------------

    def _egress_handler(self, pod: PodRuntime) -> Handler:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            down = H11Stream(reader, writer, h11.SERVER)
            pool: dict[tuple[PodKey, int], H11Stream] = {}
            try:
                await self._serve_egress(pod, down, pool)
            except (ConnectionError, OSError, PeerClosedError, h11.ProtocolError) as err:
                log.debug("egress %s/%s: %s", *pod.key, err)
            finally:
                for up in pool.values():
                    await up.close()
                writer.close()

        return handle

    async def _serve_egress(
        self, pod: PodRuntime, down: H11Stream, pool: dict[tuple[PodKey, int], H11Stream]
    ) -> None:
        while (msg := await down.read_message()) is not None:
            assert isinstance(msg.head, h11.Request)
            if msg.head.method == b"CONNECT":
                await self._egress_connect(pod, down, msg)
                return
            await self._egress_http(pod, down, msg, pool)
            if not down.reusable():
                return

    async def _egress_http(
        self,
        pod: PodRuntime,
        down: H11Stream,
        msg: Message,
        pool: dict[tuple[PodKey, int], H11Stream],
    ) -> None:
        assert isinstance(msg.head, h11.Request)
        host = dict(msg.headers).get("host", "")
        where = parse_authority(host, pod.namespace)
        if where is None:
            await down.send_response(400, f"cannot read service from Host {host!r}\n".encode())
            return
        request = policy.HttpRequest(
            msg.head.method.decode(), msg.head.target.decode(), tuple(msg.headers)
        )
        routed = self.route(where[1], where[0], where[2], request)
        if isinstance(routed, str):
            await down.send_response(503, routed.encode() + b"\n")
            return
        dest, container_port = routed
        started = time.perf_counter()
        status: int | None = None
        try:
            response = await self._forward(pod, dest, container_port, msg, pool)
            status = response.head.status_code  # type: ignore[union-attr]
        except (ConnectionError, OSError, PeerClosedError, h11.ProtocolError, ssl.SSLError) as err:
            body = f"upstream {dest.namespace}/{dest.name} failed: {err}\n".encode()
            response = Message(h11.Response(status_code=502, headers=[]), body)
        finally:
            ms = (time.perf_counter() - started) * 1000
            self.recorder.record(pod.key, dest.key, status, ms)
        await down.send(response.head, response.body)

    async def _forward(
        self,
        pod: PodRuntime,
        dest: PodRuntime,
        container_port: int,
        msg: Message,
        pool: dict[tuple[PodKey, int], H11Stream],
    ) -> Message:
        assert isinstance(msg.head, h11.Request)
        key = (dest.key, container_port)
        head = h11.Request(
            method=msg.head.method, target=msg.head.target, headers=end_to_end(msg.head.headers)
        )
        for attempt in (1, 2):
            up = pool.pop(key, None)
            fresh = up is None
            up = up or await self._connect_mtls(pod, dest, container_port)
            try:
                response = await self._exchange(up, head, msg.body)
            except (ConnectionError, PeerClosedError, h11.ProtocolError):
                await up.close()
                if fresh or attempt == 2:
                    raise
                continue  # an idle keep-alive connection went away: dial once more
            if up.reusable():
                pool[key] = up
            else:
                await up.close()
            return response
        raise PeerClosedError("unreachable")

    async def _connect_mtls(
        self, pod: PodRuntime, dest: PodRuntime, container_port: int
    ) -> H11Stream:
        reader, writer = await self._dial(pod, dest, container_port)
        return H11Stream(reader, writer, h11.CLIENT)

    async def _dial(
        self, pod: PodRuntime, dest: PodRuntime, container_port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        ctx = self.ca.client_context(pod.namespace, pod.account)
        port = dest.ports[container_port].proxy_port
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=ctx, server_hostname="127.0.0.1"
        )
        expected = spiffe_id(dest.namespace, dest.account)
        got = peer_identity(writer.get_extra_info("ssl_object"))
        if got != expected:
            writer.close()
            raise ConnectionError(f"server identity {got!r}, expected {expected!r}")
        return reader, writer

    async def _egress_connect(self, pod: PodRuntime, down: H11Stream, msg: Message) -> None:
        assert isinstance(msg.head, h11.Request)
        where = parse_authority(msg.head.target.decode(), pod.namespace)
        if where is None:
            await down.send_response(400, b"CONNECT needs service[.namespace]:port\n")
            return
        routed = self.route(where[1], where[0], where[2], None)
        if isinstance(routed, str):
            await down.send_response(503, routed.encode() + b"\n")
            return
        dest, container_port = routed
        try:
            upstream = await self._dial(pod, dest, container_port)
        except (ConnectionError, OSError, ssl.SSLError) as err:
            await down.send_response(502, f"cannot reach {dest.name}: {err}\n".encode())
            return
        leftover = await down.accept_tunnel()
        await splice((down.reader, down.writer), upstream, first=leftover)


def new_pod_name(deployment: str) -> str:
    """A pod name for a replica of ``deployment``."""
    return f"{deployment}-{uuid.uuid4().hex[:5]}"
