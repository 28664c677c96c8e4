#!/bin/sh
# Run a runtime in a private mount namespace whose /sys/fs/cgroup is the host's cgroup2
# hierarchy, so it takes its cgroup v2 code path on a hybrid v1/v2 host.
#
# A cgroup2 mount always shows the one unified hierarchy: here the one the host mounts at
# /sys/fs/cgroup/unified, so the suite finds the container's cgroup there. Every call gets
# a new namespace (state, kill and delete see the same view as create); unshare(1) makes its
# mounts private, so the host's mount table is untouched. On a pure v2 host this is a no-op.
set -eu
if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
	exec "$@"
fi
exec unshare --mount --propagation private -- sh -ec '
	umount -R /sys/fs/cgroup 2>/dev/null || umount -l /sys/fs/cgroup
	mount -t cgroup2 none /sys/fs/cgroup
	exec "$@"
' cgroup2-view "$@"
