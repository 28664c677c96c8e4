"""Fixtures of the CRI suite: the registry with the test images, the target, a tracker.

One registry and one target per pytest-xdist worker: pods are named uniquely per test, and
each worker's default containerd has its own bridge, subnet and directories.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from conformance.core import ConfigurationError, HarnessError, skip_host
from conformance.core.host import is_root
from conformance.cri import registry as registry_mod
from conformance.cri import target as target_mod
from conformance.cri.client import CriClient
from conformance.cri.helpers import Context, Tracker, rpc_code
from wire.proto.cri import api_pb2 as pb

log = logging.getLogger(__name__)

POD_NAMESPACE = "cri-conformance"
"""Metadata namespace of every pod the suite creates; the session sweep touches only these."""


@pytest.fixture(scope="session")
def cri_registry(conformance: Any) -> Iterator[tuple[registry_mod.Registry, dict[str, Any]]]:
    """The registry the target pulls test images from, with the base images pushed."""
    if not is_root():
        skip_host("the CRI suite needs root (pods, mounts, network namespaces)")
    given = conformance.option("--cri-registry")
    local = None
    if given:
        host = given
    else:
        local = registry_mod.LocalRegistry()
        host = local.start()
    try:
        registry = registry_mod.Registry(host)
        images = registry_mod.push_base_images(registry)
        yield registry, images
    finally:
        if local is not None:
            local.stop()


def _our_pods(client: CriClient) -> list[pb.PodSandbox]:
    code, resp = rpc_code(lambda: client.runtime.ListPodSandbox(pb.ListPodSandboxRequest()))
    if code != grpc.StatusCode.OK:
        raise HarnessError(f"session sweep: ListPodSandbox failed with {code.name}")
    return [p for p in resp.items if p.metadata.namespace == POD_NAMESPACE]


def _sweep(client: CriClient) -> list[str]:
    """Stop and remove the suite's pods still present; returns those that would not go."""
    pods = _our_pods(client)
    if pods:
        log.warning("session sweep: removing %d pods the tests left", len(pods))
    for pod in pods:
        req_stop = pb.StopPodSandboxRequest(pod_sandbox_id=pod.id)
        rpc_code(lambda r=req_stop: client.runtime.StopPodSandbox(r, timeout=60))
        req_rm = pb.RemovePodSandboxRequest(pod_sandbox_id=pod.id)
        rpc_code(lambda r=req_rm: client.runtime.RemovePodSandbox(r, timeout=60))
    return [f"pod {p.metadata.name} ({p.id})" for p in _our_pods(client)]


@pytest.fixture(scope="session")
def cri_target(conformance: Any, cri_registry: Any) -> Iterator[target_mod.Target]:
    """The endpoint under test: the one given, else the default target started here."""
    registry, _ = cri_registry
    endpoint = conformance.option("--cri-endpoint")
    if endpoint:
        target = target_mod.given_target(endpoint, conformance.option("--cri-image-endpoint"))
    else:
        start = conformance.option("--cri-start")
        if start not in target_mod.STARTERS:
            raise ConfigurationError(
                f"--cri-start: expected one of {sorted(target_mod.STARTERS)}, got {start!r}"
            )
        target = target_mod.STARTERS[start](registry.host)
    try:
        yield target
    finally:
        leftovers = _finish(target, conformance.option("--cri-timeout"))
        if leftovers:
            raise HarnessError(f"the CRI suite left behind: {', '.join(leftovers)}")


def _finish(target: target_mod.Target, timeout: float) -> list[str]:
    client = CriClient(target.endpoint, target.image_endpoint, timeout=timeout)
    try:
        swept = _sweep(client)
    finally:
        client.close()
    target.stop()
    leftovers = swept
    if target.process is not None:
        leftovers += target.process.leftovers()
    return leftovers


@pytest.fixture(scope="session")
def cri_context(conformance: Any, cri_target: Any, cri_registry: Any) -> Iterator[Context]:
    """Client, images and registry, after the target answered Version (recorded)."""
    registry, images = cri_registry
    client = CriClient(
        cri_target.endpoint, cri_target.image_endpoint, timeout=conformance.option("--cri-timeout")
    )
    try:
        version = client.wait_ready()
        conformance.record_target(
            "cri",
            kind=cri_target.kind,
            address=cri_target.endpoint,
            name=version.runtime_name,
            version=version.runtime_version,
            runtime_api_version=version.runtime_api_version,
            image_endpoint=cri_target.image_endpoint,
            registry=registry.host,
            started=cri_target.description,
            **cri_target.details,
        )
        yield Context(client, images, registry, conformance.option("--cri-runtime-handler"))
    finally:
        client.close()


@pytest.fixture
def cri(cri_context: Context) -> Iterator[Tracker]:
    """A tracker for this test: pods, containers and images it makes are removed after it."""
    tracker = Tracker(cri_context)
    try:
        yield tracker
    finally:
        tracker.cleanup()
