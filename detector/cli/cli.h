/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Subcommands.  Each is a thin file: parse arguments, call modules, print. */
#ifndef CPUDRIFT_CLI_H
#define CPUDRIFT_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

/* Exit codes shared by every subcommand. */
enum {
	EXIT_OK = 0,
	EXIT_FOUND = 1, /* drift, mismatch, ...: the command found what it looks for */
	EXIT_ERROR = 2,
};

#define CMD(name, summary) int cmd_##name(int argc, char **argv);
#include "cli/commands.def"
#undef CMD

/** Print @o pretty (or one line when @compact) to @f, newline-terminated. */
void cli_print_json(FILE *f, struct json_object *o, bool compact);
/** Open @path for writing ("-" or NULL: stdout).  Logs the error and returns NULL. */
FILE *cli_open_out(const char *path);
/** Close what cli_open_out returned; logs write errors.  0 or -errno. */
int cli_close_out(FILE *f, const char *path);
/** The program's whole argv (for re-executing itself). */
extern char **cli_argv;

/**
 * `explain`'s instruction bytes: hex digits across @argc words ("0f 0b", "0f0b",
 * "0x0f,0x0b", "\x0f\x0b"), at most @max bytes into @out.  The count, or -1 when not hex.
 */
int explain_parse_hex(int argc, char **argv, uint8_t *out, size_t max);

/** "-v" handling shared by subcommands. */
void cli_verbose(void);

#endif
