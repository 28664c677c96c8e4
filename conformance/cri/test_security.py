"""Security context: identity, read-only rootfs, privileges, capabilities, masked and
read-only paths, seccomp, no_new_privs, and optional features the runtime advertises."""

from __future__ import annotations

import json
import re
from pathlib import Path

import grpc
import pytest

from conformance.core import check, check_equal, skip_capability
from conformance.cri.helpers import rpc_code
from wire.proto.cri import api_pb2 as pb

pytestmark = pytest.mark.timeout(90)

CAP_CHOWN, CAP_NET_ADMIN = 0, 12


def _run(cri, privileged_pod: bool = False, command=("sleep", "3600"), **sc) -> str:
    pod_sc = pb.LinuxSandboxSecurityContext(privileged=privileged_pod)
    config = cri.pod_config("sec", security_context=pod_sc)
    pod_id, _ = cri.run_pod(config)
    linux = pb.LinuxContainerConfig(security_context=pb.LinuxContainerSecurityContext(**sc))
    return cri.run_container(pod_id, config, cri.container_config(command=command, linux=linux))


def _proc_status(cri, cid: str) -> dict[str, str]:
    text = cri.exec_ok(cid, ["cat", "/proc/self/status"])
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def _cap_eff(cri, cid: str) -> int:
    return int(_proc_status(cri, cid)["CapEff"].strip(), 16)


def _host_caps() -> int:
    text = Path("/proc/self/status").read_text()
    return int(re.search(r"CapEff:\s*([0-9a-f]+)", text).group(1), 16)


@pytest.mark.requirement("CRI-080")
def test_run_as_user_group_and_supplemental_groups(cri):
    """run_as_user, run_as_group and supplemental_groups set the process's ids."""
    cid = _run(
        cri,
        run_as_user=pb.Int64Value(value=1000),
        run_as_group=pb.Int64Value(value=1001),
        supplemental_groups=[4242],
    )

    uid = cri.exec_ok(cid, ["id", "-u"]).strip()
    gid = cri.exec_ok(cid, ["id", "-g"]).strip()
    groups = cri.exec_ok(cid, ["id", "-G"]).split()

    check_equal(uid, "1000", "id -u")
    check_equal(gid, "1001", "id -g")
    check("4242" in groups, "id -G", "includes supplemental group 4242", groups)


@pytest.mark.requirement("CRI-080")
def test_run_as_username_resolves_in_the_image(cri):
    """run_as_username is looked up in the image's /etc/passwd."""
    cid = _run(cri, run_as_username="kit")

    check_equal(cri.exec_ok(cid, ["id", "-u"]).strip(), "1000", "id -u for user 'kit'")


@pytest.mark.requirement("CRI-081")
def test_run_as_group_without_user_is_rejected(cri):
    """A run_as_group without run_as_user or run_as_username fails CreateContainer."""
    pod_id, config = cri.run_pod()
    sc = pb.LinuxContainerSecurityContext(run_as_group=pb.Int64Value(value=1001))
    ctr = cri.container_config(linux=pb.LinuxContainerConfig(security_context=sc))

    code, _ = rpc_code(lambda: cri.create_container(pod_id, config, ctr))

    check(
        code != grpc.StatusCode.OK,
        "CreateContainer(run_as_group only) status code",
        "an error",
        code,
    )


@pytest.mark.requirement("CRI-082")
@pytest.mark.parametrize("readonly", [True, False], ids=["readonly", "writable"])
def test_readonly_rootfs(cri, readonly):
    """readonly_rootfs makes the root filesystem refuse writes; without it writes work."""
    cid = _run(cri, readonly_rootfs=readonly)

    resp = cri.exec_sync(cid, ["touch", "/written"])

    check_equal(resp.exit_code != 0, readonly, "touch /written failed")


@pytest.mark.requirement("CRI-082")
def test_privileged_container_has_all_host_capabilities(cri):
    """A privileged container gets every capability the runtime itself has."""
    cid = _run(cri, privileged_pod=True, privileged=True)

    got = _cap_eff(cri, cid)

    check_equal(f"{got:x}", f"{_host_caps():x}", "CapEff of a privileged container")


@pytest.mark.requirement("CRI-082")
def test_unprivileged_container_lacks_net_admin(cri):
    """A container that is not privileged does not get CAP_NET_ADMIN by default."""
    cid = _run(cri)

    check(
        not _cap_eff(cri, cid) >> CAP_NET_ADMIN & 1,
        "CapEff bit CAP_NET_ADMIN",
        "clear",
        f"{_cap_eff(cri, cid):x}",
    )


@pytest.mark.requirement("CRI-082")
@pytest.mark.parametrize(
    ("add", "drop", "expect"),
    [
        (["NET_ADMIN"], [], "net_admin"),
        ([], ["CHOWN"], "no_chown"),
        (["ALL"], [], "all"),
        ([], ["ALL"], "none"),
    ],
    ids=["add", "drop", "add-all", "drop-all"],
)
def test_capabilities_add_and_drop(cri, add, drop, expect):
    """Capabilities added are effective, dropped ones are gone, ALL means every one."""
    caps = pb.Capability(add_capabilities=add, drop_capabilities=drop)
    cid = _run(cri, capabilities=caps)

    eff = _cap_eff(cri, cid)

    where = f"CapEff ({eff:x}) with add={add} drop={drop}"
    if expect == "net_admin":
        check(eff >> CAP_NET_ADMIN & 1, where, "CAP_NET_ADMIN set", "clear")
    elif expect == "no_chown":
        check(not eff >> CAP_CHOWN & 1, where, "CAP_CHOWN clear", "set")
    elif expect == "all":
        check_equal(f"{eff:x}", f"{_host_caps():x}", where)
    else:
        check_equal(eff, 0, where)


@pytest.mark.requirement("CRI-083")
def test_masked_and_readonly_paths(cri):
    """A masked path reads as empty; a read-only path refuses writes."""
    cid = _run(cri, masked_paths=["/etc/group"], readonly_paths=["/home"])

    masked = cri.exec_sync(cid, ["cat", "/etc/group"])
    write = cri.exec_sync(cid, ["touch", "/home/x"])

    check_equal(masked.stdout, b"", "contents of masked /etc/group")
    check(write.exit_code != 0, "touch /home/x under a read-only path", "fails", write.exit_code)


@pytest.mark.requirement("CRI-084")
@pytest.mark.parametrize(
    ("profile", "mode"),
    [(None, "0"), (pb.SecurityProfile.Unconfined, "0"), (pb.SecurityProfile.RuntimeDefault, "2")],
    ids=["nil-is-unconfined", "unconfined", "runtime-default"],
)
def test_seccomp_mode(cri, profile, mode):
    """Seccomp unset or Unconfined means no filter; RuntimeDefault installs one."""
    extra = {} if profile is None else {"seccomp": pb.SecurityProfile(profile_type=profile)}
    cid = _run(cri, **extra)

    got = _proc_status(cri, cid)["Seccomp"].strip()

    check_equal(got, mode, "Seccomp in /proc/self/status")


@pytest.mark.requirement("CRI-084")
def test_seccomp_localhost_profile_blocks_chmod(cri):
    """A Localhost seccomp profile that denies chmod makes chmod fail in the container."""
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["chmod", "fchmod", "fchmodat", "fchmodat2"], "action": "SCMP_ACT_ERRNO"}
        ],
    }
    path = cri.tempdir("cri-seccomp-") / "deny-chmod.json"
    path.write_text(json.dumps(profile))
    sp = pb.SecurityProfile(profile_type=pb.SecurityProfile.Localhost, localhost_ref=str(path))
    cid = _run(cri, seccomp=sp)

    resp = cri.exec_sync(cid, ["sh", "-c", "touch /f && chmod 600 /f"])

    check(resp.exit_code != 0, "chmod under a chmod-denying profile", "fails", resp.exit_code)
    check_equal(_proc_status(cri, cid)["Seccomp"].strip(), "2", "Seccomp in /proc/self/status")


@pytest.mark.requirement("CRI-085")
@pytest.mark.parametrize("flag", [True, False])
def test_no_new_privs(cri, flag):
    """no_new_privs sets the NoNewPrivs flag of the container's processes, or leaves it off."""
    cid = _run(cri, no_new_privs=flag)

    got = _proc_status(cri, cid)["NoNewPrivs"].strip()

    check_equal(got, "1" if flag else "0", "NoNewPrivs in /proc/self/status")


@pytest.mark.requirement("CRI-086")
@pytest.mark.parametrize("feature", ["user_namespaces", "recursive_read_only_mounts"])
def test_advertised_handler_features_work(cri, feature):
    """Handler features are exercised only when Status advertises them."""
    status = cri.client.runtime.Status(pb.StatusRequest())
    handler = cri.ctx.runtime_handler
    entries = [h for h in status.runtime_handlers if h.name == handler]
    if not entries or not getattr(entries[0].features, feature):
        skip_capability(feature, f"not advertised for runtime handler {handler!r}")
    if feature == "recursive_read_only_mounts":
        pod_id, config = cri.run_pod()
        host = cri.tempdir("cri-rro-")
        mount = pb.Mount(
            container_path="/mnt/rro", host_path=str(host), readonly=True, recursive_read_only=True
        )
        cid = cri.run_container(pod_id, config, cri.container_config(mounts=[mount]))
        resp = cri.exec_sync(cid, ["touch", "/mnt/rro/x"])
        check(resp.exit_code != 0, "touch on a recursive read-only mount", "fails", resp.exit_code)
    else:
        ids = [pb.IDMapping(host_id=231072, container_id=0, length=65536)]
        userns = pb.UserNamespace(mode=pb.POD, uids=ids, gids=ids)
        options = pb.NamespaceOption(userns_options=userns)
        sc = pb.LinuxSandboxSecurityContext(namespace_options=options)
        pod_id, config = cri.run_pod(cri.pod_config("userns", security_context=sc))
        ctr_sc = pb.LinuxContainerSecurityContext(namespace_options=options)
        cid = cri.run_container(
            pod_id,
            config,
            cri.container_config(linux=pb.LinuxContainerConfig(security_context=ctr_sc)),
        )
        got = cri.exec_ok(cid, ["cat", "/proc/self/uid_map"]).split()
        check_equal(got, ["0", "231072", "65536"], "/proc/self/uid_map in a POD user namespace")


@pytest.mark.requirement("CRI-087")
def test_image_groups_of_run_as_user_are_merged_by_default(cri):
    """Without a policy, the groups /etc/group gives the run-as user are added (Merge)."""
    cid = _run(cri, run_as_user=pb.Int64Value(value=1000), supplemental_groups=[4242])

    groups = cri.exec_ok(cid, ["id", "-G"]).split()

    for gid in ("1001", "1002", "4242"):
        check(gid in groups, "id -G of uid 1000 (kit)", f"includes {gid}", groups)


@pytest.mark.requirement("CRI-087")
def test_strict_supplemental_groups_policy_ignores_image_groups(cri):
    """With the Strict policy only the configured groups apply, and the status reports them."""
    features = cri.client.runtime.Status(pb.StatusRequest()).features
    if not features.supplemental_groups_policy:
        skip_capability("supplemental_groups_policy", "Status.features does not advertise it")
    cid = _run(
        cri,
        run_as_user=pb.Int64Value(value=1000),
        supplemental_groups=[4242],
        supplemental_groups_policy=pb.Strict,
    )

    groups = cri.exec_ok(cid, ["id", "-G"]).split()

    check(
        "1001" not in groups and "4242" in groups,
        "id -G under Strict",
        "4242 and no image group",
        groups,
    )
    user = cri.status(cid).user.linux
    check(
        4242 in user.supplemental_groups and 1001 not in user.supplemental_groups,
        "ContainerStatus.user.linux.supplemental_groups",
        "4242, no 1001",
        user,
    )
