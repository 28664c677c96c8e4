"""A minimal, real OCI runtime (runtime spec v1.3.0) with a runc-compatible CLI.

Entry points: ``python -m reference_impl.runtime``, the ``conformance-runtime`` console
script, and ``reference_impl/runtime/bin/conformance-runtime`` (a wrapper engines can point at).

How the work is split between Python and the native helper, and why
-------------------------------------------------------------------
Python (this package) does the CLI, validation of config.json (before anything is created;
every error names the field), the state directory with its locks, cgroups, hooks, and the
container init's set-up up to pivot_root:

* ``create`` (process P) forks a child A. A moves itself into the cgroups P made, joins
  namespaces given by path, unshares the new ones (user first; P writes the id maps), writes
  time offsets and forks B. Unsharing in a
  forked child and forking again is how a single-threaded Python process gets a pid-1 init in
  a new PID namespace without ``clone(2)``: ``unshare(CLONE_NEWPID)`` only affects children.
  A reports B's pid and exits, so B is re-parented to the caller's subreaper (the engine's
  shim), exactly as runc's init is.
* B, still Python and still able to import, assembles the root: mounts resolved with
  ``openat2(RESOLVE_IN_ROOT)`` and mounted through ``/proc/self/fd/N`` so no symlink can lead
  out of the rootfs, devices, sysctls, hostname, oom_score_adj; P meanwhile applies the device
  list and runs prestart/createRuntime hooks in the runtime namespaces; B runs createContainer
  hooks, then pivot_root, masked and read-only paths, terminal, rlimits.
* B then execs the static C helper (``helper/helper.c``) from a sealed memfd copied from the
  installed binary, so the host file is never reachable from the container (the
  CVE-2019-5736 class) and ``/proc/<pid>/exe`` never shows the host interpreter once the
  container is created.

The helper does what must be native and last: it reports readiness, blocks on the create/start
barrier (a listening unix socket in the state directory; ``start`` connects, sends the state,
and reads an error or EOF — the socket is close-on-exec, so EOF means the execve succeeded),
runs startContainer hooks, drops the bounding set, sets groups/gid/uid, capabilities incl.
ambient, umask, cwd, the AppArmor label and no_new_privs, installs the seccomp filter built
with libseccomp from the config, marks every fd but stdio (and ``--preserve-fds``/LISTEN_FDS)
close-on-exec, and execs the process. Reasons for this split: after pivot_root the interpreter
can no longer import; a seccomp filter may forbid syscalls the interpreter makes; capabilities
and seccomp must be the very last steps before execve with nothing interpreted in between; and
an interpreter running as the container's init during ``created`` would leak the host Python.

Seccomp notify (``SCMP_ACT_NOTIFY`` with ``listenerPath``) crosses that split: the notify fd
exists only once the helper has loaded the filter, after pivot_root, where the host path is out
of reach. So ``create`` (Python, in B before pivot_root) puts the prepared container process
state into the plan, and ``start`` (Python, in the runtime's namespaces) connects to
``listenerPath`` and passes the connected socket to the helper with SCM_RIGHTS together with
the state on the barrier. The helper sends the process state and the notify fd in one
``sendmsg`` right after loading the filter, closes both, and execs: nothing interpreted runs
between filter and execve, and neither fd reaches the container process. Connecting at
``start`` rather than ``create`` keeps any host-reaching fd out of the init while it waits in
``created``, and lets a failed connection fail ``start`` with no effect. The state says
``created``: it is sent while ``start`` runs, before the process does.

State: ``<root>/<id>/`` created with ``mkdir`` (duplicate ids fail atomically), every
operation under ``flock``; liveness from the init's pid and start time.
"""

import sys

# Every runtime operation is a fresh interpreter: without cached bytecode each call recompiles
# the package, which costs more than starting the container. Cache it even when the caller's
# environment says PYTHONDONTWRITEBYTECODE (as CI environments often do).
sys.dont_write_bytecode = False
