/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libarchive, loaded the first time a bundle is written or read (dlopen).  Only `evidence`,
 * `diff BUNDLE` and `import BUNDLE` use it, and libarchive brings libxml2, ICU and libstdc++
 * along: linked, they would cost the daemon, which never touches a bundle, some 2 MB of
 * resident memory.  The types come from libarchive's own headers, so every call is checked
 * by the compiler as if it were linked.
 */
#ifndef CPUDRIFT_ARCHLIB_H
#define CPUDRIFT_ARCHLIB_H

#include <archive.h>
#include <archive_entry.h>

struct errbuf;

/* The soname of libarchive 3 (Debian's libarchive13, Fedora's libarchive). */
#define ARCHLIB_SONAME "libarchive.so.13"

#define ARCHLIB_FUNCS(X)                    \
	X(archive_error_string)             \
	X(archive_entry_filetype)           \
	X(archive_entry_free)               \
	X(archive_entry_hardlink)           \
	X(archive_entry_new)                \
	X(archive_entry_pathname)           \
	X(archive_entry_set_filetype)       \
	X(archive_entry_set_mtime)          \
	X(archive_entry_set_pathname)       \
	X(archive_entry_set_perm)           \
	X(archive_entry_set_size)           \
	X(archive_entry_size)               \
	X(archive_entry_size_is_set)        \
	X(archive_entry_symlink)            \
	X(archive_read_data)                \
	X(archive_read_free)                \
	X(archive_read_new)                 \
	X(archive_read_next_header)         \
	X(archive_read_open_fd)             \
	X(archive_read_support_filter_gzip) \
	X(archive_read_support_format_tar)  \
	X(archive_write_add_filter_gzip)    \
	X(archive_write_close)              \
	X(archive_write_data)               \
	X(archive_write_free)               \
	X(archive_write_header)             \
	X(archive_write_new)                \
	X(archive_write_open_fd)            \
	X(archive_write_set_filter_option)  \
	X(archive_write_set_format_pax_restricted)

struct archlib {
#define X(f) __typeof__(f) *f;
	ARCHLIB_FUNCS(X)
#undef X
};

/** The functions, loaded once; NULL with @err filled when libarchive cannot be loaded. */
const struct archlib *archlib_get(struct errbuf *err);

#endif
