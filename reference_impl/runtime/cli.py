"""The runc-compatible command line: ``conformance-runtime [global options] <command> ...``.

Engines drive runtimes as ``runc --root R --log L --log-format json create --bundle B
--pid-file P [--console-socket S] ID``, then ``start``, ``state``, ``kill``, ``delete``; the same
spelling works here. ``--systemd-cgroup``, ``--debug`` and a few other runc flags are accepted;
errors go to stderr and, with ``--log``, to the log file (JSON lines with ``--log-format
json``, where containerd looks for them).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from typing import Any

from .errors import ContainerStateError, RuntimeCommandError

log = logging.getLogger("reference_impl.runtime")
PROG = "conformance-runtime"


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created))
        return json.dumps(
            {"level": record.levelname.lower(), "msg": record.getMessage(), "time": when}
        )


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Reference OCI runtime (spec v1.3.0).")
    p.add_argument(
        "--root", default=None, help="state directory (default /run/conformance-runtime)"
    )
    p.add_argument("--log", default=None, help="log file (default: stderr only)")
    p.add_argument("--log-format", default="text", choices=("text", "json"))
    p.add_argument("--debug", action="store_true", help="log debug lines")
    p.add_argument("--systemd-cgroup", action="store_true", help="accepted and ignored")
    p.add_argument("--rootless", default=None, help="accepted and ignored")
    p.add_argument("--criu", default=None, help=argparse.SUPPRESS)
    p.add_argument("-v", "--version", action="store_true", help="print the version")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def creating(name: str, help_: str) -> argparse.ArgumentParser:
        c = sub.add_parser(name, help=help_)
        c.add_argument("--bundle", "-b", default=".", help="bundle directory")
        c.add_argument("--pid-file", default=None)
        c.add_argument("--console-socket", default=None)
        c.add_argument("--preserve-fds", type=int, default=0)
        c.add_argument("--no-pivot", action="store_true", help="accepted; pivot_root is used")
        c.add_argument("--no-new-keyring", action="store_true", help="accepted and ignored")
        c.add_argument("container_id", nargs="?")
        return c

    creating("create", "create a container (process not started)")
    run = creating("run", "create, start, wait for and delete a container")
    run.add_argument("--detach", "-d", action="store_true")
    run.add_argument("--keep", action="store_true", help="do not delete after it exits")
    for name, help_ in (("start", "start a created container"), ("state", "print the state")):
        sub.add_parser(name, help=help_).add_argument("container_id", nargs="?")
    kill = sub.add_parser("kill", help="send a signal to the container")
    kill.add_argument("--all", "-a", action="store_true")
    kill.add_argument("container_id", nargs="?")
    kill.add_argument("signal", nargs="?", default="SIGTERM")
    delete = sub.add_parser("delete", help="delete a container")
    delete.add_argument("--force", "-f", action="store_true")
    delete.add_argument("container_id", nargs="?")
    sub.add_parser("features", help="print the features document")
    spec = sub.add_parser("spec", help="write a template config.json")
    spec.add_argument("--bundle", "-b", default=".")
    spec.add_argument("--rootless", action="store_true")
    lst = sub.add_parser("list", help="list containers")
    lst.add_argument("--format", "-f", default="table", choices=("table", "json"))
    lst.add_argument("--quiet", "-q", action="store_true")
    ps = sub.add_parser("ps", help="list the container's processes")
    ps.add_argument("--format", "-f", default="table", choices=("table", "json"))
    ps.add_argument("container_id", nargs="?")
    return p


def _setup_logging(args: argparse.Namespace) -> int | None:
    """Configure logging; returns the log file's fd (for the helper) when there is one."""
    root = logging.getLogger("reference_impl")
    root.setLevel(logging.DEBUG if args.debug else logging.INFO)
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setLevel(logging.WARNING)
    stderr.setFormatter(logging.Formatter(f"{PROG}: %(levelname)s: %(message)s"))
    root.addHandler(stderr)
    if not args.log:
        return None
    handler = logging.FileHandler(args.log)
    if args.log_format == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root.addHandler(handler)
    return handler.stream.fileno()


def _need_id(args: argparse.Namespace) -> str:
    if not args.container_id:
        raise ContainerStateError(f"{args.command}: a container id is required")
    return args.container_id


def _signal_number(name: str) -> int:
    import signal

    if name.isdigit():
        return int(name)
    upper = name.upper()
    sig = getattr(signal, upper if upper.startswith("SIG") else "SIG" + upper, None)
    if not isinstance(sig, signal.Signals):
        raise RuntimeCommandError(f"kill: unknown signal {name!r}")
    return int(sig)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m reference_impl.runtime`` and the console script."""
    args = _parser().parse_args(argv)
    if args.version:
        from .features import VERSION

        print(f"{PROG} version {VERSION}\nspec: 1.3.0")
        return 0
    if not args.command:
        _parser().print_usage(sys.stderr)
        return 2
    log_fd = _setup_logging(args)
    try:
        return _dispatch(args, log_fd)
    except RuntimeCommandError as err:
        log.error("%s", err)
        return 1
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace, log_fd: int | None) -> int:
    from .state import Store

    store = Store(args.root)
    cmd = args.command
    if cmd in ("create", "run"):
        return _create_or_run(args, store, log_fd)
    if cmd == "start":
        from .lifecycle import start

        start(store, _need_id(args))
    elif cmd == "state":
        from .lifecycle import state

        print(json.dumps(state(store, _need_id(args)), indent=2))
    elif cmd == "kill":
        from .lifecycle import kill

        kill(store, _need_id(args), _signal_number(args.signal), args.all)
    elif cmd == "delete":
        from .lifecycle import delete

        delete(store, _need_id(args), args.force)
    elif cmd == "features":
        from .features import features

        print(json.dumps(features(), indent=2))
    elif cmd == "spec":
        return _spec(args)
    elif cmd == "list":
        _list(args, store)
    elif cmd == "ps":
        _ps(args, store)
    return 0


def _create_or_run(args: argparse.Namespace, store: Any, log_fd: int | None) -> int:
    from . import process

    cid = _need_id(args)
    preserve = args.preserve_fds + int(os.environ.get("LISTEN_FDS", "0") or 0)
    opts = process.Options(
        pid_file=args.pid_file,
        console_socket=args.console_socket,
        preserve_fds=preserve,
        log_fd=log_fd,
        log_json=args.log_format == "json",
        debug=args.debug,
    )
    if args.command == "create":
        process.create(store, cid, args.bundle, opts)
        return 0
    return _run(args, store, cid, opts)


def _run(args: argparse.Namespace, store: Any, cid: str, opts: Any) -> int:
    """``run``: create and start; unless detached, wait, forward signals, delete."""
    import signal

    from . import linux, process
    from .lifecycle import delete, kill, start

    if not args.detach:
        # Become the init's parent after the intermediate child exits, to wait for it.
        linux.prctl(linux.PR_SET_CHILD_SUBREAPER, 1)
    container = process.create(store, cid, args.bundle, opts)
    try:
        start(store, cid)
    except RuntimeCommandError:
        if not args.detach:
            delete(store, cid, force=True)
        raise
    if args.detach:
        return 0
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, lambda s, _f: _forward(store, cid, s, kill))
    status = _wait_for(container.pid)
    if not args.keep:
        delete(store, cid, force=True)
    return status


def _forward(store: Any, cid: str, sig: int, kill: Any) -> None:
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


def _spec(args: argparse.Namespace) -> int:
    from .features import spec_template

    path = os.path.join(args.bundle, "config.json")
    if os.path.exists(path):
        raise RuntimeCommandError(f"spec: {path} already exists")
    with open(path, "w") as fh:
        json.dump(spec_template(), fh, indent=2)
        fh.write("\n")
    return 0


def _list(args: argparse.Namespace, store: Any) -> None:
    from .lifecycle import list_containers

    docs = list_containers(store)
    if args.quiet:
        print("\n".join(d["id"] for d in docs))
    elif args.format == "json":
        print(json.dumps(docs))
    else:
        print(f"{'ID':<24} {'PID':<8} {'STATUS':<10} {'BUNDLE':<40} CREATED")
        for d in docs:
            print(f"{d['id']:<24} {d['pid']:<8} {d['status']:<10} {d['bundle']:<40} {d['created']}")


def _ps(args: argparse.Namespace, store: Any) -> None:
    from .cgroups import Cgroups

    container = store.load(_need_id(args))
    pids = Cgroups(container.cgroups, []).pids()
    if args.format == "json":
        print(json.dumps(pids))
    else:
        print("PID")
        print("\n".join(str(p) for p in pids))
