"""Catalogue of the CRI suite: kubernetes/cri-api v0.36 (``runtime.v1``), plus what critest
defines as conformance where the proto comments are silent.

Ids ``CRI-0xx`` are stable and independent of critest's spec titles.
"""

from conformance.core.catalogue import Catalogue, Level, Requirement

MUST, SHOULD, MAY = Level.MUST, Level.SHOULD, Level.MAY
PROTO = "pkg/apis/runtime/v1/api.proto"
CRITEST = "https://github.com/kubernetes-sigs/cri-tools/tree/v1.36.0/pkg/validate"


def _r(rid: str, level: Level, section: str, summary: str, note: str = "") -> Requirement:
    anchor = CRITEST if "(critest)" in note else PROTO
    return Requirement(rid, level, section, summary, anchor, note)


REQUIREMENTS = (
    # -- runtime info
    _r("CRI-001", MUST, "Version", "Version names the runtime, its version and API version v1."),
    _r(
        "CRI-002",
        MUST,
        "Status",
        "Status reports RuntimeReady and NetworkReady, both true on a "
        "ready node; other conditions may be added.",
    ),
    _r(
        "CRI-004",
        MAY,
        "StatusResponse",
        "Status with verbose set may add an info map of JSON values about the runtime.",
    ),
    _r(
        "CRI-006",
        MUST,
        "gRPC",
        "An RPC the runtime does not implement fails with UNIMPLEMENTED.",
        "gRPC status codes; optional RPCs are detected this way",
    ),
    # -- pod sandbox
    _r("CRI-010", MUST, "RunPodSandbox", "RunPodSandbox returns an id and the pod is READY."),
    _r(
        "CRI-011",
        MUST,
        "PodSandboxStatus",
        "Pod metadata, labels and annotations come back "
        "unchanged from PodSandboxStatus and ListPodSandbox.",
        "(critest)",
    ),
    _r(
        "CRI-012",
        MUST,
        "PodSandboxConfig",
        "The pod hostname and DNS config (servers, searches, options) are what containers see.",
        "(critest)",
    ),
    _r(
        "CRI-013",
        MUST,
        "PortMapping",
        "A port mapping with a host port makes the container port reachable on that host port.",
        "(critest)",
    ),
    _r(
        "CRI-014",
        MUST,
        "NamespaceOption",
        "Pod network, PID and IPC namespace modes (POD, CONTAINER, NODE) are honoured.",
    ),
    _r(
        "CRI-015",
        MUST,
        "StopPodSandbox",
        "StopPodSandbox stops the pod's containers and succeeds again for a stopped or absent pod.",
    ),
    _r(
        "CRI-016",
        MUST,
        "RemovePodSandbox",
        "RemovePodSandbox removes the pod with its containers and succeeds for an absent pod.",
    ),
    _r(
        "CRI-017",
        MUST,
        "PodSandboxStatus",
        "PodSandboxStatus of an unknown pod fails with NOT_FOUND.",
    ),
    _r(
        "CRI-018",
        MUST,
        "PodSandboxStatus",
        "Pod status has state, a creation time in "
        "nanoseconds, the pod IP and the namespace options.",
    ),
    _r("CRI-019", MUST, "PodSandboxFilter", "ListPodSandbox filters by id, state and labels."),
    _r(
        "CRI-020",
        MUST,
        "LinuxPodSandboxConfig",
        "Pod sysctls are set in the pod's namespaces.",
        "(critest)",
    ),
    # -- containers
    _r(
        "CRI-021",
        MUST,
        "LinuxPodSandboxConfig",
        "A pod's cgroup_parent is accepted and its containers' cgroups are placed below it.",
        "(critest) cgroupfs form; a systemd-driver runtime expects slice names",
    ),
    _r(
        "CRI-030",
        MUST,
        "CreateContainer",
        "CreateContainer makes a CREATED container that is "
        "listed, with metadata, labels and annotations kept.",
    ),
    _r("CRI-031", MUST, "StartContainer", "StartContainer makes the container RUNNING."),
    _r(
        "CRI-032",
        MUST,
        "StopContainer",
        "StopContainer ends the container within the timeout, "
        "killing it after the grace period, and succeeds again when stopped or absent.",
    ),
    _r(
        "CRI-033",
        MUST,
        "RemoveContainer",
        "RemoveContainer removes created, running and exited "
        "containers and succeeds for an absent one.",
    ),
    _r(
        "CRI-034",
        MUST,
        "ContainerStatus",
        "ContainerStatus reports state, exit code, times, "
        "image and log path; an unknown container fails with NOT_FOUND.",
    ),
    _r(
        "CRI-035",
        MUST,
        "ContainerStatus",
        "A container killed for exceeding its memory limit exits 137 with reason OOMKilled.",
        "(critest)",
    ),
    _r("CRI-036", MUST, "ContainerFilter", "ListContainers filters by id, state, pod and labels."),
    _r(
        "CRI-037",
        MUST,
        "UpdateContainerResources",
        "UpdateContainerResources applies new limits to a running container before it returns.",
    ),
    _r(
        "CRI-038",
        MUST,
        "Mount",
        "Host paths mounted into the container are visible there, also "
        "through a symlinked host path, and read-only mounts refuse writes.",
        "(critest)",
    ),
    _r(
        "CRI-039",
        MUST,
        "MountPropagation",
        "Mount propagation PRIVATE, HOST_TO_CONTAINER and "
        "BIDIRECTIONAL behave as rprivate, rslave and rshared.",
    ),
    _r(
        "CRI-041",
        MUST,
        "Mount.image",
        "When image volumes are supported, an image mount is read-only, not noexec and shows "
        "the image's content (or its image_sub_path); readonly false and a missing "
        "image_sub_path are refused.",
        "Optional (KEP-4639, no Status flag). Probe: CreateContainer with an image mount. "
        "UNIMPLEMENTED or an error saying unsupported/not implemented means absent; another "
        "error means absent only when the same request without Mount.image fails with the "
        "same code (the runtime does not decode the field), else a violation. Accepting the "
        "mount and then not mounting the image at container_path is a violation.",
    ),
    _r(
        "CRI-042",
        MUST,
        "ContainerConfig.log_path",
        "Container output is written to "
        "log_directory/log_path as '<RFC3339Nano> <stream> <P|F> <text>' lines.",
    ),
    _r(
        "CRI-043",
        MUST,
        "ReopenContainerLog",
        "ReopenContainerLog starts a new log file after the old one was moved away.",
    ),
    _r(
        "CRI-044",
        MUST,
        "Multiple containers",
        "Containers of one pod share its network and each keeps its own log and exec.",
        "(critest)",
    ),
    # -- exec, streaming, stats
    _r("CRI-050", MUST, "ExecSync", "ExecSync returns the command's stdout, stderr and exit code."),
    _r(
        "CRI-051",
        MUST,
        "ExecSyncRequest.timeout",
        "ExecSync past its timeout fails with DEADLINE_EXCEEDED and the command is killed.",
    ),
    _r(
        "CRI-052",
        MUST,
        "Exec / Attach / PortForward",
        "Exec, Attach and PortForward return a URL serving the Kubernetes streaming protocol.",
    ),
    _r(
        "CRI-053",
        MUST,
        "ContainerStats",
        "Container stats carry the container's attributes and "
        "timestamped CPU and memory usage; filters by id, pod and labels work.",
    ),
    _r("CRI-054", MAY, "PodSandboxStats", "Pod stats, when implemented, describe the pod."),
    _r("CRI-055", MUST, "UpdateRuntimeConfig", "UpdateRuntimeConfig accepts a pod CIDR."),
    # -- images
    _r(
        "CRI-060",
        MUST,
        "PullImage",
        "PullImage returns an image reference and honours the call deadline.",
    ),
    _r("CRI-061", MUST, "ImageStatus", "ImageStatus of an absent image succeeds with no image."),
    _r(
        "CRI-062",
        MUST,
        "Image",
        "Pulled by tag the image lists that tag; by digest it lists the digest and no tag.",
        "(critest)",
    ),
    _r(
        "CRI-063",
        MUST,
        "ImageStatus",
        "ImageStatus by id, tag and digest returns the same image.",
        "(critest)",
    ),
    _r(
        "CRI-064",
        MUST,
        "Image",
        "Image uid or username reflect the image config's USER.",
        "(critest)",
    ),
    _r(
        "CRI-065",
        MUST,
        "ListImages",
        "ListImages lists the pulled images with all their tags.",
        "(critest)",
    ),
    _r(
        "CRI-071",
        SHOULD,
        "ImageFilter",
        "ListImages with an image filter lists only the matching image.",
    ),
    _r(
        "CRI-066",
        MUST,
        "RemoveImage",
        "RemoveImage removes the image with all its tags and succeeds for an absent image.",
    ),
    _r(
        "CRI-067",
        MUST,
        "ImageService",
        "Images are listed right after a pull and gone right "
        "after a removal; concurrent removals succeed.",
        "(critest)",
    ),
    _r(
        "CRI-068",
        MUST,
        "Image",
        "Image.id, PullImage's image_ref and ContainerStatus.image_id name the same image.",
        "(critest) image_id checked only when set",
    ),
    _r("CRI-069", MUST, "ImageFsInfo", "ImageFsInfo reports the image filesystem usage."),
    _r(
        "CRI-070",
        MUST,
        "ImageSpec / AuthConfig",
        "PullImage from a registry that needs basic "
        "authentication works with credentials and fails without.",
    ),
    # -- security context
    _r(
        "CRI-080",
        MUST,
        "LinuxContainerSecurityContext",
        "run_as_user, run_as_username, "
        "run_as_group and supplemental_groups set the process's identity.",
    ),
    _r(
        "CRI-087",
        MUST,
        "SupplementalGroupsPolicy",
        "By default the run-as user's groups from the image's /etc/group are added (Merge); "
        "Strict, when advertised, keeps only the configured groups and reports them.",
    ),
    _r(
        "CRI-081",
        MUST,
        "LinuxContainerSecurityContext",
        "run_as_group without a user is rejected.",
        "(critest)",
    ),
    _r(
        "CRI-082",
        MUST,
        "LinuxContainerSecurityContext",
        "readonly_rootfs, privileged and capability add/drop are applied.",
    ),
    _r(
        "CRI-083",
        MUST,
        "LinuxContainerSecurityContext",
        "masked_paths and readonly_paths are applied.",
    ),
    _r(
        "CRI-084",
        MUST,
        "SecurityProfile",
        "Seccomp unconfined, RuntimeDefault and localhost profiles are applied.",
    ),
    _r(
        "CRI-085",
        MUST,
        "LinuxContainerSecurityContext",
        "no_new_privs sets the process's NoNewPrivs flag.",
    ),
    _r(
        "CRI-086",
        MAY,
        "RuntimeHandlerFeatures",
        "User namespaces and recursive read-only "
        "mounts are used only when the runtime advertises them.",
    ),
)

CATALOGUE = Catalogue(
    suite="cri",
    spec_name="Kubernetes Container Runtime Interface (runtime.v1)",
    spec_version="v0.36.0",
    base_url="https://github.com/kubernetes/cri-api/blob/v0.36.0",
    requirements=REQUIREMENTS,
)
