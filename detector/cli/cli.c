// SPDX-License-Identifier: GPL-2.0-or-later
/* Helpers shared by the subcommands. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/log.h"

char **cli_argv;

void cli_verbose(void)
{
	if (log_get_level() < LOG_LVL_DEBUG)
		log_set_level(log_get_level() + 1);
}

void cli_print_json(FILE *f, struct json_object *o, bool compact)
{
	int flags = compact ? JSON_C_TO_STRING_PLAIN :
			      JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED;

	fputs(json_object_to_json_string_ext(o, flags | JSON_C_TO_STRING_NOSLASHESCAPE), f);
	fputc('\n', f);
}

FILE *cli_open_out(const char *path)
{
	FILE *f;

	if (!path || !strcmp(path, "-"))
		return stdout;
	f = fopen(path, "w");
	if (!f)
		log_err("failed to open %s: %s", path, strerror(errno));
	return f;
}

int cli_close_out(FILE *f, const char *path)
{
	int err = 0;

	if (fflush(f) || ferror(f))
		err = -errno ?: -EIO;
	if (f != stdout && fclose(f) && !err)
		err = -errno;
	if (err)
		log_err("failed to write %s: %s", path ? path : "stdout", strerror(-err));
	return err;
}
