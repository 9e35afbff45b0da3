/* A client for the failure tests (fault_*.sh), on the client API. Every
 * file's content is a pattern of (byte offset, seed): seeds 1..255 give
 * different bytes at every offset, so a page can be told to be all-A,
 * all-B or neither.
 *
 *  fault_client pickdir PREFIX AVOID
 *      print the first of PREFIX, PREFIX1, PREFIX2... whose metadata server
 *      is not rank AVOID (-1: any)
 *  fault_client mkfiles DIR COUNT SIZE SEED AVOID [--no-fsync]
 *      mkdir DIR, create COUNT files DIR/fN of SIZE bytes whose metadata
 *      and chunks are all on servers other than AVOID (-1: anywhere), write
 *      the pattern, fsync (unless --no-fsync), close; print the paths
 *  fault_client verify DIR SIZE SEED [COUNT]
 *      every file in DIR holds SIZE bytes of the pattern (and there are
 *      COUNT of them when given)
 *  fault_client stress PATH SECONDS LIMIT_MS
 *      for SECONDS: write 256 KiB at a random offset of a 4 MiB file and
 *      read it back, stat it; every call must return within LIMIT_MS, and
 *      a failed one must fail with EIO, ETIMEDOUT, ECONNRESET or
 *      ECONNREFUSED. Prints what it saw; exit 0 if so, 1 otherwise.
 *  fault_client overwrite PATH SIZE SEED BLOCK [SEED2]
 *      write the pattern over PATH in BLOCK-byte calls, again and again
 *      (until killed), alternating between SEED and SEED2 when given;
 *      prints "writing" once the first call returned
 *  fault_client write PATH SIZE SEED
 *      create/truncate PATH and write SIZE bytes of the pattern, fsync
 *  fault_client pages PATH SIZE SEEDA SEEDB PAGE
 *      every PAGE bytes of PATH hold all of pattern A or all of pattern B;
 *      prints how many of each
 *  fault_client touch DIR COUNT
 *      create empty files DIR/tN until COUNT exist or one fails; a failure
 *      must be ENOSPC; prints how many were made (exit 0 if so)
 *  fault_client load DIR NFILES BYTES SEED
 *      mkdir DIR, create NFILES files in it holding BYTES in all (the
 *      pattern, each file from its own offset), then read every one back
 *      and verify it; prints the times
 *  fault_client mkmany DIR FIRST COUNT / rmmany DIR FIRST COUNT
 *      create / unlink the empty files DIR/eN, N in FIRST .. FIRST+COUNT-1
 *  fault_client count DIR N
 *      list DIR completely: exactly N entries, each name once
 *  fault_client where PATH NCHUNKS
 *      print the server of PATH's metadata, then of each of its first
 *      NCHUNKS chunks, on one line
 *  fault_client hostfile PATH SIZE SEED
 *      write SIZE bytes of the pattern to PATH on the host (not BenchFS)
 *  fault_client fill PATH BLOCK MAXBYTES SEED
 *      write the pattern in BLOCK-byte calls until a write fails; the
 *      error must be ENOSPC; prints the bytes written, then checks that
 *      every acknowledged byte reads back (exit 0 if so)
 */
#include "client/benchfs.h"
#include "common/placement.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static benchfs_t *fs;

static unsigned char pat(uint64_t off, unsigned seed)
{
    uint64_t x = off * 0x9e3779b97f4a7c15ull;
    return (unsigned char)((x >> 56) + seed);
}

static void fill(unsigned char *b, size_t n, uint64_t off, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        b[i] = pat(off + i, seed);
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int die(const char *what, int rc)
{
    fprintf(stderr, "fault_client: %s: %s\n", what, strerror(-rc));
    return 1;
}

static void init(void)
{
    int rc = benchfs_init(&fs, NULL);
    if (rc < 0) {
        die("init", rc);
        exit(1);
    }
}

static int meta_on(const char *path) { return (int)bfs_place_meta(path, strlen(path), benchfs_nservers(fs)); }

static int cmd_pickdir(const char *prefix, int avoid)
{
    char p[4096];
    for (int i = 0; i < 1000; i++) {
        if (i == 0)
            snprintf(p, sizeof(p), "%s", prefix);
        else
            snprintf(p, sizeof(p), "%s%d", prefix, i);
        if (meta_on(p) != avoid) {
            printf("%s\n", p);
            return 0;
        }
    }
    return 1;
}

static int write_pattern(benchfs_file_t *f, size_t size, unsigned seed, size_t block)
{
    unsigned char *b = malloc(block);
    for (size_t off = 0; off < size; off += block) {
        size_t n = size - off < block ? size - off : block;
        fill(b, n, off, seed);
        ssize_t w = benchfs_pwrite(f, b, n, (off_t)off);
        if (w != (ssize_t)n) {
            free(b);
            return w < 0 ? (int)w : -EIO;
        }
    }
    free(b);
    return 0;
}

static int cmd_mkfiles(const char *dir, int count, size_t size, unsigned seed, int avoid, int sync)
{
    int rc = benchfs_mkdir(fs, dir, 0755);
    if (rc < 0 && rc != -EEXIST)
        return die("mkdir", rc);
    uint64_t cs = benchfs_chunk_size(fs);
    unsigned n = benchfs_nservers(fs);
    uint64_t nchunks = (size + cs - 1) / cs;
    int made = 0;
    for (int k = 0; made < count && k < count * 100 + 100; k++) {
        char p[4096];
        snprintf(p, sizeof(p), "%s/f%d", dir, k);
        /* A file's name and inode live on its directory's server. */
        if (avoid >= 0 && meta_on(dir) == avoid)
            break;
        benchfs_file_t *f;
        if ((rc = benchfs_open(fs, p, O_CREAT | O_TRUNC | O_RDWR, 0644, &f)) < 0)
            return die(p, rc);
        struct stat st;
        if ((rc = benchfs_fstat(f, &st)) < 0)
            return die(p, rc);
        int bad = 0;
        for (uint64_t i = 0; avoid >= 0 && i < nchunks; i++)
            bad |= bfs_place_chunk((uint64_t)st.st_ino, i, n) == (unsigned)avoid;
        if (bad) {
            benchfs_close(f);
            if ((rc = benchfs_unlink(fs, p)) < 0)
                return die(p, rc);
            continue;
        }
        if ((rc = write_pattern(f, size, seed, 1 << 20)) < 0)
            return die(p, rc);
        if (sync && (rc = benchfs_fsync(f)) < 0)
            return die(p, rc);
        benchfs_close(f);
        printf("%s\n", p);
        made++;
    }
    if (made < count)
        fprintf(stderr, "fault_client: only %d files of %d avoid rank %d (chunks of a file go "
                "round robin: a file of more than N-1 chunks touches every server)\n",
                made, count, avoid);
    return made == count ? 0 : 1;
}

static int check_file(const char *p, size_t size, unsigned seed)
{
    benchfs_file_t *f;
    int rc = benchfs_open(fs, p, O_RDONLY, 0, &f);
    if (rc < 0)
        return die(p, rc);
    unsigned char *b = malloc(size + 1);
    ssize_t got = benchfs_pread(f, b, size + 1, 0);
    benchfs_close(f);
    int bad = got != (ssize_t)size;
    for (size_t i = 0; !bad && i < size; i++)
        if (b[i] != pat(i, seed)) {
            fprintf(stderr, "fault_client: %s: byte %zu differs\n", p, i);
            bad = 1;
        }
    if (got != (ssize_t)size)
        fprintf(stderr, "fault_client: %s: read %zd of %zu bytes%s%s\n", p, got, size,
                got < 0 ? ": " : "", got < 0 ? strerror((int)-got) : "");
    free(b);
    return bad;
}

static int cmd_verify(const char *dir, size_t size, unsigned seed, int want)
{
    benchfs_dir_t *d;
    int rc = benchfs_opendir(fs, dir, &d);
    if (rc < 0)
        return die(dir, rc);
    struct benchfs_dirent e;
    int n = 0, bad = 0;
    while ((rc = benchfs_readdir(d, &e)) == 1) {
        if (e.type == DT_DIR)
            continue;
        char p[4096];
        snprintf(p, sizeof(p), "%s/%s", dir, e.name);
        bad += check_file(p, size, seed);
        n++;
    }
    benchfs_closedir(d);
    if (rc < 0)
        return die("readdir", rc);
    printf("%s: %d files verified, %d bad\n", dir, n, bad);
    if (want >= 0 && n != want) {
        fprintf(stderr, "fault_client: %s: %d files, expected %d\n", dir, n, want);
        return 1;
    }
    return bad ? 1 : 0;
}

static int allowed(int rc)
{
    return rc == -EIO || rc == -ETIMEDOUT || rc == -ECONNRESET || rc == -ECONNREFUSED;
}

static int cmd_stress(const char *p, int seconds, double limit)
{
    const size_t fsz = 4 << 20, blk = 256 << 10;
    unsigned char *w = malloc(blk), *r = malloc(blk);
    double end = now_ms() + seconds * 1000.0, worst = 0, first_err = 0, t_start = now_ms();
    long ok = 0, errs = 0, wrong = 0, slow = 0;
    int lasterr = 0;
    benchfs_file_t *f = NULL;
    unsigned seed = (unsigned)getpid() % 200 + 1;
    srand((unsigned)getpid());
    while (now_ms() < end) {
        for (int op = 0; op < 4 && now_ms() < end; op++) {
            double t0 = now_ms();
            int rc = 0;
            size_t off = ((size_t)rand() % (fsz / blk)) * blk;
            switch (op) {
            case 0:
                if (!f)
                    rc = benchfs_open(fs, p, O_CREAT | O_RDWR, 0644, &f);
                break;
            case 1:
                if (f) {
                    fill(w, blk, off, seed);
                    ssize_t x = benchfs_pwrite(f, w, blk, (off_t)off);
                    rc = x < 0 ? (int)x : x == (ssize_t)blk ? 0 : -EIO;
                }
                break;
            case 2:
                if (f) {
                    ssize_t x = benchfs_pread(f, r, blk, (off_t)off);
                    rc = x < 0 ? (int)x : 0;
                }
                break;
            case 3: {
                struct stat st;
                rc = benchfs_stat(fs, p, &st);
                break;
            }
            }
            double dt = now_ms() - t0;
            if (dt > worst)
                worst = dt;
            if (dt > limit) {
                slow++;
                fprintf(stderr, "fault_client: %s: op %d took %.0f ms (limit %.0f)\n", p, op, dt, limit);
            }
            if (rc == 0) {
                ok++;
            } else {
                if (!errs) {
                    first_err = t0 - t_start;
                    fprintf(stderr, "fault_client: %s: first error: op %d: %s after %.0f ms (call took %.0f ms)\n",
                            p, op, strerror(-rc), first_err, dt);
                }
                errs++;
                lasterr = rc;
                if (!allowed(rc)) {
                    wrong++;
                    fprintf(stderr, "fault_client: %s: op %d failed with %s\n", p, op, strerror(-rc));
                }
                if (op == 0 || rc == -ENOENT) {
                    /* nothing open */
                }
            }
        }
    }
    printf("stress %s: %ld ok, %ld errors (last: %s, first after %.0f ms), slowest call %.0f ms, "
           "%ld over the limit, %ld with an unexpected error\n",
           p, ok, errs, errs ? strerror(-lasterr) : "none", first_err, worst, slow, wrong);
    if (f)
        benchfs_close(f);
    free(w);
    free(r);
    return slow || wrong ? 1 : 0;
}

static int cmd_overwrite(const char *p, size_t size, unsigned seed, size_t block, unsigned seed2)
{
    unsigned seeds[2] = {seed, seed2 ? seed2 : seed};
    benchfs_file_t *f;
    int rc = benchfs_open(fs, p, O_RDWR, 0, &f);
    if (rc < 0)
        return die(p, rc);
    unsigned char *b = malloc(block);
    int said = 0;
    for (unsigned pass = 0;; pass++) {
        for (size_t off = 0; off < size; off += block) {
            size_t n = size - off < block ? size - off : block;
            fill(b, n, off, seeds[pass & 1]);
            ssize_t w = benchfs_pwrite(f, b, n, (off_t)off);
            if (w != (ssize_t)n)
                return die("pwrite", w < 0 ? (int)w : -EIO);
            if (!said) {
                printf("writing\n");
                fflush(stdout);
                said = 1;
            }
        }
    }
}

static int cmd_write(const char *p, size_t size, unsigned seed)
{
    benchfs_file_t *f;
    int rc = benchfs_open(fs, p, O_CREAT | O_TRUNC | O_RDWR, 0644, &f);
    if (rc < 0)
        return die(p, rc);
    if ((rc = write_pattern(f, size, seed, 4 << 20)) < 0 || (rc = benchfs_fsync(f)) < 0)
        return die(p, rc);
    benchfs_close(f);
    return 0;
}

/* What a torn piece holds, for the post-mortem: per 512-byte sector, A (old),
 * B (new), 0 (zeros) or ?; and where in the file a ? sector's bytes belong
 * (a misplaced piece of either pattern). */
static void describe(const unsigned char *buf, size_t size, size_t off, size_t n, unsigned a,
                     unsigned b)
{
    char map[1024];
    size_t k = 0, first_odd = SIZE_MAX;
    for (size_t s = 0; s < n && k + 1 < sizeof(map); s += 512, k++) {
        size_t m = n - s < 512 ? n - s : 512;
        int isa = 1, isb = 1, isz = 1;
        for (size_t i = 0; i < m; i++) {
            isa &= buf[off + s + i] == pat(off + s + i, a);
            isb &= buf[off + s + i] == pat(off + s + i, b);
            isz &= buf[off + s + i] == 0;
        }
        map[k] = isa ? 'A' : isb ? 'B' : isz ? '0' : '?';
        if (map[k] == '?' && first_odd == SIZE_MAX)
            first_odd = off + s;
    }
    map[k] = 0;
    fprintf(stderr, "fault_client:   sectors %s\n", map);
    if (first_odd == SIZE_MAX)
        return;
    fprintf(stderr, "fault_client:   at %zu:", first_odd);
    for (int i = 0; i < 24; i++)
        fprintf(stderr, " %02x", buf[first_odd + i]);
    fprintf(stderr, "\nfault_client:   old would be:");
    for (int i = 0; i < 24; i++)
        fprintf(stderr, " %02x", pat(first_odd + i, a));
    fprintf(stderr, "\n");
    for (size_t x = 0; x + 512 <= size; x++)
        for (int w = 0; w < 2; w++) {
            unsigned seed = w ? b : a;
            size_t i = 0;
            while (i < 512 && buf[first_odd + i] == pat(x + i, seed))
                i++;
            if (i == 512)
                fprintf(stderr, "fault_client:   bytes at %zu hold pattern %u of offset %zu\n",
                        first_odd, seed, x);
        }
}

static int cmd_pages(const char *p, size_t size, unsigned a, unsigned b, size_t page)
{
    benchfs_file_t *f;
    int rc = benchfs_open(fs, p, O_RDONLY, 0, &f);
    if (rc < 0)
        return die(p, rc);
    unsigned char *buf = malloc(size);
    ssize_t got = benchfs_pread(f, buf, size, 0);
    benchfs_close(f);
    if (got != (ssize_t)size)
        return die("pread", got < 0 ? (int)got : -EIO);
    long na = 0, nb = 0, mixed = 0;
    for (size_t off = 0; off < size; off += page) {
        size_t n = size - off < page ? size - off : page;
        int isa = 1, isb = 1;
        for (size_t i = 0; i < n && (isa || isb); i++) {
            isa &= buf[off + i] == pat(off + i, a);
            isb &= buf[off + i] == pat(off + i, b);
        }
        if (isa)
            na++;
        else if (isb)
            nb++;
        else {
            if (mixed < 5) {
                fprintf(stderr, "fault_client: %s: bytes %zu..%zu are neither all old nor all new\n",
                        p, off, off + n - 1);
                describe(buf, size, off, n, a, b);
            }
            mixed++;
        }
    }
    printf("%s: %zu-byte pieces: %ld old, %ld new, %ld mixed\n", p, page, na, nb, mixed);
    if (mixed && page >= 65536) {
        fprintf(stderr, "fault_client: pieces in order: ");
        for (size_t off = 0; off < size; off += page) {
            size_t n = size - off < page ? size - off : page, i = 0, j = 0;
            while (i < n && buf[off + i] == pat(off + i, a))
                i++;
            while (j < n && buf[off + j] == pat(off + j, b))
                j++;
            fputc(i == n ? 'A' : j == n ? 'B' : '?', stderr);
        }
        fputc('\n', stderr);
    }
    free(buf);
    return mixed ? 1 : 0;
}

static int cmd_touch(const char *dir, int count)
{
    int rc = benchfs_mkdir(fs, dir, 0755);
    if (rc < 0 && rc != -EEXIST) {
        printf("touch %s: mkdir: %s\n", dir, strerror(-rc));
        return rc == -ENOSPC ? 0 : 1;
    }
    int n = 0;
    rc = 0;
    for (; n < count; n++) {
        char p[4096];
        benchfs_file_t *f;
        snprintf(p, sizeof(p), "%s/t%d", dir, n);
        if ((rc = benchfs_open(fs, p, O_CREAT | O_WRONLY, 0644, &f)) < 0)
            break;
        benchfs_close(f);
    }
    printf("touch %s: %d files made, then %s\n", dir, n, rc < 0 ? strerror(-rc) : "the limit");
    return rc == 0 || rc == -ENOSPC ? 0 : 1;
}

static int cmd_load(const char *dir, int nfiles, size_t bytes, unsigned seed)
{
    int rc = benchfs_mkdir(fs, dir, 0755);
    if (rc < 0 && rc != -EEXIST)
        return die(dir, rc);
    size_t per = bytes / (size_t)nfiles;
    unsigned char *b = malloc(per + 1), *r = malloc(per + 1);
    double t0 = now_ms();
    for (int k = 0; k < nfiles; k++) {
        char p[4096];
        benchfs_file_t *f;
        snprintf(p, sizeof(p), "%s/f%d", dir, k);
        if ((rc = benchfs_open(fs, p, O_CREAT | O_EXCL | O_WRONLY, 0644, &f)) < 0)
            return die(p, rc);
        fill(b, per, (uint64_t)k * per, seed);
        ssize_t w = benchfs_pwrite(f, b, per, 0);
        if (w != (ssize_t)per)
            return die(p, w < 0 ? (int)w : -EIO);
        benchfs_close(f);
    }
    double t1 = now_ms();
    for (int k = 0; k < nfiles; k++) {
        char p[4096];
        benchfs_file_t *f;
        snprintf(p, sizeof(p), "%s/f%d", dir, k);
        if ((rc = benchfs_open(fs, p, O_RDONLY, 0, &f)) < 0)
            return die(p, rc);
        ssize_t got = benchfs_pread(f, r, per + 1, 0);
        benchfs_close(f);
        fill(b, per, (uint64_t)k * per, seed);
        if (got != (ssize_t)per || memcmp(b, r, per) != 0) {
            fprintf(stderr, "fault_client: %s: read %zd of %zu bytes, %s\n", p, got, per,
                    got == (ssize_t)per ? "content differs" : "wrong size");
            return 1;
        }
    }
    printf("load %s: %d files, %zu bytes: written in %.1f s, verified in %.1f s\n", dir, nfiles,
           per * (size_t)nfiles, (t1 - t0) / 1e3, (now_ms() - t1) / 1e3);
    free(b);
    free(r);
    return 0;
}

static int cmd_many(const char *dir, int first, int count, int make)
{
    for (int k = first; k < first + count; k++) {
        char p[4096];
        snprintf(p, sizeof(p), "%s/e%d", dir, k);
        int rc;
        if (make) {
            benchfs_file_t *f;
            if ((rc = benchfs_open(fs, p, O_CREAT | O_EXCL | O_WRONLY, 0644, &f)) == 0)
                benchfs_close(f);
        } else {
            rc = benchfs_unlink(fs, p);
        }
        if (rc < 0)
            return die(p, rc);
    }
    return 0;
}

static int cmd_count(const char *dir, int want)
{
    benchfs_dir_t *d;
    int rc = benchfs_opendir(fs, dir, &d);
    if (rc < 0)
        return die(dir, rc);
    unsigned char *seen = calloc((size_t)want + 1, 1);
    struct benchfs_dirent e;
    long n = 0, dup = 0, odd = 0;
    while ((rc = benchfs_readdir(d, &e)) == 1) {
        n++;
        char *end;
        long k = e.name[0] == 'e' ? strtol(e.name + 1, &end, 10) : -1;
        if (k < 0 || k >= want || *end)
            odd++;
        else if (seen[k]++)
            dup++;
    }
    benchfs_closedir(d);
    if (rc < 0)
        return die("readdir", rc);
    printf("count %s: %ld entries (%ld repeated, %ld unexpected), expected %d\n", dir, n, dup, odd,
           want);
    free(seen);
    return n == want && !dup && !odd ? 0 : 1;
}

static int cmd_where(const char *p, int nchunks)
{
    benchfs_file_t *f;
    int rc = benchfs_open(fs, p, O_RDONLY, 0, &f);
    struct stat st;
    if (rc < 0 || (rc = benchfs_fstat(f, &st)) < 0)
        return die(p, rc);
    benchfs_close(f);
    printf("%u", bfs_place_home((uint64_t)st.st_ino, benchfs_nservers(fs))); /* its inode */
    for (int i = 0; i < nchunks; i++)
        printf(" %u", bfs_place_chunk((uint64_t)st.st_ino, (uint64_t)i, benchfs_nservers(fs)));
    printf("\n");
    return 0;
}

static int cmd_hostfile(const char *p, size_t size, unsigned seed)
{
    FILE *f = fopen(p, "w");
    if (!f)
        return die(p, -errno);
    unsigned char b[65536];
    for (size_t off = 0; off < size; off += sizeof(b)) {
        size_t n = size - off < sizeof(b) ? size - off : sizeof(b);
        fill(b, n, off, seed);
        if (fwrite(b, 1, n, f) != n) {
            fclose(f);
            return die(p, -EIO);
        }
    }
    return fclose(f) == 0 ? 0 : die(p, -errno);
}

static int cmd_fill(const char *p, size_t block, size_t max, unsigned seed)
{
    benchfs_file_t *f;
    int rc = benchfs_open(fs, p, O_CREAT | O_TRUNC | O_RDWR, 0644, &f);
    if (rc < 0)
        return die(p, rc);
    unsigned char *b = malloc(block);
    size_t off = 0;
    int err = 0;
    while (off < max) {
        fill(b, block, off, seed);
        ssize_t w = benchfs_pwrite(f, b, block, (off_t)off);
        if (w < 0) {
            err = (int)w;
            break;
        }
        off += (size_t)w;
    }
    printf("fill %s: %zu bytes written, then %s\n", p, off, err ? strerror(-err) : "the limit");
    int bad = 0;
    if (err && err != -ENOSPC) {
        fprintf(stderr, "fault_client: %s: the write failed with %s, not ENOSPC\n", p, strerror(-err));
        bad = 1;
    }
    /* Everything acknowledged is there. */
    for (size_t o = 0; o < off; o += block) {
        size_t n = off - o < block ? off - o : block;
        ssize_t got = benchfs_pread(f, b, n, (off_t)o);
        if (got != (ssize_t)n) {
            fprintf(stderr, "fault_client: %s: read at %zu: %zd\n", p, o, got);
            bad = 1;
            break;
        }
        for (size_t i = 0; i < n; i++)
            if (b[i] != pat(o + i, seed)) {
                fprintf(stderr, "fault_client: %s: byte %zu lost\n", p, o + i);
                bad = 1;
                break;
            }
        if (bad)
            break;
    }
    benchfs_close(f);
    free(b);
    return bad || !err;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2)
        goto usage;
    const char *c = argv[1];
    init();
    int rc;
    if (!strcmp(c, "pickdir") && argc == 4)
        rc = cmd_pickdir(argv[2], atoi(argv[3]));
    else if (!strcmp(c, "mkfiles") && (argc == 7 || argc == 8))
        rc = cmd_mkfiles(argv[2], atoi(argv[3]), strtoull(argv[4], NULL, 0), (unsigned)atoi(argv[5]),
                         atoi(argv[6]), argc == 7);
    else if (!strcmp(c, "verify") && (argc == 5 || argc == 6))
        rc = cmd_verify(argv[2], strtoull(argv[3], NULL, 0), (unsigned)atoi(argv[4]),
                        argc == 6 ? atoi(argv[5]) : -1);
    else if (!strcmp(c, "stress") && argc == 5)
        rc = cmd_stress(argv[2], atoi(argv[3]), atof(argv[4]));
    else if (!strcmp(c, "overwrite") && (argc == 6 || argc == 7))
        rc = cmd_overwrite(argv[2], strtoull(argv[3], NULL, 0), (unsigned)atoi(argv[4]),
                           strtoull(argv[5], NULL, 0), argc == 7 ? (unsigned)atoi(argv[6]) : 0);
    else if (!strcmp(c, "write") && argc == 5)
        rc = cmd_write(argv[2], strtoull(argv[3], NULL, 0), (unsigned)atoi(argv[4]));
    else if (!strcmp(c, "pages") && argc == 7)
        rc = cmd_pages(argv[2], strtoull(argv[3], NULL, 0), (unsigned)atoi(argv[4]),
                       (unsigned)atoi(argv[5]), strtoull(argv[6], NULL, 0));
    else if (!strcmp(c, "touch") && argc == 4)
        rc = cmd_touch(argv[2], atoi(argv[3]));
    else if (!strcmp(c, "load") && argc == 6)
        rc = cmd_load(argv[2], atoi(argv[3]), strtoull(argv[4], NULL, 0), (unsigned)atoi(argv[5]));
    else if ((!strcmp(c, "mkmany") || !strcmp(c, "rmmany")) && argc == 5)
        rc = cmd_many(argv[2], atoi(argv[3]), atoi(argv[4]), c[0] == 'm');
    else if (!strcmp(c, "count") && argc == 4)
        rc = cmd_count(argv[2], atoi(argv[3]));
    else if (!strcmp(c, "where") && argc == 4)
        rc = cmd_where(argv[2], atoi(argv[3]));
    else if (!strcmp(c, "hostfile") && argc == 5)
        rc = cmd_hostfile(argv[2], strtoull(argv[3], NULL, 0), (unsigned)atoi(argv[4]));
    else if (!strcmp(c, "fill") && argc == 6)
        rc = cmd_fill(argv[2], strtoull(argv[3], NULL, 0), strtoull(argv[4], NULL, 0),
                      (unsigned)atoi(argv[5]));
    else
        goto usage;
    benchfs_finalize(fs);
    return rc;
usage:
    fprintf(stderr, "usage: see the top of tests/fault_client.c\n");
    return 2;
}
