// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/faultrec.h"
#include "core/clock.h"

static const char *const reject_names[] = {
	[FW_REJ_NOT_SELF] = "sent-by-another-task", [FW_REJ_NO_INFO] = "no-siginfo",
	[FW_REJ_CODE] = "not-a-fault-code",	    [FW_REJ_GROUP] = "sent-to-the-thread-group",
	[FW_REJ_SYSCALL] = "inside-a-syscall",	    [FW_REJ_ADDR] = "address-is-not-the-ip",
	[FW_REJ_TRAP] = "no-matching-trap",
};

const char *faultrec_reject_name(unsigned reason)
{
	return reason < sizeof(reject_names) / sizeof(reject_names[0]) && reject_names[reason] ?
		       reject_names[reason] :
		       "unknown";
}

static void set_times(struct fault *f, uint64_t boot_ns)
{
	f->boot_ns = boot_ns;
	/* The fault's own time on the clocks events carry (they differ only by suspend). */
	f->mono_ns = clock_boot_to_mono((int64_t)boot_ns);
	f->real_ns = f->mono_ns + clock_real_ns() - clock_mono_ns();
}

static void copy_comm(char *dst, const char *src)
{
	memcpy(dst, src, FW_COMM_LEN);
	dst[FW_COMM_LEN - 1] = '\0';
}

static void ident(struct fault_file *ff, __u64 ino, __u32 dev, __u32 flags)
{
	memset(ff, 0, sizeof(*ff));
	if (!(flags & FW_FILE_VALID))
		return;
	ff->valid = true;
	ff->major = dev >> 20; /* the kernel's dev_t: MINORBITS 20 */
	ff->minor = dev & 0xfffff;
	ff->ino = ino;
	ff->truncated = flags & FW_FILE_TRUNCATED;
	ff->deleted = flags & FW_FILE_DELETED;
}

/*
 * The kernel wrote the names leaf first, each NUL-terminated: join them root first.  A
 * walk the bound stopped is a suffix of the path and starts with "...".
 */
static void join_path(char *out, size_t size, const struct fw_file *k)
{
	const char *name[FW_PATH_DEPTH];
	unsigned n = 0, len = k->len < FW_PATH_MAX ? k->len : FW_PATH_MAX;
	size_t used = 0;

	out[0] = '\0';
	if (!(k->flags & FW_FILE_PATH))
		return;
	for (unsigned at = 0; at < len && n < FW_PATH_DEPTH;) {
		const char *end = memchr(k->path + at, '\0', len - at);

		if (!end)
			break;
		name[n++] = k->path + at;
		at = (unsigned)(end - k->path) + 1;
	}
	if (k->flags & FW_FILE_TRUNCATED)
		used = (size_t)snprintf(out, size, "...");
	else if (!n)
		used = (size_t)snprintf(out, size, "/");
	while (n-- > 0 && used < size)
		used += (size_t)snprintf(out + used, size - used, "/%s", name[n]);
}

static const char *const map_kinds[] = {
	[FW_MAP_ANON] = "[anon]",
	[FW_MAP_HEAP] = "[heap]",
	[FW_MAP_STACK] = "[stack]",
	[FW_MAP_VDSO] = "[vdso]",
};

static void set_map(struct fault *f, __u32 kind, __u64 off)
{
	f->has_map = kind != FW_MAP_UNKNOWN;
	f->map_offset = off;
	if (kind < sizeof(map_kinds) / sizeof(map_kinds[0]) && map_kinds[kind])
		snprintf(f->map_path, sizeof(f->map_path), "%s", map_kinds[kind]);
}

void faultrec_from_event(struct fault *f, const struct fw_fault_rec *e)
{
	memset(f, 0, sizeof(*f));
	set_times(f, e->ktime_ns);
	f->kind = FAULT_DETAIL;
	f->tracked = !(e->flags & FW_F_UNTRACKED);
	f->origin = e->key.origin == FW_ORIGIN_TRACED ? FAULT_ORIGIN_TRACED : FAULT_ORIGIN_CPU;
	f->ip = e->key.ip;
	f->addr = e->addr;
	f->start_ns = e->key.start_ns;
	f->cgroup_id = e->cgroup_id;
	f->count = e->count;
	f->pid = (int)e->key.tgid;
	f->tid = (int)e->tid;
	f->uid = e->uid;
	f->sig = e->sig;
	f->si_code = e->si_code;
	f->trap_nr = e->trap_nr;
	f->fatal = e->flags & FW_F_FATAL;
	f->in_exe_code = e->flags & FW_F_EXE_CODE;
	f->exe_code_offset = e->code_off;
	f->nbytes = e->nbytes > FW_NBYTES ? FW_NBYTES : e->nbytes;
	memcpy(f->bytes, e->bytes, f->nbytes);
	copy_comm(f->comm, e->comm);
	f->variant = (enum fault_variant)e->variant;
	f->cpu = (int)e->cpu;
	ident(&f->exe_file, e->exe.ino, e->exe.dev, e->exe.flags);
	join_path(f->exe, sizeof(f->exe), &e->exe);
	ident(&f->map_file, e->map.ino, e->map.dev, e->map.flags);
	set_map(f, e->map_kind, e->map_off);
	if (e->map_kind == FW_MAP_FILE)
		join_path(f->map_path, sizeof(f->map_path), &e->map);
}

void faultrec_from_site(struct fault *f, const struct fw_key *k, const struct fw_site *s,
			__u32 variant)
{
	memset(f, 0, sizeof(*f));
	set_times(f, (uint64_t)clock_boot_ns());
	f->kind = FAULT_FLUSH;
	f->tracked = true;
	f->origin = k->origin == FW_ORIGIN_TRACED ? FAULT_ORIGIN_TRACED : FAULT_ORIGIN_CPU;
	f->ip = k->ip;
	f->start_ns = k->start_ns;
	f->count = s->count;
	f->pid = (int)k->tgid;
	f->tid = (int)s->tid;
	f->uid = s->uid;
	f->sig = s->sig;
	f->si_code = s->si_code;
	f->trap_nr = s->trap_nr;
	f->nbytes = s->nbytes > FW_NBYTES ? FW_NBYTES : s->nbytes;
	memcpy(f->bytes, s->bytes, f->nbytes);
	copy_comm(f->comm, s->comm);
	f->variant = (enum fault_variant)variant;
	f->cpu = (int)s->cpu;
	ident(&f->exe_file, s->exe.ino, s->exe.dev, s->exe.flags);
	ident(&f->map_file, s->map.ino, s->map.dev, s->map.flags);
	set_map(f, s->map_kind, s->map_off);
	f->in_exe_code = s->flags & FW_F_EXE_CODE;
	f->exe_code_offset = s->code_off;
}

void faultrec_forged(struct forged_signal *s, const struct fw_forged_rec *e)
{
	memset(s, 0, sizeof(*s));
	s->boot_ns = e->ktime_ns;
	s->mono_ns = clock_boot_to_mono((int64_t)e->ktime_ns);
	s->real_ns = s->mono_ns + clock_real_ns() - clock_mono_ns();
	s->sender_pid = (int)e->sender_tgid;
	s->sender_tid = (int)e->sender_tid;
	s->sender_uid = e->sender_uid;
	copy_comm(s->sender_comm, e->sender_comm);
	s->target_pid = (int)e->target_tgid;
	s->target_tid = (int)e->target_tid;
	copy_comm(s->target_comm, e->target_comm);
	s->sig = e->sig;
	s->si_code = e->si_code;
	s->reason = faultrec_reject_name(e->reason);
}

/* --- /proc, checked ------------------------------------------------------------------- */

/* The start time in /proc/PID/stat (field 22, clock ticks), read through @dirfd. */
static int stat_start(int dirfd, unsigned long long *ticks)
{
	char buf[1024], *p;
	int fd = openat(dirfd, "stat", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: the fields start after the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return -EIO;
	p++;
	for (int field = 3; field <= 22; field++) {
		p += strspn(p, " ");
		if (field == 22)
			return sscanf(p, "%llu", ticks) == 1 ? 0 : -EIO;
		p += strcspn(p, " ");
	}
	return -EIO;
}

/* /proc/PID opened and checked to be the process that started at @start_ns; -1 if not. */
static int open_checked(int pid, uint64_t start_ns, int *err)
{
	long hz = sysconf(_SC_CLK_TCK);
	unsigned long long ticks;
	char path[32];
	int dirfd;

	snprintf(path, sizeof(path), "/proc/%d", pid);
	dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		*err = errno == ENOENT || errno == ESRCH ? 0 : -errno;
		return -1;
	}
	*err = stat_start(dirfd, &ticks);
	if (*err == -ENOENT || *err == -ESRCH)
		*err = 0;
	/* The kernel rounds start_boottime down to clock ticks (nsec_to_clock_t). */
	if (*err || hz <= 0 || ticks != start_ns / (uint64_t)(NSEC_PER_SEC / hz)) {
		close(dirfd);
		return -1;
	}
	return dirfd;
}

int faultrec_proc_alive(int pid, uint64_t start_ns)
{
	int err, dirfd = open_checked(pid, start_ns, &err);

	if (dirfd < 0)
		return err;
	close(dirfd);
	return 1;
}

static FILE *open_at(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	FILE *fp = fd >= 0 ? fdopen(fd, "r") : NULL;

	if (fd >= 0 && !fp)
		close(fd);
	return fp;
}

static void read_cgroup(int dirfd, struct fault *f)
{
	FILE *fp = open_at(dirfd, "cgroup");
	char line[512];

	if (!fp)
		return;
	/* Prefer the unified hierarchy ("0::/path"): it is what the cgroup id names. */
	while (fgets(line, sizeof(line), fp)) {
		char *p = strchr(line, ':');

		p = p ? strchr(p + 1, ':') : NULL;
		if (!p)
			continue;
		p[strcspn(p, "\n")] = '\0';
		if (!strncmp(line, "0::", 3) || !f->cgroup[0])
			snprintf(f->cgroup, sizeof(f->cgroup), "%s", p + 1);
		if (!strncmp(line, "0::", 3))
			break;
	}
	fclose(fp);
}

/* The mapping that holds the IP, from /proc/PID/maps (the kernel's read failed). */
static void read_mapping(int dirfd, struct fault *f)
{
	FILE *fp = open_at(dirfd, "maps");
	char line[PATH_MAX + 128];

	if (!fp)
		return;
	while (fgets(line, sizeof(line), fp)) {
		unsigned long long start, end, off, ino;
		unsigned major, minor;
		int name_at = 0;

		if (sscanf(line, "%llx-%llx %*4s %llx %x:%x %llu %n", &start, &end, &off, &major,
			   &minor, &ino, &name_at) < 6)
			continue;
		if (f->ip < start || f->ip >= end)
			continue;
		if (f->has_map) {
			/* The kernel named the file; /proc only adds the path a flush lacks. */
			if (name_at > 0 && !f->map_path[0] && ino == f->map_file.ino) {
				line[strcspn(line, "\n")] = '\0';
				snprintf(f->map_path, sizeof(f->map_path), "%s", line + name_at);
			}
			break;
		}
		f->has_map = true;
		if (ino) {
			f->map_offset = off + (f->ip - start);
			f->map_file = (struct fault_file){
				.valid = true, .major = major, .minor = minor, .ino = ino
			};
		} else {
			f->map_offset = f->ip - start;
		}
		if (name_at > 0) {
			char *name = line + name_at;

			name[strcspn(name, "\n")] = '\0';
			snprintf(f->map_path, sizeof(f->map_path), "%s", *name ? name : "[anon]");
		}
		break;
	}
	fclose(fp);
}

void faultrec_enrich(struct fault *f)
{
	int err, dirfd = open_checked(f->pid, f->start_ns, &err);

	if (dirfd < 0)
		return;
	/* Each read goes through the checked directory: a reused pid cannot answer. */
	read_cgroup(dirfd, f);
	if (!f->has_map || !f->map_path[0])
		read_mapping(dirfd, f);
	if (!f->exe[0]) {
		ssize_t n = readlinkat(dirfd, "exe", f->exe, sizeof(f->exe) - 1);

		f->exe[n > 0 ? n : 0] = '\0';
	}
	close(dirfd);
}
