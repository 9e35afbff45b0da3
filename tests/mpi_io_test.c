/* An unchanged MPI program, run on BenchFS through LD_PRELOAD by
 * preload_mpi.sh: file per process and one shared file written with pwrite
 * at strided offsets, each read back and verified by another rank; then the
 * same through MPI-IO (MPI_File_write_at_all / MPI_File_read_at_all). */
#include <errno.h>
#include <fcntl.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK 47008   /* IO500's "hard" transfer size: never chunk aligned */
#define NBLOCKS 24

static int failures;
#define CHECK(c, ...)                                                          \
    do {                                                                       \
        if (!(c)) {                                                            \
            fprintf(stderr, "rank %d FAIL: ", rank);                           \
            fprintf(stderr, __VA_ARGS__);                                      \
            fprintf(stderr, "\n");                                             \
            failures++;                                                        \
        }                                                                      \
    } while (0)

static void fill(char *b, int owner, long block, size_t n)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (char)((owner * 131 + block * 7 + (long)i) % 251);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const char *dir = argc > 1 ? argv[1] : "/benchfs";
    char path[512], *buf = malloc(BLOCK), *got = malloc(BLOCK);

    /* File per process, then read back by the next rank. */
    snprintf(path, sizeof(path), "%s/fpp.%d", dir, rank);
    int fd = open(path, O_CREAT | O_RDWR | O_EXCL | O_TRUNC, 0644);
    CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
    for (long b = 0; b < NBLOCKS; b++) {
        fill(buf, rank, b, BLOCK);
        CHECK(lseek(fd, b * BLOCK, SEEK_SET) == b * BLOCK, "lseek");
        CHECK(write(fd, buf, BLOCK) == BLOCK, "write block %ld", b);
    }
    CHECK(fsync(fd) == 0, "fsync");
    CHECK(close(fd) == 0, "close");
    MPI_Barrier(MPI_COMM_WORLD);
    int peer = (rank + 1) % size;
    snprintf(path, sizeof(path), "%s/fpp.%d", dir, peer);
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size == (off_t)NBLOCKS * BLOCK, "stat size of %s", path);
    fd = open(path, O_RDONLY);
    for (long b = 0; b < NBLOCKS && fd >= 0; b++) {
        fill(buf, peer, b, BLOCK);
        CHECK(read(fd, got, BLOCK) == BLOCK && memcmp(buf, got, BLOCK) == 0, "fpp data of rank %d block %ld", peer, b);
    }
    close(fd);

    /* One shared file, blocks interleaved across ranks with pwrite. */
    snprintf(path, sizeof(path), "%s/shared", dir);
    fd = open(path, O_CREAT | O_RDWR, 0644);
    CHECK(fd >= 0, "open shared: %s", strerror(errno));
    for (long b = 0; b < NBLOCKS; b++) {
        fill(buf, rank, b, BLOCK);
        off_t off = (b * size + rank) * (off_t)BLOCK;
        CHECK(pwrite(fd, buf, BLOCK, off) == BLOCK, "pwrite shared");
    }
    close(fd);
    MPI_Barrier(MPI_COMM_WORLD);
    fd = open(path, O_RDONLY);
    CHECK(fstat(fd, &st) == 0 && st.st_size == (off_t)NBLOCKS * size * BLOCK, "shared size %ld", (long)st.st_size);
    for (long b = 0; b < NBLOCKS; b++) {
        fill(buf, peer, b, BLOCK);
        off_t off = (b * size + peer) * (off_t)BLOCK;
        CHECK(pread(fd, got, BLOCK, off) == BLOCK && memcmp(buf, got, BLOCK) == 0, "shared block %ld of rank %d", b, peer);
    }
    close(fd);

    /* MPI-IO, collective. */
    snprintf(path, sizeof(path), "%s/mpiio", dir);
    MPI_File fh;
    int rc = MPI_File_open(MPI_COMM_WORLD, path, MPI_MODE_CREATE | MPI_MODE_RDWR, MPI_INFO_NULL, &fh);
    CHECK(rc == MPI_SUCCESS, "MPI_File_open %d", rc);
    if (rc == MPI_SUCCESS) {
        for (long b = 0; b < NBLOCKS; b++) {
            fill(buf, rank, b, BLOCK);
            MPI_Offset off = (b * size + rank) * (MPI_Offset)BLOCK;
            rc = MPI_File_write_at_all(fh, off, buf, BLOCK, MPI_BYTE, MPI_STATUS_IGNORE);
            CHECK(rc == MPI_SUCCESS, "write_at_all %d", rc);
        }
        MPI_File_sync(fh);
        MPI_Barrier(MPI_COMM_WORLD);
        for (long b = 0; b < NBLOCKS; b++) {
            MPI_Offset off = (b * size + peer) * (MPI_Offset)BLOCK;
            rc = MPI_File_read_at_all(fh, off, got, BLOCK, MPI_BYTE, MPI_STATUS_IGNORE);
            fill(buf, peer, b, BLOCK);
            CHECK(rc == MPI_SUCCESS && memcmp(buf, got, BLOCK) == 0, "read_at_all block %ld of rank %d", b, peer);
        }
        MPI_File_close(&fh);
    }
    int total = 0;
    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0)
        printf("mpi_io_test: %d ranks, %d failures\n", size, total);
    MPI_Finalize();
    free(buf);
    free(got);
    return total ? 1 : 0;
}
