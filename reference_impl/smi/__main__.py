"""Command line of the reference mesh: ``python -m reference_impl.smi --listen ADDR ...``."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import uvicorn
from starlette.applications import Starlette

from reference_impl.smi import procs
from reference_impl.smi.api import build_app
from reference_impl.smi.ca import MeshCA
from reference_impl.smi.mesh import Flags, Mesh
from reference_impl.smi.store import Store

log = logging.getLogger("reference_impl.smi")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m reference_impl.smi", description=__doc__)
    parser.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT of the API (loopback)")
    parser.add_argument("--state-dir", type=Path, required=True, help="objects, CA, logs")
    parser.add_argument("--permissive", action="store_true", help="allow traffic without targets")
    parser.add_argument("--exit-with-parent", action="store_true", help="die with the parent")
    parser.add_argument("--port-file", type=Path, help="write the bound API port here")
    parser.add_argument("--log-level", default="INFO")
    broken = parser.add_argument_group("deliberately broken behaviour (to test the suite)")
    broken.add_argument("--debug-ignore-weights", action="store_true")
    broken.add_argument("--debug-allow-all", action="store_true")
    broken.add_argument("--debug-accept-invalid", action="store_true")
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    if host not in ("127.0.0.1", "localhost") or not port.isdigit():
        parser.error(f"--listen must be 127.0.0.1:PORT (loopback only), got {args.listen!r}")
    args.host, args.port = "127.0.0.1", int(port)
    return args


def build(args: argparse.Namespace) -> Starlette:
    """The application with its store, CA and data plane."""
    flags = Flags(
        permissive=args.permissive,
        debug_ignore_weights=args.debug_ignore_weights,
        debug_allow_all=args.debug_allow_all,
        debug_accept_invalid=args.debug_accept_invalid,
    )
    state: Path = args.state_dir
    mesh = Mesh(Store(state / "objects"), MeshCA(state / "ca"), state, flags)
    app = build_app(mesh)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await app.state.control_plane.restore()
        try:
            yield
        finally:
            log.info("stopping %d pods", len(mesh.pods))
            await mesh.stop_all()

    app.router.lifespan_context = lifespan
    return app


class _Server(uvicorn.Server):
    """Writes the bound port once listening, so callers can use port 0."""

    def __init__(self, config: uvicorn.Config, port_file: Path | None) -> None:
        super().__init__(config)
        self.port_file = port_file

    async def startup(self, sockets: list | None = None) -> None:  # type: ignore[type-arg]
        await super().startup(sockets)
        if self.port_file is not None and self.servers:
            port = self.servers[0].sockets[0].getsockname()[1]
            tmp = self.port_file.with_suffix(".tmp")
            tmp.write_text(str(port))
            tmp.replace(self.port_file)
            log.info("listening on 127.0.0.1:%d", port)


def main(argv: list[str] | None = None) -> int:
    """Run the mesh until SIGTERM or SIGINT; every pod process is stopped on the way out."""
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.exit_with_parent:
        procs.set_parent_death_signal(signal.SIGTERM)
        if os.getppid() == 1:
            return 1
    args.state_dir.mkdir(parents=True, exist_ok=True)
    config = uvicorn.Config(
        build(args), host=args.host, port=args.port, log_level="warning", access_log=False
    )
    _Server(config, args.port_file).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
