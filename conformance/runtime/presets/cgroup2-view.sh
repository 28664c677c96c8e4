#!/bin/sh
# Run a runtime in a private mount namespace whose /sys/fs/cgroup is the host's cgroup2
# hierarchy, so it takes its cgroup v2 code path on a hybrid v1/v2 host. The crun preset uses
# it too: crun 1.8 refuses hybrid hosts outright ("cgroups in hybrid mode not supported"),
# even with --cgroup-manager=disabled.
#
# A cgroup2 mount always shows the one unified hierarchy: here the one the host mounts at
# /sys/fs/cgroup/unified, so the suite finds the container's cgroup there. Every call gets
# a new namespace (state, kill and delete see the same view as create). Its mounts are slaves
# of the host's: nothing done inside (the cgroup2 mount, the runtime's own mounts) reaches the
# host, while the host's shared mounts keep their peer group as a master, so a runtime sees
# the propagation of a bundle as it would when run directly (rootfsPropagation slave needs a
# master to show). On a pure v2 host this is a no-op.
set -eu
if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
	exec "$@"
fi
exec unshare --mount --propagation slave -- sh -ec '
	umount -R /sys/fs/cgroup 2>/dev/null || umount -l /sys/fs/cgroup
	mount -t cgroup2 none /sys/fs/cgroup
	exec "$@"
' cgroup2-view "$@"
