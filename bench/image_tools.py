"""Benchmark: the image suite's validator and the reference unpacker beside the real peers.

Run: ``PYTHONPATH=. python bench/image_tools.py [--runs 10] [--size-mib 64]``

Layouts: the kit's ``base`` image alone (about 1 MiB gzip), and a synthetic single-layer image
of ``--size-mib`` MiB of incompressible data (gzip). Prints the median wall time of each
operation and its ratio to ``fork+exec /bin/true``. Not a test: the numbers depend on the host.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from conformance import kit  # noqa: E402
from conformance.image.validate import validate  # noqa: E402
from wire import image as img  # noqa: E402
from wire.layout import LayoutReader, LayoutWriter  # noqa: E402


def _median(func: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _run(*argv: str) -> Callable[[], object]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return lambda: subprocess.run(argv, check=True, capture_output=True, env=env)


def _layouts(work: Path, size_mib: int) -> dict[str, Path]:
    base = kit.image("base")
    small = LayoutWriter(work / "small")
    for digest, data in {**base.blobs, base.digest: base.manifest_bytes}.items():
        small.write_blob(data, digest.split(":")[0])
    small.tag(base.descriptor, "img")
    small.save()
    big = LayoutWriter(work / "big")
    payload = os.urandom(size_mib << 20)
    big.tag(big.put_image([img.LayerBuilder().file("blob", payload).tar()]), "img")
    big.save()
    return {"kit base": small.root, f"{size_mib} MiB layer": big.root}


def _unpack_with(argv: list[str], dest: Path) -> Callable[[], object]:
    def go() -> None:
        shutil.rmtree(dest, ignore_errors=True)
        _run(*[a.format(dest=dest) for a in argv])()

    return go


def main() -> int:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--size-mib", type=int, default=64)
    args = parser.parse_args()
    baseline = _median(_run("/bin/true"), args.runs)
    print(f"fork+exec /bin/true: {baseline * 1000:.1f} ms (median of {args.runs})")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for label, layout in _layouts(work, args.size_mib).items():
            dest = work / "rootfs"
            ops: dict[str, Callable[[], object]] = {
                "suite validator (in process)": lambda layout=layout: validate(
                    LayoutReader(layout)
                ),
                "suite validator (python -c, incl. start-up)": _run(
                    sys.executable,
                    "-c",
                    "import sys; from conformance.image.validate import validate; "
                    "from wire.layout import LayoutReader; validate(LayoutReader(sys.argv[1]))",
                    str(layout),
                ),
                "reference unpack": _unpack_with(
                    [
                        sys.executable,
                        "-m",
                        "reference_impl.image",
                        "unpack",
                        str(layout),
                        "img",
                        "{dest}",
                    ],
                    dest,
                ),
            }
            if shutil.which("oci-image-tool"):
                ops["oci-image-tool validate"] = _run(
                    "oci-image-tool",
                    "validate",
                    "--type",
                    "image",
                    "--ref",
                    "name=img",
                    str(layout),
                )
                ops["oci-image-tool unpack"] = _unpack_with(
                    ["oci-image-tool", "unpack", "--ref", "name=img", str(layout), "{dest}"], dest
                )
            if shutil.which("umoci"):
                ops["umoci raw unpack"] = _unpack_with(
                    ["umoci", "raw", "unpack", "--image", f"{layout}:img", "{dest}"], dest
                )
            print(f"\n== {label}")
            for name, func in ops.items():
                median = _median(func, args.runs)
                print(f"{name:48s} {median * 1000:9.1f} ms  {median / baseline:8.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
