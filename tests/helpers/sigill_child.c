// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fault generator for the fault-watcher tests and benchmark.  Prints the address of the
 * faulting instruction (one line, "0x..."), then faults:
 *   ud2              execute ud2 and die of SIGILL
 *   handled          execute ud2 under its own SIGILL handler, survive, print the
 *                    address again, wait for a second byte, exit 0
 *   blocked          install a SIGILL handler but block SIGILL, then ud2: the kernel
 *                    forces the signal (unblocks it, resets it to SIG_DFL) and we die
 *   ignored          set SIGILL to SIG_IGN, then ud2: forced the same way, we die
 *   bytes HEX        execute HEX from an executable page (an instruction this CPU lacks)
 *   storm N          fault N times at one IP under a handler, then exit 0
 *   paced N US       fault N times, US microseconds apart, printing nothing more
 *   wait             print our pid and sleep until killed (asynchronous kill -ILL)
 *   named NAME       call ourselves NAME (prctl PR_SET_NAME), then ud2 and die
 *   spray N [loop]   fault once at each of N distinct addresses under a handler, print
 *                    "done", and stay alive until stdin closes (with "loop": faulting on
 *                    at the first 64 addresses meanwhile, and print how many faults
 *                    in all at the end)
 *   bytes-storm HEX N  execute HEX (an instruction this CPU lacks) N times under a handler
 *   timed N          fault N times at one IP under a handler; print the ns per fault
 *   signals SIG N    send itself SIG (USR1, CHLD: a child that exits) N times, handled;
 *                    print the ns per signal
 * When stdin is a pipe the child waits for one byte before faulting, so the test can
 * attach first and read the address.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
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

static void nothing(int sig)
{
	(void)sig;
}

static void handle_sigill(void)
{
	struct sigaction sa = { .sa_sigaction = skip_ud2, .sa_flags = SA_SIGINFO };

	sigaction(SIGILL, &sa, NULL);
}

/* The faulting code was called: return to the caller, as its ret would have. */
static void emulate_ret(int sig, siginfo_t *si, void *uc)
{
	greg_t *g = ((ucontext_t *)uc)->uc_mcontext.gregs;

	(void)sig;
	(void)si;
	g[REG_RIP] = *(greg_t *)g[REG_RSP];
	g[REG_RSP] += 8;
}

static uint8_t *exec_page(size_t size)
{
	uint8_t *p = mmap(NULL, size, PROT_READ | PROT_WRITE | PROT_EXEC,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static size_t parse_hex(const char *hex, uint8_t *out, size_t max)
{
	size_t n = 0;

	for (const char *p = hex; p[0] && p[1] && n < max; p += 2) {
		unsigned v;

		if (sscanf(p, "%2x", &v) != 1)
			exit(2);
		out[n++] = (uint8_t)v;
	}
	return n;
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
	if (!strcmp(mode, "blocked") || !strcmp(mode, "ignored")) {
		struct sigaction ign = { .sa_handler = SIG_IGN };
		sigset_t ill;

		if (!strcmp(mode, "blocked")) {
			handle_sigill();
			sigemptyset(&ill);
			sigaddset(&ill, SIGILL);
			sigprocmask(SIG_BLOCK, &ill, NULL);
		} else {
			sigaction(SIGILL, &ign, NULL);
		}
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
		uint8_t *page = exec_page(4096);
		size_t n;

		if (!page)
			return 2;
		n = parse_hex(argv[2], page, 64);
		page[n] = 0xc3; /* ret, should the instruction run after all */
		announce(page);
		((void (*)(void))page)();
		return 0;
	}
	if (!strcmp(mode, "named") && argc > 2) {
		prctl(PR_SET_NAME, argv[2], 0, 0, 0);
		announce(ud2_site);
		fault_ud2();
		return 1;
	}
	if (!strcmp(mode, "spray") && argc > 2) {
		long n = atol(argv[2]);
		struct sigaction sa = { .sa_sigaction = emulate_ret, .sa_flags = SA_SIGINFO };
		uint8_t *page = exec_page((size_t)n * 2 + 4096);
		char go;

		if (!page || n <= 0)
			return 2;
		/* Every other byte pair a ud2: n faulting instructions at n addresses. */
		for (long i = 0; i < n; i++) {
			page[2 * i] = 0x0f;
			page[2 * i + 1] = 0x0b;
		}
		sigaction(SIGILL, &sa, NULL);
		announce(page);
		for (long i = 0; i < n; i++)
			((void (*)(void))(page + 2 * i))();
		printf("done\n");
		fflush(stdout);
		if (argc > 3 && !strcmp(argv[3], "loop")) {
			long faults = n;

			fcntl(0, F_SETFL, O_NONBLOCK);
			while (read(0, &go, 1) != 0)
				for (long i = 0; i < 64 && i < n; i++, faults++)
					((void (*)(void))(page + 2 * i))();
			/* How many in all, for a test to compare with what was counted. */
			printf("%ld\n", faults);
			fflush(stdout);
			return 0;
		}
		while (read(0, &go, 1) > 0)
			;
		return 0;
	}
	if (!strcmp(mode, "bytes-storm") && argc > 3) {
		struct sigaction sa = { .sa_sigaction = emulate_ret, .sa_flags = SA_SIGINFO };
		uint8_t *page = exec_page(4096);
		long n = atol(argv[3]);
		size_t len;

		if (!page)
			return 2;
		len = parse_hex(argv[2], page, 64);
		page[len] = 0xc3; /* ret, should the instruction run after all */
		sigaction(SIGILL, &sa, NULL);
		announce(page);
		for (long i = 0; i < n; i++)
			((void (*)(void))page)();
		return 0;
	}
	if (!strcmp(mode, "timed") && argc > 2) {
		long n = atol(argv[2]);
		struct timespec t0, t1;

		handle_sigill();
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (long i = 0; i < n; i++)
			fault_ud2();
		clock_gettime(CLOCK_MONOTONIC, &t1);
		printf("%.1f\n", ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / n);
		return 0;
	}
	if (!strcmp(mode, "signals") && argc > 3) {
		struct sigaction sa = { .sa_handler = SIG_IGN };
		long n = atol(argv[3]);
		bool chld = !strcmp(argv[2], "CHLD");
		struct timespec t0, t1;

		/* A handler that does nothing: the signal is generated and delivered. */
		sa.sa_handler = (void (*)(int))nothing;
		sigaction(chld ? SIGCHLD : SIGUSR1, &sa, NULL);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (long i = 0; i < n; i++) {
			if (!chld) {
				kill(getpid(), SIGUSR1);
			} else {
				pid_t c = fork();

				if (!c)
					_exit(0);
				waitpid(c, NULL, 0);
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		printf("%.1f\n", ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / n);
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
