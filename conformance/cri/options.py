"""Target options of the CRI suite (names follow crictl where it has them)."""

from conformance.core.options import Option

OPTIONS = [
    Option(
        "--cri-endpoint",
        "CRI runtime endpoint, unix:///path/to.sock (default: start a private target)",
        env=("CONFORMANCE_CRI_ENDPOINT", "CONTAINER_RUNTIME_ENDPOINT"),
    ),
    Option(
        "--cri-image-endpoint",
        "CRI image service endpoint when it differs from the runtime endpoint",
        env=("CONFORMANCE_CRI_IMAGE_ENDPOINT", "IMAGE_SERVICE_ENDPOINT"),
    ),
    Option(
        "--cri-start",
        "without --cri-endpoint, what the harness starts: 'reference' (the bundled CRI "
        "server) or 'containerd' (Debian's, private instance)",
        env=("CONFORMANCE_CRI_START",),
        default="reference",
    ),
    Option(
        "--cri-runtime-handler",
        "runtime handler to run pods with (RunPodSandboxRequest.runtime_handler)",
        env=("CONFORMANCE_CRI_RUNTIME_HANDLER",),
        default="",
    ),
    Option(
        "--cri-registry",
        "HOST:PORT of a plain-HTTP registry the target pulls test images from; the harness "
        "pushes its images there (default: start docker-registry on loopback)",
        env=("CONFORMANCE_CRI_REGISTRY",),
    ),
    Option(
        "--cri-timeout",
        "deadline in seconds of each CRI call",
        env=("CONFORMANCE_CRI_TIMEOUT",),
        default=30.0,
        kind="float",
    ),
]
