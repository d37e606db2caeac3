// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A tracer for the fault-watcher tests: it traces its child and makes the child's SIGILL
 * say whatever it likes.  Prints "PID IP" (the child, the address of the AVX2 bytes it
 * points the child at) on one line, then acts; exits 0 when the child did what it was
 * made to.  Modes:
 *   inject       PTRACE_SETSIGINFO (ILL_ILLOPN, si_addr the AVX2 bytes) and SIGILL on
 *                resume, with the child's SIGILL blocked so that the kernel requeues the
 *                signal; the child's registers are rewritten too (rip at the AVX2 bytes,
 *                orig_rax -1: as if it had not been in a system call)
 *   inject-info  the same siginfo, registers left alone
 *   ud2          point the child at a ud2: a real fault, of a traced process
 * Needs no privilege: any process may trace its own child.
 */
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

extern char avx2_site[], ud2_here[];

/* VPADDD ymm0, ymm1, ymm2 (AVX2), then exit(0); and a ud2. Never called: jumped to. */
__asm__(".text\n"
	".globl avx2_site\n"
	"avx2_site:\n\t"
	".byte 0xc5, 0xf5, 0xfe, 0xc2\n\t"
	"movl $60, %eax\n\t"
	"xorl %edi, %edi\n\t"
	"syscall\n"
	".globl ud2_here\n"
	"ud2_here:\n\t"
	"ud2\n");

static int child(bool block)
{
	sigset_t set;

	if (ptrace(PTRACE_TRACEME, 0, NULL, NULL))
		_exit(3);
	if (block) {
		sigemptyset(&set);
		sigaddset(&set, SIGILL);
		sigprocmask(SIG_BLOCK, &set, NULL);
	}
	raise(SIGSTOP);
	_exit(4); /* not reached when the tracer moved us */
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "inject";
	bool ud2 = !strcmp(mode, "ud2"), regs_too = !strcmp(mode, "inject");
	struct user_regs_struct regs;
	siginfo_t si;
	int st;
	pid_t pid = fork();

	if (pid < 0)
		return 2;
	if (!pid)
		return child(!ud2);
	printf("%d %p\n", pid, ud2 ? (void *)ud2_here : (void *)avx2_site);
	fflush(stdout);
	if (waitpid(pid, &st, 0) != pid || !WIFSTOPPED(st))
		return 2;
	ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)PTRACE_O_EXITKILL);
	if (ptrace(PTRACE_GETREGS, pid, NULL, &regs))
		return 2;
	if (ud2 || regs_too) {
		regs.rip = (unsigned long long)(ud2 ? ud2_here : avx2_site);
		regs.orig_rax = (unsigned long long)-1;
		if (ptrace(PTRACE_SETREGS, pid, NULL, &regs))
			return 2;
	}
	if (ud2) {
		/* Resume; the ud2 stops it again with SIGILL, which it then dies of. */
		ptrace(PTRACE_CONT, pid, NULL, NULL);
		if (waitpid(pid, &st, 0) != pid || !WIFSTOPPED(st) || WSTOPSIG(st) != SIGILL)
			return 2;
		ptrace(PTRACE_CONT, pid, NULL, (void *)(long)SIGILL);
		waitpid(pid, &st, 0);
		return WIFSIGNALED(st) && WTERMSIG(st) == SIGILL ? 0 : 2;
	}
	memset(&si, 0, sizeof(si));
	si.si_signo = SIGILL;
	si.si_code = ILL_ILLOPN;
	si.si_addr = avx2_site;
	if (ptrace(PTRACE_SETSIGINFO, pid, NULL, &si))
		return 2;
	ptrace(PTRACE_CONT, pid, NULL, (void *)(long)SIGILL);
	waitpid(pid, &st, 0);
	/* inject: the child ran the AVX2 bytes and exited 0; inject-info: it went on to 4. */
	return WIFEXITED(st) ? 0 : 2;
}
