/* Client API: the parser of READDIR reply pages (see client_internal.h).
 * Kept apart from dir.c so that the fuzz target links it alone. */
#include "client_internal.h"

#include <errno.h>
#include <string.h>

int bfs_cl_dirpage_next(const void *page, size_t len, size_t *pos, const char *prev,
                        struct benchfs_dirent *ent)
{
    if (*pos >= len)
        return 0;
    if (len - *pos < 3)
        return -EPROTO; /* a torn entry header */
    const unsigned char *p = (const unsigned char *)page + *pos;
    size_t n = (size_t)p[1] | (size_t)p[2] << 8;
    if (n == 0 || n > BFS_NAME_MAX || n > len - *pos - 3)
        return -EPROTO;
    const char *name = (const char *)p + 3;
    if (memchr(name, '/', n) || memchr(name, '\0', n) || (n == 1 && name[0] == '.') ||
        (n == 2 && name[0] == '.' && name[1] == '.'))
        return -EPROTO;
    ent->type = p[0];
    memcpy(ent->name, name, n);
    ent->name[n] = '\0';
    /* Entries come in key order after the cursor: a name that does not sort
     * after the previous one would make the listing repeat itself. */
    if (prev && *prev && strcmp(ent->name, prev) <= 0)
        return -EPROTO;
    *pos += 3 + n;
    return 1;
}
