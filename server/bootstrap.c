#define _GNU_SOURCE /* asprintf */
#include "bootstrap.h"
#include "../common/log.h"

#include <errno.h>
#include <pmix.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define KEY_ADDR "benchfs.addr"
#define KEY_SECRET "benchfs.secret"
#define KEY_WHO "benchfs.who"

static pmix_proc_t g_me;

int bfs_boot_init(struct bfs_boot *b)
{
    memset(b, 0, sizeof(*b));
    b->size = 1;
    /* Started by hand there is no PMIx server to reach: run standalone. */
    if (!getenv("PMIX_NAMESPACE") && !getenv("PMIX_SERVER_URI41") &&
        !getenv("PMIX_SERVER_URI4") && !getenv("PMIX_SERVER_URI3") &&
        !getenv("PMIX_SERVER_URI2"))
        return 0;
    pmix_status_t rc = PMIx_Init(&g_me, NULL, 0);
    if (rc != PMIX_SUCCESS) {
        bfs_info("PMIx_Init: %s; running as a single server", PMIx_Error_string(rc));
        return 0;
    }
    pmix_proc_t wild;
    PMIX_PROC_CONSTRUCT(&wild);
    PMIX_LOAD_PROCID(&wild, g_me.nspace, PMIX_RANK_WILDCARD);
    pmix_value_t *val = NULL;
    rc = PMIx_Get(&wild, PMIX_JOB_SIZE, NULL, 0, &val);
    if (rc != PMIX_SUCCESS || !val) {
        bfs_error("PMIx_Get(job size): %s", PMIx_Error_string(rc));
        PMIx_Finalize(NULL, 0);
        return -EIO;
    }
    b->size = val->data.uint32;
    PMIX_VALUE_RELEASE(val);
    b->rank = g_me.rank;
    b->pmix = 1;
    return 0;
}

static int fence(void)
{
    pmix_proc_t wild;
    PMIX_PROC_CONSTRUCT(&wild);
    PMIX_LOAD_PROCID(&wild, g_me.nspace, PMIX_RANK_WILDCARD);
    pmix_info_t info;
    bool collect = true;
    PMIX_INFO_CONSTRUCT(&info);
    PMIX_INFO_LOAD(&info, PMIX_COLLECT_DATA, &collect, PMIX_BOOL);
    pmix_status_t rc = PMIx_Fence(&wild, 1, &info, 1);
    PMIX_INFO_DESTRUCT(&info);
    if (rc != PMIX_SUCCESS) {
        bfs_error("PMIx_Fence: %s", PMIx_Error_string(rc));
        return -EIO;
    }
    return 0;
}

/* "host H pid P": how a server is named when it is reported dead. */
static char *whoami(void)
{
    char host[256] = "?", *s = NULL;
    gethostname(host, sizeof(host) - 1);
    if (asprintf(&s, "host %s pid %d", host, (int)getpid()) < 0)
        return NULL;
    return s;
}

int bfs_boot_exchange(struct bfs_boot *b, const void *addr, size_t len, uint64_t *secret,
                      struct bfs_registry_server *peers)
{
    b->who = calloc(b->size, sizeof(*b->who));
    if (!b->who)
        return -ENOMEM;
    if (!b->pmix) {
        b->who[0] = whoami();
        peers[0].addr = malloc(len);
        if (!peers[0].addr)
            return -ENOMEM;
        memcpy(peers[0].addr, addr, len);
        peers[0].len = len;
        return 0;
    }
    pmix_value_t v;
    PMIX_VALUE_CONSTRUCT(&v);
    v.type = PMIX_BYTE_OBJECT;
    v.data.bo.bytes = (char *)addr;
    v.data.bo.size = len;
    pmix_status_t rc = PMIx_Put(PMIX_GLOBAL, KEY_ADDR, &v);
    char *me = whoami();
    if (rc == PMIX_SUCCESS && me) {
        pmix_value_t w;
        PMIX_VALUE_CONSTRUCT(&w);
        w.type = PMIX_STRING;
        w.data.string = me;
        rc = PMIx_Put(PMIX_GLOBAL, KEY_WHO, &w);
    }
    free(me);
    if (rc == PMIX_SUCCESS && b->rank == 0) {
        pmix_value_t s;
        PMIX_VALUE_CONSTRUCT(&s);
        s.type = PMIX_UINT64;
        s.data.uint64 = *secret;
        rc = PMIx_Put(PMIX_GLOBAL, KEY_SECRET, &s);
    }
    if (rc == PMIX_SUCCESS)
        rc = PMIx_Commit();
    if (rc != PMIX_SUCCESS) {
        bfs_error("PMIx_Put/Commit: %s", PMIx_Error_string(rc));
        return -EIO;
    }
    if (fence() < 0)
        return -EIO;
    for (unsigned r = 0; r < b->size; r++) {
        pmix_proc_t p;
        PMIX_PROC_CONSTRUCT(&p);
        PMIX_LOAD_PROCID(&p, g_me.nspace, r);
        pmix_value_t *val = NULL;
        rc = PMIx_Get(&p, KEY_ADDR, NULL, 0, &val);
        if (rc != PMIX_SUCCESS || !val || val->type != PMIX_BYTE_OBJECT) {
            bfs_error("PMIx_Get(address of rank %u): %s", r, PMIx_Error_string(rc));
            return -EIO;
        }
        peers[r].addr = malloc(val->data.bo.size);
        if (!peers[r].addr) {
            PMIX_VALUE_RELEASE(val);
            return -ENOMEM;
        }
        memcpy(peers[r].addr, val->data.bo.bytes, val->data.bo.size);
        peers[r].len = val->data.bo.size;
        PMIX_VALUE_RELEASE(val);
        val = NULL;
        if (PMIx_Get(&p, KEY_WHO, NULL, 0, &val) == PMIX_SUCCESS && val &&
            val->type == PMIX_STRING && val->data.string)
            b->who[r] = strdup(val->data.string);
        if (val)
            PMIX_VALUE_RELEASE(val);
        val = NULL;
        if (r == 0 && b->rank != 0) {
            rc = PMIx_Get(&p, KEY_SECRET, NULL, 0, &val);
            if (rc != PMIX_SUCCESS || !val) {
                bfs_error("PMIx_Get(job secret): %s", PMIx_Error_string(rc));
                return -EIO;
            }
            *secret = val->data.uint64;
            PMIX_VALUE_RELEASE(val);
        }
    }
    return 0;
}

int bfs_boot_barrier(struct bfs_boot *b)
{
    if (!b->pmix)
        return 0;
    pmix_proc_t wild;
    PMIX_PROC_CONSTRUCT(&wild);
    PMIX_LOAD_PROCID(&wild, g_me.nspace, PMIX_RANK_WILDCARD);
    pmix_status_t rc = PMIx_Fence(&wild, 1, NULL, 0);
    return rc == PMIX_SUCCESS ? 0 : -EIO;
}

void bfs_boot_fini(struct bfs_boot *b)
{
    for (unsigned r = 0; b->who && r < b->size; r++)
        free(b->who[r]);
    free(b->who);
    b->who = NULL;
    if (b->pmix)
        PMIx_Finalize(NULL, 0);
    b->pmix = 0;
}
