"""``create``: this process (P) forks A, which enters the namespaces and forks B, the init.

P: validates, reserves the id, makes the cgroups, writes the id maps, runs
   prestart/createRuntime hooks, applies the device list, records the state.
A: moves itself into the cgroups, joins namespaces given by path, unshares the new ones (user
   first, so the others belong to it), writes time offsets, forks B (pid 1 of a new PID
   namespace), reports B's pid, exits.
B: assembles the rootfs, runs createContainer hooks, pivot_root, masks paths, prepares the
   terminal, then execs the static helper from a sealed memfd with the plan.
The helper tells P it is ready over the sync socket and waits on the barrier for ``start``.

P and A/B talk over a SOCK_SEQPACKET socketpair: one message per step, errors as
``C<field>\\0<problem>`` (config) or ``H<message>`` (host).

Every ``create`` is a fresh interpreter, so this module uses the C modules ``_socket`` and
``_signal`` (the :mod:`socket` and :mod:`signal` wrappers import :mod:`enum` and
:mod:`selectors`) and JSON through :mod:`._jsonlite`, and loads :mod:`termios` and
:mod:`resource` (extension modules, a ``dlopen`` each) only for a terminal or rlimits.
"""

from __future__ import annotations

import _signal
import _socket
import errno
import fcntl
import os
import struct
import sys
import time

from . import cgroups as cg_mod
from . import config as config_mod
from . import hooks as hooks_mod
from . import linux as kernel
from . import plan as plan_mod
from . import rootfs as rootfs_mod
from ._jsonlite import loads as json_loads
from ._log import get_logger
from .errors import ConfigError, HostError, RuntimeCommandError
from .state import SOCKET_FILE, Container, Store, oci_json, read_stat, wait_pidfd

# typing is imported for type checkers only: every CLI call pays for each import.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

log = get_logger(__name__)

HELPER_SOURCE = os.path.join(os.path.dirname(__file__), "helper", "helper.c")
# F_SEAL_SEAL | SHRINK | GROW | FUTURE_WRITE. FUTURE_WRITE (Linux 5.1) forbids every later
# write and writable mapping just as WRITE does, but does not wait for the kernel to drop
# transient references to the pages (compaction, reclaim): WRITE gives up on those with EBUSY,
# seen here about once in 180 creates. Nothing ever maps this memfd, so nothing is lost.
_F_SEALS = 1 | 2 | 4 | 16
_F_SEALS_OLD_KERNEL = 1 | 2 | 4 | 8  # ... | WRITE, where FUTURE_WRITE is unknown (EINVAL)
_F_ADD_SEALS = 1033
_MAX_MSG = 1 << 20


def helper_path() -> str:
    """The helper binary: prebuilt beside its source (package build), else built and cached.

    The check mirrors :func:`wire.native.ensure` without importing it (that import costs more
    than the rest of a ``create``); only a missing or stale binary takes the slow path.
    """
    try:
        from _sha256 import sha256  # the builtin module: no OpenSSL initialisation
    except ImportError:
        from hashlib import sha256

    with open(HELPER_SOURCE, "rb") as fh:
        source = fh.read()
    digest = sha256(source + repr((True, ("seccomp",))).encode()).hexdigest()[:16]
    prebuilt = os.path.join(os.path.dirname(HELPER_SOURCE), "native-bin", "helper")
    try:
        with open(prebuilt + ".sha") as fh:
            if fh.read().strip() == digest and os.path.exists(prebuilt):
                return prebuilt
    except FileNotFoundError:
        pass
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    cached = os.path.join(cache, "container-conformance", "native", digest, "helper")
    if os.path.exists(cached):
        return cached
    from pathlib import Path

    from wire.native import ensure

    return str(ensure(Path(HELPER_SOURCE), static=True, libs=("seccomp",)))


def _sealed_helper() -> int:
    """A sealed memfd holding the helper, so the container can never reach the host file."""
    src = os.open(helper_path(), os.O_RDONLY | os.O_CLOEXEC)
    try:
        size = os.fstat(src).st_size
        fd = os.memfd_create("conformance-runtime-helper", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        sent = 0
        while sent < size:
            sent += os.sendfile(fd, src, sent, size - sent)
    finally:
        os.close(src)
    try:
        fcntl.fcntl(fd, _F_ADD_SEALS, _F_SEALS)
    except OSError as err:
        if err.errno != errno.EINVAL:
            raise
        fcntl.fcntl(fd, _F_ADD_SEALS, _F_SEALS_OLD_KERNEL)
    return fd


class Options:
    """CLI options that shape ``create`` (besides the bundle's config)."""

    def __init__(
        self,
        pid_file: str | None = None,
        console_socket: str | None = None,
        preserve_fds: int = 0,
        log_fd: int | None = None,
        log_json: bool = False,
        debug: bool = False,
    ) -> None:
        self.pid_file = os.path.abspath(pid_file) if pid_file else None
        self.console_socket = os.path.abspath(console_socket) if console_socket else None
        self.preserve_fds = preserve_fds
        self.log_fd = log_fd
        self.log_json = log_json
        self.debug = debug


def create(store: Store, container_id: str, bundle: str, opts: Options) -> Container:
    """Create a container: everything in the config except running ``process.args``.

    Raises:
        RuntimeCommandError: anything failed; the host is left as if create was never called.
    """
    bundle = os.path.abspath(bundle)
    config = config_mod.load(bundle)
    _preflight(config, opts)
    lock_fd = store.reserve(container_id)
    hooks = config.get("hooks") or {}
    container = Container(
        id=container_id,
        bundle=bundle,
        oci_version=config["ociVersion"],
        annotations=config.get("annotations") or {},
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        poststart=hooks.get("poststart") or [],
        poststop=hooks.get("poststop") or [],
        creator_pid=os.getpid(),
        seccomp_listener=_seccomp_listener(config),
    )
    cgroups: cg_mod.Cgroups | None = None
    try:
        store.save(container)
        linux = config.get("linux") or {}
        cgroups = cg_mod.Cgroups.create(linux.get("cgroupsPath"), container_id)
        container.cgroups, container.cgroups_created = cgroups.dirs, cgroups.created
        store.save(container)
        _spawn(store, container, config, cgroups, opts)
        container.status = "created"
        store.save(container)
        if opts.pid_file:
            _write_pid_file(opts.pid_file, container.pid)
    except BaseException:
        _undo(store, container, cgroups)
        raise
    finally:
        os.close(lock_fd)
    return container


def _seccomp_listener(config: dict[str, Any]) -> str:
    """listenerPath, when an SCMP_ACT_NOTIFY rule makes it used (else it is ignored)."""
    seccomp = (config.get("linux") or {}).get("seccomp")
    if not seccomp or not seccomp.get("listenerPath"):
        return ""
    return seccomp["listenerPath"] if config_mod.uses_notify(seccomp) else ""


def _preflight(config: dict[str, Any], opts: Options) -> None:
    """Host-dependent checks that must fail before anything is created."""
    namespaces = {ns["type"]: ns.get("path") for ns in config["linux"].get("namespaces", [])}
    if "mount" not in namespaces:
        raise ConfigError("linux.namespaces", "a mount namespace is required (the root changes)")
    _check_joined_settings(config["linux"])
    proc = config["process"]
    if proc.get("terminal") and not opts.console_socket:
        raise ConfigError("process.terminal", "true needs --console-socket to pass the terminal")
    adj = proc.get("oomScoreAdj")
    if adj is not None:
        _probe_oom_score_adj(adj)
    cg_mod.preflight(config["linux"].get("resources") or {})
    _refuse_selinux_labels(config)
    if config["linux"].get("netDevices"):
        from . import netdev

        netdev.preflight(config["linux"]["netDevices"], namespaces.get("network"))


def _refuse_selinux_labels(config: dict[str, Any]) -> None:
    """SELinux labels are ignored where SELinux is off (as runc does) and refused where on."""
    if not os.path.exists("/sys/fs/selinux/enforce"):
        return
    for field, value in (
        ("process.selinuxLabel", config["process"].get("selinuxLabel")),
        ("linux.mountLabel", config["linux"].get("mountLabel")),
    ):
        if value:
            # TODO(spec v1.3): selinuxLabel and mountLabel are not applied; refused, not ignored.
            raise ConfigError(field, "SELinux labels are not supported by this runtime")


def _probe_oom_score_adj(adj: int) -> None:
    """Try the value on this process (then restore it) so a refusal fails before create.

    The kernel refuses values below the task's hidden ``oom_score_adj_min`` without
    CAP_SYS_RESOURCE (which root lacks on some hosts); raising back is always allowed.
    """
    with open("/proc/self/oom_score_adj", "r+") as fh:
        current = int(fh.read())
        if adj >= current:
            return
        try:
            fh.seek(0)
            fh.write(str(adj))
            fh.flush()
        except OSError as err:
            raise ConfigError(
                "process.oomScoreAdj",
                f"{adj} cannot be set: the kernel refuses values this low without "
                f"CAP_SYS_RESOURCE, which this runtime does not have ({err.strerror})",
            ) from err
        fh.seek(0)
        fh.write(str(current))


def _write_pid_file(path: str, pid: int) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as fh:
        fh.write(str(pid))
    os.replace(tmp, path)


def _undo(store: Store, container: Container, cgroups: cg_mod.Cgroups | None) -> None:
    """Remove everything a failed create made (runtime.md#errors)."""
    if container.pid > 0:
        netdev = sys.modules.get(f"{__package__}.netdev")
        if netdev is not None:
            # Before the init dies: with its network namespace the moved devices would go too.
            netdev.undo(container.pid)
        _kill_and_wait(container.pid)
    if cgroups is not None:
        cgroups.destroy()
    store.remove(container.id)


def _kill_and_wait(pid: int, timeout: float = 5.0) -> None:
    """SIGKILL ``pid`` and wait (pidfd) until it has exited."""
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return
    try:  # noqa: SIM105 (no contextlib import on the CLI's hot path)
        _signal.pidfd_send_signal(pidfd, _signal.SIGKILL)
    except OSError:
        pass
    wait_pidfd(pidfd, timeout)
    os.close(pidfd)


# ---- P: the creating process -------------------------------------------------------------------


def _spawn(
    store: Store,
    container: Container,
    config: dict[str, Any],
    cgroups: cg_mod.Cgroups,
    opts: Options,
) -> None:
    _preload(config, opts)
    helper_fd = _sealed_helper()
    parent_sock, child_sock = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
    barrier = _barrier_socket(store.dir(container.id))
    ctx = {
        "helper_fd": helper_fd,
        "barrier_fd": barrier.fileno(),
        "sync": child_sock,
        "cgroup_dirs": cgroups.dirs,
        "cgroup_points": sorted(set(cg_mod.mounted_hierarchies()[0].values())),
        "cgroup_v2": cgroups.v2,
        "opts": opts,
        "listener": container.seccomp_listener,
    }
    pid_a = os.fork()
    if pid_a == 0:  # A
        parent_sock.close()
        _child_main(child_sock, lambda: _child_a(config, container.bundle, ctx))
    child_sock.close()
    os.close(helper_fd)
    try:
        _drive(store, container, config, cgroups, parent_sock, pid_a)
    finally:
        parent_sock.close()
        barrier.close()
        _reap(pid_a)


def _preload(config: dict[str, Any], opts: Options) -> None:
    """Import now what the init will need: in a user namespace it may not be able to read the
    host's Python library, and after pivot_root nobody can."""
    if (config.get("hooks") or {}).get("createContainer"):
        import json  # noqa: F401
        import subprocess  # noqa: F401
        import tempfile  # noqa: F401
    if config["process"].get("terminal"):
        import termios  # noqa: F401
    if config["process"].get("rlimits"):
        import resource  # noqa: F401
    if opts.debug:
        log.debug("creating with the plan of %s", config["process"]["args"])


def _barrier_socket(state_dir: str) -> _socket.socket:
    """The listening socket ``start`` connects to; bound through the directory's fd so long
    state paths do not hit the 108-byte sun_path limit."""
    dirfd = os.open(state_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.bind(f"/proc/self/fd/{dirfd}/{SOCKET_FILE}")
        sock.listen(1)
    finally:
        os.close(dirfd)
    return sock


def _drive(
    store: Store,
    container: Container,
    config: dict[str, Any],
    cgroups: cg_mod.Cgroups,
    sock: _socket.socket,
    pid_a: int,
) -> None:
    """Answer A and B's requests until the helper reports it is waiting on the barrier."""
    sock.send(b"go")
    linux = config.get("linux") or {}
    hooks = config.get("hooks") or {}
    deferred: list[bytes] = []
    while True:
        msg = deferred.pop() if deferred and container.pid else sock.recv(_MAX_MSG)
        if not msg:
            raise HostError("the container init exited during create (see the log)")
        if msg == b"\0":
            return  # the helper waits on the barrier
        if msg == b"M" and not container.pid:
            # A and B share this socket: B's M can overtake A's report of B's pid. Answer it
            # once the pid is known, so hooks and the seccomp listener's state carry it.
            deferred.append(msg)
            continue
        kind, body = msg[:1], msg[1:].decode(errors="replace")
        if kind == b"C":
            field, _, problem = body.partition("\0")
            raise ConfigError(field, problem)
        if kind == b"H":
            raise HostError(body)
        if kind == b"U":
            _write_id_maps(pid_a, linux)
            sock.send(b"mapped")
        elif kind == b"P":
            container.pid = int(body)
            stat = read_stat(container.pid)
            container.start_time = stat[1] if stat else 0
            store.save(container)
            # Limits apply once A has exited, so a pids.limit of 1 counts the init alone.
            _reap(pid_a)
            cgroups.apply(linux.get("resources") or {})
            if linux.get("netDevices"):
                from . import netdev

                netdev.move_all(linux["netDevices"], container.pid)
        elif kind == b"M":
            cgroups.apply_devices((linux.get("resources") or {}).get("devices") or [])
            state = container.oci_state("creating")
            hooks_mod.run_hooks("prestart", hooks.get("prestart") or [], state)
            hooks_mod.run_hooks("createRuntime", hooks.get("createRuntime") or [], state)
            sock.send(oci_json(state).encode())
        else:
            # The helper died before its plan was read: its message is an error text.
            raise HostError(msg.decode(errors="replace"))


def _write_id_maps(pid: int, linux: dict[str, Any]) -> None:
    for key, name in (("uidMappings", "uid_map"), ("gidMappings", "gid_map")):
        lines = "".join(
            f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in linux.get(key) or []
        )
        try:
            with open(f"/proc/{pid}/{name}", "w") as fh:
                fh.write(lines)
        except OSError as err:
            raise HostError(f"linux.{key}: failed to write {name}: {err.strerror}") from err


def _reap(pid: int) -> None:
    try:  # noqa: SIM105 (no contextlib import on the CLI's hot path)
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


# ---- A and B: the forked children --------------------------------------------------------------


def _child_main(sock: _socket.socket, body: Any) -> None:
    """Run ``body`` in a forked child; report any failure to P and never return."""
    code = 0
    try:
        body()
    except ConfigError as err:
        code = 1
        _send(sock, b"C" + err.field.encode() + b"\0" + err.problem.encode())
    except RuntimeCommandError as err:
        code = 1
        _send(sock, b"H" + str(err).encode())
    except OSError as err:
        code = 1
        _send(sock, b"H" + str(err).encode())
    except BaseException as err:  # the child must never unwind into the CLI's code
        code = 1
        _send(sock, b"H" + f"{type(err).__name__}: {err}".encode())
    finally:
        os._exit(code)


def _send(sock: _socket.socket, data: bytes) -> None:
    try:  # noqa: SIM105 (no contextlib import on the CLI's hot path)
        sock.send(data[: _MAX_MSG - 1])
    except OSError:
        pass


def _child_a(config: dict[str, Any], bundle: str, ctx: dict[str, Any]) -> None:
    sock: _socket.socket = ctx["sync"]
    _signal.signal(_signal.SIGINT, _signal.SIG_DFL)
    if sock.recv(16) != b"go":
        raise HostError("the runtime went away during create")
    # A, single-threaded, moves itself: B and everything it runs inherit the cgroups.
    cg_mod.Cgroups(ctx["cgroup_dirs"], []).join_current()
    # Idmapped sources are cloned while A still has the runtime's privileges (see there).
    ctx["idmapped"] = rootfs_mod.idmapped_trees(config, bundle)
    linux = config.get("linux") or {}
    entries = linux.get("namespaces") or []
    # Open every namespace path first: joining the mount namespace changes what paths mean.
    joins = [
        (i, ns["type"], os.open(ns["path"], os.O_RDONLY | os.O_CLOEXEC))
        for i, ns in enumerate(entries)
        if ns.get("path")
    ]
    joins.sort(key=lambda j: j[1] != "user")
    new = {ns["type"] for ns in entries if not ns.get("path")}
    for i, kind, fd in joins:
        try:
            kernel.setns(fd, kernel.NAMESPACE_FLAGS[kind], f"{kind} namespace")
        except OSError as err:
            raise ConfigError(f"linux.namespaces[{i}].path", err.strerror or str(err)) from err
        os.close(fd)
        if kind == "user":
            _become_root()
    if "user" in new:
        kernel.unshare(kernel.CLONE_NEWUSER)
        sock.send(b"U")
        if sock.recv(16) != b"mapped":
            raise HostError("the runtime went away during create")
        _become_root()
    flags = 0
    for kind in new - {"user"}:
        flags |= kernel.NAMESPACE_FLAGS[kind]
    kernel.unshare(flags)
    if "time" in new and linux.get("timeOffsets"):
        _write_time_offsets(linux["timeOffsets"])
    pid_b = os.fork()
    if pid_b == 0:
        # A joined user namespace refuses mknod just like a new one.
        userns = any(ns["type"] == "user" for ns in entries)
        _child_main(sock, lambda: _child_b(config, bundle, ctx, userns=userns))
    sock.send(b"P%d" % pid_b)


def _check_joined_settings(linux: dict[str, Any]) -> None:
    """id maps or time offsets given with a joined user or time namespace must be the ones
    it has; a forked child enters the namespace to read them, so a mismatch fails create
    before anything exists."""
    checks = {"time": _check_joined_offsets, "user": _check_joined_maps}
    wanted = {"time": linux.get("timeOffsets"), "user": linux.get("uidMappings")}
    wanted["user"] = wanted["user"] or linux.get("gidMappings")
    # Time first: once in a joined user namespace the child has no rights on the host's.
    joined = sorted(
        ((i, ns["type"], ns["path"]) for i, ns in enumerate(linux.get("namespaces") or [])
         if ns.get("path") and wanted.get(ns["type"])),
        key=lambda j: j[1] != "time",
    )  # fmt: skip
    if not joined:
        return
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the checking child: it reports one problem or nothing, then exits
        os.close(read_end)
        try:
            for i, kind, path in joined:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                kernel.setns(fd, kernel.NAMESPACE_FLAGS[kind], f"{kind} namespace")
                checks[kind](linux, i)
        except ConfigError as err:
            os.write(write_end, f"{err.field}\0{err.problem}".encode())
        except BaseException as err:  # the child must never unwind into the CLI's code
            os.write(write_end, f"\0failed to read the joined namespace: {err}".encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as fh:
        answer = fh.read().decode(errors="replace")
    _reap(pid)
    if answer:
        field, _, problem = answer.partition("\0")
        if not field:
            raise HostError(problem)
        raise ConfigError(field, problem)


def _check_joined_maps(linux: dict[str, Any], index: int) -> None:
    """Mappings given with a joined user namespace must be the ones it already has: a map is
    written once, by whoever made the namespace (user_namespaces(7))."""
    for key, name in (("uidMappings", "uid_map"), ("gidMappings", "gid_map")):
        wanted = linux.get(key)
        if not wanted:
            continue
        # Read from inside the namespace, the map is relative to its parent, as in the config.
        with open(f"/proc/self/{name}") as fh:
            have = sorted(tuple(int(x) for x in line.split()) for line in fh if line.strip())
        asked = sorted((m["containerID"], m["hostID"], m["size"]) for m in wanted)
        if have != asked:
            raise ConfigError(
                f"linux.{key}",
                f"differ from the {name} of the user namespace joined by "
                f"linux.namespaces[{index}].path ({have}); leave them out when joining",
            )


def _check_joined_offsets(linux: dict[str, Any], index: int) -> None:
    """timeOffsets with a joined time namespace must be the ones it has: offsets can only be
    written before the first process enters a time namespace (time_namespaces(7))."""
    wanted = linux.get("timeOffsets")
    if not wanted:
        return
    with open("/proc/self/timens_offsets") as fh:
        have = {parts[0]: (int(parts[1]), int(parts[2])) for parts in map(str.split, fh)}
    for clock, offset in wanted.items():
        if have.get(clock) != (offset.get("secs", 0), offset.get("nanosecs", 0)):
            raise ConfigError(
                f"linux.timeOffsets.{clock}",
                f"differs from the time namespace joined by linux.namespaces[{index}].path "
                f"({have.get(clock)}); leave timeOffsets out when joining",
            )


def _become_root() -> None:
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)


def _write_time_offsets(offsets: dict[str, Any]) -> None:
    text = "".join(
        f"{clock} {o.get('secs', 0)} {o.get('nanosecs', 0)}\n" for clock, o in offsets.items()
    )
    try:
        with open("/proc/self/timens_offsets", "w") as fh:
            fh.write(text)
    except OSError as err:
        raise HostError(f"linux.timeOffsets: failed to write: {err.strerror}") from err


def _child_b(config: dict[str, Any], bundle: str, ctx: dict[str, Any], userns: bool) -> None:
    sock: _socket.socket = ctx["sync"]
    opts: Options = ctx["opts"]
    proc = config["process"]
    linux = config.get("linux") or {}
    root = config["root"]
    rootfs = os.path.realpath(os.path.join(bundle, root["path"]))
    mounts = config.get("mounts") or []

    rf = rootfs_mod.Rootfs(rootfs, userns)
    rf.prepare(linux.get("rootfsPropagation"))
    for i, entry in enumerate(mounts):
        rf.mount(i, entry, bundle, ctx)
    rf.devices(linux.get("devices") or [], rf.dev_is_host(mounts))
    _sysctls(linux.get("sysctl") or {})
    if config.get("hostname"):
        kernel.sethostname(config["hostname"])
    if config.get("domainname"):
        kernel.setdomainname(config["domainname"])
    if proc.get("oomScoreAdj") is not None:
        _oom_score_adj(proc["oomScoreAdj"])
    os.close(rf.resolve(proc["cwd"], "dir"))

    sock.send(b"M")
    state = json_loads(sock.recv(_MAX_MSG) or b"null")
    if state is None:
        raise HostError("the runtime went away during create")
    if ctx["listener"]:
        # Sent by the helper while `start` runs, before the process exists: still created.
        state_now = dict(state, status="created")
        metadata = linux["seccomp"].get("listenerMetadata")
        ctx["process_state"] = plan_mod.process_state(state_now, metadata)
    hooks = config.get("hooks") or {}
    # createContainer runs in the container namespaces and sees the pid from there
    # (runtime-spec#1166).
    state["pid"] = os.getpid()
    hooks_mod.run_hooks("createContainer", hooks.get("createContainer") or [], state)

    console = _connect_console(opts.console_socket) if proc.get("terminal") else None
    # Everything that may import or log is done before pivot_root (or by _preload): afterwards
    # the host's Python library is out of reach.
    caps = proc.get("capabilities")
    masks = None if caps is None else plan_mod.capability_masks(caps, _bounding_set())
    log.debug("pivoting to %s", rootfs)

    rootfs_mod.pivot(rootfs)
    rootfs_mod.mask_paths(linux.get("maskedPaths") or [])
    rootfs_mod.readonly_paths(linux.get("readonlyPaths") or [])
    if console is not None:
        _setup_terminal(console, proc)
    if root.get("readonly"):
        rootfs_mod.readonly_root()
    if linux.get("rootfsPropagation"):
        prop = rootfs_mod.PROPAGATION[linux["rootfsPropagation"]]
        kernel.mount(None, "/", None, prop, None)
    _set_rlimits(proc.get("rlimits") or [])
    # Scheduling, I/O priority, personality and the memory policy survive both execve calls
    # (helper, process).
    if "memoryPolicy" in linux:
        _set_memory_policy(linux["memoryPolicy"])
    if proc.get("scheduler"):
        _set_scheduler(proc["scheduler"])
    if proc.get("ioPriority"):
        _set_io_priority(proc["ioPriority"])
    if linux.get("personality"):
        _set_personality(linux["personality"])
    _check_executable(proc)
    plan = _build_plan(config, ctx, masks)
    _exec_helper(plan, ctx, opts)


def _sysctls(sysctls: dict[str, str]) -> None:
    for key, value in sysctls.items():
        path = "/proc/sys/" + key.replace(".", "/")
        try:
            with open(path, "w") as fh:
                fh.write(value)
        except OSError as err:
            raise HostError(f"linux.sysctl.{key}: failed to write {path}: {err.strerror}") from err


def _oom_score_adj(value: int) -> None:
    try:
        with open("/proc/self/oom_score_adj", "w") as fh:
            fh.write(str(value))
    except OSError as err:
        raise HostError(f"process.oomScoreAdj: failed to set {value}: {err.strerror}") from err


def _bounding_set() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("CapBnd:"):
                return int(line.split()[1], 16)
    return 0


def _connect_console(path: str | None) -> _socket.socket:
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.connect(path or "")
    except OSError as err:
        raise HostError(f"--console-socket: failed to connect to {path}: {err.strerror}") from err
    return sock


def _setup_terminal(console: _socket.socket, proc: dict[str, Any]) -> None:
    import termios

    master, slave = os.openpty()
    size = proc.get("consoleSize")
    if size:
        winsize = struct.pack("HHHH", size["height"], size["width"], 0, 0)
        fcntl.ioctl(slave, termios.TIOCSWINSZ, winsize)
    name = os.ttyname(slave)
    # runtime-linux.md#default-devices: /dev/console is the terminal when one is set up.
    fd = os.open("/dev/console", os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600)
    os.close(fd)
    kernel.mount(name, "/dev/console", None, kernel.MS_BIND, None)
    # What socket.send_fds does: the pty name, the master as SCM_RIGHTS.
    rights = (_socket.SOL_SOCKET, _socket.SCM_RIGHTS, struct.pack("i", master))
    console.sendmsg([name.encode()], [rights])
    os.close(master)
    console.close()
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for target in (0, 1, 2):
        os.dup2(slave, target)
    os.close(slave)


def _set_rlimits(rlimits: list[dict[str, Any]]) -> None:
    if not rlimits:
        return
    import resource  # loaded by _preload: this runs after pivot_root

    for i, item in enumerate(rlimits):
        kind = config_mod.RLIMITS[item["type"]]
        inf = resource.RLIM_INFINITY
        soft = inf if item["soft"] >= 2**64 - 1 else item["soft"]
        hard = inf if item["hard"] >= 2**64 - 1 else item["hard"]
        try:
            resource.setrlimit(kind, (soft, hard))
        except (OSError, ValueError) as err:
            raise HostError(f"process.rlimits[{i}]: failed to set {item['type']}: {err}") from err


def _set_scheduler(sched: dict[str, Any]) -> None:
    flags = 0
    for flag in sched.get("flags") or []:
        flags |= config_mod.SCHED_FLAGS[flag]
    # struct sched_attr (sched_setattr(2)), 48 bytes.
    attr = struct.pack(
        "IIQiIQQQ",
        48,
        config_mod.SCHED_POLICIES[sched["policy"]],
        flags,
        sched.get("nice", 0),
        sched.get("priority", 0),
        sched.get("runtime", 0),
        sched.get("deadline", 0),
        sched.get("period", 0),
    )
    try:
        kernel.raw_syscall(kernel.SYS_SCHED_SETATTR, 0, attr, 0)
    except OSError as err:
        raise HostError(f"process.scheduler: failed to set the scheduler: {err}") from err


def _set_io_priority(prio: dict[str, Any]) -> None:
    value = (config_mod.IOPRIO_CLASSES[prio["class"]] << 13) | prio.get("priority", 0)
    try:
        kernel.raw_syscall(kernel.SYS_IOPRIO_SET, 1, 0, value)  # IOPRIO_WHO_PROCESS, self
    except OSError as err:
        raise HostError(f"process.ioPriority: failed to set the I/O priority: {err}") from err


def _set_personality(pers: dict[str, Any]) -> None:
    domain = 0x0008 if pers["domain"] == "LINUX32" else 0x0000  # PER_LINUX32 / PER_LINUX
    try:
        kernel.raw_syscall(kernel.SYS_PERSONALITY, domain)
    except OSError as err:
        raise HostError(f"linux.personality: failed to set {pers['domain']}: {err}") from err


def _set_memory_policy(policy: dict[str, Any]) -> None:
    # Here, in the init, not in the helper: the task policy is inherited across fork and kept
    # by execve (set_mempolicy(2)), like the scheduler and personality set next to it, and
    # the field-named errors stay in one language. After the cpuset move in A, so the kernel
    # judges the nodes against the container's mems.
    value, nodes = config_mod.memory_policy(policy)
    mask = bytearray(config_mod.MEMPOLICY_MAX_NODES // 8)
    for node in nodes:
        mask[node // 8] |= 1 << (node % 8)  # little-endian unsigned longs: bit n of the array
    try:
        # maxnode counts one past the last bit the kernel reads.
        kernel.raw_syscall(
            kernel.SYS_SET_MEMPOLICY, value, bytes(mask), config_mod.MEMPOLICY_MAX_NODES + 1
        )
    except OSError as err:
        nodes_text = policy.get("nodes") or "none"
        raise HostError(
            f"linux.memoryPolicy: failed to set {policy['mode']} on nodes {nodes_text}: "
            f"{os.strerror(err.errno or 0)}"
        ) from err


def _check_executable(proc: dict[str, Any]) -> None:
    """Fail at create (not start) when ``process.args[0]`` cannot be executed."""
    arg0 = proc["args"][0]
    if "/" in arg0:
        candidates = [os.path.join(proc["cwd"], arg0)]
    else:
        env = dict(e.split("=", 1) for e in proc.get("env") or [])
        path = env.get("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        candidates = [os.path.join(d or ".", arg0) for d in path.split(":")]
    for candidate in candidates:
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return
    raise ConfigError("process.args[0]", f"executable {arg0!r} not found in the container")


def _build_plan(config: dict[str, Any], ctx: dict[str, Any], masks: list[int] | None) -> bytes:
    proc = config["process"]
    opts: Options = ctx["opts"]
    plan = plan_mod.Plan()
    if opts.log_fd is not None:
        plan.add("log", opts.log_fd, int(opts.debug), int(opts.log_json))
    plan.add("sync", ctx["sync"].fileno())
    plan.add("barrier", ctx["barrier_fd"])
    plan.add("preserve", opts.preserve_fds)
    for hook in (config.get("hooks") or {}).get("startContainer") or []:
        plan.add("hook", hook.get("timeout", 0), hook["path"])
        plan.strv(hook.get("args") or [hook["path"]])
        plan.strv(hook.get("env") or [])
    plan.add("cwd", proc["cwd"])
    user = proc["user"]
    plan.add("user", user["uid"], user["gid"])
    plan.add("groups")
    plan.strv([str(g) for g in user.get("additionalGids") or []])
    if "umask" in user:
        plan.add("umask", user["umask"])
    if masks is not None:
        plan.add("caps", *(f"{m:x}" for m in masks))
    if proc.get("noNewPrivileges"):
        plan.add("nnp")
    if proc.get("apparmorProfile") and _apparmor_enabled():
        plan.add("apparmor", proc["apparmorProfile"])
    seccomp = (config.get("linux") or {}).get("seccomp")
    if seccomp:
        plan_mod.add_seccomp(plan, seccomp, ctx.get("process_state"))
    plan.add("exec", proc["args"][0])
    plan.strv(proc["args"])
    plan.strv(proc.get("env") or [])
    return plan.encode()


def _apparmor_enabled() -> bool:
    # Read before pivot_root would be more exact; /proc is the container's now, and it shows the
    # same kernel attribute files.
    return os.path.exists("/proc/self/attr/apparmor/exec")


def _exec_helper(plan: bytes, ctx: dict[str, Any], opts: Options) -> None:
    plan_fd = os.memfd_create("plan", 0)
    os.write(plan_fd, plan)
    keep = [ctx["barrier_fd"], ctx["sync"].fileno(), plan_fd]
    if opts.log_fd is not None:
        keep.append(opts.log_fd)
    for fd in keep:
        os.set_inheritable(fd, True)
    os.execve(ctx["helper_fd"], ["helper", str(plan_fd)], {})
