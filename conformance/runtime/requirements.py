"""The runtime suite's catalogue: OCI Runtime Specification v1.3.0, in our own words."""

from conformance.core.catalogue import Catalogue, Level, Requirement

M, S, MAY = Level.MUST, Level.SHOULD, Level.MAY

_ROWS: list[tuple[str, Level, str, str, str, str]] = [
    # id, level, section, summary, anchor, note
    # -- runtime.md: state and lifecycle --------------------------------------------------
    ("state-document", M, "State", "state prints a JSON object with ociVersion, id, status and "
     "an absolute bundle path", "runtime.md#state", ""),
    ("state-pid", M, "State", "a created or running container's state carries the host pid of "
     "its process, the pid --pid-file names", "runtime.md#state", ""),
    ("state-status", M, "State", "status reads created after create, running after start and "
     "stopped once the process ended", "runtime.md#state", ""),
    ("state-annotations", M, "State", "the state echoes the config's annotations",
     "runtime.md#state", ""),
    ("state-unknown-id", M, "Query State", "querying the state of an id that does not exist "
     "is an error", "runtime.md#query-state", ""),
    ("create-unique-id", M, "Create", "creating a second container with an id in use fails and "
     "leaves the first container as it was", "runtime.md#create", ""),
    ("create-bad-bundle", M, "Create", "create with a missing bundle or config fails and "
     "leaves no container", "runtime.md#create", ""),
    ("create-no-process-before-start", M, "Create", "create applies the config but does not "
     "run the user's program until start", "runtime.md#create", ""),
    ("create-config-snapshot", M, "Create", "editing config.json after create changes nothing "
     "about the container", "runtime.md#create", ""),
    ("start-only-created", M, "Start", "start of a container that is not in the created state "
     "fails and does not run the program again", "runtime.md#start", ""),
    ("start-runs-process", M, "Start", "start runs the configured program", "runtime.md#start",
     ""),
    ("kill-signal", M, "Kill", "kill delivers the named signal to the container's process, "
     "created or running", "runtime.md#kill", ""),
    ("kill-stopped", M, "Kill", "kill of a stopped container fails and changes nothing",
     "runtime.md#kill", ""),
    ("delete-running", M, "Delete", "delete of a running container fails and leaves it "
     "running", "runtime.md#delete", ""),
    ("delete-releases", M, "Delete", "delete of a stopped container removes what create made: "
     "the state entry, the processes and the cgroup", "runtime.md#delete", ""),
    ("delete-reuse-id", MAY, "Delete", "an id can be used again once its container is deleted",
     "runtime.md#delete", ""),
    ("error-no-effect", M, "Errors", "a failed create leaves the host as before: no state "
     "entry, no process, no cgroup", "runtime.md#errors", ""),
    ("cli-pid-file", M, "Create (command line)", "create --pid-file writes the pid the state "
     "reports", "runtime.md#create",
     "from runtime-tools' command-line interface document, which runtimes implement"),
    # -- hooks --------------------------------------------------------------------------------
    ("hooks-create-order", M, "Lifecycle", "prestart, createRuntime and createContainer hooks "
     "run during create, in that order and in listed order", "runtime.md#lifecycle", ""),
    ("hooks-start-order", M, "Lifecycle", "startContainer hooks run before the user program, "
     "poststart hooks after it started and before start returns", "runtime.md#lifecycle", ""),
    ("hooks-poststop", M, "Lifecycle", "poststop hooks run during delete, after the container "
     "stopped", "runtime.md#lifecycle", ""),
    ("hooks-state-stdin", M, "POSIX-platform Hooks", "each hook gets the container state "
     "(id, bundle, pid) as JSON on stdin", "config.md#posix-platform-hooks",
     "the status a hook sees is left open by the spec (runtime-spec#958); it is recorded only"),
    ("hooks-args-env", M, "POSIX-platform Hooks", "a hook runs its path with exactly the args "
     "and env given", "config.md#posix-platform-hooks", ""),
    ("hooks-namespace", M, "Hooks", "createContainer hooks run in the container's mount "
     "namespace, prestart/createRuntime/poststart/poststop in the runtime's",
     "config.md#posix-platform-hooks", ""),
    ("hooks-create-failure", M, "Lifecycle", "a failing prestart, createRuntime or "
     "createContainer hook fails create and no container is left running",
     "runtime.md#lifecycle", ""),
    ("hooks-poststart-failure", M, "Lifecycle", "since v1.3 a failing poststart hook is an "
     "error that stops the container", "runtime.md#lifecycle",
     "runtime-spec#1262; runtimes older than 1.3 only warned"),
    ("hooks-poststop-failure", S, "Lifecycle", "a failing poststop hook is only a warning: "
     "delete succeeds and the next hooks run", "runtime.md#lifecycle", ""),
    ("hooks-timeout", M, "POSIX-platform Hooks", "a hook that outlives its timeout is killed "
     "and counts as failed", "config.md#posix-platform-hooks", ""),
    # -- config.md ----------------------------------------------------------------------------
    ("config-oci-version", M, "Specification version", "an ociVersion that is not SemVer is "
     "rejected", "config.md#specification-version", ""),
    ("config-unknown-properties", M, "Extensibility", "unknown properties and annotations are "
     "ignored", "config.md#extensibility", ""),
    ("config-root-readonly", M, "Root", "root.readonly makes the root filesystem read-only",
     "config.md#root", ""),
    ("config-root-path", M, "Root", "root.path may be absolute or relative to the bundle",
     "config.md#root", ""),
    ("config-mounts-order", M, "Mounts", "mounts are made in the listed order",
     "config.md#mounts", ""),
    ("config-mounts-options", M, "Mounts", "mount options such as ro, nosuid, nodev and noexec "
     "are applied", "config.md#mounts", ""),
    ("config-mounts-bind", M, "Mounts", "bind mounts show the source's content; a relative "
     "source is taken relative to the bundle", "config.md#mounts", ""),
    ("config-process-args", M, "Process", "the process runs args with execvp semantics using "
     "the container's PATH", "config.md#process", ""),
    ("config-process-env", M, "Process", "the process environment holds the configured "
     "variables", "config.md#process",
     "runc adds HOME when missing; extra variables are not flagged"),
    ("config-process-cwd", M, "Process", "the process starts in cwd", "config.md#process", ""),
    ("config-process-user", M, "User", "uid, gid and additionalGids are applied",
     "config.md#posix-platform-user", ""),
    ("config-process-umask", M, "User", "umask is applied when set", "config.md#posix-platform-user",
     ""),
    ("config-process-rlimits", M, "POSIX process", "rlimits are set with soft and hard values",
     "config.md#posix-process", ""),
    ("config-process-rlimits-invalid", M, "POSIX process", "an unknown rlimit type fails create",
     "config.md#posix-process", ""),
    ("config-process-capabilities", M, "Linux process", "the five capability sets are exactly "
     "those configured", "config.md#linux-process", ""),
    ("config-process-capabilities-unknown", S, "Linux process", "an unknown capability yields a "
     "warning rather than a failed create", "config.md#linux-process", "since v1.1"),
    ("config-process-nnp", M, "Linux process", "noNewPrivileges sets the no_new_privs bit",
     "config.md#linux-process", ""),
    ("config-process-oom-score-adj", M, "Linux process", "oomScoreAdj is applied when set and "
     "the runtime's value kept when unset", "config.md#linux-process", ""),
    ("config-hostname", M, "Hostname", "hostname is set in the container's UTS namespace",
     "config.md#hostname", ""),
    ("config-domainname", M, "Domainname", "domainname is set in the container's UTS namespace",
     "config.md#domainname", "since v1.1"),
    # -- config-linux.md, runtime-linux.md ---------------------------------------------------
    ("linux-namespaces-new", M, "Namespaces", "a listed namespace without path is a new one",
     "config-linux.md#namespaces", ""),
    ("linux-namespaces-join", M, "Namespaces", "a namespace with a path is joined",
     "config-linux.md#namespaces", ""),
    ("linux-namespaces-wrong-type", M, "Namespaces", "a namespace path of another type fails "
     "create", "config-linux.md#namespaces", ""),
    ("linux-namespaces-inherit", M, "Namespaces", "a namespace type not listed is inherited "
     "from the runtime", "config-linux.md#namespaces", ""),
    ("linux-namespaces-duplicate", M, "Namespaces", "a namespace type listed twice fails create",
     "config-linux.md#namespaces", ""),
    ("linux-id-mappings", M, "User namespace mappings", "uidMappings and gidMappings are "
     "written to the user namespace's maps", "config-linux.md#user-namespace-mappings", ""),
    ("linux-devices", M, "Devices", "configured devices exist with type, numbers, mode and "
     "owner", "config-linux.md#devices", ""),
    ("linux-default-devices", M, "Default Devices", "null, zero, full, random, urandom, tty and "
     "ptmx are provided", "config-linux.md#default-devices", ""),
    ("linux-dev-symlinks", M, "Dev symbolic links", "/dev/fd, /dev/stdin, /dev/stdout and "
     "/dev/stderr link to the process's descriptors", "runtime-linux.md#dev-symbolic-links", ""),
    ("linux-default-filesystems", S, "Default Filesystems", "proc, sysfs, devpts and a tmpfs "
     "/dev/shm are available", "config-linux.md#default-filesystems", ""),
    ("linux-file-descriptors", M, "File descriptors", "only stdin, stdout and stderr are open "
     "in the process by default", "runtime-linux.md#file-descriptors", ""),
    ("linux-sysctl", M, "Sysctl", "sysctl values are set in the container",
     "config-linux.md#sysctl", ""),
    ("linux-masked-paths", M, "Masked Paths", "masked paths cannot be read",
     "config-linux.md#masked-paths", ""),
    ("linux-readonly-paths", M, "Readonly Paths", "read-only paths cannot be written",
     "config-linux.md#readonly-paths", ""),
    ("linux-rootfs-propagation", M, "Rootfs Mount Propagation", "rootfsPropagation sets the "
     "propagation of the container's root mount", "config-linux.md#rootfs-mount-propagation",
     ""),
    ("linux-cgroups-path", M, "Control groups", "the container's process is placed in the "
     "cgroup cgroupsPath names", "config-linux.md#control-groups", ""),
    ("linux-cgroups-memory", M, "Memory", "memory.limit is applied to the cgroup",
     "config-linux.md#memory", ""),
    ("linux-cgroups-pids", M, "PIDs", "pids.limit is applied to the cgroup",
     "config-linux.md#pids", ""),
    ("linux-seccomp-errno", M, "Seccomp", "a syscall rule with SCMP_ACT_ERRNO makes the call "
     "fail with errnoRet (EPERM by default)", "config-linux.md#seccomp", ""),
    ("linux-seccomp-default-action", M, "Seccomp", "defaultAction and defaultErrnoRet apply to "
     "syscalls no rule names", "config-linux.md#seccomp", ""),
    ("linux-seccomp-args", M, "Seccomp", "a rule with argument conditions only matches calls "
     "whose arguments satisfy them", "config-linux.md#seccomp", ""),
    ("linux-seccomp-kill", M, "Seccomp", "SCMP_ACT_KILL_PROCESS ends the process on the call",
     "config-linux.md#seccomp", ""),
    ("linux-personality", M, "Personality", "personality LINUX32 makes the process see a 32-bit "
     "machine", "config-linux.md#personality", ""),
    # -- features.md -------------------------------------------------------------------------
    ("features-document", M, "Features structure", "features prints a JSON document with "
     "ociVersionMin and ociVersionMax", "features.md", ""),
    ("features-oci-versions", M, "Features structure", "configs declaring ociVersionMin or "
     "ociVersionMax are accepted", "features.md", ""),
    ("features-namespaces", M, "Features structure (Linux)", "every advertised namespace type "
     "can be used", "features-linux.md#namespaces", ""),
    ("features-hooks", M, "Features structure", "every advertised hook kind is run",
     "features.md#hooks", ""),
]

CATALOGUE = Catalogue(
    suite="runtime",
    spec_name="OCI Runtime Specification",
    spec_version="1.3.0",
    base_url="https://github.com/opencontainers/runtime-spec/blob/v1.3.0",
    requirements=tuple(Requirement(r[0], r[1], r[2], r[3], r[4], r[5]) for r in _ROWS),
)
