"""Unit tests of the reference runtime's cgroup code that need no root: the v2 device program,
huge page size names and the preflight checks of hugepageLimits and unified."""

from __future__ import annotations

from pathlib import Path

import pytest

from reference_impl.runtime import cgroups
from reference_impl.runtime.errors import ConfigError


def _run(program: bytes, kind: int, major: int, minor: int, access: int) -> int:
    """Interpret the few eBPF instructions device_program emits on one device request."""
    regs = [0] * 11
    ctx = [access << 16 | kind, major, minor]
    pc = 0
    while True:
        code, regs_byte = program[pc * 8], program[pc * 8 + 1]
        dst, src = regs_byte & 0xF, regs_byte >> 4
        off = int.from_bytes(program[pc * 8 + 2 : pc * 8 + 4], "little", signed=True)
        imm = int.from_bytes(program[pc * 8 + 4 : pc * 8 + 8], "little", signed=True)
        pc += 1
        if code == 0x61:
            regs[dst] = ctx[off // 4]
        elif code == 0xBF:
            regs[dst] = regs[src]
        elif code == 0xB7:
            regs[dst] = imm
        elif code == 0x57:
            regs[dst] &= imm
        elif code == 0x77:
            regs[dst] >>= imm
        elif code == 0x55:
            pc += off if regs[dst] != imm else 0
        elif code == 0x15:
            pc += off if regs[dst] == imm else 0
        elif code == 0x95:
            return regs[0]
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")


BLOCK, CHAR = 1, 2
MKNOD, READ, WRITE = 1, 2, 4


class TestDeviceProgram:
    """The BPF device filter behaves like the v1 allow/deny list it replaces."""

    def test_deny_all_then_allow_one_device(self) -> None:
        """A deny-all rule followed by one allow rule lets only that device through."""
        program = cgroups.device_program(
            [
                {"allow": False, "access": "rwm"},
                {"allow": True, "type": "b", "major": 241, "minor": 7, "access": "rw"},
            ]
        )

        assert _run(program, BLOCK, 241, 7, READ) == 1
        assert _run(program, BLOCK, 241, 7, READ | WRITE) == 1
        assert _run(program, BLOCK, 241, 7, MKNOD) == 0
        assert _run(program, BLOCK, 241, 8, READ) == 0
        assert _run(program, CHAR, 241, 7, READ) == 0

    def test_wildcards_and_a_later_deny(self) -> None:
        """Unset numbers match every device; a later deny overrides an earlier allow."""
        program = cgroups.device_program(
            [
                {"allow": True, "type": "c", "access": "rwm"},
                {"allow": False, "type": "c", "major": 1, "minor": 3, "access": "w"},
            ]
        )

        assert _run(program, CHAR, 5, 1, READ | WRITE) == 1
        assert _run(program, CHAR, 1, 3, READ) == 1
        assert _run(program, CHAR, 1, 3, WRITE) == 0

    def test_no_matching_rule_allows(self) -> None:
        """Without a matching rule the request is allowed, as in a new v1 cgroup."""
        program = cgroups.device_program([{"allow": False, "type": "b", "access": "rwm"}])

        assert _run(program, CHAR, 1, 3, READ) == 1
        assert _run(program, BLOCK, 8, 0, READ) == 0

    def test_default_device_lines_parse_as_allow_rules(self) -> None:
        """The default device lines become allow rules with -1 for a wildcard."""
        assert cgroups._parse_rule("c 136:* rwm") == {
            "allow": True,
            "type": "c",
            "major": 136,
            "minor": -1,
            "access": "rwm",
        }


class TestHugePages:
    """Huge page sizes are named as the kernel names hugetlb files."""

    @pytest.mark.parametrize(
        ("kib", "name"), [(64, "64KB"), (2048, "2MB"), (1048576, "1GB"), (32768, "32MB")]
    )
    def test_page_size_names(self, kib: int, name: str) -> None:
        """KiB counts become 64KB, 2MB, 1GB names."""
        assert cgroups.page_size_name(kib) == name

    def test_sizes_come_from_sysfs(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """hugepages-<N>kB directories are listed smallest first."""
        for entry in ("hugepages-1048576kB", "hugepages-2048kB"):
            (tmp_path / entry).mkdir()
        monkeypatch.setattr(cgroups, "HUGEPAGES", str(tmp_path))

        assert cgroups.huge_page_sizes() == ["2MB", "1GB"]


def _fake_host(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, v1: dict[str, str], controllers: str
) -> str:
    v2 = tmp_path / "unified"
    v2.mkdir()
    (v2 / "cgroup.controllers").write_text(controllers + "\n")
    (v2 / "cpu.pressure").write_text("")
    pages = tmp_path / "hugepages"
    (pages / "hugepages-2048kB").mkdir(parents=True)
    monkeypatch.setattr(cgroups, "HUGEPAGES", str(pages))
    monkeypatch.setattr(cgroups, "mounted_hierarchies", lambda: (v1, str(v2)))
    return str(v2)


class TestPreflight:
    """What the host cannot apply is refused before anything exists, naming the field."""

    def test_unknown_page_size(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        """A page size the kernel lacks names the entry and the sizes it has."""
        _fake_host(monkeypatch, tmp_path, {}, "hugetlb")

        with pytest.raises(ConfigError, match=r"hugepageLimits\[0\]\.pageSize: '3MB'.*2MB"):
            cgroups.preflight({"hugepageLimits": [{"pageSize": "3MB", "limit": 1}]})

    def test_hugetlb_outside_the_v1_hierarchies(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """On a hybrid host whose hugetlb is only in the unified hierarchy, v1 mode refuses."""
        _fake_host(monkeypatch, tmp_path, {"memory": "/sys/fs/cgroup/memory"}, "hugetlb")

        with pytest.raises(ConfigError, match=r"hugepageLimits: the hugetlb controller"):
            cgroups.preflight({"hugepageLimits": [{"pageSize": "2MB", "limit": 1}]})

    def test_hugetlb_in_v2_mode_is_accepted(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """With the cgroup2 hierarchy offering hugetlb, a known size passes."""
        _fake_host(monkeypatch, tmp_path, {}, "hugetlb")

        cgroups.preflight({"hugepageLimits": [{"pageSize": "2MB", "limit": 1}]})

    def test_unified_in_v1_mode(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        """unified cannot be applied by a runtime managing v1 hierarchies."""
        _fake_host(monkeypatch, tmp_path, {"memory": "/sys/fs/cgroup/memory"}, "hugetlb")

        with pytest.raises(ConfigError, match=r"linux\.resources\.unified: needs cgroup v2"):
            cgroups.preflight({"unified": {"cgroup.max.depth": "3"}})

    @pytest.mark.parametrize("key", ["cgroup.max.depth", "hugetlb.2MB.max", "cpu.pressure"])
    def test_unified_keys_that_can_be_written(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, key: str
    ) -> None:
        """Core files, offered controllers' files and files present at the root pass."""
        _fake_host(monkeypatch, tmp_path, {}, "hugetlb")

        cgroups.preflight({"unified": {key: "1"}})

    @pytest.mark.parametrize(
        ("key", "problem"),
        [
            ("memory.max", "the memory controller is not available"),
            ("../escape", "is not a cgroup interface file name"),
            ("nodot", "is not a cgroup interface file name"),
        ],
    )
    def test_unified_keys_that_are_refused(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, key: str, problem: str
    ) -> None:
        """An absent controller or a path-like key names the key."""
        _fake_host(monkeypatch, tmp_path, {}, "hugetlb")

        with pytest.raises(ConfigError, match=rf"unified\.{key.replace('.', '[.]')}: {problem}"):
            cgroups.preflight({"unified": {key: "1"}})
