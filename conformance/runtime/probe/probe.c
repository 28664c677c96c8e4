// SPDX-License-Identifier: Apache-2.0
/*
 * probe - report what a container process sees, as one JSON document.
 *
 * The runtime suite copies this static binary into every bundle and runs it as
 * process.args. It never judges anything: it reads its own view of the kernel
 * (ids, capabilities, limits, namespaces, mounts, ...) and optionally attempts a
 * few operations named on the command line, then prints JSON that the Python
 * side compares with the config it generated.
 *
 * Usage: probe [OPTION]... [-- IGNORED...]
 *   --out PATH        write the JSON to PATH instead of stdout
 *   --stat PATH       lstat PATH (repeatable)
 *   --read PATH       open PATH read-only and read up to 4 KiB (repeatable)
 *   --write PATH      open PATH for writing (O_CREAT) and write one byte (repeatable)
 *   --mkdir PATH      mkdir PATH (repeatable)
 *   --sysctl NAME     read /proc/sys/NAME with dots as slashes (repeatable)
 *   --try NAME[:ARG]  call a syscall from a fixed table, report result and errno
 *   --wait-signal     before reporting, block until a signal arrives and report it
 *   --stdin           read stdin to its end and include it in the report
 *   --append PATH:TXT append the line TXT to PATH first (the hook-order log)
 *   --exit CODE       exit with CODE after reporting
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_ITEMS 64

struct buf {
	char *data;
	size_t len, cap;
};

static struct buf out;
static int first_field = 1;

static void debug(const char *fmt, ...)
{
	va_list ap;

	if (!getenv("PROBE_DEBUG"))
		return;
	va_start(ap, fmt);
	fputs("probe: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void put(const char *s, size_t n)
{
	if (out.len + n + 1 > out.cap) {
		size_t cap = out.cap ? out.cap * 2 : 65536;

		while (cap < out.len + n + 1)
			cap *= 2;
		out.data = realloc(out.data, cap);
		if (!out.data) {
			perror("probe: failed to allocate output buffer");
			exit(125);
		}
		out.cap = cap;
	}
	memcpy(out.data + out.len, s, n);
	out.len += n;
	out.data[out.len] = '\0';
}

static void puts_raw(const char *s)
{
	put(s, strlen(s));
}

static void printf_raw(const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		put(tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* A JSON string; bytes that are not printable ASCII are escaped as \u00XX. */
static void put_str_n(const char *s, size_t n)
{
	size_t i;

	puts_raw("\"");
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			printf_raw("\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			printf_raw("\\u%04x", c);
		else
			put((const char *)&c, 1);
	}
	puts_raw("\"");
}

static void put_str(const char *s)
{
	if (!s)
		puts_raw("null");
	else
		put_str_n(s, strlen(s));
}

static void key(const char *name)
{
	if (!first_field)
		puts_raw(",");
	first_field = 0;
	put_str(name);
	puts_raw(":");
}

static void obj_open(void)
{
	puts_raw("{");
	first_field = 1;
}

static void obj_close(void)
{
	puts_raw("}");
	first_field = 0;
}

/* Read a whole (small, /proc) file; NULL with errno set on failure. */
static char *slurp(const char *path, size_t *len)
{
	static char data[1 << 20];
	ssize_t n;
	size_t total = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	while (total < sizeof(data) - 1) {
		n = read(fd, data + total, sizeof(data) - 1 - total);
		if (n < 0) {
			int saved = errno;

			close(fd);
			errno = saved;
			return NULL;
		}
		if (n == 0)
			break;
		total += (size_t)n;
	}
	close(fd);
	data[total] = '\0';
	if (len)
		*len = total;
	return data;
}

static void put_file(const char *name, const char *path)
{
	size_t len;
	char *data = slurp(path, &len);

	key(name);
	if (data)
		put_str_n(data, len);
	else
		puts_raw("null");
}

static void put_errno_obj(int ok, int err)
{
	first_field = 0;
	puts_raw(ok ? "\"ok\":true,\"errno\":0" : "\"ok\":false");
	if (!ok)
		printf_raw(",\"errno\":%d,\"error\":", err), put_str(strerror(err));
}

static void report_ids(void)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	gid_t groups[NGROUPS_MAX];
	int n, i;
	mode_t mask;

	getresuid(&ru, &eu, &su);
	getresgid(&rg, &eg, &sg);
	key("uid");
	printf_raw("[%u,%u,%u]", ru, eu, su);
	key("gid");
	printf_raw("[%u,%u,%u]", rg, eg, sg);
	n = getgroups(NGROUPS_MAX, groups);
	key("groups");
	puts_raw("[");
	for (i = 0; i < n; i++)
		printf_raw("%s%u", i ? "," : "", groups[i]);
	puts_raw("]");
	mask = umask(0);
	umask(mask);
	key("umask");
	printf_raw("%u", (unsigned)mask);
}

static const struct {
	const char *name;
	int resource;
} rlimits[] = {
	{ "RLIMIT_AS", RLIMIT_AS },		{ "RLIMIT_CORE", RLIMIT_CORE },
	{ "RLIMIT_CPU", RLIMIT_CPU },		{ "RLIMIT_DATA", RLIMIT_DATA },
	{ "RLIMIT_FSIZE", RLIMIT_FSIZE },	{ "RLIMIT_LOCKS", RLIMIT_LOCKS },
	{ "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK },	{ "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE },
	{ "RLIMIT_NICE", RLIMIT_NICE },		{ "RLIMIT_NOFILE", RLIMIT_NOFILE },
	{ "RLIMIT_NPROC", RLIMIT_NPROC },	{ "RLIMIT_RSS", RLIMIT_RSS },
	{ "RLIMIT_RTPRIO", RLIMIT_RTPRIO },	{ "RLIMIT_RTTIME", RLIMIT_RTTIME },
	{ "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING }, { "RLIMIT_STACK", RLIMIT_STACK },
};

static void put_limit(rlim_t v)
{
	if (v == RLIM_INFINITY)
		puts_raw("-1");
	else
		printf_raw("%llu", (unsigned long long)v);
}

static void report_rlimits(void)
{
	struct rlimit rl;
	size_t i;

	key("rlimits");
	obj_open();
	for (i = 0; i < sizeof(rlimits) / sizeof(rlimits[0]); i++) {
		if (getrlimit(rlimits[i].resource, &rl) < 0)
			continue;
		key(rlimits[i].name);
		puts_raw("[");
		put_limit(rl.rlim_cur);
		puts_raw(",");
		put_limit(rl.rlim_max);
		puts_raw("]");
	}
	obj_close();
}

static void report_namespaces(void)
{
	static const char *const names[] = { "cgroup", "ipc", "mnt", "net", "pid",
					     "time", "user", "uts" };
	char path[64], target[128];
	size_t i;
	ssize_t n;

	key("namespaces");
	obj_open();
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "/proc/self/ns/%s", names[i]);
		n = readlink(path, target, sizeof(target) - 1);
		key(names[i]);
		if (n < 0) {
			puts_raw("null");
			continue;
		}
		target[n] = '\0';
		put_str(target);
	}
	obj_close();
}

static void report_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *ent;
	char path[PATH_MAX], target[PATH_MAX];
	ssize_t n;

	key("fds");
	obj_open();
	if (!dir) {
		obj_close();
		return;
	}
	while ((ent = readdir(dir))) {
		if (ent->d_name[0] == '.' || atoi(ent->d_name) == dirfd(dir))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", ent->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		key(ent->d_name);
		if (n < 0) {
			puts_raw("null");
			continue;
		}
		target[n] = '\0';
		put_str(target);
	}
	closedir(dir);
	obj_close();
}

static void report_process(int argc, char **argv, char **envp)
{
	char cwd[PATH_MAX];
	int i;

	key("args");
	puts_raw("[");
	for (i = 0; i < argc; i++) {
		if (i)
			puts_raw(",");
		put_str(argv[i]);
	}
	puts_raw("]");
	key("env");
	puts_raw("[");
	for (i = 0; envp[i]; i++) {
		if (i)
			puts_raw(",");
		put_str(envp[i]);
	}
	puts_raw("]");
	key("cwd");
	put_str(getcwd(cwd, sizeof(cwd)));
	key("pid");
	printf_raw("%d", getpid());
	key("ppid");
	printf_raw("%d", getppid());
}

static void report_sched(void)
{
	struct sched_param param = { 0 };
	int policy = sched_getscheduler(0);
	long ioprio = syscall(SYS_ioprio_get, 1 /* IOPRIO_WHO_PROCESS */, 0);

	sched_getparam(0, &param);
	key("scheduler");
	printf_raw("{\"policy\":%d,\"priority\":%d,\"nice\":%d}", policy, param.sched_priority,
		   getpriority(PRIO_PROCESS, 0));
	key("ioprio");
	printf_raw("%ld", ioprio);
	key("personality");
	printf_raw("%d", personality(0xffffffff));
}

/* The task memory policy as get_mempolicy(2) gives it: mode and flags share one int. */
static void report_mempolicy(void)
{
	unsigned long mask[1024 / (8 * sizeof(unsigned long))] = { 0 };
	const unsigned bits = 8 * sizeof(unsigned long);
	int policy = 0, first = 1;
	unsigned i;

	key("mempolicy");
	if (syscall(SYS_get_mempolicy, &policy, mask, 1024UL, NULL, 0UL) < 0) {
		printf_raw("{\"errno\":%d}", errno);
		return;
	}
	printf_raw("{\"errno\":0,\"mode\":%d,\"flags\":%d,\"nodes\":[", policy & 0xff,
		   policy & ~0xff);
	for (i = 0; i < 1024; i++) {
		if (!(mask[i / bits] & (1UL << (i % bits))))
			continue;
		printf_raw(first ? "%u" : ",%u", i);
		first = 0;
	}
	puts_raw("]}");
}

static void report_tty(void)
{
	struct winsize ws;

	key("isatty");
	printf_raw("[%d,%d,%d]", isatty(0), isatty(1), isatty(2));
	key("winsize");
	if (ioctl(0, TIOCGWINSZ, &ws) < 0)
		puts_raw("null");
	else
		printf_raw("[%u,%u]", ws.ws_row, ws.ws_col);
}

static void report_prctl(void)
{
	key("no_new_privs");
	printf_raw("%d", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	key("seccomp_mode");
	printf_raw("%d", prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
}

static void report_uts(void)
{
	struct utsname u;

	if (uname(&u) < 0)
		return;
	key("hostname");
	put_str(u.nodename);
	key("domainname");
	put_str(u.domainname);
	key("machine");
	put_str(u.machine);
}

static const char *file_type(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return "file";
	case S_IFDIR: return "dir";
	case S_IFLNK: return "symlink";
	case S_IFCHR: return "char";
	case S_IFBLK: return "block";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "socket";
	}
	return "unknown";
}

static void report_stat(const char *path)
{
	struct stat st;
	char target[PATH_MAX];
	ssize_t n;

	key(path);
	if (lstat(path, &st) < 0) {
		obj_open();
		put_errno_obj(0, errno);
		obj_close();
		return;
	}
	printf_raw("{\"ok\":true,\"type\":\"%s\",\"mode\":%u,\"uid\":%u,\"gid\":%u,"
		   "\"major\":%u,\"minor\":%u,\"dev\":%llu,\"ino\":%llu",
		   file_type(st.st_mode), (unsigned)(st.st_mode & 07777), st.st_uid, st.st_gid,
		   major(st.st_rdev), minor(st.st_rdev), (unsigned long long)st.st_dev,
		   (unsigned long long)st.st_ino);
	if (S_ISLNK(st.st_mode)) {
		n = readlink(path, target, sizeof(target) - 1);
		if (n >= 0) {
			target[n] = '\0';
			puts_raw(",\"target\":");
			put_str(target);
		}
	}
	puts_raw("}");
}

static void report_read(const char *path)
{
	char data[4096];
	ssize_t n;
	int fd;

	key(path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		obj_open();
		put_errno_obj(0, errno);
		obj_close();
		return;
	}
	n = read(fd, data, sizeof(data));
	obj_open();
	put_errno_obj(n >= 0, errno);
	close(fd);
	if (n >= 0) {
		key("data");
		put_str_n(data, (size_t)n);
	}
	obj_close();
}

static void report_write(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	int ok, err;

	key(path);
	if (fd < 0) {
		obj_open();
		put_errno_obj(0, errno);
		obj_close();
		return;
	}
	ok = write(fd, "x", 1) == 1;
	err = errno;
	close(fd);
	obj_open();
	put_errno_obj(ok, err);
	obj_close();
}

static void report_mkdir(const char *path)
{
	int ok = mkdir(path, 0755) == 0;

	key(path);
	obj_open();
	put_errno_obj(ok, errno);
	obj_close();
}

static void report_sysctl(const char *name)
{
	char path[PATH_MAX], *p;
	size_t len;
	char *data;

	snprintf(path, sizeof(path), "/proc/sys/%s", name);
	for (p = path + strlen("/proc/sys/"); *p; p++)
		if (*p == '.')
			*p = '/';
	data = slurp(path, &len);
	key(name);
	if (!data) {
		puts_raw("null");
		return;
	}
	while (len && data[len - 1] == '\n')
		data[--len] = '\0';
	put_str(data);
}

/* The syscalls the suite may ask for; seccomp tests filter some of them. */
static const struct {
	const char *name;
	long nr;
} syscalls[] = {
	{ "getppid", SYS_getppid },	{ "getpgrp", SYS_getpgrp },
	{ "sched_yield", SYS_sched_yield }, { "getcwd", SYS_getcwd },
	{ "umask", SYS_umask },		{ "personality", SYS_personality },
	{ "getpriority", SYS_getpriority }, { "setpgid", SYS_setpgid },
	{ "sethostname", SYS_sethostname }, { "chdir", SYS_chdir },
	{ "fork", SYS_fork },
};

static void report_try(const char *spec)
{
	char name[64], cwd[PATH_MAX];
	const char *colon = strchr(spec, ':');
	long arg = colon ? strtol(colon + 1, NULL, 0) : 0;
	long nr = -1, ret;
	size_t i, n = colon ? (size_t)(colon - spec) : strlen(spec);

	snprintf(name, sizeof(name), "%.*s", (int)n, spec);
	for (i = 0; i < sizeof(syscalls) / sizeof(syscalls[0]); i++)
		if (!strcmp(syscalls[i].name, name))
			nr = syscalls[i].nr;
	key(spec);
	if (nr < 0) {
		puts_raw("{\"unknown\":true}");
		return;
	}
	debug("calling %s(%ld)", name, arg);
	errno = 0;
	if (nr == SYS_getcwd) {
		ret = syscall(nr, cwd, sizeof(cwd));
	} else if (nr == SYS_fork) {
		/* The child leaves at once; a pids limit shows as EAGAIN here. */
		ret = fork();
		if (ret == 0)
			_exit(0);
		if (ret > 0)
			waitpid((pid_t)ret, NULL, 0);
	} else if (nr == SYS_chdir || nr == SYS_sethostname) {
		ret = syscall(nr, nr == SYS_chdir ? "/" : "probe", nr == SYS_chdir ? 0 : 5);
	} else {
		ret = syscall(nr, arg, 0);
	}
	printf_raw("{\"ret\":%ld,\"errno\":%d}", ret, ret < 0 ? errno : 0);
}

static int wait_signal(void)
{
	sigset_t all;
	siginfo_t info;
	int sig;

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	/* A marker file tells the suite the signal mask is in place. */
	if (getenv("PROBE_READY")) {
		int fd = open(getenv("PROBE_READY"), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

		if (fd >= 0)
			close(fd);
	}
	debug("waiting for a signal");
	sig = sigwaitinfo(&all, &info);
	return sig;
}

struct request {
	const char *out;
	const char *stat[MAX_ITEMS], *read[MAX_ITEMS], *write[MAX_ITEMS], *mkdir[MAX_ITEMS];
	const char *sysctl[MAX_ITEMS], *try[MAX_ITEMS];
	int nstat, nread, nwrite, nmkdir, nsysctl, ntry;
	const char *append;
	int wait_signal, read_stdin, exit_code;
};

static void add(const char **list, int *n, const char *value)
{
	if (*n < MAX_ITEMS)
		list[(*n)++] = value;
}

static void parse(int argc, char **argv, struct request *req)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--"))
			break;
		if (!strcmp(a, "--wait-signal")) {
			req->wait_signal = 1;
			continue;
		}
		if (!strcmp(a, "--stdin")) {
			req->read_stdin = 1;
			continue;
		}
		if (!v)
			break;
		i++;
		if (!strcmp(a, "--out"))
			req->out = v;
		else if (!strcmp(a, "--stat"))
			add(req->stat, &req->nstat, v);
		else if (!strcmp(a, "--read"))
			add(req->read, &req->nread, v);
		else if (!strcmp(a, "--write"))
			add(req->write, &req->nwrite, v);
		else if (!strcmp(a, "--mkdir"))
			add(req->mkdir, &req->nmkdir, v);
		else if (!strcmp(a, "--sysctl"))
			add(req->sysctl, &req->nsysctl, v);
		else if (!strcmp(a, "--try"))
			add(req->try, &req->ntry, v);
		else if (!strcmp(a, "--append"))
			req->append = v;
		else if (!strcmp(a, "--exit"))
			req->exit_code = atoi(v);
	}
}

static void section(const char *name, const char **items, int n, void (*fn)(const char *))
{
	int i;

	key(name);
	obj_open();
	for (i = 0; i < n; i++)
		fn(items[i]);
	obj_close();
}

static int emit(const char *path)
{
	int fd = path ? open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : 1;
	size_t done = 0;

	if (fd < 0) {
		fprintf(stderr, "probe: failed to open %s: %m\n", path);
		return 124;
	}
	while (done < out.len) {
		ssize_t n = write(fd, out.data + done, out.len - done);

		if (n < 0) {
			fprintf(stderr, "probe: failed to write report: %m\n");
			return 124;
		}
		done += (size_t)n;
	}
	if (path)
		close(fd);
	return 0;
}

/* Append "TXT\n" to PATH in one write, so concurrent writers do not interleave. */
static void append_line(const char *spec)
{
	const char *colon = strchr(spec, ':');
	char path[PATH_MAX], line[256];
	int fd, n;

	if (!colon)
		return;
	snprintf(path, sizeof(path), "%.*s", (int)(colon - spec), spec);
	n = snprintf(line, sizeof(line), "%s\n", colon + 1);
	debug("appending to %s", path);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
	if (fd < 0) {
		fprintf(stderr, "probe: failed to open %s: %m\n", path);
		return;
	}
	if (write(fd, line, (size_t)n) != n)
		fprintf(stderr, "probe: failed to append to %s: %m\n", path);
	close(fd);
}

static void report_stdin(void)
{
	static char data[1 << 16];
	size_t total = 0;
	ssize_t n;

	while (total < sizeof(data)) {
		n = read(0, data + total, sizeof(data) - total);
		if (n <= 0)
			break;
		total += (size_t)n;
	}
	key("stdin");
	put_str_n(data, total);
}

int main(int argc, char **argv, char **envp)
{
	struct request req = { 0 };
	int sig = 0, rc;

	parse(argc, argv, &req);
	if (req.append)
		append_line(req.append);
	if (req.wait_signal)
		sig = wait_signal();
	obj_open();
	report_process(argc, argv, envp);
	report_ids();
	report_rlimits();
	report_namespaces();
	report_fds();
	report_sched();
	report_mempolicy();
	report_prctl();
	report_tty();
	report_uts();
	put_file("status", "/proc/self/status");
	put_file("mountinfo", "/proc/self/mountinfo");
	put_file("uid_map", "/proc/self/uid_map");
	put_file("gid_map", "/proc/self/gid_map");
	put_file("setgroups", "/proc/self/setgroups");
	put_file("timens_offsets", "/proc/self/timens_offsets");
	put_file("oom_score_adj", "/proc/self/oom_score_adj");
	put_file("cgroup", "/proc/self/cgroup");
	put_file("attr_current", "/proc/self/attr/current");
	section("stat", req.stat, req.nstat, report_stat);
	section("read", req.read, req.nread, report_read);
	section("write", req.write, req.nwrite, report_write);
	section("mkdir", req.mkdir, req.nmkdir, report_mkdir);
	section("sysctl", req.sysctl, req.nsysctl, report_sysctl);
	section("try", req.try, req.ntry, report_try);
	if (req.read_stdin)
		report_stdin();
	key("signal");
	printf_raw("%d", sig);
	obj_close();
	puts_raw("\n");
	rc = emit(req.out);
	return rc ? rc : req.exit_code;
}
