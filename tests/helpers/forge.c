// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A forger for the fault-watcher tests: it sends itself (or has sent to it) a SIGILL that
 * looks like a CPU fault - si_code ILL_ILLOPN, si_addr the instruction after the system
 * call, and AVX2 bytes there - without any instruction faulting.  Prints "PID IP" on one
 * line first.  Modes:
 *   sigqueue       rt_sigqueueinfo to itself; no handler: dies of the SIGILL
 *   sigqueue-h     the same under a handler: exits 0
 *   tgsigqueue     rt_tgsigqueueinfo to its own thread, under a handler
 *   pidfd          pidfd_send_signal to itself with the siginfo, under a handler
 *   tgkill         tgkill to its own thread, under a handler
 *   kill           kill to itself, under a handler
 *   sigio          F_SETSIG SIGILL + F_SETOWN_EX on a pipe, then a write to it
 *   exitsig        a child whose exit_signal is SIGILL exits: the parent gets it
 *   wait           wait (under a handler) until stdin closes: someone else sends
 * Run it as an unprivileged user: no privilege is needed for any of this.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

extern char forge_after[];

static volatile sig_atomic_t got;

/*
 * One system call followed by VPADDD ymm0, ymm1, ymm2 (AVX2): the saved user IP during the
 * call, and the si_addr a forger would claim.
 */
__attribute__((noinline)) static long call_then_avx2(long nr, long a1, long a2, long a3, long a4)
{
	register long r10 __asm__("r10") = a4;
	long ret;

	__asm__ volatile("syscall\n\t"
			 ".globl forge_after\n"
			 "forge_after:\n\t"
			 ".byte 0xc5, 0xf5, 0xfe, 0xc2\n\t"
			 : "=a"(ret)
			 : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10)
			 : "rcx", "r11", "memory", "xmm0");
	return ret;
}

static void on_sigill(int sig)
{
	(void)sig;
	got++;
}

static void handle(void)
{
	struct sigaction sa = { .sa_handler = on_sigill };

	sigaction(SIGILL, &sa, NULL);
}

static void fault_info(siginfo_t *si)
{
	memset(si, 0, sizeof(*si));
	si->si_signo = SIGILL;
	si->si_code = ILL_ILLOPN;
	si->si_addr = forge_after;
}

static int sigio(void)
{
	struct f_owner_ex owner = { .type = F_OWNER_TID, .pid = (pid_t)syscall(SYS_gettid) };
	int p[2];

	if (pipe(p) || fcntl(p[0], F_SETSIG, SIGILL) || fcntl(p[0], F_SETOWN_EX, &owner) ||
	    fcntl(p[0], F_SETFL, O_ASYNC | O_NONBLOCK))
		return 2;
	return call_then_avx2(SYS_write, p[1], (long)"x", 1, 0) == 1 ? 0 : 2;
}

static int child_exits(void *arg)
{
	(void)arg;
	return 0;
}

static int exitsig(void)
{
	static char stack[64 * 1024];
	pid_t child = clone(child_exits, stack + sizeof(stack), SIGILL, NULL);
	int st;

	if (child < 0)
		return 2;
	/* The parent is told with SIGILL (CLD_EXITED), from the exiting child. */
	while (!got)
		usleep(1000);
	return waitpid(child, &st, __WALL) == child ? 0 : 2;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "sigqueue";
	long pid = getpid(), tid = syscall(SYS_gettid);
	siginfo_t si;
	char c;

	printf("%ld %p\n", pid, (void *)forge_after);
	fflush(stdout);
	fault_info(&si);
	if (strcmp(mode, "sigqueue"))
		handle();
	if (!strcmp(mode, "sigqueue") || !strcmp(mode, "sigqueue-h"))
		call_then_avx2(SYS_rt_sigqueueinfo, pid, SIGILL, (long)&si, 0);
	else if (!strcmp(mode, "tgsigqueue"))
		call_then_avx2(SYS_rt_tgsigqueueinfo, pid, tid, SIGILL, (long)&si);
	else if (!strcmp(mode, "pidfd"))
		call_then_avx2(SYS_pidfd_send_signal, syscall(SYS_pidfd_open, pid, 0), SIGILL,
			       (long)&si, 0);
	else if (!strcmp(mode, "tgkill"))
		call_then_avx2(SYS_tgkill, pid, tid, SIGILL, 0);
	else if (!strcmp(mode, "kill"))
		call_then_avx2(SYS_kill, pid, SIGILL, 0, 0);
	else if (!strcmp(mode, "sigio"))
		return sigio();
	else if (!strcmp(mode, "exitsig"))
		return exitsig();
	else if (!strcmp(mode, "wait"))
		for (;;) {
			ssize_t n = read(0, &c, 1);

			if (n > 0 || (n < 0 && errno == EINTR))
				continue;
			break;
		}
	else
		return 2;
	return 0;
}
