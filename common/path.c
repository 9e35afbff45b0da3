#include "path.h"

#include <errno.h>
#include <string.h>

ssize_t bfs_path_normalize(const char *in, char *out, size_t cap)
{
    if (!in || in[0] != '/')
        return -EINVAL;
    if (cap > BFS_PATH_MAX)
        cap = BFS_PATH_MAX;
    if (cap < 2)
        return -ENAMETOOLONG;
    size_t o = 0;
    const char *p = in;
    while (*p) {
        while (*p == '/')
            p++;
        const char *s = p;
        while (*p && *p != '/')
            p++;
        size_t n = (size_t)(p - s);
        if (n == 0 || (n == 1 && s[0] == '.'))
            continue;
        if (n == 2 && s[0] == '.' && s[1] == '.') {
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--; /* drop the slash too */
            continue;
        }
        if (n > BFS_NAME_MAX)
            return -ENAMETOOLONG;
        if (o + 1 + n + 1 > cap)
            return -ENAMETOOLONG;
        out[o++] = '/';
        memcpy(out + o, s, n);
        o += n;
    }
    if (o == 0)
        out[o++] = '/';
    out[o] = '\0';
    return (ssize_t)o;
}

int bfs_path_check(const char *p, size_t len)
{
    if (len == 0 || p[0] != '/')
        return -EINVAL;
    if (len >= BFS_PATH_MAX)
        return -ENAMETOOLONG;
    if (memchr(p, '\0', len))
        return -EINVAL;
    if (len == 1)
        return 0;
    if (p[len - 1] == '/')
        return -EINVAL;
    size_t i = 1;
    while (i <= len) {
        size_t s = i;
        while (i < len && p[i] != '/')
            i++;
        size_t n = i - s;
        if (n == 0)
            return -EINVAL;
        if (n > BFS_NAME_MAX)
            return -ENAMETOOLONG;
        if ((n == 1 && p[s] == '.') || (n == 2 && p[s] == '.' && p[s + 1] == '.'))
            return -EINVAL;
        i++;
    }
    return 0;
}

size_t bfs_path_parent_len(const char *p, size_t len)
{
    size_t i = len;
    while (i > 0 && p[i - 1] != '/')
        i--;
    /* i is just past the last slash */
    return i <= 1 ? 1 : i - 1;
}

const char *bfs_path_base(const char *p, size_t len)
{
    size_t i = len;
    while (i > 0 && p[i - 1] != '/')
        i--;
    return p + i;
}

int bfs_path_is_under(const char *p, size_t plen, const char *dir, size_t dlen)
{
    if (dlen == 1 && dir[0] == '/')
        return 1;
    if (plen < dlen || memcmp(p, dir, dlen) != 0)
        return 0;
    return plen == dlen || p[dlen] == '/';
}
