"""Command line: ``python -m reference_impl.distribution --root DIR --listen HOST:PORT``."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import uvicorn

from .app import FAULTS, create_app
from .auth import AuthConfig, Authenticator
from .storage import Storage

log = logging.getLogger(__name__)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m reference_impl.distribution",
        description="The reference OCI registry of the conformance harness.",
    )
    parser.add_argument("--root", required=True, type=Path, help="storage directory")
    parser.add_argument(
        "--listen", default="127.0.0.1:5000", help="HOST:PORT to listen on (default %(default)s)"
    )
    parser.add_argument("--auth-config", type=Path, help="YAML file enabling basic/token auth")
    parser.add_argument(
        "--rate-limit",
        type=float,
        default=0.0,
        help="requests per second per client before 429 TOOMANYREQUESTS (default: no limit)",
    )
    parser.add_argument("--log-level", default="warning", help="python log level")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        choices=sorted(FAULTS),
        help="deliberately misbehave (only for the harness's self-tests)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the registry until SIGINT/SIGTERM."""
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s %(message)s")
    host, _, port = args.listen.rpartition(":")
    if not host or not port.isdigit():
        print(f"--listen: expected HOST:PORT, got {args.listen!r}", file=sys.stderr)
        return 2
    storage = Storage(args.root)
    removed = storage.reap_uploads()
    if removed:
        log.info("removed %d stale upload sessions", removed)
    auth = Authenticator(AuthConfig.load(args.auth_config)) if args.auth_config else None
    app = create_app(storage, auth, frozenset(args.fault), args.rate_limit)
    config = uvicorn.Config(
        app,
        host=host.strip("[]"),
        port=int(port),
        log_level=args.log_level.lower(),
        access_log=False,
        lifespan="off",
        server_header=False,
    )
    uvicorn.Server(config).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
