"""The runc-compatible command line: ``conformance-runtime [global options] <command> ...``.

Engines drive runtimes as ``runc --root R --log L --log-format json create --bundle B
--pid-file P [--console-socket S] ID``, then ``start``, ``state``, ``kill``, ``delete``; the same
spelling works here. ``--systemd-cgroup``, ``--debug`` and a few other runc flags are accepted;
errors go to stderr and, with ``--log``, to the log file (JSON lines with ``--log-format
json``, where containerd looks for them).

The parser is a small table-driven one rather than :mod:`argparse`: every engine operation is
a fresh interpreter, and argparse's import alone costs about a third of a ``start``.
"""

from __future__ import annotations

import os
import sys

from . import _log
from .errors import ContainerStateError, RuntimeCommandError

# typing is imported for type checkers only: every CLI call pays for each import.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .state import Store

log = _log.get_logger("reference_impl.runtime")
PROG = "conformance-runtime"

# option -> (destination, takes a value); "-x" aliases map to the same destination.
_GLOBAL = {
    "--root": ("root", True),
    "--log": ("log", True),
    "--log-format": ("log_format", True),
    "--debug": ("debug", False),
    "--systemd-cgroup": ("systemd_cgroup", False),
    "--rootless": ("rootless", True),
    "--criu": ("criu", True),
    "-v": ("version", False),
    "--version": ("version", False),
    "-h": ("help", False),
    "--help": ("help", False),
}
_CREATE = {
    "--bundle": ("bundle", True),
    "-b": ("bundle", True),
    "--pid-file": ("pid_file", True),
    "--console-socket": ("console_socket", True),
    "--preserve-fds": ("preserve_fds", True),
    "--no-pivot": ("no_pivot", False),
    "--no-new-keyring": ("no_new_keyring", False),
}
_COMMANDS: dict[str, tuple[dict[str, tuple[str, bool]], tuple[str, ...], str]] = {
    "create": (_CREATE, ("container_id",), "create a container (its process waits for start)"),
    "run": (
        {
            **_CREATE,
            "--detach": ("detach", False),
            "-d": ("detach", False),
            "--keep": ("keep", False),
        },
        ("container_id",),
        "create, start, wait for and delete a container",
    ),
    "start": ({}, ("container_id",), "start a created container"),
    "state": ({}, ("container_id",), "print the state of a container"),
    "kill": (
        {"--all": ("all", False), "-a": ("all", False)},
        ("container_id", "signal"),
        "send a signal (default TERM) to the container",
    ),
    "delete": (
        {"--force": ("force", False), "-f": ("force", False)},
        ("container_id",),
        "delete a container (--force: also a running one)",
    ),
    "features": ({}, (), "print the features document"),
    "spec": (
        {"--bundle": ("bundle", True), "-b": ("bundle", True), "--rootless": ("rootless", False)},
        (),
        "write a template config.json",
    ),
    "list": (
        {
            "--format": ("format", True),
            "-f": ("format", True),
            "--quiet": ("quiet", False),
            "-q": ("quiet", False),
        },
        (),
        "list containers",
    ),
    "ps": (
        {"--format": ("format", True), "-f": ("format", True)},
        ("container_id",),
        "list the container's processes",
    ),
}


class UsageError(RuntimeCommandError):
    """The command line is malformed."""


def _consume(
    argv: list[str], i: int, table: dict[str, tuple[str, bool]], out: dict[str, Any]
) -> int:
    """Parse one option at ``argv[i]`` into ``out``; returns the next index."""
    arg = argv[i]
    name, eq, inline = arg.partition("=")
    if name not in table:
        raise UsageError(f"unknown option {arg!r}")
    dest, takes_value = table[name]
    if not takes_value:
        if eq:
            out[dest] = inline.lower() not in ("false", "0")
        else:
            out[dest] = True
        return i + 1
    if eq:
        out[dest] = inline
        return i + 1
    if i + 1 >= len(argv):
        raise UsageError(f"option {name} needs a value")
    out[dest] = argv[i + 1]
    return i + 2


def parse(argv: list[str]) -> dict[str, Any]:
    """Parse a runc-style command line into a dict (``command`` plus option destinations)."""
    opts: dict[str, Any] = {"command": None, "log_format": "text", "bundle": ".", "signal": None}
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        i = _consume(argv, i, _GLOBAL, opts)
    if i == len(argv):
        return opts
    command = argv[i]
    if command not in _COMMANDS:
        raise UsageError(f"unknown command {command!r}")
    opts["command"] = command
    table, positional, _help = _COMMANDS[command]
    table = {**table, "-h": ("help", False), "--help": ("help", False)}
    values: list[str] = []
    i += 1
    while i < len(argv):
        if argv[i] == "--":
            values += argv[i + 1 :]
            break
        if argv[i].startswith("-") and len(argv[i]) > 1 and not values:
            i = _consume(argv, i, table, opts)
        else:
            values.append(argv[i])
            i += 1
    if len(values) > len(positional):
        raise UsageError(f"{command}: unexpected argument {values[len(positional)]!r}")
    for dest, value in zip(positional, values, strict=False):
        opts[dest] = value
    if opts["log_format"] not in ("text", "json"):
        raise UsageError(f"--log-format must be text or json, got {opts['log_format']!r}")
    return opts


def _usage() -> str:
    lines = [
        f"usage: {PROG} [--root DIR] [--log FILE] [--log-format text|json] [--debug] "
        "COMMAND [OPTIONS] [ID]",
        "",
        "Reference OCI runtime (runtime spec v1.3.0). Commands:",
    ]
    lines += [f"  {name:<9} {spec[2]}" for name, spec in _COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m reference_impl.runtime`` and the console script."""
    try:
        opts = parse(sys.argv[1:] if argv is None else argv)
    except UsageError as err:
        print(f"{PROG}: {err}\n{_usage()}", file=sys.stderr)
        return 2
    if opts.get("help"):
        print(_usage())
        return 0
    if opts.get("version"):
        from .features import VERSION

        print(f"{PROG} version {VERSION}\nspec: 1.3.0")
        return 0
    if not opts["command"]:
        print(_usage(), file=sys.stderr)
        return 2
    _log.configure(bool(opts.get("debug")), opts.get("log"), opts["log_format"] == "json")
    try:
        return _dispatch(opts)
    except RuntimeCommandError as err:
        _log.report_error(str(err))
        return 1
    except KeyboardInterrupt:
        return 130


def exit_main() -> None:
    """:func:`main`, then exit at once without the interpreter's teardown.

    The wrapper's entry point: every engine operation is a fresh interpreter, and tearing down
    the modules a ``create`` imported costs several milliseconds for nothing. Files are closed
    by then (every open is a ``with`` block, log records are flushed as written), so only
    stdout and stderr need a flush; a failed flush exits 120, as the interpreter would.
    """
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:
        code = 120
    os._exit(code)


def _need_id(opts: dict[str, Any]) -> str:
    if not opts.get("container_id"):
        raise ContainerStateError(f"{opts['command']}: a container id is required")
    return str(opts["container_id"])


def _signal_number(name: str | None) -> int:
    if not name:
        return 15
    if name.isdigit():
        return int(name)
    import signal

    upper = name.upper()
    sig = getattr(signal, upper if upper.startswith("SIG") else "SIG" + upper, None)
    if not isinstance(sig, signal.Signals):
        raise UsageError(f"kill: unknown signal {name!r}")
    return int(sig)


def _dispatch(opts: dict[str, Any]) -> int:
    from .state import Store

    store = Store(opts.get("root"))
    cmd = opts["command"]
    if cmd in ("create", "run"):
        return _create_or_run(opts, store)
    if cmd == "start":
        from .lifecycle import start

        start(store, _need_id(opts))
    elif cmd == "state":
        from .lifecycle import state
        from .state import oci_json

        # Engines call ``state`` often; oci_json writes what json.dumps would, without re.
        print(oci_json(state(store, _need_id(opts)), indent=2))
    elif cmd == "kill":
        from .lifecycle import kill

        kill(store, _need_id(opts), _signal_number(opts.get("signal")), bool(opts.get("all")))
    elif cmd == "delete":
        from .lifecycle import delete

        delete(store, _need_id(opts), bool(opts.get("force")))
    elif cmd == "features":
        import json

        from .features import features

        print(json.dumps(features(), indent=2))
    elif cmd == "spec":
        _spec(opts)
    elif cmd == "list":
        _list(opts, store)
    elif cmd == "ps":
        _ps(opts, store)
    return 0


def _create_or_run(opts: dict[str, Any], store: Store) -> int:
    from . import process

    cid = _need_id(opts)
    try:
        preserve = int(opts.get("preserve_fds") or 0) + int(os.environ.get("LISTEN_FDS") or 0)
    except ValueError as err:
        raise UsageError("--preserve-fds and LISTEN_FDS must be integers") from err
    log_fd = None
    if opts.get("log"):
        # The helper appends its own lines (debug, late errors) to the same file.
        log_fd = os.open(opts["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    options = process.Options(
        pid_file=opts.get("pid_file"),
        console_socket=opts.get("console_socket"),
        preserve_fds=preserve,
        log_fd=log_fd,
        log_json=opts["log_format"] == "json",
        debug=bool(opts.get("debug")),
    )
    if opts["command"] == "create":
        process.create(store, cid, opts["bundle"], options)
        return 0
    return _run(opts, store, cid, options)


def _run(opts: dict[str, Any], store: Store, cid: str, options: Any) -> int:
    """``run``: create and start; unless detached, wait, forward signals, delete."""
    import signal

    from . import linux, process
    from .lifecycle import delete, kill, start

    detach = bool(opts.get("detach"))
    if not detach:
        # Become the init's parent after the intermediate child exits, to wait for it.
        linux.prctl(linux.PR_SET_CHILD_SUBREAPER, 1)
    container = process.create(store, cid, opts["bundle"], options)
    try:
        start(store, cid)
    except RuntimeCommandError:
        if not detach:
            delete(store, cid, force=True)
        raise
    if detach:
        return 0
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, lambda s, _f: _forward(store, cid, s, kill))
    status = _wait_for(container.pid)
    if not opts.get("keep"):
        delete(store, cid, force=True)
    return status


def _forward(store: Store, cid: str, sig: int, kill: Any) -> None:
    try:
        kill(store, cid, sig)
    except RuntimeCommandError as err:
        log.debug("not forwarding signal %d: %s", sig, err)


def _wait_for(pid: int) -> int:
    """Reap children until ``pid`` exits; its exit code (128+signal when killed)."""
    while True:
        try:
            got, status = os.waitpid(-1, 0)
        except InterruptedError:
            continue
        except ChildProcessError:
            return 255
        if got == pid:
            if os.WIFSIGNALED(status):
                return 128 + os.WTERMSIG(status)
            return os.WEXITSTATUS(status)


def _spec(opts: dict[str, Any]) -> None:
    import json

    from .features import spec_template

    path = os.path.join(opts["bundle"], "config.json")
    if os.path.exists(path):
        raise RuntimeCommandError(f"spec: {path} already exists")
    with open(path, "w") as fh:
        json.dump(spec_template(), fh, indent=2)
        fh.write("\n")


def _list(opts: dict[str, Any], store: Store) -> None:
    import json

    from .lifecycle import list_containers

    docs = list_containers(store)
    if opts.get("quiet"):
        print("\n".join(d["id"] for d in docs))
    elif opts.get("format") == "json":
        print(json.dumps(docs))
    else:
        print(f"{'ID':<24} {'PID':<8} {'STATUS':<10} {'BUNDLE':<40} CREATED")
        for d in docs:
            print(f"{d['id']:<24} {d['pid']:<8} {d['status']:<10} {d['bundle']:<40} {d['created']}")


def _ps(opts: dict[str, Any], store: Store) -> None:
    import json

    from .cgroups import Cgroups

    container = store.load(_need_id(opts))
    pids = Cgroups(container.cgroups, []).pids()
    if opts.get("format") == "json":
        print(json.dumps(pids))
    else:
        print("PID")
        print("\n".join(str(p) for p in pids))
