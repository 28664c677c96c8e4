"""Root file system set-up, run by the container's init (still Python) before it execs the helper.

Mount destinations are resolved with ``openat2(RESOLVE_IN_ROOT)`` against an fd of the rootfs,
so a symlink in the image can never point a mount outside of it; the mount then targets the
resolved fd through ``/proc/self/fd/N`` (config.md#mounts, and the CVE-2021-30465 class).
Everything here runs before pivot_root except :func:`finish`, which uses no imports.
"""

from __future__ import annotations

import errno
import os
import stat

from . import linux as kernel
from .errors import ConfigError, HostError

# typing is imported for type checkers only: every CLI call pays for each import.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_FLAGS = {
    "ro": (kernel.MS_RDONLY, True),
    "rw": (kernel.MS_RDONLY, False),
    "nosuid": (kernel.MS_NOSUID, True),
    "suid": (kernel.MS_NOSUID, False),
    "nodev": (kernel.MS_NODEV, True),
    "dev": (kernel.MS_NODEV, False),
    "noexec": (kernel.MS_NOEXEC, True),
    "exec": (kernel.MS_NOEXEC, False),
    "sync": (kernel.MS_SYNCHRONOUS, True),
    "async": (kernel.MS_SYNCHRONOUS, False),
    "dirsync": (kernel.MS_DIRSYNC, True),
    "remount": (kernel.MS_REMOUNT, True),
    "mand": (kernel.MS_MANDLOCK, True),
    "nomand": (kernel.MS_MANDLOCK, False),
    "atime": (kernel.MS_NOATIME, False),
    "noatime": (kernel.MS_NOATIME, True),
    "diratime": (kernel.MS_NODIRATIME, False),
    "nodiratime": (kernel.MS_NODIRATIME, True),
    "bind": (kernel.MS_BIND, True),
    "rbind": (kernel.MS_BIND | kernel.MS_REC, True),
    "relatime": (kernel.MS_RELATIME, True),
    "norelatime": (kernel.MS_RELATIME, False),
    "strictatime": (kernel.MS_STRICTATIME, True),
    "nostrictatime": (kernel.MS_STRICTATIME, False),
    "nosymfollow": (kernel.MS_NOSYMFOLLOW, True),
    "symfollow": (kernel.MS_NOSYMFOLLOW, False),
    "silent": (kernel.MS_SILENT, True),
    "loud": (kernel.MS_SILENT, False),
}
PROPAGATION = {
    "private": kernel.MS_PRIVATE,
    "rprivate": kernel.MS_PRIVATE | kernel.MS_REC,
    "shared": kernel.MS_SHARED,
    "rshared": kernel.MS_SHARED | kernel.MS_REC,
    "slave": kernel.MS_SLAVE,
    "rslave": kernel.MS_SLAVE | kernel.MS_REC,
    "unbindable": kernel.MS_UNBINDABLE,
    "runbindable": kernel.MS_UNBINDABLE | kernel.MS_REC,
}
# Recursive attributes (mount_setattr(2), MOUNT_ATTR_*): option -> (attr bit, set?).
_MOUNT_ATTR = {
    "rro": (0x1, True),
    "rrw": (0x1, False),
    "rnosuid": (0x2, True),
    "rsuid": (0x2, False),
    "rnodev": (0x4, True),
    "rdev": (0x4, False),
    "rnoexec": (0x8, True),
    "rexec": (0x8, False),
    "rnodiratime": (0x80, True),
    "rdiratime": (0x80, False),
    "rnosymfollow": (0x200000, True),
    "rsymfollow": (0x200000, False),
}
_ATIME = {"rrelatime": 0x0, "rnoatime": 0x10, "rstrictatime": 0x20, "rnorelatime": None}
# Options runc accepts as extensions and we tolerate without effect.
_IGNORED = {"tmpcopyup", "defaults"}
# Applied with mount_setattr(MOUNT_ATTR_IDMAP) before the mount is attached; never mount data.
IDMAP_OPTIONS = {"idmap", "ridmap"}
MOUNT_OPTIONS = sorted({*_FLAGS, *PROPAGATION, *_MOUNT_ATTR, *_ATIME, *_IGNORED, *IDMAP_OPTIONS})

_LOCKED = (
    (os.ST_RDONLY, kernel.MS_RDONLY),
    (os.ST_NOSUID, kernel.MS_NOSUID),
    (os.ST_NODEV, kernel.MS_NODEV),
    (os.ST_NOEXEC, kernel.MS_NOEXEC),
)
DEFAULT_DEVICES = (
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
)


def parse_options(options: list[str]) -> tuple[int, int, list[str], list[tuple[int, int, bool]]]:
    """(mount flags, propagation flags, data options, recursive attributes) of an options list."""
    flags = 0
    prop = 0
    data: list[str] = []
    attrs: list[tuple[int, int, bool]] = []
    for opt in options:
        if opt in _FLAGS:
            bit, on = _FLAGS[opt]
            flags = flags | bit if on else flags & ~bit
        elif opt in PROPAGATION:
            prop |= PROPAGATION[opt]
        elif opt in _MOUNT_ATTR:
            bit, on = _MOUNT_ATTR[opt]
            attrs.append((bit, 0, on))
        elif opt in _ATIME:
            value = _ATIME[opt]
            attrs.append((0x70, 0 if value is None else value, True))
        elif opt not in _IGNORED and opt not in IDMAP_OPTIONS:
            data.append(opt)
    return flags, prop, data, attrs


class Rootfs:
    """The container's root while it is being assembled (before pivot_root)."""

    def __init__(self, path: str, userns: bool) -> None:
        self.path = path
        self.userns = userns
        self.fd = os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)

    # -- path resolution -------------------------------------------------------------------

    def resolve(self, dest: str, create: str | None = None, depth: int = 0) -> int:
        """An O_PATH fd of ``dest`` inside the root, creating it ("dir"/"file") when missing.

        A dangling symlink on the way is followed the way the kernel would inside the root:
        its target is created below the rootfs, never outside it.
        """
        rel = os.path.normpath("/" + dest).lstrip("/")
        if not rel:
            return os.dup(self.fd)
        resolve = kernel.RESOLVE_IN_ROOT | kernel.RESOLVE_NO_MAGICLINKS
        try:
            return kernel.openat2(self.fd, rel, kernel.O_PATH, resolve)
        except OSError as err:
            if err.errno != errno.ENOENT or create is None or depth > 40:
                raise
        parent_rel, name = os.path.split(rel)
        parent = self.resolve(parent_rel, "dir", depth + 1) if parent_rel else os.dup(self.fd)
        try:
            if create == "dir":
                os.mkdir(name, 0o755, dir_fd=parent)
            else:
                os.close(os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644, dir_fd=parent))
        except FileExistsError:
            link = os.readlink(name, dir_fd=parent)
            target = link if link.startswith("/") else os.path.join("/", parent_rel, link)
            return self.resolve(target, create, depth + 1)
        finally:
            os.close(parent)
        return kernel.openat2(self.fd, rel, kernel.O_PATH, resolve)

    # -- mounts ----------------------------------------------------------------------------

    def prepare(self, propagation: str | None) -> None:
        """Make the rootfs a mount point with the wanted propagation below a private parent."""
        # pivot_root refuses shared mounts and bind refuses unbindable ones: until pivot_root
        # the tree is a slave (or private when asked); the configured propagation is applied
        # to the new root afterwards.
        private = propagation in ("private", "rprivate")
        flags = kernel.MS_PRIVATE if private else kernel.MS_SLAVE
        kernel.mount(None, "/", None, flags | kernel.MS_REC, None)
        kernel.mount(self.path, self.path, None, kernel.MS_BIND | kernel.MS_REC, None)
        os.close(self.fd)
        self.fd = os.open(self.path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)

    def mount(self, index: int, entry: dict[str, Any], bundle: str, ctx: dict[str, Any]) -> None:
        """Mount one ``mounts[]`` entry; errors name ``mounts[index]``."""
        field = f"mounts[{index}]"
        options = entry.get("options") or []
        flags, prop, data, attrs = parse_options(options)
        fstype = entry.get("type") or ""
        source = entry.get("source") or ""
        bind = bool(flags & kernel.MS_BIND) or fstype == "bind"
        if bind:
            source = os.path.join(bundle, source)
        try:
            if index in (ctx.get("idmapped") or {}):
                self._attach(ctx["idmapped"][index], source, entry["destination"], flags)
            elif fstype == "cgroup" or (fstype == "cgroup2" and ctx.get("cgroup_dirs")):
                self._mount_cgroup(entry["destination"], flags, ctx)
            elif bind:
                self._bind(source, entry["destination"], flags, options)
            else:
                fd = self.resolve(entry["destination"], "dir")
                try:
                    kernel.mount(source, f"/proc/self/fd/{fd}", fstype, flags, ",".join(data))
                finally:
                    os.close(fd)
            if prop or attrs:
                self._after(entry["destination"], prop, attrs)
        except OSError as err:
            raise HostError(f"{field}: {err.strerror or err}") from err

    def _bind(self, source: str, dest: str, flags: int, options: list[str]) -> None:
        try:
            st = os.stat(source)
        except OSError as err:
            raise OSError(err.errno, f"bind source {source}: {err.strerror}") from err
        fd = self.resolve(dest, "dir" if stat.S_ISDIR(st.st_mode) else "file")
        try:
            rec = kernel.MS_REC if "rbind" in options else 0
            kernel.mount(source, f"/proc/self/fd/{fd}", None, kernel.MS_BIND | rec, None)
        finally:
            os.close(fd)
        extra = flags & ~(kernel.MS_BIND | kernel.MS_REC | kernel.MS_REMOUNT)
        if extra:
            self.remount(dest, extra)

    def _attach(self, tree: int, source: str, dest: str, flags: int) -> None:
        """Move a prepared (idmapped) tree onto ``dest``, then apply the per-mount flags."""
        is_dir = stat.S_ISDIR(os.stat(tree).st_mode)
        fd = self.resolve(dest, "dir" if is_dir else "file")
        try:
            kernel.move_mount(tree, fd, f"the idmapped mount of {source}")
        finally:
            os.close(fd)
            os.close(tree)
        extra = flags & ~(kernel.MS_BIND | kernel.MS_REC | kernel.MS_REMOUNT)
        if extra:
            self.remount(dest, extra)

    def remount(self, dest: str, flags: int) -> None:
        """Bind-remount ``dest`` with ``flags``, keeping flags the kernel locked."""
        fd = self.resolve(dest)
        target = f"/proc/self/fd/{fd}"
        try:
            try:
                kernel.mount(None, target, None, kernel.MS_BIND | kernel.MS_REMOUNT | flags, None)
            except OSError as err:
                if err.errno != errno.EPERM:
                    raise
                locked = _locked_flags(target)
                kernel.mount(
                    None, target, None, kernel.MS_BIND | kernel.MS_REMOUNT | flags | locked, None
                )
        finally:
            os.close(fd)

    def _after(self, dest: str, prop: int, attrs: list[tuple[int, int, bool]]) -> None:
        fd = self.resolve(dest)
        try:
            if prop:
                kernel.mount(None, f"/proc/self/fd/{fd}", None, prop, None)
            for bit, value, on in attrs:
                _mount_setattr(fd, bit, value, on)
        finally:
            os.close(fd)

    def _mount_cgroup(self, dest: str, flags: int, ctx: dict[str, Any]) -> None:
        dirs: list[str] = ctx.get("cgroup_dirs") or []
        ro = flags & kernel.MS_RDONLY
        if ctx.get("cgroup_v2"):
            if dirs:
                self._bind(dirs[0], dest, flags & ~kernel.MS_BIND, ["rbind"])
            return
        # cgroup v1: a tmpfs holding one bind mount of the container's own directory per
        # hierarchy (what runc shows a container), read-only when asked.
        fd = self.resolve(dest, "dir")
        try:
            kernel.mount(
                "tmpfs",
                f"/proc/self/fd/{fd}",
                "tmpfs",
                kernel.MS_NOSUID | kernel.MS_NODEV,
                "mode=755",
            )
        finally:
            os.close(fd)
        for path in dirs:
            name = _hierarchy(path, ctx)
            self._bind(path, os.path.join(dest, name), ro | kernel.MS_NOSUID | kernel.MS_NODEV, [])
        if ro:
            self.remount(dest, kernel.MS_RDONLY | kernel.MS_NOSUID | kernel.MS_NODEV)

    # -- devices ---------------------------------------------------------------------------

    def devices(self, devices: list[dict[str, Any]], dev_is_host: bool) -> None:
        """Create the default devices (unless /dev comes from the host) and linux.devices."""
        wanted = [] if dev_is_host else list(DEFAULT_DEVICES)
        for name, major, minor in wanted:
            spec = {"path": f"/dev/{name}", "type": "c", "major": major, "minor": minor}
            self._device(spec | {"fileMode": 0o666, "uid": 0, "gid": 0}, None, default=True)
        for i, dev in enumerate(devices):
            self._device(dev, f"linux.devices[{i}]", default=False)
        if not dev_is_host:
            for src, name in (
                ("/proc/self/fd", "fd"),
                ("/proc/self/fd/0", "stdin"),
                ("/proc/self/fd/1", "stdout"),
                ("/proc/self/fd/2", "stderr"),
                ("pts/ptmx", "ptmx"),
            ):
                self._symlink(src, f"/dev/{name}")

    def _device(self, dev: dict[str, Any], field: str | None, default: bool) -> None:
        kind = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}
        mode = kind[dev["type"]] | (dev.get("fileMode", 0o666) & 0o7777)
        rdev = os.makedev(dev.get("major", 0), dev.get("minor", 0)) if dev["type"] != "p" else 0
        parent_rel, name = os.path.split(os.path.normpath(dev["path"]))
        parent = self.resolve(parent_rel, "dir")
        try:
            try:
                existing = os.stat(name, dir_fd=parent, follow_symlinks=False)
            except FileNotFoundError:
                existing = None
            if existing is not None:
                if default or (existing.st_mode == mode and existing.st_rdev == rdev):
                    return
                # config-linux.md#devices: a different file already at the path is an error.
                raise ConfigError(f"{field}.path", f"{dev['path']} exists and is not this device")
            if self.userns and dev["type"] != "p":
                # mknod is refused in a user namespace: bind the host's node instead.
                os.close(os.open(name, os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=parent))
                self._bind(dev["path"], dev["path"], 0, [])
                return
            try:
                os.mknod(name, mode, rdev, dir_fd=parent)
            except OSError as err:
                raise HostError(
                    f"{field or 'default devices'}: failed to create {dev['path']}: {err.strerror}"
                ) from err
            os.chmod(name, mode & 0o7777, dir_fd=parent)
            os.chown(
                name, dev.get("uid", 0), dev.get("gid", 0), dir_fd=parent, follow_symlinks=False
            )
        finally:
            os.close(parent)

    def _symlink(self, target: str, path: str) -> None:
        parent = self.resolve(os.path.dirname(path), "dir")
        try:
            os.symlink(target, os.path.basename(path), dir_fd=parent)
        except FileExistsError:
            pass
        finally:
            os.close(parent)

    def dev_is_host(self, mounts: list[dict[str, Any]]) -> bool:
        """Whether /dev is bind-mounted (then the runtime adds no device nodes)."""
        for entry in mounts:
            if os.path.normpath("/" + entry["destination"]) == "/dev":
                opts = entry.get("options") or []
                return entry.get("type") == "bind" or "bind" in opts or "rbind" in opts
        return False


# -- idmapped mounts (config.md "Linux mount options": idmap, ridmap) -------------------------


def idmapped_trees(config: dict[str, Any], bundle: str) -> dict[int, int]:
    """Detached, idmapped clones of the idmapped mounts' sources, by ``mounts[]`` index.

    Made in the runtime's own namespaces, before the container's user namespace exists:
    mount_setattr(MOUNT_ATTR_IDMAP) needs CAP_SYS_ADMIN over the source's filesystem, which a
    process in the container's user namespace lacks. The clones are attached later with
    move_mount(2) inside the container's mount namespace.
    """
    linux = config.get("linux") or {}
    trees: dict[int, int] = {}
    try:
        for i, entry in enumerate(config.get("mounts") or []):
            if not is_idmapped(entry):
                continue
            uids = entry.get("uidMappings") or linux.get("uidMappings") or []
            gids = entry.get("gidMappings") or linux.get("gidMappings") or []
            options = entry.get("options") or []
            source = os.path.join(bundle, entry.get("source") or "")
            trees[i] = _idmapped_tree(
                i, source, uids, gids, "rbind" in options, "ridmap" in options
            )
    except BaseException:
        for fd in trees.values():
            os.close(fd)
        raise
    return trees


def is_idmapped(entry: dict[str, Any]) -> bool:
    """Whether a mount asks for an idmapping (mappings given, or idmap/ridmap listed)."""
    options = set(entry.get("options") or [])
    return bool(entry.get("uidMappings") or entry.get("gidMappings") or IDMAP_OPTIONS & options)


def _idmapped_tree(
    index: int,
    source: str,
    uids: list[dict[str, int]],
    gids: list[dict[str, int]],
    rbind: bool,
    rec: bool,
) -> int:
    """A detached clone of ``source`` (its submounts too for rbind), idmapped (recursively)."""
    field = f"mounts[{index}]"
    flags = kernel.OPEN_TREE_CLONE | os.O_CLOEXEC | (kernel.AT_RECURSIVE if rbind else 0)
    try:
        tree = kernel.open_tree(source, flags)
    except OSError as err:
        raise HostError(f"{field}.source: {err.strerror}") from err
    try:
        userns = userns_with_maps(uids, gids)
        try:
            kernel.mount_setattr_idmap(tree, userns, rec)
        finally:
            os.close(userns)
    except OSError as err:
        os.close(tree)
        raise HostError(f"{field}: {err.strerror}") from err
    return tree


def _map_text(maps: list[dict[str, int]]) -> bytes:
    return "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in maps).encode()


def userns_with_maps(uids: list[dict[str, int]], gids: list[dict[str, int]]) -> int:
    """An fd of a new user namespace carrying ``uids``/``gids``, made by a short-lived child.

    The child unshares the user namespace and waits; this process writes its maps, opens
    ``/proc/<child>/ns/user`` and lets it exit (the fd keeps the namespace alive).
    """
    ready_r, ready_w = os.pipe()
    done_r, done_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(ready_r)
            os.close(done_w)
            kernel.unshare(kernel.CLONE_NEWUSER)
            os.write(ready_w, b"u")
            os.read(done_r, 1)
            code = 0
        finally:
            os._exit(code)
    os.close(ready_w)
    os.close(done_r)
    try:
        if os.read(ready_r, 1) != b"u":
            raise OSError(errno.EPERM, "failed to create a user namespace for the idmapping")
        for name, maps in (("uid_map", uids), ("gid_map", gids)):
            if not maps:
                continue
            with open(f"/proc/{pid}/{name}", "wb") as fh:
                fh.write(_map_text(maps))
        return os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(ready_r)
        os.close(done_w)
        os.waitpid(pid, 0)


def _hierarchy(path: str, ctx: dict[str, Any]) -> str:
    """The hierarchy directory name (``memory``) a container cgroup path lives in."""
    for point in ctx.get("cgroup_points", []):
        if path.startswith(point.rstrip("/") + "/"):
            return os.path.basename(point)
    return os.path.basename(path)


def _locked_flags(target: str) -> int:
    flags = 0
    st = os.statvfs(target)
    for st_bit, ms_bit in _LOCKED:
        if st.f_flag & st_bit:
            flags |= ms_bit
    return flags & ~kernel.MS_RDONLY


def _mount_setattr(fd: int, bit: int, value: int, on: bool) -> None:
    attr_set = (value if bit == 0x70 else bit) if on else 0
    attr_clr = bit if (not on or bit == 0x70) else 0
    kernel.mount_setattr(
        fd, attr_set, attr_clr, recursive=True, what="set recursive mount attributes"
    )


def pivot(rootfs: str) -> None:
    """Switch the root to ``rootfs`` and detach the old root (pivot_root(".", ".") trick)."""
    old = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    new = os.open(rootfs, os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fchdir(new)
        kernel.pivot_root(".", ".")
        os.fchdir(old)
        # The old root may be shared with the host: make it a slave before detaching it so
        # the unmount does not propagate back.
        kernel.mount(None, ".", None, kernel.MS_SLAVE | kernel.MS_REC, None)
        kernel.umount2(".", kernel.MNT_DETACH)
        os.chdir("/")
    finally:
        os.close(old)
        os.close(new)


def mask_paths(paths: list[str]) -> None:
    """Hide each path (after pivot_root): /dev/null over files, a read-only tmpfs over dirs."""
    for path in paths:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            continue
        if stat.S_ISDIR(st.st_mode):
            kernel.mount("tmpfs", path, "tmpfs", kernel.MS_RDONLY, None)
        else:
            kernel.mount("/dev/null", path, None, kernel.MS_BIND, None)


def readonly_paths(paths: list[str]) -> None:
    """Make each path read-only (after pivot_root)."""
    for path in paths:
        if not os.path.exists(path):
            continue
        kernel.mount(path, path, None, kernel.MS_BIND | kernel.MS_REC, None)
        locked = _locked_flags(path)
        kernel.mount(
            None, path, None, kernel.MS_BIND | kernel.MS_REMOUNT | kernel.MS_RDONLY | locked, None
        )


def readonly_root() -> None:
    """Remount / read-only (root.readonly), keeping locked flags."""
    locked = _locked_flags("/")
    kernel.mount(
        None, "/", None, kernel.MS_BIND | kernel.MS_REMOUNT | kernel.MS_RDONLY | locked, None
    )
