/* Preloaded after libbenchfs.so by tests/preload_exit_remote.sh: its
 * destructor runs after the library's (which said GOODBYE) and writes to
 * the BenchFS descriptor EXIT_LATE_FD. That write must fail with an error
 * (ESHUTDOWN: no endpoint is made once UCX's own destructors may have run),
 * never crash and never succeed silently. It reports on stderr. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((destructor)) static void late_write(void)
{
    const char *v = getenv("EXIT_LATE_FD");
    if (!v)
        return;
    ssize_t w = write(atoi(v), "late\n", 5);
    int e = errno;
    char line[128];
    int n = snprintf(line, sizeof(line), "late write: %zd %s\n", w, w < 0 ? strerror(e) : "ok");
    ssize_t r = write(STDERR_FILENO, line, (size_t)n);
    (void)r;
}
