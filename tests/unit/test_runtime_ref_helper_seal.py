"""The reference runtime's helper image: a memfd sealed before anything can reach it.

The container's init runs the helper from this memfd; the seals are what keep the host's
copy of the runtime out of reach (the CVE-2019-5736 class) while the fd is still open.
"""

from __future__ import annotations

import fcntl
import os

import pytest

from reference_impl.runtime import process

F_GET_SEALS = 1034
SEAL_SEAL, SEAL_SHRINK, SEAL_GROW, SEAL_WRITE, SEAL_FUTURE_WRITE = 1, 2, 4, 8, 16


@pytest.fixture
def helper_fd():
    """The sealed helper memfd, closed afterwards."""
    fd = process._sealed_helper()
    yield fd
    os.close(fd)


def test_helper_memfd_holds_every_seal(helper_fd: int) -> None:
    """No more seals can change, it cannot shrink or grow, and no write is possible."""
    seals = fcntl.fcntl(helper_fd, F_GET_SEALS)

    assert seals & (SEAL_SEAL | SEAL_SHRINK | SEAL_GROW) == SEAL_SEAL | SEAL_SHRINK | SEAL_GROW
    assert seals & (SEAL_WRITE | SEAL_FUTURE_WRITE), f"no write seal: {seals:#x}"


def test_helper_memfd_refuses_writes_and_resizing(helper_fd: int) -> None:
    """Writing, truncating or growing the sealed image fails with EPERM."""
    with pytest.raises(PermissionError):
        os.pwrite(helper_fd, b"\x7fELF", 0)
    with pytest.raises(PermissionError):
        os.ftruncate(helper_fd, 0)
    with pytest.raises(PermissionError):
        os.ftruncate(helper_fd, os.fstat(helper_fd).st_size + 4096)


def test_helper_memfd_is_the_helper(helper_fd: int) -> None:
    """The memfd holds exactly the helper binary."""
    with open(process.helper_path(), "rb") as fh:
        expected = fh.read()

    assert os.pread(helper_fd, len(expected) + 1, 0) == expected
