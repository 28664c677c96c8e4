"""Logging that costs nothing until a line is emitted.

Every CLI call is a fresh interpreter, and importing :mod:`logging` costs about as much as a
whole ``start``. Modules take a :class:`Logger` from :func:`get_logger` (named like
``logging.getLogger(__name__)``); the first line actually emitted imports :mod:`logging` and
installs the handlers the CLI asked for (stderr for warnings and errors, ``--log`` as text or
JSON lines). Debug lines are dropped without any import unless ``--debug`` is on.
"""

from __future__ import annotations

_settings: dict[str, object] = {"debug": False, "path": None, "json": False}
_ready = False


def configure(debug: bool, path: str | None, json_format: bool) -> None:
    """Record the CLI's choices; handlers are installed on first use."""
    _settings.update(debug=debug, path=path, json=json_format)


def debug_enabled() -> bool:
    """Whether debug lines are wanted (``--debug``)."""
    return bool(_settings["debug"])


def _install() -> None:
    global _ready
    import logging
    import sys
    import time

    class JsonFormatter(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            import json

            when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created))
            level = record.levelname.lower()
            return json.dumps({"level": level, "msg": record.getMessage(), "time": when})

    root = logging.getLogger("reference_impl")
    root.setLevel(logging.DEBUG if _settings["debug"] else logging.INFO)
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setLevel(logging.WARNING)
    stderr.setFormatter(logging.Formatter("conformance-runtime: %(levelname)s: %(message)s"))
    root.addHandler(stderr)
    if _settings["path"]:
        handler = logging.FileHandler(str(_settings["path"]))
        if _settings["json"]:
            handler.setFormatter(JsonFormatter())
        else:
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        root.addHandler(handler)
    _ready = True


def report_error(message: str) -> None:
    """Print a fatal error to stderr and the ``--log`` file, without importing logging
    unless it is already set up (the error path of ``state`` on an unknown id is common)."""
    if _ready:
        Logger("reference_impl.runtime").error("%s", message)
        return
    import sys
    import time

    sys.stderr.write(f"conformance-runtime: ERROR: {message}\n")
    path = _settings["path"]
    if not path:
        return
    if _settings["json"]:
        from _json import encode_basestring_ascii as quote

        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        line = f'{{"level": "error", "msg": {quote(message)}, "time": {quote(when)}}}\n'
    else:
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} ERROR {message}\n"
    with open(str(path), "a") as fh:
        fh.write(line)


class Logger:
    """The subset of :class:`logging.Logger` the runtime uses, imported lazily."""

    def __init__(self, name: str) -> None:
        self.name = name

    def _emit(self, level: int, msg: str, args: tuple[object, ...]) -> None:
        if not _ready:
            _install()
        import logging

        logging.getLogger(self.name).log(level, msg, *args)

    def debug(self, msg: str, *args: object) -> None:
        """Log at DEBUG (only with ``--debug``)."""
        if _settings["debug"]:
            self._emit(10, msg, args)

    def info(self, msg: str, *args: object) -> None:
        """Log at INFO."""
        self._emit(20, msg, args)

    def warning(self, msg: str, *args: object) -> None:
        """Log at WARNING."""
        self._emit(30, msg, args)

    def error(self, msg: str, *args: object) -> None:
        """Log at ERROR."""
        self._emit(40, msg, args)


def get_logger(name: str) -> Logger:
    """A lazy logger named like ``logging.getLogger(name)``."""
    return Logger(name)
