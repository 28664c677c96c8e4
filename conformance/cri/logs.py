"""The CRI container log format, parsed strictly.

kubelet reads container logs as lines ``<RFC3339Nano timestamp> <stdout|stderr> <P|F> <text>``
(``P`` a partial line continued by the next entry, ``F`` the full or final part); see
``ContainerConfig.log_path`` in the CRI api.proto.
"""

from __future__ import annotations

import re
from datetime import datetime

from conformance.core import Violation, check

# One CRI log line: "<RFC3339Nano timestamp> <stdout|stderr> <P|F> <message>"
# (kubernetes/cri-api ContainerConfig.log_path; kubelet's CRI log parser)
LOG_LINE = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)) "
    r"(?P<stream>stdout|stderr) (?P<tag>[PF]) (?P<msg>.*)$"
)


def parse_log(text: str, where: str) -> list[tuple[str, str, str]]:
    """Parse CRI log lines strictly.

    Args:
        text: the whole log file.
        where: the file's name, for messages.

    Returns:
        ``(stream, tag, message)`` per line.

    Raises:
        Violation: naming the first malformed line.
    """
    entries = []
    for number, line in enumerate(text.split("\n")[:-1], 1):
        match = LOG_LINE.match(line)
        if match is None:
            raise Violation(f"{where}:{number}", "<RFC3339Nano> <stdout|stderr> <P|F> <msg>", line)
        stamp = match["ts"]
        # fromisoformat takes at most microseconds: cut the fraction before parsing
        trimmed = re.sub(r"(\.\d{6})\d+", r"\1", stamp).replace("Z", "+00:00")
        try:
            datetime.fromisoformat(trimmed)
        except ValueError as err:
            raise Violation(f"{where}:{number}", "an RFC 3339 timestamp", stamp) from err
        entries.append((match["stream"], match["tag"], match["msg"]))
    check(text.endswith("\n") or not text, where, "newline-terminated lines", text[-80:])
    return entries
