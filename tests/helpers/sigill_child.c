// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fault generator for the fault-watcher tests and benchmark.  Prints the address of the
 * faulting instruction (one line, "0x..."), then faults:
 *   ud2              execute ud2 and die of SIGILL
 *   handled          execute ud2 under its own SIGILL handler, survive, print the
 *                    address again, wait for a second byte, exit 0
 *   bytes HEX        execute HEX from an executable page (an instruction this CPU lacks)
 *   storm N          fault N times at one IP under a handler, then exit 0
 *   paced N US       fault N times, US microseconds apart, printing nothing more
 *   wait             print our pid and sleep until killed (asynchronous kill -ILL)
 * When stdin is a pipe the child waits for one byte before faulting, so the test can
 * attach first and read the address.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

extern char ud2_site[];

__attribute__((noinline)) static void fault_ud2(void)
{
	__asm__ volatile(".globl ud2_site\nud2_site: ud2\n");
}

static void skip_ud2(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	((ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP] += 2;
}

static void handle_sigill(void)
{
	struct sigaction sa = { .sa_sigaction = skip_ud2, .sa_flags = SA_SIGINFO };

	sigaction(SIGILL, &sa, NULL);
}

static void announce(const void *ip)
{
	char go;

	printf("%p\n", ip);
	fflush(stdout);
	if (!isatty(0) && read(0, &go, 1) < 0)
		exit(3);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "ud2";

	if (!strcmp(mode, "ud2")) {
		announce(ud2_site);
		fault_ud2();
		return 1;
	}
	if (!strcmp(mode, "handled")) {
		handle_sigill();
		announce(ud2_site);
		fault_ud2();
		announce(ud2_site); /* stay alive until the test has looked at /proc */
		return 0;
	}
	if (!strcmp(mode, "storm") || !strcmp(mode, "paced")) {
		long n = argc > 2 ? atol(argv[2]) : 100000;
		long us = argc > 3 ? atol(argv[3]) : 0;
		struct timespec ts = { us / 1000000, us % 1000000 * 1000 };

		handle_sigill();
		announce(ud2_site);
		for (long i = 0; i < n; i++) {
			fault_ud2();
			if (us)
				nanosleep(&ts, NULL);
		}
		return 0;
	}
	if (!strcmp(mode, "bytes") && argc > 2) {
		uint8_t *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
				     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		size_t n = 0;

		if (page == MAP_FAILED)
			return 2;
		for (const char *p = argv[2]; p[0] && p[1] && n < 64; p += 2) {
			unsigned v;

			if (sscanf(p, "%2x", &v) != 1)
				return 2;
			page[n++] = (uint8_t)v;
		}
		page[n] = 0xc3; /* ret, should the instruction run after all */
		announce(page);
		((void (*)(void))page)();
		return 0;
	}
	if (!strcmp(mode, "wait")) {
		printf("%d\n", getpid());
		fflush(stdout);
		for (;;)
			pause();
	}
	fprintf(stderr, "sigill_child: unknown mode %s\n", mode);
	return 2;
}
