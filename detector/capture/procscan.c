// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * /proc readers.  Field positions are proc(5)'s; PF_* values are include/linux/sched.h's;
 * AT_SECURE is 23 in <elf.h>.  glibc's tunables rules are glibc 2.36's (Debian 12):
 * elf/dl-tunables.c parses every GLIBC_TUNABLES variable in order, so the last
 * glibc.cpu.hwcaps setting wins; sysdeps/x86/cpu-tunables.c disables a feature for an item
 * "-NAME" ("-AVX2_Usable" before glibc 2.33); glibc.cpu.hwcaps is erased for AT_SECURE
 * (setuid) programs.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture/procscan.h"

#define PF_EXITING 0x00000004
#define PF_KTHREAD 0x00200000
#define AT_SECURE_TYPE 23

#define BUF_SIZE (64u << 10)
/* A GLIBC_TUNABLES value longer than this is not judged (unknown). */
#define TUNABLES_MAX 4096

struct procscan {
	int rootfd;
	int cgroup_lines;
	dev_t self_dev;
	ino_t self_ino;
	long hz;
	char *buf; /* BUF_SIZE */
	char *val; /* TUNABLES_MAX + 1 */
};

/* Up to @cap bytes of @name under @dirfd; the length, or a negative errno. */
static ssize_t read_at(int dirfd, const char *name, char *buf, size_t cap)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	size_t len = 0;

	if (fd < 0)
		return -errno;
	while (len < cap) {
		ssize_t n = read(fd, buf + len, cap - len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			n = -errno;
			close(fd);
			return n;
		}
		if (!n)
			break;
		len += (size_t)n;
	}
	close(fd);
	return (ssize_t)len;
}

/* Lines of ROOT/self/cgroup; 0 (nothing checked) when there is none, as in fixtures. */
static int cgroup_lines(int rootfd)
{
	char buf[8192];
	ssize_t n = read_at(rootfd, "self/cgroup", buf, sizeof(buf));
	int lines = 0;

	for (ssize_t i = 0; i < n; i++)
		lines += buf[i] == '\n';
	return lines;
}

int procscan__new(const char *root, const char *self_exe, struct procscan **out)
{
	struct procscan *s = calloc(1, sizeof(*s));
	struct stat st;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->rootfd = -1;
	s->buf = malloc(BUF_SIZE);
	s->val = malloc(TUNABLES_MAX + 1);
	if (!s->buf || !s->val) {
		procscan__free(s);
		return -ENOMEM;
	}
	s->rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->rootfd < 0) {
		int err = -errno;

		procscan__free(s);
		return err;
	}
	s->cgroup_lines = cgroup_lines(s->rootfd);
	s->hz = sysconf(_SC_CLK_TCK);
	if (s->hz <= 0)
		s->hz = 100;
	/* Our own executable, whatever tree is read: cpudrift never lists itself. */
	if (!stat(self_exe ? self_exe : "/proc/self/exe", &st)) {
		s->self_dev = st.st_dev;
		s->self_ino = st.st_ino;
	}
	*out = s;
	return 0;
}

void procscan__free(struct procscan *s)
{
	if (!s)
		return;
	if (s->rootfd >= 0)
		close(s->rootfd);
	free(s->buf);
	free(s->val);
	free(s);
}

int procscan_iter_open(struct procscan *s, struct procscan_iter *it)
{
	int fd = openat(s->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	/* A hierarchy mounted since (the unified one appears with its first mount). */
	s->cgroup_lines = cgroup_lines(s->rootfd);
	it->dir = fd < 0 ? NULL : fdopendir(fd);
	if (!it->dir) {
		int err = -errno;

		if (fd >= 0)
			close(fd);
		return err;
	}
	return 0;
}

int procscan_iter_next(struct procscan_iter *it)
{
	struct dirent *de;

	if (!it->dir)
		return 0;
	while ((de = readdir(it->dir))) {
		char *end;
		long pid;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = strtol(de->d_name, &end, 10);
		if (!*end && pid > 0 && pid <= INT32_MAX)
			return (int)pid;
	}
	return 0;
}

void procscan_iter_close(struct procscan_iter *it)
{
	if (it->dir)
		closedir(it->dir);
	it->dir = NULL;
}

/* --- the parsers --------------------------------------------------------------------------- */

int procscan_parse_stat(const char *buf, size_t len, struct proc_stat *out)
{
	const char *open = memchr(buf, '(', len), *close = NULL, *p, *end = buf + len;
	unsigned long long v[24] = { 0 };
	char *num_end;
	int field = 3;
	long pid;

	memset(out, 0, sizeof(*out));
	for (const char *q = buf; q < end; q++)
		if (*q == ')')
			close = q;
	if (!open || !close || close < open)
		return -EINVAL;
	/* the pid before the comm */
	pid = strtol(buf, &num_end, 10);
	if (num_end == buf || pid <= 0 || pid > INT32_MAX)
		return -EINVAL;
	out->pid = (int)pid;
	snprintf(out->comm, sizeof(out->comm), "%.*s", (int)(close - open - 1), open + 1);
	p = close + 1;
	/* field 3 is the state letter, then numbers up to field 22 (starttime) */
	while (p < end && *p == ' ')
		p++;
	if (p >= end || !isalpha((unsigned char)*p))
		return -EINVAL;
	out->state = *p++;
	for (field = 4; field <= 22; field++) {
		unsigned long long x = 0;
		bool neg = false, any = false;

		while (p < end && *p == ' ')
			p++;
		if (p < end && *p == '-') {
			neg = true;
			p++;
		}
		while (p < end && *p >= '0' && *p <= '9') {
			x = x * 10 + (unsigned long long)(*p++ - '0');
			any = true;
		}
		if (!any || (p < end && *p != ' ' && *p != '\n'))
			return -EINVAL;
		v[field] = neg ? 0 : x;
	}
	out->flags = (unsigned long)v[9];
	out->threads = (long)v[20];
	out->start_ticks = v[22];
	return 0;
}

static bool is_hwcaps_at(const char *s, const char *end, int *level)
{
	static const char pat[] = "/glibc-hwcaps/x86-64-v";
	size_t n = sizeof(pat) - 1;

	if ((size_t)(end - s) < n + 2 || memcmp(s, pat, n))
		return false;
	if (s[n] < '2' || s[n] > '9' || s[n + 1] != '/')
		return false;
	*level = s[n] - '0';
	return true;
}

/* Complete lines only: a cut last line is the next chunk's. */
int procscan_parse_maps(const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;
	int best = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (!nl)
			break;
		/* The path starts at the first '/' after the five fixed fields. */
		for (const char *q = memchr(p, '/', (size_t)(nl - p)); q && q < nl;
		     q = memchr(q + 1, '/', (size_t)(nl - q - 1))) {
			int level;

			if (is_hwcaps_at(q, nl, &level) && level > best)
				best = level;
		}
		p = nl + 1;
	}
	return best;
}

/* A glibc.cpu.hwcaps value: does an item disable AVX2? */
static bool hwcaps_masks_avx2(const char *v, size_t n)
{
	const char *p = v, *end = v + n;

	while (p < end) {
		const char *c = memchr(p, ',', (size_t)(end - p));
		size_t len = (size_t)((c ? c : end) - p);

		if ((len == 5 && !memcmp(p, "-AVX2", 5)) ||
		    (len == 12 && !memcmp(p, "-AVX2_Usable", 12)))
			return true;
		p += len + 1;
	}
	return false;
}

/* One GLIBC_TUNABLES value: -1 no hwcaps setting, else whether its last one masks AVX2. */
static int tunables_verdict(const char *v, size_t n)
{
	static const char key[] = "glibc.cpu.hwcaps=";
	const char *p = v, *end = v + n;
	int r = -1;

	while (p < end) {
		const char *c = memchr(p, ':', (size_t)(end - p));
		size_t len = (size_t)((c ? c : end) - p);

		if (len >= sizeof(key) - 1 && !memcmp(p, key, sizeof(key) - 1))
			r = hwcaps_masks_avx2(p + sizeof(key) - 1, len - (sizeof(key) - 1));
		p += len + 1;
	}
	return r;
}

/*
 * The environment, streamed: entries are NUL-separated; only GLIBC_TUNABLES values are
 * kept (up to TUNABLES_MAX).  result: 0 no mask, 1 masked, -1 unknown (a value too long
 * to judge, or an environment cut short).
 */
struct env_scan {
	char *val;
	size_t vlen, matched; /* bytes of "GLIBC_TUNABLES=" matched at the entry's start */
	enum { AT_NAME, IN_VALUE, SKIP } state;
	bool vlong;
	int result;
};

static const char tunables_name[] = "GLIBC_TUNABLES=";

static void env_entry_end(struct env_scan *e)
{
	if (e->state == IN_VALUE) {
		int v = e->vlong ? -1 : tunables_verdict(e->val, e->vlen);

		/* A value too long to read may or may not set the mask: unknown. */
		if (e->vlong)
			e->result = -1;
		else if (v >= 0)
			e->result = v;
	}
	e->state = AT_NAME;
	e->matched = 0;
	e->vlen = 0;
	e->vlong = false;
}

static void env_feed(struct env_scan *e, const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char ch = buf[i];

		if (!ch) {
			env_entry_end(e);
			continue;
		}
		switch (e->state) {
		case AT_NAME:
			if (ch != tunables_name[e->matched]) {
				e->state = SKIP;
				break;
			}
			if (++e->matched == sizeof(tunables_name) - 1)
				e->state = IN_VALUE;
			break;
		case IN_VALUE:
			if (e->vlen < TUNABLES_MAX)
				e->val[e->vlen++] = ch;
			else
				e->vlong = true;
			break;
		case SKIP:
			break;
		}
	}
}

int procscan_parse_environ(const char *buf, size_t len)
{
	char val[TUNABLES_MAX];
	struct env_scan e = { .val = val };

	env_feed(&e, buf, len);
	/* An entry without its NUL is complete only at the end of a whole file. */
	env_entry_end(&e);
	return e.result;
}

int procscan_parse_auxv(const char *buf, size_t len)
{
	for (size_t i = 0; i + 16 <= len; i += 16) {
		uint64_t type, val;

		memcpy(&type, buf + i, 8);
		memcpy(&val, buf + i + 8, 8);
		if (type == 0)
			break;
		if (type == AT_SECURE_TYPE)
			return val != 0;
	}
	return 0;
}

int procscan_parse_cgroup(const char *buf, size_t len, int lines, char *out, size_t outlen)
{
	const char *v2 = NULL, *sysd = NULL, *p = buf, *end = buf + len, *path, *eol;
	int count = 0;

	if (outlen)
		out[0] = 0;
	for (const char *q = buf; q < end; q++)
		count += *q == '\n';
	if (lines > 0 && count != lines)
		return -EINVAL;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *c1 = memchr(p, ':', (size_t)(le - p));

		if (c1 && (size_t)(le - p) >= 3 && !memcmp(p, "0::", 3))
			v2 = p + 3;
		else if (c1 && (size_t)(le - c1) > 14 && !memcmp(c1, ":name=systemd:", 14))
			sysd = c1 + 14;
		p = le + 1;
	}
	path = sysd ? sysd : v2;
	if (!path)
		return -EINVAL;
	eol = memchr(path, '\n', (size_t)(end - path));
	if (!eol)
		eol = end;
	if ((size_t)(eol - path) >= outlen)
		return -EINVAL;
	memcpy(out, path, (size_t)(eol - path));
	out[eol - path] = 0;
	return 0;
}

/* --- reading one process --------------------------------------------------------------------- */

static int stat_at(struct procscan *s, int dirfd, const char *name, struct proc_stat *out)
{
	char buf[1024];
	ssize_t n = read_at(dirfd, name, buf, sizeof(buf));
	int ret;

	if (n < 0)
		return n == -ESRCH ? -ENOENT : (int)n;
	ret = procscan_parse_stat(buf, (size_t)n, out);
	if (ret)
		return ret;
	out->start_boot_ns = (int64_t)((__int128)out->start_ticks * 1000000000 / s->hz);
	return 0;
}

int procscan_stat(struct procscan *s, int pid, struct proc_stat *out)
{
	char name[32];

	snprintf(name, sizeof(name), "%d/stat", pid);
	return stat_at(s, s->rootfd, name, out);
}

bool procscan_live(const struct proc_stat *st)
{
	if (st->flags & PF_KTHREAD)
		return false;
	if (st->state == 'X' || st->state == 'x')
		return false;
	/*
	 * The line is the first thread's.  When only it exited (pthread_exit() in main), it
	 * is a zombie, exiting, and the process still runs its other threads.
	 */
	if (st->state == 'Z')
		return st->threads > 1;
	return !(st->flags & PF_EXITING);
}

static long read_uid(struct procscan *s, int pfd)
{
	ssize_t n = read_at(pfd, "status", s->buf, BUF_SIZE - 1);
	const char *u;

	if (n <= 0)
		return -1;
	s->buf[n] = 0;
	u = strstr(s->buf, "\nUid:");
	return u ? strtol(u + 5, NULL, 10) : -1;
}

/*
 * PROCMAP_QUERY (Linux 6.11, include/uapi/linux/fs.h; Debian 12's headers predate it):
 * one ioctl per VMA, asked for the executable file-backed ones only, so a process with
 * 65,000 anonymous mappings costs what its libraries cost.
 */
struct procmap_query {
	uint64_t size;
	uint64_t query_flags;
	uint64_t query_addr;
	uint64_t vma_start, vma_end, vma_flags, vma_page_size, vma_offset, inode;
	uint32_t dev_major, dev_minor;
	uint32_t vma_name_size, build_id_size;
	uint64_t vma_name_addr, build_id_addr;
};

#define PROCMAP_QUERY _IOWR('f', 17, struct procmap_query)
#define PROCMAP_QUERY_VMA_EXECUTABLE 0x04
#define PROCMAP_QUERY_COVERING_OR_NEXT_VMA 0x10
#define PROCMAP_QUERY_FILE_BACKED_VMA 0x20
/* No process maps more than this many executable files; a bound all the same. */
#define QUERY_MAX 65536

/* The highest level, or -ENOTTY when the kernel has no PROCMAP_QUERY. */
static int query_hwcaps(struct procscan *s, int fd)
{
	uint64_t addr = 0;
	int best = 0;

	for (int n = 0; n < QUERY_MAX; n++) {
		struct procmap_query q = {
			.size = sizeof(q),
			.query_flags = PROCMAP_QUERY_COVERING_OR_NEXT_VMA |
				       PROCMAP_QUERY_FILE_BACKED_VMA | PROCMAP_QUERY_VMA_EXECUTABLE,
			.query_addr = addr,
			.vma_name_addr = (uint64_t)(uintptr_t)s->buf,
			.vma_name_size = BUF_SIZE,
		};
		int level;

		s->buf[0] = 0;
		if (ioctl(fd, PROCMAP_QUERY, &q)) {
			if (errno == ENOTTY && !n)
				return -ENOTTY;
			/* ENOENT: no VMA past @addr; anything else: what was seen so far */
			return errno == ENOENT || best ? best : -1;
		}
		s->buf[BUF_SIZE - 1] = 0;
		for (const char *p = strchr(s->buf, '/'); p; p = strchr(p + 1, '/'))
			if (is_hwcaps_at(p, s->buf + strlen(s->buf), &level) && level > best)
				best = level;
		if (q.vma_end <= addr)
			break;
		addr = q.vma_end;
	}
	return best;
}

static int read_hwcaps(struct procscan *s, int pfd)
{
	int fd = openat(pfd, "maps", O_RDONLY | O_CLOEXEC | O_NOFOLLOW), best = 0;
	size_t carry = 0, total = 0;

	if (fd < 0)
		return -1;
	best = query_hwcaps(s, fd);
	if (best != -ENOTTY) {
		close(fd);
		return best;
	}
	/* The text, for kernels before 6.11 (and fixture trees) */
	best = 0;
	while (total < PROCSCAN_MAPS_MAX) {
		ssize_t n = read(fd, s->buf + carry, BUF_SIZE - carry);
		const char *last;
		int level;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			best = best ? best : -1;
			break;
		}
		if (!n)
			break;
		total += (size_t)n;
		carry += (size_t)n;
		level = procscan_parse_maps(s->buf, carry);
		if (level > best)
			best = level;
		/* Keep the cut last line for the next read; a line longer than the buffer is
		 * dropped (no path is). */
		last = memrchr(s->buf, '\n', carry);
		if (last) {
			size_t used = (size_t)(last + 1 - s->buf);

			memmove(s->buf, last + 1, carry - used);
			carry -= used;
		} else if (carry == BUF_SIZE) {
			carry = 0;
		}
	}
	close(fd);
	return best;
}

static int read_masked(struct procscan *s, int pfd)
{
	struct env_scan e = { .val = s->val };
	ssize_t n = read_at(pfd, "auxv", s->buf, BUF_SIZE);
	size_t total = 0;
	int fd;

	/* glibc ignores the tunable in a setuid program (auxv reads like environ does). */
	if (n > 0 && procscan_parse_auxv(s->buf, (size_t)n))
		return 0;
	fd = openat(pfd, "environ", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	/* An unreadable environment is unknown, never "unmasked". */
	if (fd < 0)
		return -1;
	for (;;) {
		n = read(fd, s->buf, BUF_SIZE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			return -1;
		}
		if (!n)
			break;
		env_feed(&e, s->buf, (size_t)n);
		total += (size_t)n;
		if (total >= PROCSCAN_ENVIRON_MAX) {
			/* The rest may set it: unknown, unless nothing could (no variable). */
			close(fd);
			return -1;
		}
	}
	close(fd);
	/* A kernel thread or an exited mm reads as empty: nothing to judge. */
	if (!total)
		return -1;
	env_entry_end(&e);
	return e.result;
}

static void read_cgroup(struct procscan *s, int pfd, char *out, size_t len)
{
	ssize_t n = read_at(pfd, "cgroup", s->buf, BUF_SIZE);

	if (n <= 0 || n == BUF_SIZE ||
	    procscan_parse_cgroup(s->buf, (size_t)n, s->cgroup_lines, out, len))
		out[0] = 0;
}

int procscan_read(struct procscan *s, int pid, unsigned what, struct proc_facts *out)
{
	struct proc_stat again;
	char name[32];
	int pfd, ret;

	memset(out, 0, sizeof(*out));
	out->uid = -1;
	out->hwcaps_level = -1;
	out->glibc_masked = -1;
	snprintf(name, sizeof(name), "%d", pid);
	/* One descriptor for every read: it stays with this process even if the PID is reused. */
	pfd = openat(s->rootfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0)
		return errno == ENOENT || errno == ESRCH ? -ENOENT : -errno;
	ret = stat_at(s, pfd, "stat", &out->st);
	if (ret)
		goto out;
	if (what & PROCSCAN_UID)
		out->uid = read_uid(s, pfd);
	if (what & PROCSCAN_EXE) {
		ssize_t n = readlinkat(pfd, "exe", out->exe, sizeof(out->exe) - 1);
		struct stat st;

		out->exe[n > 0 ? n : 0] = 0;
		out->self_exe = s->self_ino && !fstatat(pfd, "exe", &st, 0) &&
				st.st_dev == s->self_dev && st.st_ino == s->self_ino;
	}
	if (what & PROCSCAN_HWCAPS)
		out->hwcaps_level = read_hwcaps(s, pfd);
	if (what & PROCSCAN_ENV)
		out->glibc_masked = read_masked(s, pfd);
	if (what & PROCSCAN_CGROUP)
		read_cgroup(s, pfd, out->cgroup, sizeof(out->cgroup));
	/* Still the same process?  Its state may have moved on (to Z): keep the newer line. */
	ret = stat_at(s, pfd, "stat", &again);
	if (!ret && again.start_ticks != out->st.start_ticks)
		ret = -ENOENT;
	if (!ret)
		out->st = again;
out:
	close(pfd);
	return ret;
}
