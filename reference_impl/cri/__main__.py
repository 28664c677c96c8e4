"""``python -m reference_impl.cri --endpoint unix:///path --root DIR --state DIR``."""

from __future__ import annotations

import argparse
import logging
import shutil
import signal
import sys
from pathlib import Path

from reference_impl.cri.context import Settings
from reference_impl.cri.server import serve


def _default_runtime() -> str:
    return shutil.which("runc") or "/usr/sbin/runc"


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and serve until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m reference_impl.cri")
    parser.add_argument("--endpoint", required=True, help="unix:///path/to/cri.sock")
    parser.add_argument("--root", required=True, type=Path, help="images and container rootfs")
    parser.add_argument("--state", required=True, type=Path, help="records, bundles, runtime")
    parser.add_argument("--runtime", default=_default_runtime(), help="runc-compatible CLI")
    parser.add_argument("--cni-conf-dir", type=Path, default=None)
    parser.add_argument(
        "--cni-bin-dir",
        action="append",
        default=None,
        help="CNI plugin directory (repeatable; default: the reference plugins, then /usr/lib/cni)",
    )
    parser.add_argument("--insecure-registry", action="append", default=[])
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = Settings(
        root=args.root.resolve(),
        state=args.state.resolve(),
        runtime=args.runtime,
        cni_conf_dir=args.cni_conf_dir,
        cni_bin_dirs=args.cni_bin_dir,
        insecure=set(args.insecure_registry),
    )
    server = serve(args.endpoint, settings)
    stop = lambda *_: server.stop(grace=2)  # noqa: E731
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.wait_for_termination()
    return 0


if __name__ == "__main__":
    sys.exit(main())
