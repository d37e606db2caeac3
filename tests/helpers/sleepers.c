// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Many sleeping processes for the process-table test and benchmark: `sleepers N` forks N
 * children that sleep, prints "ready K" (K children started; fewer when a limit stopped
 * it), and stops and reaps them all when its standard input closes.  It raises its
 * RLIMIT_NPROC soft limit to the hard one first.  It dies with its parent, and its children
 * die with it (PR_SET_PDEATHSIG), so a test that fails or crashes leaves none behind.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 0, k = 0;
	pid_t self = getpid(), *kids;
	struct rlimit rl;
	char c;

	if (n <= 0) {
		fprintf(stderr, "usage: sleepers N\n");
		return 2;
	}
	kids = calloc((size_t)n, sizeof(*kids));
	if (!kids)
		return 1;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (!getrlimit(RLIMIT_NPROC, &rl)) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NPROC, &rl);
	}
	for (; k < n; k++) {
		pid_t pid = fork();

		if (pid < 0)
			break;
		if (!pid) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != self)
				_exit(0);
			for (;;)
				pause();
		}
		kids[k] = pid;
	}
	printf("ready %ld\n", k);
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
	for (long i = 0; i < k; i++)
		kill(kids[i], SIGKILL);
	for (long i = 0; i < k; i++)
		waitpid(kids[i], NULL, 0);
	return 0;
}
