"""The reference mesh's API in-process: Kubernetes Status errors and nothing lost on refusal."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from reference_impl.smi.api import build_app
from reference_impl.smi.ca import MeshCA
from reference_impl.smi.mesh import Flags, Mesh
from reference_impl.smi.store import Store

BASE = "/apis/split.smi-spec.io/v1alpha4/namespaces/ns/trafficsplits"


def _split(name: str, weight: Any = 1) -> dict[str, Any]:
    return {
        "apiVersion": "split.smi-spec.io/v1alpha4",
        "kind": "TrafficSplit",
        "metadata": {"name": name},
        "spec": {"service": "web", "backends": [{"service": "v1", "weight": weight}]},
    }


class Api:
    """Synchronous calls into the ASGI app in-process (no server, no pods)."""

    def __init__(self, app: Starlette) -> None:
        self.app = app

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request through httpx's ASGI transport."""

        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://mesh") as client:
                return await client.request(method, path, **kwargs)

        return asyncio.run(call())

    def get(self, path: str) -> httpx.Response:
        """GET."""
        return self.request("GET", path)

    def post(self, path: str, json: Any) -> httpx.Response:
        """POST a JSON body."""
        return self.request("POST", path, json=json)

    def put(self, path: str, json: Any) -> httpx.Response:
        """PUT a JSON body."""
        return self.request("PUT", path, json=json)

    def delete(self, path: str) -> httpx.Response:
        """DELETE."""
        return self.request("DELETE", path)


@pytest.fixture
def api(tmp_path: Path) -> Api:
    """The control plane's app over a fresh state directory (no pods are started)."""
    mesh = Mesh(Store(tmp_path / "objects"), MeshCA(tmp_path / "ca"), tmp_path, Flags())
    return Api(build_app(mesh))


def _status(response: Any, code: int, reason: str) -> None:
    body = response.json()
    assert response.status_code == code
    assert (body["kind"], body["status"], body["code"], body["reason"]) == (
        "Status",
        "Failure",
        code,
        reason,
    )


def test_create_twice_answers_409_already_exists(api: Api) -> None:
    """A second create of the same name is a 409 AlreadyExists Status."""
    assert api.post(BASE, json=_split("a")).status_code == 201
    _status(api.post(BASE, json=_split("a", 5)), 409, "AlreadyExists")
    assert api.get(f"{BASE}/a").json()["spec"]["backends"][0]["weight"] == 1


def test_missing_object_answers_404(api: Api) -> None:
    """GET, PUT and DELETE of an absent object are 404 NotFound Status."""
    _status(api.get(f"{BASE}/none"), 404, "NotFound")
    _status(api.put(f"{BASE}/none", json=_split("none")), 404, "NotFound")
    _status(api.delete(f"{BASE}/none"), 404, "NotFound")


def test_unknown_resource_answers_404(api: Api) -> None:
    """An unserved version or plural is a 404 Status."""
    _status(
        api.get("/apis/split.smi-spec.io/v1alpha1/namespaces/ns/trafficsplits"), 404, "NotFound"
    )
    _status(api.get("/apis/split.smi-spec.io/v1alpha4/namespaces/ns/widgets"), 404, "NotFound")


def test_put_with_other_name_answers_400_and_keeps_object(api: Api) -> None:
    """A replacement whose name differs from the URL is refused; the stored object stays."""
    api.post(BASE, json=_split("a"))
    _status(api.put(f"{BASE}/a", json=_split("b", 7)), 400, "BadRequest")
    assert api.get(f"{BASE}/a").json()["spec"]["backends"][0]["weight"] == 1


def test_namespace_mismatch_answers_400(api: Api) -> None:
    """An object naming another namespace than its URL is refused."""
    body = _split("a")
    body["metadata"]["namespace"] = "elsewhere"
    _status(api.post(BASE, json=body), 400, "BadRequest")


def test_invalid_object_lists_causes(api: Api) -> None:
    """A schema error is a 422 Invalid Status whose causes name the fields."""
    response = api.post(BASE, json=_split("a", -1))
    _status(response, 422, "Invalid")
    fields = [c["field"] for c in response.json()["details"]["causes"]]
    assert fields == ["spec.backends[0].weight"]


def test_list_and_delete(api: Api) -> None:
    """LIST returns stored objects; DELETE removes one and returns it."""
    for name in ("a", "b"):
        api.post(BASE, json=_split(name))
    listed = api.get(BASE).json()
    assert listed["kind"] == "TrafficSplitList"
    assert [i["metadata"]["name"] for i in listed["items"]] == ["a", "b"]
    assert api.delete(f"{BASE}/a").json()["metadata"]["name"] == "a"
    assert [i["metadata"]["name"] for i in api.get(BASE).json()["items"]] == ["b"]
