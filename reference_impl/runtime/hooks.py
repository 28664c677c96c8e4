"""Run OCI hooks (config.md#posix-platform-hooks): the state on stdin, args and env as given."""

from __future__ import annotations

from ._log import get_logger
from .errors import HostError

# typing is imported for type checkers only: every CLI call pays for each import.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

log = get_logger(__name__)


def run_hooks(
    kind: str, hooks: list[dict[str, Any]], state: dict[str, Any], keep_going: bool = False
) -> None:
    """Run every hook of ``kind`` in order; the first failure raises.

    Args:
        kind: the hook kind (``prestart``, ``poststop``, ...), for messages.
        hooks: the config's entries (``path``, ``args``, ``env``, ``timeout``).
        state: the state document written to each hook's stdin.

    Raises:
        HostError: a hook could not be started, exited non-zero, or ran past its timeout.
    """
    if not hooks:
        return  # the common case: no json import, no state document
    import json

    payload = json.dumps(state).encode()
    for i, hook in enumerate(hooks):
        try:
            run_hook(f"hooks.{kind}[{i}]", hook, payload)
        except HostError as err:
            if not keep_going:
                raise
            # config.md#posix-platform-hooks: e.g. poststop failures are warnings only.
            log.warning("%s", err)


def run_hook(field: str, hook: dict[str, Any], payload: bytes) -> None:
    """Run one hook; raises :class:`HostError` naming ``field`` when it fails."""
    path = hook["path"]
    args = hook.get("args") or [path]
    log.debug("running %s: %s", field, path)
    # stderr goes to a file, not a pipe: a hook that leaves a daemon behind holding the pipe
    # would otherwise hang the runtime.
    import tempfile

    with tempfile.TemporaryFile() as errfile:
        _spawn(field, path, args, hook, payload, errfile)


def _spawn(
    field: str, path: str, args: list[str], hook: dict[str, Any], payload: bytes, errfile: Any
) -> None:
    import subprocess

    try:
        proc = subprocess.run(
            args,
            executable=path,
            input=payload,
            env=_env(hook.get("env")),
            stdout=subprocess.DEVNULL,
            stderr=errfile,
            timeout=hook.get("timeout"),
            close_fds=True,
            check=False,
        )
    except subprocess.TimeoutExpired as err:
        raise HostError(f"{field}: {path} timed out after {hook.get('timeout')} s") from err
    except OSError as err:
        raise HostError(f"{field}: failed to run {path}: {err.strerror}") from err
    if proc.returncode != 0:
        errfile.seek(0)
        detail = errfile.read().decode(errors="replace").strip()[-500:]
        raise HostError(f"{field}: {path} exited with status {proc.returncode}: {detail}")


def _env(entries: list[str] | None) -> dict[str, str]:
    env: dict[str, str] = {}
    for entry in entries or []:
        key, _, value = entry.partition("=")
        env[key] = value
    return env
