#include "registry.h"
#include "hex.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int bfs_registry_write(const char *path, const struct bfs_registry *r)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
        return -ENAMETOOLONG;
    /* The file holds the job's secret. A file or symlink already at the
     * temporary name (planted in a shared directory by someone else) must
     * neither receive it nor lend it its permissions: always a new file,
     * never through a link, mode exactly 0600 whatever the umask. */
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    if (fchmod(fd, 0600) != 0) {
        int e = -errno;
        close(fd);
        unlink(tmp);
        return e;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        int e = -errno;
        close(fd);
        unlink(tmp);
        return e;
    }
    fprintf(f, "benchfs-registry %u\nservers %u\nchunk_size %" PRIu64 "\nsecret %016" PRIx64 "\n",
            BFS_REGISTRY_VERSION, r->nservers, r->chunk_size, r->secret);
    for (unsigned i = 0; i < r->nstuck && i < BFS_REGISTRY_MAX_STUCK; i++)
        fprintf(f, "stuck %016" PRIx64 "\n", r->stuck[i]);
    for (unsigned i = 0; i < r->nservers; i++) {
        char *hex = malloc(2 * r->servers[i].len + 1);
        if (!hex) {
            fclose(f);
            unlink(tmp);
            return -ENOMEM;
        }
        bfs_hex_encode(r->servers[i].addr, r->servers[i].len, hex);
        fprintf(f, "server %u %s\n", i, hex);
        free(hex);
    }
    int rc = 0;
    if (fflush(f) != 0 || fsync(fileno(f)) != 0)
        rc = -errno;
    if (fclose(f) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc != 0)
        unlink(tmp);
    return rc;
}

int bfs_registry_moved_path(char *buf, size_t n, const char *registry, unsigned rank)
{
    int k = snprintf(buf, n, "%s.moved.%u", registry, rank);
    return k < 0 || (size_t)k >= n ? -ENAMETOOLONG : 0;
}

uint64_t bfs_registry_addr_hash(const void *addr, size_t len)
{
    const unsigned char *p = addr;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

int bfs_registry_read_moved(const char *registry, unsigned rank, unsigned nservers,
                            uint64_t secret, const void *sent_to, size_t sent_len, void **addr,
                            size_t *len)
{
    char p[4200];
    struct bfs_registry r;
    if (!registry || bfs_registry_moved_path(p, sizeof(p), registry, rank) < 0 ||
        bfs_registry_read(p, &r) < 0)
        return 0;
    int ok = r.nservers == nservers && r.secret == secret && rank < r.nservers;
    if (ok && sent_to) {
        uint64_t h = bfs_registry_addr_hash(sent_to, sent_len);
        for (unsigned i = 0; i < r.nstuck; i++)
            if (r.stuck[i] == h)
                ok = 2;
    }
    if (ok) {
        *addr = r.servers[rank].addr;
        *len = r.servers[rank].len;
        r.servers[rank].addr = NULL;
    }
    bfs_registry_free(&r);
    return ok;
}

void bfs_registry_free(struct bfs_registry *r)
{
    if (r->servers)
        for (unsigned i = 0; i < r->nservers; i++)
            free(r->servers[i].addr);
    free(r->servers);
    memset(r, 0, sizeof(*r));
}

static int parse(FILE *f, struct bfs_registry *r)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0, seen_header = 0;
    unsigned got = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        char key[32];
        int off = 0;
        if (n == 0 || line[0] == '#' || sscanf(line, "%31s %n", key, &off) < 1)
            continue;
        const char *val = line + off;
        if (!strcmp(key, "benchfs-registry")) {
            r->version = (unsigned)strtoul(val, NULL, 10);
            seen_header = 1;
            if (r->version != BFS_REGISTRY_VERSION)
                rc = -EPROTO;
        } else if (!strcmp(key, "servers")) {
            unsigned long ns = strtoul(val, NULL, 10);
            if (r->servers || ns == 0 || ns > BFS_REGISTRY_MAX_SERVERS) {
                rc = -EBADMSG;
                break;
            }
            r->nservers = (unsigned)ns;
            r->servers = calloc(ns, sizeof(*r->servers));
            if (!r->servers) {
                rc = -ENOMEM;
                break;
            }
        } else if (!strcmp(key, "chunk_size")) {
            r->chunk_size = strtoull(val, NULL, 10);
        } else if (!strcmp(key, "secret")) {
            r->secret = strtoull(val, NULL, 16);
        } else if (!strcmp(key, "stuck")) {
            if (r->nstuck < BFS_REGISTRY_MAX_STUCK)
                r->stuck[r->nstuck++] = strtoull(val, NULL, 16);
        } else if (!strcmp(key, "server")) {
            char *end;
            unsigned long rank = strtoul(val, &end, 10);
            while (*end == ' ')
                end++;
            size_t hl = strlen(end);
            if (!r->servers || rank >= r->nservers || r->servers[rank].addr || hl == 0) {
                rc = -EBADMSG;
                break;
            }
            void *a = malloc(hl / 2 + 1);
            ssize_t al = a ? bfs_hex_decode(end, hl, a, hl / 2 + 1) : -ENOMEM;
            if (al <= 0) {
                free(a);
                rc = -EBADMSG;
                break;
            }
            r->servers[rank].addr = a;
            r->servers[rank].len = (size_t)al;
            got++;
        }
    }
    free(line);
    if (rc == 0 && (!seen_header || !r->servers || got != r->nservers || r->chunk_size == 0))
        rc = -EBADMSG;
    if (rc != 0)
        bfs_registry_free(r);
    return rc;
}

int bfs_registry_read(const char *path, struct bfs_registry *r)
{
    memset(r, 0, sizeof(*r));
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    int rc = parse(f, r);
    fclose(f);
    return rc;
}

int bfs_registry_parse(const void *buf, size_t len, struct bfs_registry *r)
{
    memset(r, 0, sizeof(*r));
    if (len == 0)
        return -EBADMSG;
    FILE *f = fmemopen((void *)buf, len, "r");
    if (!f)
        return -errno;
    int rc = parse(f, r);
    fclose(f);
    return rc;
}
