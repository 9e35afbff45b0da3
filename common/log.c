#include "log.h"
#include "clock.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char *g_prefix = "benchfs";
static int g_level = -1;

void bfs_log_set_prefix(const char *prefix) { g_prefix = prefix; }

static int level(void)
{
    if (g_level < 0) {
        const char *e = getenv("BENCHFS_LOG");
        g_level = BFS_LOG_WARN;
        if (e) {
            if (!strcasecmp(e, "error")) g_level = BFS_LOG_ERROR;
            else if (!strcasecmp(e, "info")) g_level = BFS_LOG_INFO;
            else if (!strcasecmp(e, "debug")) g_level = BFS_LOG_DEBUG;
        }
    }
    return g_level;
}

int bfs_log_enabled(enum bfs_log_level lvl) { return (int)lvl <= level(); }

void bfs_log(enum bfs_log_level lvl, const char *fmt, ...)
{
    static const char *names[] = {"error", "warning", "info", "debug"};
    if (!bfs_log_enabled(lvl))
        return;
    char line[1024];
    int n = snprintf(line, sizeof(line), "%s[%d]: %s: ", g_prefix, (int)getpid(), names[lvl]);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof(line))
        vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    size_t len = strnlen(line, sizeof(line) - 2);
    line[len++] = '\n';
    /* One write() so that lines from many processes do not interleave. */
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

int bfs_log_ratelimit(uint64_t *last_ns)
{
    uint64_t now = bfs_now_ns();
    if (*last_ns && now - *last_ns < 1000000000ull)
        return 0;
    *last_ns = now;
    return 1;
}
