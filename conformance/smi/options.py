"""Target options of the smi suite (import-light: read by the plugin at start-up)."""

from conformance.core.options import Option

OPTIONS = [
    Option(
        "--kubeconfig",
        "kubeconfig of a cluster running the mesh under test (default: the bundled reference)",
        env=("CONFORMANCE_SMI_KUBECONFIG",),
    ),
    Option(
        "--smi-context",
        "kubeconfig context to use (default: the current context)",
        env=("CONFORMANCE_SMI_CONTEXT",),
    ),
    Option(
        "--smi-namespace",
        "prefix of the namespaces the suite creates (one per test)",
        env=("CONFORMANCE_SMI_NAMESPACE",),
        default="smi-conformance",
    ),
    Option(
        "--smi-namespace-label",
        "label KEY=VALUE put on every test namespace, e.g. the mesh's injection label "
        "linkerd.io/inject=enabled (repeatable)",
        env=("CONFORMANCE_SMI_NAMESPACE_LABELS",),
        kind="list",
    ),
    Option(
        "--smi-backend-image",
        "image with python3 that runs the test backends in a cluster",
        env=("CONFORMANCE_SMI_BACKEND_IMAGE",),
        default="python:3.12-alpine",
    ),
    Option(
        "--smi-client-image",
        "image with python3 that runs the traffic client pod in a cluster",
        env=("CONFORMANCE_SMI_CLIENT_IMAGE",),
        default="python:3.12-alpine",
    ),
    Option(
        "--smi-mode",
        "access-control mode the mesh runs in: enforcing (deny without a TrafficTarget) or "
        "permissive (access tests are skipped); default: as the mesh reports, else enforcing",
        env=("CONFORMANCE_SMI_MODE",),
    ),
    Option(
        "--smi-reference-args",
        "extra arguments for the bundled reference mesh (e.g. --debug-allow-all), "
        "whitespace-separated in the environment",
        env=("CONFORMANCE_SMI_REFERENCE_ARGS",),
        kind="list",
    ),
    Option(
        "--smi-requests",
        "requests per weighted-split distribution check (default 600)",
        env=("CONFORMANCE_SMI_REQUESTS",),
        default=600,
        kind="int",
    ),
]
