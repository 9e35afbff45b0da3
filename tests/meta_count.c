/* Count what a stopped server's metadata store holds: meta_count DIR...
 * prints "files N inodes N dirents N chunks N reap N" summed over the stores
 * (each DIR a server's meta directory), for tests that check that space comes back. */
#include <lmdb.h>
#include <stdio.h>

static const char *const tables[] = {"files", "inodes", "dirents", "chunks", "reap"};

int main(int argc, char **argv)
{
    size_t sum[5] = {0};
    for (int i = 1; i < argc; i++) {
        MDB_env *env;
        MDB_txn *txn;
        if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 8) ||
            mdb_env_open(env, argv[i], MDB_RDONLY | MDB_NOLOCK, 0644) ||
            mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) {
            fprintf(stderr, "meta_count: cannot open %s\n", argv[i]);
            return 1;
        }
        for (int t = 0; t < 5; t++) {
            MDB_dbi dbi;
            MDB_stat st;
            if (mdb_dbi_open(txn, tables[t], 0, &dbi) == 0 && mdb_stat(txn, dbi, &st) == 0)
                sum[t] += st.ms_entries;
        }
        mdb_txn_abort(txn);
        mdb_env_close(env);
    }
    printf("files %zu inodes %zu dirents %zu chunks %zu reap %zu\n", sum[0], sum[1], sum[2], sum[3],
           sum[4]);
    return 0;
}
