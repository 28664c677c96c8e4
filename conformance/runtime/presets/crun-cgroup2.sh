#!/bin/sh
# Run crun in a private mount namespace that sees a pure cgroup2 hierarchy.
#
# crun 1.8 refuses hybrid cgroup v1/v2 hosts ("cgroups in hybrid mode not supported") even
# with --cgroup-manager=disabled. Each invocation gets its own mount namespace whose
# /sys/fs/cgroup is replaced by a cgroup2 mount. The new namespace's mounts are slaves of the
# host's: nothing mounted inside reaches the host, and a bundle on a shared host mount still
# has that peer group as its master, as it would for crun run directly.
set -eu
if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
	exec "$@"
fi
exec unshare --mount --propagation slave -- sh -ec '
	umount -R /sys/fs/cgroup 2>/dev/null || umount -l /sys/fs/cgroup
	mount -t cgroup2 none /sys/fs/cgroup
	exec "$@"
' crun-cgroup2 "$@"
