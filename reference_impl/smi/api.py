"""The control plane's HTTP API, shaped like the Kubernetes API.

* SMI kinds: ``/apis/<group>/<version>/namespaces/<ns>/<plural>[/<name>]`` (GET, LIST, POST,
  PUT, DELETE), validated against :mod:`reference_impl.smi.schemas`;
* the workloads the mesh runs: core ``namespaces``, ``pods``, ``services`` and ``apps/v1``
  ``deployments`` (a pod's container ``command`` runs as a local process);
* Traffic Metrics: ``/apis/metrics.smi-spec.io/v1alpha1/...``.

Every error is a Kubernetes ``Status`` object built by :func:`status`; nothing is stored when a
request is rejected.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reference_impl.smi import metrics as metrics_mod
from reference_impl.smi import schemas
from reference_impl.smi.mesh import Mesh, new_pod_name
from reference_impl.smi.store import ConflictError

log = logging.getLogger(__name__)

VERSION = "0.1.0"
IMPLEMENTATION = "smi-reference-mesh"
METRICS_GROUP = "metrics.smi-spec.io"
METRICS_VERSION = "v1alpha1"
METRIC_KINDS = {"pods": "Pod", "deployments": "Deployment"}
REASONS = {
    400: "BadRequest",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "AlreadyExists",
    415: "UnsupportedMediaType",
    422: "Invalid",
}


def status(code: int, message: str, **details: Any) -> JSONResponse:
    """A Kubernetes ``Status`` failure response: the one error format of this API."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": REASONS.get(code, "InternalError"),
        "code": code,
    }
    if details:
        body["details"] = details
    return JSONResponse(body, status_code=code)


class ApiError(Exception):
    """A request the API refuses; carries the ``Status`` to answer with."""

    def __init__(self, code: int, message: str, **details: Any) -> None:
        super().__init__(message)
        self.response = status(code, message, **details)


def _kind_or_404(group: str, version: str, plural: str) -> schemas.Kind:
    kind = schemas.find_kind(group, version, plural)
    if kind is None:
        raise ApiError(
            404, f"the server could not find the requested resource {group}/{version}/{plural}"
        )
    return kind


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw)
    except ValueError as err:
        raise ApiError(400, f"request body is not valid JSON: {err}") from err
    if not isinstance(body, dict):
        raise ApiError(400, f"request body must be a JSON object, got {type(body).__name__}")
    return body


def _selector_matches(selector: str, labels: dict[str, str]) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        key, _, value = term.partition("=")
        if labels.get(key.strip()) != value.strip().lstrip("="):
            return False
    return True


class ControlPlane:
    """Request handlers over the store and the mesh."""

    def __init__(self, mesh: Mesh) -> None:
        self.mesh = mesh
        self.store = mesh.store

    # -- discovery -----------------------------------------------------------------------

    async def version(self, request: Request) -> Response:
        return JSONResponse(
            {"gitVersion": f"v{VERSION}", "implementation": IMPLEMENTATION, "mode": self._mode()}
        )

    def _mode(self) -> str:
        return "permissive" if self.mesh.flags.permissive else "enforcing"

    async def api_groups(self, request: Request) -> Response:
        groups: dict[str, list[str]] = {}
        for kind in schemas.KINDS + schemas.WORKLOAD_KINDS:
            if kind.group:
                groups.setdefault(kind.group, []).append(kind.version)
        groups[METRICS_GROUP] = [METRICS_VERSION]
        items = [
            {
                "name": g,
                "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in dict.fromkeys(vs)],
                "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]},
            }
            for g, vs in groups.items()
        ]
        return JSONResponse({"kind": "APIGroupList", "apiVersion": "v1", "groups": items})

    async def resources(self, request: Request) -> Response:
        group = request.path_params.get("group", "")
        version = request.path_params["version"]
        if (group, version) == (METRICS_GROUP, METRICS_VERSION):
            return JSONResponse(self._metrics_resources())
        kinds = [
            k
            for k in schemas.KINDS + schemas.WORKLOAD_KINDS
            if (k.group, k.version) == (group, version)
        ]
        if not kinds:
            raise ApiError(404, f"the server could not find the group version {group}/{version}")
        verbs = ["create", "delete", "get", "list", "update"]
        items = [
            {"name": k.plural, "namespaced": k.namespaced, "kind": k.kind, "verbs": verbs}
            for k in kinds
        ]
        return JSONResponse(
            {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": kinds[0].api_version,
                "resources": items,
            }
        )

    @staticmethod
    def _metrics_resources() -> dict[str, Any]:
        def res(name: str, namespaced: bool) -> dict[str, Any]:
            return {
                "name": name,
                "namespaced": namespaced,
                "kind": "TrafficMetrics",
                "verbs": ["get", "list"],
            }

        items = [res("namespaces", False), res("namespaces/edges", False)]
        for plural in METRIC_KINDS:
            items += [res(plural, True), res(f"{plural}/edges", True)]
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{METRICS_GROUP}/{METRICS_VERSION}",
            "resources": items,
        }

    # -- objects -------------------------------------------------------------------------

    def _with_status(self, kind: schemas.Kind, obj: dict[str, Any]) -> dict[str, Any]:
        if kind.kind == "Pod":
            pod = self.mesh.pods.get((obj["metadata"]["namespace"], obj["metadata"]["name"]))
            obj["status"] = pod.status() if pod else {"phase": "Unknown"}
        return obj

    async def collection(self, request: Request) -> Response:
        params = request.path_params
        kind = _kind_or_404(params.get("group", ""), params["version"], params["plural"])
        namespace = params.get("namespace", "")
        if request.method == "POST":
            return await self._create(kind, namespace, await _json_body(request))
        selector = request.query_params.get("labelSelector", "")
        items = [
            self._with_status(kind, o)
            for o in self.store.list_objects(kind.resource, namespace if kind.namespaced else None)
            if _selector_matches(selector, o["metadata"].get("labels") or {})
        ]
        return JSONResponse(
            {
                "kind": f"{kind.kind}List",
                "apiVersion": kind.api_version,
                "metadata": {"resourceVersion": str(self.store.version)},
                "items": items,
            }
        )

    async def item(self, request: Request) -> Response:
        params = request.path_params
        kind = _kind_or_404(params.get("group", ""), params["version"], params["plural"])
        namespace = params.get("namespace", "")
        name = params["name"]
        key = (kind.resource, namespace, name)
        if request.method == "PUT":
            return await self._replace(kind, key, await _json_body(request))
        if request.method == "DELETE":
            return await self._delete(kind, key)
        obj = self.store.get(key)
        if obj is None:
            raise ApiError(
                404, f'{kind.plural}.{kind.group} "{name}" not found', name=name, kind=kind.plural
            )
        return JSONResponse(self._with_status(kind, obj))

    def _validate(self, kind: schemas.Kind, body: dict[str, Any], name: str) -> None:
        if self.mesh.flags.debug_accept_invalid:
            return
        causes = schemas.validate(kind, body)
        if causes:
            raise ApiError(
                422,
                f'{kind.kind} "{name}" is invalid: '
                + "; ".join(f"{c.field}: {c.message}" for c in causes),
                name=name,
                group=kind.group,
                kind=kind.kind,
                causes=[
                    {"reason": c.reason, "message": c.message, "field": c.field} for c in causes
                ],
            )

    @staticmethod
    def _check_namespace(kind: schemas.Kind, body: dict[str, Any], namespace: str) -> None:
        meta = body.get("metadata")
        if not isinstance(meta, dict):
            return
        given = meta.get("namespace")
        if kind.namespaced and given not in (None, namespace):
            raise ApiError(
                400,
                f"the namespace of the object ({given}) does not match the request ({namespace})",
            )
        if kind.namespaced:
            meta["namespace"] = namespace

    async def _create(self, kind: schemas.Kind, namespace: str, body: dict[str, Any]) -> Response:
        self._check_namespace(kind, body, namespace)
        name = str((body.get("metadata") or {}).get("name", ""))
        self._validate(kind, body, name)
        key = (kind.resource, namespace if kind.namespaced else "", name)
        try:
            stored = self.store.create(key, body)
        except ConflictError:
            raise ApiError(
                409, f'{kind.plural} "{name}" already exists', name=name, kind=kind.plural
            ) from None
        if kind.kind == "Pod":
            await self.mesh.start_pod(stored)
        elif kind.kind == "Deployment":
            await self._scale(stored)
        log.info("created %s %s/%s", kind.kind, namespace, name)
        return JSONResponse(self._with_status(kind, stored), status_code=201)

    async def _scale(self, deployment: dict[str, Any]) -> None:
        meta, spec = deployment["metadata"], deployment["spec"]
        template = spec["template"]
        for _ in range(int(spec.get("replicas", 1))):
            pod = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": new_pod_name(meta["name"]),
                    "namespace": meta["namespace"],
                    "labels": dict((template.get("metadata") or {}).get("labels") or {}),
                    "ownerReferences": [{"kind": "Deployment", "name": meta["name"]}],
                },
                "spec": template["spec"],
            }
            key = ("/pods", meta["namespace"], pod["metadata"]["name"])
            await self.mesh.start_pod(self.store.create(key, pod))

    async def _replace(
        self, kind: schemas.Kind, key: tuple[str, str, str], body: dict[str, Any]
    ) -> Response:
        if kind.kind in ("Pod", "Deployment", "Namespace"):
            raise ApiError(
                405, f"the reference mesh does not update {kind.plural}; delete and create"
            )
        self._check_namespace(kind, body, key[1])
        given = (body.get("metadata") or {}).get("name")
        if given != key[2]:
            raise ApiError(
                400, f"the name of the object ({given}) does not match the URL ({key[2]})"
            )
        self._validate(kind, body, key[2])
        try:
            stored = self.store.replace(key, body)
        except ConflictError:
            raise ApiError(
                404, f'{kind.plural} "{key[2]}" not found', name=key[2], kind=kind.plural
            ) from None
        return JSONResponse(stored)

    async def _delete(self, kind: schemas.Kind, key: tuple[str, str, str]) -> Response:
        obj = self.store.get(key)
        if obj is None:
            raise ApiError(
                404, f'{kind.plural} "{key[2]}" not found', name=key[2], kind=kind.plural
            )
        if kind.kind == "Namespace":
            await self._delete_namespace(key[2])
        elif kind.kind == "Pod":
            await self.mesh.stop_pod((key[1], key[2]))
        elif kind.kind == "Deployment":
            for pod in self._owned_pods(key[1], key[2]):
                await self.mesh.stop_pod((key[1], pod))
                self.store.delete(("/pods", key[1], pod))
        self.store.delete(key)
        log.info("deleted %s %s/%s", kind.kind, key[1], key[2])
        return JSONResponse(obj)

    def _owned_pods(self, namespace: str, deployment: str) -> list[str]:
        return [
            p["metadata"]["name"]
            for p in self.store.list_objects("/pods", namespace)
            if any(
                o.get("kind") == "Deployment" and o.get("name") == deployment
                for o in p["metadata"].get("ownerReferences") or []
            )
        ]

    async def _delete_namespace(self, namespace: str) -> None:
        for pod in [k for k in self.mesh.pods if k[0] == namespace]:
            await self.mesh.stop_pod(pod)
        for kind in schemas.KINDS + schemas.WORKLOAD_KINDS:
            if kind.namespaced:
                for obj in self.store.list_objects(kind.resource, namespace):
                    self.store.delete((kind.resource, namespace, obj["metadata"]["name"]))

    async def restore(self) -> None:
        """Start the pods the store holds (after a restart)."""
        for pod in self.store.list_objects("/pods"):
            await self.mesh.start_pod(pod)

    # -- metrics -------------------------------------------------------------------------

    def _pod_resource(self, key: metrics_mod.PodKey) -> metrics_mod.Resource:
        return metrics_mod.Resource("Pod", "pods", key[0], key[1], frozenset({key}))

    def _resource(self, plural: str, namespace: str, name: str) -> metrics_mod.Resource:
        if plural == "pods":
            if self.store.get(("/pods", namespace, name)) is None:
                raise ApiError(
                    404, f'pods "{name}" not found in {namespace}', name=name, kind="pods"
                )
            return self._pod_resource((namespace, name))
        if plural == "deployments":
            if self.store.get(("apps/deployments", namespace, name)) is None:
                raise ApiError(
                    404, f'deployments "{name}" not found', name=name, kind="deployments"
                )
            pods = frozenset((namespace, p) for p in self._owned_pods(namespace, name))
            return metrics_mod.Resource("Deployment", "deployments", namespace, name, pods)
        raise ApiError(404, f"traffic metrics are not served for {plural!r}")

    def _namespace_resource(self, name: str) -> metrics_mod.Resource:
        if (
            name not in self.store.namespaces()
            and self.store.get(("/namespaces", "", name)) is None
        ):
            raise ApiError(404, f'namespaces "{name}" not found', name=name, kind="namespaces")
        pods = frozenset(
            (name, p["metadata"]["name"]) for p in self.store.list_objects("/pods", name)
        )
        return metrics_mod.Resource("Namespace", "namespaces", "", name, pods)

    def _peer(self, plural: str) -> Callable[[metrics_mod.PodKey], metrics_mod.Resource]:
        def peer(key: metrics_mod.PodKey) -> metrics_mod.Resource:
            if plural == "namespaces":
                return metrics_mod.Resource("Namespace", "namespaces", "", key[0], frozenset())
            if plural == "deployments":
                pod = self.store.get(("/pods", key[0], key[1])) or {"metadata": {}}
                owners = pod["metadata"].get("ownerReferences") or []
                if owners:
                    return metrics_mod.Resource(
                        "Deployment", "deployments", key[0], owners[0]["name"], frozenset()
                    )
            return self._pod_resource(key)

        return peer

    async def metrics(self, request: Request) -> Response:
        parts = [p for p in request.path_params["rest"].split("/") if p]
        window = metrics_mod.DEFAULT_WINDOW
        samples = self.mesh.recorder.window(window)
        if parts == ["namespaces"]:
            items = [
                metrics_mod.resource_metrics(self._namespace_resource(ns), samples, window)
                for ns in sorted(self.store.namespaces() - {""})
            ]
            return JSONResponse(metrics_mod.metrics_list("Namespace", self._link(parts), items))
        if len(parts) in (2, 3) and parts[0] == "namespaces" and parts[2:] in ([], ["edges"]):
            resource = self._namespace_resource(parts[1])
            return self._one(resource, samples, window, "namespaces", edges=len(parts) == 3)
        if len(parts) == 3 and parts[0] == "namespaces":
            return self._list(parts, samples, window, request.query_params.get("labelSelector", ""))
        if len(parts) in (4, 5) and parts[0] == "namespaces" and parts[4:] in ([], ["edges"]):
            resource = self._resource(parts[2], parts[1], parts[3])
            return self._one(resource, samples, window, parts[2], edges=len(parts) == 5)
        raise ApiError(404, f"no traffic metrics at {request.url.path}")

    @staticmethod
    def _link(parts: list[str]) -> str:
        return f"/apis/{METRICS_GROUP}/{METRICS_VERSION}/" + "/".join(parts)

    def _one(
        self,
        resource: metrics_mod.Resource,
        samples: list[metrics_mod.Sample],
        window: float,
        plural: str,
        *,
        edges: bool,
    ) -> Response:
        if edges:
            return JSONResponse(
                metrics_mod.edge_metrics(resource, samples, window, self._peer(plural))
            )
        return JSONResponse(metrics_mod.resource_metrics(resource, samples, window))

    def _list(
        self, parts: list[str], samples: list[metrics_mod.Sample], window: float, selector: str
    ) -> Response:
        namespace, plural = parts[1], parts[2]
        if plural not in METRIC_KINDS:
            raise ApiError(404, f"traffic metrics are not served for {plural!r}")
        source = "/pods" if plural == "pods" else "apps/deployments"
        items = [
            metrics_mod.resource_metrics(
                self._resource(plural, namespace, o["metadata"]["name"]), samples, window
            )
            for o in self.store.list_objects(source, namespace)
            if _selector_matches(selector, o["metadata"].get("labels") or {})
        ]
        return JSONResponse(
            metrics_mod.metrics_list(METRIC_KINDS[plural], self._link(parts), items)
        )


def _errors(
    handler: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiError as err:
            return err.response

    return wrapped


def build_app(mesh: Mesh) -> Starlette:
    """The Starlette application of the control plane."""
    cp = ControlPlane(mesh)
    rw = ["GET", "PUT", "DELETE"]
    routes = [
        Route("/version", _errors(cp.version)),
        Route("/healthz", lambda r: Response("ok")),
        Route("/apis", _errors(cp.api_groups)),
        Route("/api/{version}", _errors(cp.resources)),
        Route(f"/apis/{METRICS_GROUP}/{METRICS_VERSION}/{{rest:path}}", _errors(cp.metrics)),
        Route("/apis/{group}/{version}", _errors(cp.resources)),
        Route("/api/{version}/{plural}", _errors(cp.collection), methods=["GET", "POST"]),
        Route("/api/{version}/{plural}/{name}", _errors(cp.item), methods=rw),
        Route(
            "/api/{version}/namespaces/{namespace}/{plural}",
            _errors(cp.collection),
            methods=["GET", "POST"],
        ),
        Route(
            "/api/{version}/namespaces/{namespace}/{plural}/{name}", _errors(cp.item), methods=rw
        ),
        Route(
            "/apis/{group}/{version}/namespaces/{namespace}/{plural}",
            _errors(cp.collection),
            methods=["GET", "POST"],
        ),
        Route(
            "/apis/{group}/{version}/namespaces/{namespace}/{plural}/{name}",
            _errors(cp.item),
            methods=rw,
        ),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        return status(404, f"the server could not find the requested resource {request.url.path}")

    async def not_allowed(request: Request, exc: Exception) -> Response:
        return status(405, f"{request.method} is not supported on {request.url.path}")

    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_allowed})
    app.state.control_plane = cp
    return app
