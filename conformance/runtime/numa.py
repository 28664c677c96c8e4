"""NUMA memory policies (config-linux.md, Memory policy): names, node lists, the host's view.

The harness asks the kernel itself, with set_mempolicy(2) on its own thread, whether a
policy can be applied here: a mode newer than the kernel (MPOL_WEIGHTED_INTERLEAVE is 6.9)
or a node list the host lacks is a host limit, not the runtime's fault. The memory policy
is per thread and is put back when the trial ends, so the worker's other threads never see
it; processes the thread starts meanwhile inherit it, which the tests use on purpose.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

MODES = {
    "MPOL_DEFAULT": 0,
    "MPOL_PREFERRED": 1,
    "MPOL_BIND": 2,
    "MPOL_INTERLEAVE": 3,
    "MPOL_LOCAL": 4,
    "MPOL_PREFERRED_MANY": 5,
    "MPOL_WEIGHTED_INTERLEAVE": 6,
}
"""Config mode name → the kernel's mode number (linux/mempolicy.h)."""

FLAGS = {
    "MPOL_F_NUMA_BALANCING": 1 << 13,
    "MPOL_F_RELATIVE_NODES": 1 << 14,
    "MPOL_F_STATIC_NODES": 1 << 15,
}
"""Config flag name → the mode flag bit get_mempolicy(2) reports with the mode."""

NODELESS = frozenset({"MPOL_DEFAULT", "MPOL_LOCAL"})
"""Modes the kernel takes only with an empty node set."""

NODE_DIR = Path("/sys/devices/system/node")
_MAX_NODES = 1024
_SYS_SET_MEMPOLICY = 238  # x86-64
_SYS_GET_MEMPOLICY = 239

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_Mask = ctypes.c_ulong * (_MAX_NODES // (8 * ctypes.sizeof(ctypes.c_ulong)))


def parse_nodes(text: str) -> set[int]:
    """The node numbers of a list such as ``0-3,7`` (the cpuset list format)."""
    nodes: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        low, _, high = part.partition("-")
        nodes.update(range(int(low), int(high or low) + 1))
    return nodes


def host_memory_nodes() -> list[int]:
    """Nodes with memory that this process may allocate from (has_memory ∩ Mems_allowed)."""
    has_memory = NODE_DIR / "has_memory"
    if not has_memory.exists():
        return [0]  # a kernel without CONFIG_NUMA still reports and accepts node 0
    nodes = parse_nodes(has_memory.read_text().strip())
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("Mems_allowed_list:"):
            nodes &= parse_nodes(line.split(":", 1)[1].strip())
    return sorted(nodes)


def absent_node() -> int:
    """The lowest node number the host has no memory node for."""
    present = set(host_memory_nodes())
    return next(n for n in range(_MAX_NODES) if n not in present)


def _mask(nodes: Iterable[int]) -> ctypes.Array[ctypes.c_ulong]:
    mask = _Mask()
    bits = 8 * ctypes.sizeof(ctypes.c_ulong)
    for node in nodes:
        mask[node // bits] |= 1 << (node % bits)
    return mask


def _set(policy: int, nodes: Iterable[int]) -> int:
    """set_mempolicy(2) on the calling thread; 0 or the errno."""
    mask = _mask(nodes)
    # maxnode counts one past the last bit the kernel reads.
    res = _libc.syscall(
        _SYS_SET_MEMPOLICY, ctypes.c_int(policy), mask, ctypes.c_ulong(_MAX_NODES + 1)
    )
    return ctypes.get_errno() if res < 0 else 0


def _get() -> tuple[int, set[int]]:
    policy, mask = ctypes.c_int(0), _Mask()
    res = _libc.syscall(
        _SYS_GET_MEMPOLICY, ctypes.byref(policy), mask, ctypes.c_ulong(_MAX_NODES), None, 0
    )
    if res < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"get_mempolicy: {os.strerror(err)}")
    bits = 8 * ctypes.sizeof(ctypes.c_ulong)
    return policy.value, {n for n in range(_MAX_NODES) if mask[n // bits] >> (n % bits) & 1}


def policy_value(mode: str, flags: Iterable[str] = ()) -> int:
    """The int set_mempolicy takes for a config mode and its flags."""
    value = MODES[mode]
    for flag in flags:
        value |= FLAGS[flag]
    return value


@contextlib.contextmanager
def thread_policy(mode: str, flags: Iterable[str], nodes: Iterable[int]) -> Iterator[int]:
    """Run the block with the calling thread under a policy; yields 0 or set_mempolicy's errno.

    Processes this thread starts inherit the policy (fork copies it). The thread's former
    policy is put back afterwards.
    """
    before, before_nodes = _get()
    err = _set(policy_value(mode, flags), nodes)
    try:
        yield err
    finally:
        if not err and _set(before, before_nodes):
            raise OSError(ctypes.get_errno(), "set_mempolicy: could not restore the policy")


def host_refuses(mode: str, flags: Iterable[str], nodes: Iterable[int]) -> str | None:
    """Why this kernel refuses a policy (for a host skip), or None when it takes it."""
    flags, nodes = list(flags), list(nodes)
    with thread_policy(mode, flags, nodes) as err:
        if not err:
            return None
    what = "|".join([mode, *flags])
    return f"the host kernel refuses set_mempolicy({what}, nodes {nodes}): {os.strerror(err)}"


def config_policy(mode: str, nodes: str = "", flags: Iterable[str] = ()) -> dict[str, object]:
    """A linux.memoryPolicy object; nodes and flags only when given."""
    policy: dict[str, object] = {"mode": mode}
    if nodes:
        policy["nodes"] = nodes
    if flags:
        policy["flags"] = list(flags)
    return policy


def seen_policy(report: dict[str, object]) -> dict[str, object]:
    """The probe's get_mempolicy(2) report in config terms: mode and flag names, node list."""
    raw = report.get("mempolicy")
    if not isinstance(raw, dict) or raw.get("errno"):
        return {"get_mempolicy": raw}
    names = {v: k for k, v in MODES.items()}
    flags = [name for name, bit in FLAGS.items() if raw["flags"] & bit]
    unknown = raw["flags"] & ~sum(FLAGS.values())
    if unknown:
        flags.append(f"{unknown:#x}")
    mode = names.get(raw["mode"], f"mode {raw['mode']}")
    return {"mode": mode, "flags": sorted(flags), "nodes": sorted(raw["nodes"])}
