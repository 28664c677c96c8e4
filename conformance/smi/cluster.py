"""The Kubernetes adapter: a mesh installed in a cluster, reached through a kubeconfig.

SMI objects are custom resources; backends are Deployments and the traffic client is a Pod,
both running the suite's test application (:mod:`conformance.smi.app`, mounted from a
ConfigMap) in a configurable Python image. Traffic is sent by exec'ing the client inside its
pod, so it leaves through the mesh's sidecar with the pod's service-account identity.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from conformance.core import EnvironmentProblem, HarnessError, current_evidence
from conformance.smi.target import (
    APP_PATH,
    PLURALS,
    SMI_VERSIONS,
    HttpCall,
    HttpResult,
    Mesh,
    MeshApiError,
    ServicePort,
    TargetUnreachableError,
    TcpResult,
    Workload,
)

log = logging.getLogger(__name__)

APP_CONFIGMAP = "smi-conformance-app"
APP_MOUNT = "/smi"
READY_TIMEOUT = 180.0
CONNECT_TIMEOUT = 10.0


def _api_error(err: Any) -> MeshApiError:
    try:
        body = json.loads(err.body or "null")
    except (TypeError, ValueError):
        body = err.body
    return MeshApiError(int(err.status or 0), body)


def compress(calls: list[HttpCall]) -> list[dict[str, Any]]:
    """Run-length encode identical consecutive calls, to keep the exec command line short."""
    out: list[dict[str, Any]] = []
    for call in calls:
        data = call.to_dict()
        if out and {k: v for k, v in out[-1].items() if k != "repeat"} == data:
            out[-1]["repeat"] += 1
        else:
            out.append({**data, "repeat": 1})
    return out


class KubernetesMesh(Mesh):
    """A mesh in a Kubernetes cluster."""

    kind = "kubernetes"

    def __init__(
        self,
        api_client: Any,
        *,
        server_version: str,
        backend_image: str,
        client_image: str,
        namespace_labels: list[str],
        mode: str | None,
    ) -> None:
        from kubernetes import client

        self.client = api_client
        self.core = client.CoreV1Api(api_client)
        self.apps = client.AppsV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)
        self.backend_image = backend_image
        self.client_image = client_image
        self.namespace_labels = dict(label.split("=", 1) for label in namespace_labels)
        self.address = api_client.configuration.host
        self.name = "kubernetes-mesh"
        self.version = server_version
        self.mode = mode or "enforcing"
        self.served = self._served_versions(api_client)

    @classmethod
    def connect(
        cls,
        kubeconfig: str,
        *,
        context: str | None = None,
        backend_image: str,
        client_image: str,
        namespace_labels: list[str],
        mode: str | None = None,
    ) -> KubernetesMesh:
        """Load the kubeconfig and check the API server answers.

        Raises:
            TargetUnreachableError: ``config=True`` when the kubeconfig is missing or unusable,
                ``config=False`` when the cluster does not answer.
        """
        from kubernetes import client, config
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        path = Path(kubeconfig).expanduser()
        if not path.is_file():
            raise TargetUnreachableError(f"kubeconfig {path} does not exist", config=True)
        try:
            api_client = config.new_client_from_config(config_file=str(path), context=context)
        except (config.ConfigException, ValueError, OSError) as err:
            raise TargetUnreachableError(
                f"kubeconfig {path} is unusable: {err}", config=True
            ) from err
        api_client.configuration.retries = 0
        try:
            info = client.VersionApi(api_client).get_code(_request_timeout=CONNECT_TIMEOUT)
        except (ApiException, HTTPError, OSError) as err:
            host = api_client.configuration.host
            api_client.close()
            raise TargetUnreachableError(f"cluster at {host} is unreachable: {err}") from err
        return cls(
            api_client,
            server_version=str(info.git_version),
            backend_image=backend_image,
            client_image=client_image,
            namespace_labels=namespace_labels,
            mode=mode,
        )

    @staticmethod
    def _served_versions(api_client: Any) -> dict[str, list[str]]:
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException

        served: dict[str, list[str]] = {}
        try:
            crds = client.ApiextensionsV1Api(api_client).list_custom_resource_definition()
        except ApiException as err:
            log.warning("cannot list CRDs: %s", err.reason)
            return served
        for crd in crds.items:
            if crd.spec.group.endswith("smi-spec.io"):
                served[crd.metadata.name] = [v.name for v in crd.spec.versions if v.served]
        return served

    def details(self) -> dict[str, Any]:
        return {
            **super().details(),
            "served_crd_versions": self.served,
            "namespace_labels": self.namespace_labels,
            "identity": "as the mesh enforces it; the suite does not see certificates",
        }

    def _require_served(self, kind: str) -> None:
        group, version = SMI_VERSIONS[kind].split("/")
        crd = f"{PLURALS[kind]}.{group}"
        if self.served and version not in self.served.get(crd, []):
            raise EnvironmentProblem(
                f"the cluster does not serve {crd} {version} (served: {self.served.get(crd)}); "
                "install the CRDs the mesh expects"
            )

    # -- objects -------------------------------------------------------------------------

    def _record(self, verb: str, what: str, body: Any, status: int, answer: Any) -> None:
        current_evidence().http(
            verb,
            f"{self.address} {what}",
            request_body=json.dumps(body) if body is not None else None,
            status=status,
            response_body=json.dumps(answer, default=str),
        )

    def _custom(
        self, verb: str, kind: str, namespace: str, name: str = "", body: Any = None
    ) -> Any:
        from kubernetes.client.exceptions import ApiException

        self._require_served(kind)
        group, version = SMI_VERSIONS[kind].split("/")
        args: list[Any] = [group, version, namespace, PLURALS[kind]]
        method = {
            "POST": self.custom.create_namespaced_custom_object,
            "PUT": self.custom.replace_namespaced_custom_object,
            "GET": self.custom.get_namespaced_custom_object,
            "DELETE": self.custom.delete_namespaced_custom_object,
        }[verb]
        if name:
            args.append(name)
        if body is not None:
            args.append(body)
        what = f"{kind} {namespace}/{name or (body or {}).get('metadata', {}).get('name', '')}"
        try:
            answer = method(*args)
        except ApiException as err:
            error = _api_error(err)
            self._record(verb, what, body, error.status, error.body)
            raise error from err
        self._record(verb, what, body, 200, answer)
        return answer

    def create_namespace(self, namespace: str) -> None:
        from kubernetes import client

        meta = client.V1ObjectMeta(name=namespace, labels=self.namespace_labels)
        self.core.create_namespace(client.V1Namespace(metadata=meta))
        self._create_app_configmap(namespace)

    def _create_app_configmap(self, namespace: str) -> None:
        from kubernetes import client

        data = {"app.py": APP_PATH.read_text()}
        body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name=APP_CONFIGMAP), data=data)
        self.core.create_namespaced_config_map(namespace, body)

    def delete_namespace(self, namespace: str) -> None:
        from kubernetes.client.exceptions import ApiException

        try:
            self.core.delete_namespace(namespace, propagation_policy="Background")
        except ApiException as err:
            if err.status != 404:
                raise HarnessError(f"cannot delete namespace {namespace}: {err.reason}") from err

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        return dict(self._custom("POST", obj["kind"], meta["namespace"], body=obj))

    def replace(self, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        current = self.get(obj["kind"], meta["namespace"], meta["name"])
        body = json.loads(json.dumps(obj))
        body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        return dict(self._custom("PUT", obj["kind"], meta["namespace"], meta["name"], body))

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        return dict(self._custom("GET", kind, namespace, name))

    def delete(self, kind: str, namespace: str, name: str) -> None:
        self._custom("DELETE", kind, namespace, name)

    def post_raw(self, kind: str, namespace: str, body: bytes) -> tuple[int, Any]:
        self._require_served(kind)
        path = f"/apis/{SMI_VERSIONS[kind]}/namespaces/{namespace}/{PLURALS[kind]}"
        # YAML is a superset of JSON; the client sends a str body with a YAML type unchanged.
        headers = {"Content-Type": "application/yaml", "Accept": "application/json"}
        text = body.decode(errors="replace")
        status, answer = self._raw("POST", path, headers=headers, body=text)
        self._record("POST", path, text, status, answer)
        return status, answer

    def _raw(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str],
        body: str | None = None,
        query: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """A request outside the generated API: status and decoded JSON answer."""
        from kubernetes.client.exceptions import ApiException

        verb, url, header_params, payload, _ = self.client.param_serialize(
            method=method,
            resource_path=path,
            query_params=list((query or {}).items()) or None,
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        try:
            response = self.client.call_api(
                verb, url, header_params=header_params, body=payload, _request_timeout=60
            )
            response.read()
        except ApiException as err:
            error = _api_error(err)
            return error.status, error.body
        try:
            return int(response.status), json.loads(response.data or b"null")
        except ValueError:
            return int(response.status), response.data.decode(errors="replace")

    # -- workloads -----------------------------------------------------------------------

    def _service_account(self, namespace: str, name: str) -> None:
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException

        body = client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=name))
        try:
            self.core.create_namespaced_service_account(namespace, body)
        except ApiException as err:
            if err.status != 409:
                raise HarnessError(f"cannot create service account {name}: {err.reason}") from err

    def _pod_spec(self, account: str, image: str, command: list[str], ports: list[Any]) -> Any:
        from kubernetes import client

        mount = client.V1VolumeMount(name="app", mount_path=APP_MOUNT, read_only=True)
        volume = client.V1Volume(
            name="app", config_map=client.V1ConfigMapVolumeSource(name=APP_CONFIGMAP)
        )
        env = [
            client.V1EnvVar(
                name="POD_NAME",
                value_from=client.V1EnvVarSource(
                    field_ref=client.V1ObjectFieldSelector(field_path="metadata.name")
                ),
            ),
            client.V1EnvVar(
                name="POD_NAMESPACE",
                value_from=client.V1EnvVarSource(
                    field_ref=client.V1ObjectFieldSelector(field_path="metadata.namespace")
                ),
            ),
        ]
        container = client.V1Container(
            name="app", image=image, command=command, ports=ports, volume_mounts=[mount], env=env
        )
        return client.V1PodSpec(
            service_account_name=account, containers=[container], volumes=[volume]
        )

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
        from kubernetes import client

        self._service_account(namespace, service_account)
        command = ["python", f"{APP_MOUNT}/app.py", "serve", "--name", name, "--version", version]
        ports = []
        for port in http_ports:
            command += ["--http", str(port)]
            ports.append(client.V1ContainerPort(container_port=port, name=f"http-{port}"))
        for port in tcp_ports:
            command += ["--tcp", str(port)]
            ports.append(client.V1ContainerPort(container_port=port, name=f"tcp-{port}"))
        template = client.V1PodTemplateSpec(
            metadata=client.V1ObjectMeta(labels=labels),
            spec=self._pod_spec(service_account, self.backend_image, command, ports),
        )
        spec = client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels=labels),
            template=template,
        )
        body = client.V1Deployment(
            metadata=client.V1ObjectMeta(name=name, labels=labels), spec=spec
        )
        self.apps.create_namespaced_deployment(namespace, body)
        selector = ",".join(f"{k}={v}" for k, v in labels.items())
        return Workload(
            namespace, name, service_account, self._wait_pods(namespace, selector, replicas)
        )

    def _wait_pods(self, namespace: str, selector: str, count: int) -> tuple[str, ...]:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            pods = self.core.list_namespaced_pod(namespace, label_selector=selector).items
            ready = [
                p.metadata.name
                for p in pods
                if p.metadata.deletion_timestamp is None
                and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])
            ]
            if len(ready) >= count:
                return tuple(sorted(ready))
            if time.monotonic() > deadline:
                raise HarnessError(f"pods {selector} in {namespace} not ready in {READY_TIMEOUT} s")
            time.sleep(1.0)

    def create_service(
        self, namespace: str, name: str, selector: dict[str, str], ports: tuple[ServicePort, ...]
    ) -> None:
        from kubernetes import client

        spec = client.V1ServiceSpec(
            selector=selector,
            ports=[
                client.V1ServicePort(
                    name=p.name,
                    port=p.port,
                    target_port=p.target_port,
                    app_protocol="http" if p.name.startswith("http") else "tcp",
                )
                for p in ports
            ],
        )
        body = client.V1Service(metadata=client.V1ObjectMeta(name=name), spec=spec)
        self.core.create_namespaced_service(namespace, body)

    def deploy_client(self, namespace: str, name: str, service_account: str) -> Workload:
        from kubernetes import client

        self._service_account(namespace, service_account)
        command = ["python", "-c", "import time; time.sleep(10**9)"]
        spec = self._pod_spec(service_account, self.client_image, command, [])
        body = client.V1Pod(
            metadata=client.V1ObjectMeta(name=name, labels={"app": name}), spec=spec
        )
        self.core.create_namespaced_pod(namespace, body)
        self._wait_pods(namespace, f"app={name}", 1)
        return Workload(namespace, name, service_account, (name,), kind="Pod")

    # -- traffic -------------------------------------------------------------------------

    def _exec(self, client_pod: Workload, argv: list[str]) -> str:
        from kubernetes.stream import stream

        command = ["python", f"{APP_MOUNT}/app.py", *argv]
        output = stream(
            self.core.connect_get_namespaced_pod_exec,
            client_pod.name,
            client_pod.namespace,
            container="app",
            command=command,
            stderr=True,
            stdout=True,
            stdin=False,
            tty=False,
        )
        return str(output)

    def _send_http(
        self, client: Workload, host: str, port: int, calls: list[HttpCall]
    ) -> list[HttpResult]:
        argv = [
            "http",
            "--host",
            host,
            "--port",
            str(port),
            "--requests",
            json.dumps(compress(calls)),
        ]
        output = self._exec(client, argv)
        try:
            rows = json.loads(output.strip().splitlines()[-1])
        except (ValueError, IndexError) as err:
            raise HarnessError(f"the traffic client printed no results: {output[-2000:]}") from err
        return [HttpResult(r["status"], r["body"], r["ms"], r.get("error", "")) for r in rows]

    def _send_tcp(self, client: Workload, host: str, port: int, payload: str) -> TcpResult:
        output = self._exec(
            client, ["tcp", "--host", host, "--port", str(port), "--payload", payload]
        )
        try:
            row = json.loads(output.strip().splitlines()[-1])
        except (ValueError, IndexError) as err:
            raise HarnessError(f"the traffic client printed no result: {output[-2000:]}") from err
        return TcpResult(bool(row["connected"]), str(row["reply"]), str(row.get("error", "")))

    def get_metrics(self, path: str, params: dict[str, str] | None = None) -> tuple[int, Any]:
        full = "/apis/metrics.smi-spec.io/v1alpha1" + path
        headers = {"Accept": "application/json"}
        status, body = self._raw("GET", full, headers=headers, query=params)
        self._record("GET", full, params, status, body)
        return status, body

    def close(self) -> None:
        self.client.close()
