"""Run the reference CSI driver: ``python -m reference_impl.csi --endpoint unix:///x.sock ...``."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from reference_impl.csi.driver import FAULTS, FAULTS_ENV, Config
from reference_impl.csi.server import EndpointError, build

log = logging.getLogger("reference_impl.csi")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line; ``--endpoint`` defaults to ``$CSI_ENDPOINT`` as the spec asks."""
    parser = argparse.ArgumentParser(prog="python -m reference_impl.csi", description=__doc__)
    parser.add_argument("--endpoint", default=os.environ.get("CSI_ENDPOINT"))
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--node-id", required=True)
    parser.add_argument("--max-volumes", type=int, default=0, help="attach limit (0: none)")
    parser.add_argument("--capacity", type=int, default=64 << 30, help="total bytes")
    parser.add_argument("--max-volume-size", type=int, default=16 << 30)
    parser.add_argument(
        "--mutable-parameters", default="iops,throughput", help="accepted keys, comma-separated"
    )
    parser.add_argument("--log-level", default=os.environ.get("CSI_LOG_LEVEL", "INFO"))
    return parser.parse_args(argv)


def faults_from_env() -> frozenset[str]:
    """Deliberate misbehaviours named in ``$CSI_REFERENCE_FAULTS`` (for testing the suite)."""
    names = frozenset(f for f in os.environ.get(FAULTS_ENV, "").split(",") if f)
    unknown = names - FAULTS
    if unknown:
        raise SystemExit(
            f"{FAULTS_ENV}: unknown fault(s) {sorted(unknown)}; known {sorted(FAULTS)}"
        )
    return names


def main(argv: list[str] | None = None) -> int:
    """Start the driver and serve until SIGTERM or SIGINT."""
    opts = parse_args(argv)
    logging.basicConfig(
        level=opts.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not opts.endpoint:
        print("error: --endpoint or CSI_ENDPOINT is required", file=sys.stderr)
        return 2
    config = Config(
        endpoint=opts.endpoint,
        state_dir=opts.state_dir.resolve(),
        node_id=opts.node_id,
        max_volumes=opts.max_volumes,
        capacity=opts.capacity,
        max_volume_size=opts.max_volume_size,
        mutable_keys=frozenset(k for k in opts.mutable_parameters.split(",") if k),
        faults=faults_from_env(),
    )
    if config.faults:
        log.warning("deliberate faults switched on: %s", ", ".join(sorted(config.faults)))
    config.state_dir.mkdir(parents=True, exist_ok=True)
    try:
        server = build(config)
    except EndpointError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    log.info("stopping")
    server.stop(grace=2).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
