// SPDX-License-Identifier: Apache-2.0
/*
 * helper: the last, native stage of the reference OCI runtime's container init.
 *
 * The Python runtime sets up namespaces, mounts and pivot_root, then execs this static binary
 * through a sealed memfd (so the host file is never reachable from the container) with a plan on
 * an inherited fd.  The helper then does what must be native and last:
 *
 *   1. tell the creating runtime it is ready, then block on the create/start barrier (a listening
 *      unix socket: `start` connects and sends the state document);
 *   2. run the startContainer hooks inside the container;
 *   3. drop the bounding set, switch user and groups, set capabilities (incl. ambient),
 *      no_new_privs, umask, cwd, the AppArmor exec label;
 *   4. install the seccomp filter and execve the container process, with every fd other than
 *      stdio and the preserved ones marked close-on-exec.  With an SCMP_ACT_NOTIFY rule, `start`
 *      passes a socket it connected to linux.seccomp.listenerPath along with the state; right
 *      after the filter is loaded the helper sends the container process state prepared by
 *      `create` and the filter's notify fd over it (SCM_RIGHTS), then closes both.
 *
 * Nothing interpreted runs between the seccomp filter and execve.
 *
 * Plan format: records of NUL-terminated strings; each record is "<keyword>\0<n>\0" followed by
 * n strings.  Numbers are decimal, capability sets hex.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif
#ifndef SECCOMP_FILTER_FLAG_TSYNC_ESRCH
#define SECCOMP_FILTER_FLAG_TSYNC_ESRCH (1UL << 4)
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

#define MAX_HOOKS 64
#define MAX_RULES 4096
#define MAX_GROUPS 1024

struct strv {
	int n;
	char **v;
};

struct hook {
	char *path;
	struct strv args;
	struct strv env;
	int timeout;
};

struct rule {
	char *action;
	int errnoret;
	char *name;
	int ncond;
	struct scmp_arg_cmp cond[6];
};

struct plan {
	int log_fd, debug, log_json;
	int sync_fd, barrier_fd, preserve;
	struct hook hooks[MAX_HOOKS];
	int nhooks;
	char *cwd;
	int has_user;
	uid_t uid;
	gid_t gid;
	int has_groups, ngroups;
	gid_t groups[MAX_GROUPS];
	int umask_set;
	mode_t umask;
	int has_caps;
	uint64_t caps[5]; /* bounding effective permitted inheritable ambient */
	int nnp;
	char *apparmor;
	int has_seccomp;
	char *sc_default;
	int sc_default_errno;
	struct strv sc_archs;
	struct strv sc_flags;
	struct rule rules[MAX_RULES];
	int nrules;
	char *notify_msg; /* the container process state for the listener, when NOTIFY is used */
	int listener_fd;  /* connected to listenerPath by `start`, passed with the state */
	char *exec_path;
	struct strv argv;
	struct strv envp;
};

static struct plan P = { .log_fd = -1, .sync_fd = -1, .barrier_fd = -1, .listener_fd = -1 };
static int conn_fd = -1;

static void logmsg(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logmsg(const char *level, const char *fmt, ...)
{
	char msg[2048], line[4096];
	va_list ap;
	int n;

	if (P.log_fd < 0 || (!P.debug && strcmp(level, "debug") == 0))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (char *p = msg; *p; p++)
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
			*p = ' ';
	if (P.log_json) {
		time_t now = time(NULL);
		struct tm tm;
		char ts[64];

		gmtime_r(&now, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
		n = snprintf(line, sizeof(line), "{\"level\":\"%s\",\"msg\":\"helper: %s\",\"time\":\"%s\"}\n",
			     level, msg, ts);
	} else {
		n = snprintf(line, sizeof(line), "%s: helper: %s\n", level, msg);
	}
	if (n > 0 && write(P.log_fd, line, (size_t)n) < 0)
		return;
}

#define debug(...) logmsg("debug", __VA_ARGS__)

/* Report a fatal error to the log, to `start` (if connected) or `create` (sync fd), and exit. */
static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	int fd = conn_fd >= 0 ? conn_fd : P.sync_fd;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	logmsg("error", "%s", msg);
	if (fd >= 0 && write(fd, msg, strlen(msg)) < 0)
		_exit(127);
	_exit(127);
}

/* ---- plan parsing ------------------------------------------------------------------------ */

static char *buf, *cur, *end;

static char *next_str(void)
{
	char *s = cur;
	char *nul;

	if (cur >= end)
		die("failed to parse plan: truncated");
	nul = memchr(cur, '\0', (size_t)(end - cur));
	if (!nul)
		die("failed to parse plan: unterminated string");
	cur = nul + 1;
	return s;
}

static long long next_num(void)
{
	char *s = next_str(), *e;
	long long v;

	errno = 0;
	v = strtoll(s, &e, 10);
	if (errno || *e)
		die("failed to parse plan: bad number '%s'", s);
	return v;
}

static uint64_t next_hex(void)
{
	char *s = next_str(), *e;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &e, 16);
	if (errno || *e)
		die("failed to parse plan: bad hex '%s'", s);
	return (uint64_t)v;
}

static void next_strv(struct strv *sv)
{
	long long n = next_num();

	if (n < 0 || n > 65536)
		die("failed to parse plan: bad count %lld", n);
	sv->n = (int)n;
	sv->v = calloc((size_t)n + 1, sizeof(char *));
	if (!sv->v)
		die("failed to allocate plan: %m");
	for (int i = 0; i < n; i++)
		sv->v[i] = next_str();
}

static enum scmp_compare parse_op(const char *op)
{
	static const struct {
		const char *name;
		enum scmp_compare op;
	} ops[] = {
		{ "SCMP_CMP_NE", SCMP_CMP_NE }, { "SCMP_CMP_LT", SCMP_CMP_LT },
		{ "SCMP_CMP_LE", SCMP_CMP_LE }, { "SCMP_CMP_EQ", SCMP_CMP_EQ },
		{ "SCMP_CMP_GE", SCMP_CMP_GE }, { "SCMP_CMP_GT", SCMP_CMP_GT },
		{ "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
	};
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(op, ops[i].name) == 0)
			return ops[i].op;
	die("failed to parse plan: unknown seccomp operator '%s'", op);
}

static void parse_record(const char *kw)
{
	if (strcmp(kw, "log") == 0) {
		P.log_fd = (int)next_num();
		P.debug = (int)next_num();
		P.log_json = (int)next_num();
	} else if (strcmp(kw, "sync") == 0) {
		P.sync_fd = (int)next_num();
	} else if (strcmp(kw, "barrier") == 0) {
		P.barrier_fd = (int)next_num();
	} else if (strcmp(kw, "preserve") == 0) {
		P.preserve = (int)next_num();
	} else if (strcmp(kw, "hook") == 0) {
		struct hook *h;

		if (P.nhooks >= MAX_HOOKS)
			die("failed to parse plan: too many hooks");
		h = &P.hooks[P.nhooks++];
		h->timeout = (int)next_num();
		h->path = next_str();
		next_strv(&h->args);
		next_strv(&h->env);
	} else if (strcmp(kw, "cwd") == 0) {
		P.cwd = next_str();
	} else if (strcmp(kw, "user") == 0) {
		P.has_user = 1;
		P.uid = (uid_t)next_num();
		P.gid = (gid_t)next_num();
	} else if (strcmp(kw, "groups") == 0) {
		struct strv sv;

		next_strv(&sv);
		if (sv.n > MAX_GROUPS)
			die("failed to parse plan: too many groups");
		P.has_groups = 1;
		P.ngroups = sv.n;
		for (int i = 0; i < sv.n; i++)
			P.groups[i] = (gid_t)strtoul(sv.v[i], NULL, 10);
	} else if (strcmp(kw, "umask") == 0) {
		P.umask_set = 1;
		P.umask = (mode_t)next_num();
	} else if (strcmp(kw, "caps") == 0) {
		P.has_caps = 1;
		for (int i = 0; i < 5; i++)
			P.caps[i] = next_hex();
	} else if (strcmp(kw, "nnp") == 0) {
		P.nnp = 1;
	} else if (strcmp(kw, "apparmor") == 0) {
		P.apparmor = next_str();
	} else if (strcmp(kw, "seccomp") == 0) {
		P.has_seccomp = 1;
		P.sc_default = next_str();
		P.sc_default_errno = (int)next_num();
		next_strv(&P.sc_archs);
		next_strv(&P.sc_flags);
	} else if (strcmp(kw, "rule") == 0) {
		struct rule *r;

		if (P.nrules >= MAX_RULES)
			die("failed to parse plan: too many seccomp rules");
		r = &P.rules[P.nrules++];
		r->action = next_str();
		r->errnoret = (int)next_num();
		r->name = next_str();
		r->ncond = (int)next_num();
		if (r->ncond < 0 || r->ncond > 6)
			die("failed to parse plan: bad condition count");
		for (int i = 0; i < r->ncond; i++) {
			r->cond[i].arg = (unsigned int)next_num();
			r->cond[i].op = parse_op(next_str());
			r->cond[i].datum_a = next_hex();
			r->cond[i].datum_b = next_hex();
		}
	} else if (strcmp(kw, "notify") == 0) {
		P.notify_msg = next_str();
	} else if (strcmp(kw, "exec") == 0) {
		P.exec_path = next_str();
		next_strv(&P.argv);
		next_strv(&P.envp);
	} else {
		die("failed to parse plan: unknown record '%s'", kw);
	}
}

static void read_plan(int fd)
{
	size_t cap = 1 << 16, len = 0;
	ssize_t n;

	buf = malloc(cap);
	if (!buf)
		die("failed to allocate plan: %m");
	for (;;) {
		if (len == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				die("failed to allocate plan: %m");
		}
		n = pread(fd, buf + len, cap - len, (off_t)len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("failed to read plan: %m");
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	cur = buf;
	end = buf + len;
	while (cur < end) {
		char *kw = next_str();

		parse_record(kw);
	}
	if (!P.exec_path)
		die("failed to parse plan: no exec record");
}

/* ---- barrier and hooks -------------------------------------------------------------------- */

static void on_signal(int sig)
{
	_exit(128 + sig);
}

static void set_signals(void (*handler)(int))
{
	struct sigaction sa;
	sigset_t none;

	memset(&sa, 0, sizeof(sa));
	for (int sig = 1; sig < NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP || sig == 32 || sig == 33)
			continue;
		sa.sa_handler = SIG_DFL;
		if (handler && (sig == SIGTERM || sig == SIGINT || sig == SIGHUP))
			sa.sa_handler = handler;
		sigaction(sig, &sa, NULL);
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* One read from `start`; an fd passed with SCM_RIGHTS is the listenerPath connection. */
static ssize_t recv_with_fd(int fd, char *data, size_t size)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = data, .iov_len = size };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;
	ssize_t n;

	msg.msg_control = ctl.buf;
	msg.msg_controllen = sizeof(ctl.buf);
	n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return n;
	if (msg.msg_flags & MSG_CTRUNC)
		die("failed to receive the listenerPath connection: control data truncated");
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		if (P.listener_fd >= 0 || cm->cmsg_len != CMSG_LEN(sizeof(int)))
			die("failed to receive the listenerPath connection: unexpected fds");
		memcpy(&P.listener_fd, CMSG_DATA(cm), sizeof(int));
		debug("received the listenerPath connection (fd %d)", P.listener_fd);
	}
	return n;
}

/* Block until `start` connects, then read the state document it sends. */
static char *wait_barrier(void)
{
	size_t cap = 4096, len = 0;
	char *state = malloc(cap);
	ssize_t n;

	if (!state)
		die("failed to allocate state: %m");
	debug("waiting on the start barrier (fd %d)", P.barrier_fd);
	do
		conn_fd = accept4(P.barrier_fd, NULL, NULL, SOCK_CLOEXEC);
	while (conn_fd < 0 && errno == EINTR);
	if (conn_fd < 0)
		die("failed to accept the start connection: %m");
	close(P.barrier_fd);
	for (;;) {
		if (len + 1 >= cap) {
			cap *= 2;
			state = realloc(state, cap);
			if (!state)
				die("failed to allocate state: %m");
		}
		n = recv_with_fd(conn_fd, state + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("failed to read the state from start: %m");
		if (n == 0)
			break;
		len += (size_t)n;
	}
	state[len] = '\0';
	return state;
}

static int wait_timeout(pid_t pid, int timeout)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	int status;

	if (pidfd >= 0 && timeout > 0) {
		struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
		int r;

		do
			r = poll(&pfd, 1, timeout * 1000);
		while (r < 0 && errno == EINTR);
		if (r == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			close(pidfd);
			return -2;
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return status;
}

static void run_hook(struct hook *h, const char *state)
{
	int pfd[2];
	pid_t pid;
	int status;

	debug("running startContainer hook %s", h->path);
	if (pipe2(pfd, O_CLOEXEC) < 0)
		die("failed to create hook pipe: %m");
	pid = fork();
	if (pid < 0)
		die("failed to fork startContainer hook %s: %m", h->path);
	if (pid == 0) {
		dup2(pfd[0], 0);
		execve(h->path, h->args.n ? h->args.v : (char *[]){ h->path, NULL }, h->env.v);
		_exit(127);
	}
	close(pfd[0]);
	signal(SIGPIPE, SIG_IGN);
	if (write(pfd[1], state, strlen(state)) < 0 && errno != EPIPE)
		debug("failed to write state to hook: %m");
	close(pfd[1]);
	signal(SIGPIPE, SIG_DFL);
	status = wait_timeout(pid, h->timeout);
	if (status == -2)
		die("startContainer hook %s timed out after %d s", h->path, h->timeout);
	if (status == -1)
		die("failed to wait for startContainer hook %s: %m", h->path);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("startContainer hook %s failed (wait status %d)", h->path, status);
}

/* ---- credentials and capabilities --------------------------------------------------------- */

static int last_cap(void)
{
	int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
	char s[16] = { 0 };
	int last = CAP_LAST_CAP;

	if (fd >= 0) {
		if (read(fd, s, sizeof(s) - 1) > 0)
			last = atoi(s);
		close(fd);
	}
	return last;
}

static void drop_bounding(void)
{
	int last = last_cap();

	for (int cap = 0; cap <= last && cap < 64; cap++) {
		if (P.caps[0] & (1ULL << cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			die("failed to drop capability %d from the bounding set: %m", cap);
	}
}

static void set_user(void)
{
	debug("setting groups, gid %u and uid %u", P.gid, P.uid);
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		die("failed to set keepcaps: %m");
	if (P.has_groups && setgroups((size_t)P.ngroups, P.groups) < 0)
		die("failed to set additional groups: %m");
	if (setresgid(P.gid, P.gid, P.gid) < 0)
		die("failed to set gid %u: %m", P.gid);
	if (setresuid(P.uid, P.uid, P.uid) < 0)
		die("failed to set uid %u: %m", P.uid);
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		die("failed to clear keepcaps: %m");
}

static void set_caps(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2];
	int last = last_cap();

	debug("setting capabilities e=%" PRIx64 " p=%" PRIx64 " i=%" PRIx64, P.caps[1], P.caps[2],
	      P.caps[3]);
	for (int i = 0; i < 2; i++) {
		data[i].effective = (uint32_t)(P.caps[1] >> (32 * i));
		data[i].permitted = (uint32_t)(P.caps[2] >> (32 * i));
		data[i].inheritable = (uint32_t)(P.caps[3] >> (32 * i));
	}
	if (syscall(SYS_capset, &hdr, data) < 0)
		die("failed to set capabilities: %m");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		die("failed to clear ambient capabilities: %m");
	for (int cap = 0; cap <= last && cap < 64; cap++) {
		if (!(P.caps[4] & (1ULL << cap)))
			continue;
		/* An ambient capability needs it permitted and inheritable; the spec asks for a
		 * warning, not a failure, when one cannot be granted (config.md#linux-process). */
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
			logmsg("warning", "failed to raise ambient capability %d: %m", cap);
	}
}

static void set_apparmor(void)
{
	char label[1024];
	int fd, n;

	debug("setting AppArmor exec profile %s", P.apparmor);
	fd = open("/proc/self/attr/apparmor/exec", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		fd = open("/proc/self/attr/exec", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		die("failed to open the AppArmor exec attribute: %m");
	n = snprintf(label, sizeof(label), "exec %s", P.apparmor);
	if (write(fd, label, (size_t)n) < 0)
		die("failed to set AppArmor profile %s: %m", P.apparmor);
	close(fd);
}

/* ---- seccomp ------------------------------------------------------------------------------ */

static uint32_t parse_action(const char *name, int errnoret)
{
	if (strcmp(name, "SCMP_ACT_KILL") == 0 || strcmp(name, "SCMP_ACT_KILL_THREAD") == 0)
		return SCMP_ACT_KILL_THREAD;
	if (strcmp(name, "SCMP_ACT_KILL_PROCESS") == 0)
		return SCMP_ACT_KILL_PROCESS;
	if (strcmp(name, "SCMP_ACT_TRAP") == 0)
		return SCMP_ACT_TRAP;
	if (strcmp(name, "SCMP_ACT_ERRNO") == 0)
		return SCMP_ACT_ERRNO((uint16_t)errnoret);
	if (strcmp(name, "SCMP_ACT_TRACE") == 0)
		return SCMP_ACT_TRACE((uint16_t)errnoret);
	if (strcmp(name, "SCMP_ACT_ALLOW") == 0)
		return SCMP_ACT_ALLOW;
	if (strcmp(name, "SCMP_ACT_LOG") == 0)
		return SCMP_ACT_LOG;
	if (strcmp(name, "SCMP_ACT_NOTIFY") == 0)
		return SCMP_ACT_NOTIFY;
	die("failed to parse seccomp action '%s'", name);
}

static void add_rule(scmp_filter_ctx ctx, struct rule *r, uint32_t def)
{
	uint32_t act = parse_action(r->action, r->errnoret);
	int nr = seccomp_syscall_resolve_name(r->name);
	int dup = 0, rc;

	/* Names unknown to this kernel/libseccomp are skipped, as other runtimes do. */
	if (nr == __NR_SCMP_ERROR) {
		debug("skipping unknown syscall %s", r->name);
		return;
	}
	if (act == def)
		return;
	for (int i = 0; i < r->ncond; i++)
		for (int j = i + 1; j < r->ncond; j++)
			dup |= r->cond[i].arg == r->cond[j].arg;
	if (!dup) {
		rc = seccomp_rule_add_array(ctx, act, nr, (unsigned int)r->ncond, r->cond);
		if (rc < 0)
			die("failed to add seccomp rule for %s: %s", r->name, strerror(-rc));
		return;
	}
	/* libseccomp cannot AND two conditions on one argument: add one rule per condition. */
	for (int i = 0; i < r->ncond; i++) {
		rc = seccomp_rule_add_array(ctx, act, nr, 1, &r->cond[i]);
		if (rc < 0)
			die("failed to add seccomp rule for %s: %s", r->name, strerror(-rc));
	}
}

/* The flag a filter attribute would set: TSYNC, LOG and SPEC_ALLOW as libseccomp sets them. */
static unsigned int attr_flags(scmp_filter_ctx ctx)
{
	static const struct {
		enum scmp_filter_attr attr;
		unsigned int flag;
	} map[] = {
		{ SCMP_FLTATR_CTL_TSYNC, SECCOMP_FILTER_FLAG_TSYNC },
		{ SCMP_FLTATR_CTL_LOG, SECCOMP_FILTER_FLAG_LOG },
		{ SCMP_FLTATR_CTL_SSB, SECCOMP_FILTER_FLAG_SPEC_ALLOW },
	};
	unsigned int flags = 0;
	uint32_t on;

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (seccomp_attr_get(ctx, map[i].attr, &on) == 0 && on)
			flags |= map[i].flag;
	return flags;
}

/*
 * libseccomp 2.5 has no attribute for SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (2.6 added one), so
 * with that flag the helper exports the compiled program and loads it with seccomp(2) itself,
 * adding the flags libseccomp would have set.  The kernel takes the flag only together with
 * NEW_LISTENER, and a listener together with TSYNC only with TSYNC_ESRCH.
 */
static int load_wait_killable(scmp_filter_ctx ctx)
{
	unsigned int flags = attr_flags(ctx) | SECCOMP_FILTER_FLAG_NEW_LISTENER |
			     SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
	int memfd = memfd_create("seccomp-bpf", MFD_CLOEXEC);
	struct sock_fprog prog;
	struct stat st;
	int rc, fd;

	if (memfd < 0)
		die("failed to create a memfd for the seccomp program: %m");
	rc = seccomp_export_bpf(ctx, memfd);
	if (rc < 0)
		die("failed to export the seccomp program: %s", strerror(-rc));
	if (fstat(memfd, &st) < 0 || st.st_size <= 0 || st.st_size % sizeof(struct sock_filter))
		die("failed to export the seccomp program: bad size");
	prog.len = (unsigned short)(st.st_size / (off_t)sizeof(struct sock_filter));
	prog.filter = malloc((size_t)st.st_size);
	if (!prog.filter)
		die("failed to allocate the seccomp program: %m");
	if (pread(memfd, prog.filter, (size_t)st.st_size, 0) != st.st_size)
		die("failed to read back the seccomp program: %m");
	close(memfd);
	if (flags & SECCOMP_FILTER_FLAG_TSYNC)
		flags |= SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
	debug("loading the seccomp program with flags 0x%x", flags);
	fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
	if (fd < 0)
		die("failed to load the seccomp filter with SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: %m");
	free(prog.filter);
	return fd;
}

/*
 * config-linux.md#seccomp: one container process state per connection, the notify fd passed
 * with SCM_RIGHTS in the same (single) sendmsg, then the connection is closed.  The helper keeps
 * no copy of either fd, so closing the listener's copy is what makes notified calls fail.
 */
static void send_to_listener(int notify_fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = P.notify_msg, .iov_len = strlen(P.notify_msg) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;
	ssize_t n;

	if (notify_fd < 0)
		die("failed to get the seccomp notify fd: %s", strerror(-notify_fd));
	if (P.listener_fd < 0)
		die("linux.seccomp.listenerPath: start passed no connection to the listener");
	memset(&ctl, 0, sizeof(ctl));
	msg.msg_control = ctl.buf;
	msg.msg_controllen = sizeof(ctl.buf);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &notify_fd, sizeof(int));
	debug("sending the container process state and notify fd %d to the listener", notify_fd);
	do
		n = sendmsg(P.listener_fd, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	/* A stream socket may take less: the rest follows without fds (allowed by the spec). */
	for (size_t sent = 0; n >= 0 && (sent += (size_t)n) < iov.iov_len;)
		n = send(P.listener_fd, P.notify_msg + sent, iov.iov_len - sent, MSG_NOSIGNAL);
	if (n < 0)
		die("linux.seccomp.listenerPath: failed to send the container process state: %m");
	close(P.listener_fd);
	P.listener_fd = -1;
	close(notify_fd);
}

static void install_seccomp(void)
{
	uint32_t def = parse_action(P.sc_default, P.sc_default_errno);
	int wait_killable = 0, notify_fd = -1;
	scmp_filter_ctx ctx;
	int rc;

	debug("installing the seccomp filter (%d rules)", P.nrules);
	ctx = seccomp_init(def);
	if (!ctx)
		die("failed to initialise the seccomp filter");
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0) < 0)
		die("failed to clear the seccomp NNP attribute");
	for (int i = 0; i < P.sc_archs.n; i++) {
		uint32_t arch = seccomp_arch_resolve_name(P.sc_archs.v[i]);

		if (arch == 0) {
			debug("skipping unknown seccomp architecture %s", P.sc_archs.v[i]);
			continue;
		}
		rc = seccomp_arch_add(ctx, arch);
		if (rc < 0 && rc != -EEXIST)
			die("failed to add seccomp architecture %s: %s", P.sc_archs.v[i], strerror(-rc));
	}
	for (int i = 0; i < P.sc_flags.n; i++) {
		const char *f = P.sc_flags.v[i];
		enum scmp_filter_attr attr;

		if (strcmp(f, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV") == 0) {
			wait_killable = 1;
			continue;
		}
		if (strcmp(f, "SECCOMP_FILTER_FLAG_TSYNC") == 0)
			attr = SCMP_FLTATR_CTL_TSYNC;
		else if (strcmp(f, "SECCOMP_FILTER_FLAG_LOG") == 0)
			attr = SCMP_FLTATR_CTL_LOG;
		else if (strcmp(f, "SECCOMP_FILTER_FLAG_SPEC_ALLOW") == 0)
			attr = SCMP_FLTATR_CTL_SSB;
		else
			die("failed to set unsupported seccomp flag %s", f);
		if (seccomp_attr_set(ctx, attr, 1) < 0)
			die("failed to set seccomp flag %s", f);
	}
	for (int i = 0; i < P.nrules; i++)
		add_rule(ctx, &P.rules[i], def);
	if (wait_killable) {
		notify_fd = load_wait_killable(ctx);
	} else {
		rc = seccomp_load(ctx);
		if (rc < 0)
			die("failed to load the seccomp filter: %s", strerror(-rc));
		if (P.notify_msg)
			notify_fd = seccomp_notify_fd(ctx);
	}
	seccomp_release(ctx);
	if (P.notify_msg)
		send_to_listener(notify_fd);
}

/* ---- exec --------------------------------------------------------------------------------- */

static const char *env_path(void)
{
	for (int i = 0; i < P.envp.n; i++)
		if (strncmp(P.envp.v[i], "PATH=", 5) == 0)
			return P.envp.v[i] + 5;
	return "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
}

static void do_exec(void)
{
	const char *path = env_path();
	char cand[4096];
	int saved = ENOENT;

	if (strchr(P.exec_path, '/')) {
		execve(P.exec_path, P.argv.v, P.envp.v);
		die("failed to exec %s: %m", P.exec_path);
	}
	while (*path) {
		const char *colon = strchrnul(path, ':');
		int len = (int)(colon - path);

		snprintf(cand, sizeof(cand), "%.*s/%s", len, len ? path : ".", P.exec_path);
		execve(cand, P.argv.v, P.envp.v);
		if (errno != ENOENT && errno != ENOTDIR)
			saved = errno;
		path = *colon ? colon + 1 : colon;
	}
	errno = saved;
	die("failed to exec %s: %m", P.exec_path);
}

int main(int argc, char **argv)
{
	char *state;

	if (argc != 2)
		die("usage: helper <plan-fd>");
	read_plan(atoi(argv[1]));
	set_signals(on_signal);

	debug("helper ready, pid %d", getpid());
	if (P.sync_fd >= 0) {
		if (write(P.sync_fd, "", 1) < 0)
			die("failed to report readiness: %m");
		close(P.sync_fd);
		P.sync_fd = -1;
	}
	state = wait_barrier();
	for (int i = 0; i < P.nhooks; i++)
		run_hook(&P.hooks[i], state);
	set_signals(NULL);

	/* Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: do it before dropping it. */
	if (P.has_seccomp && !P.nnp)
		install_seccomp();
	if (P.has_caps)
		drop_bounding();
	if (P.cwd && chdir(P.cwd) < 0 && !P.has_user)
		die("failed to change directory to %s: %m", P.cwd);
	if (P.has_user)
		set_user();
	if (P.cwd && chdir(P.cwd) < 0)
		die("failed to change directory to %s: %m", P.cwd);
	if (P.umask_set)
		umask(P.umask);
	if (P.has_caps)
		set_caps();
	if (P.apparmor)
		set_apparmor();
	if (P.nnp) {
		debug("setting no_new_privs");
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			die("failed to set no_new_privs: %m");
	}
	if (P.has_seccomp && P.nnp)
		install_seccomp();
	/* Only stdio and the preserved fds cross into the container process. */
	if (syscall(SYS_close_range, 3 + P.preserve, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		die("failed to mark fds close-on-exec: %m");
	do_exec();
}
