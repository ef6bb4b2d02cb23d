/*
 * web_assets.h - the files of web/ compiled into the binary by
 * cmake/embed.cmake (build/.../web_assets.c).
 */
#ifndef AJAR_SERVER_WEB_ASSETS_H
#define AJAR_SERVER_WEB_ASSETS_H

#include <stddef.h>

struct web_asset {
	const char *path;         /* "/index.html" */
	const char *content_type;
	const unsigned char *data; /* NUL-terminated for convenience; size excludes it */
	size_t size;
};

/* Terminated by an entry whose path is NULL. */
extern const struct web_asset ajar_web_assets[];

#endif
