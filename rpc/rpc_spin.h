/* Bounded busy-polling for the RPC client and server: telling whether the
 * spinning thread has its core to itself.
 *
 * Spinning instead of sleeping saves the wake-up of every message (a syscall
 * in the sender and several microseconds in the receiver), but only while
 * the spinning thread does not keep another task from running: on 2 shared
 * cores a peer that always busy-polls collapses (PLATFORM.md). So a spinning
 * thread yields the CPU every few microseconds and stops spinning as soon as
 * the scheduler has had to switch it out for another task. The count of
 * involuntary context switches of the thread is the evidence: sched_yield()
 * that hands the core to someone else, or a preemption during the spin,
 * increments it; interrupts and softirq work (tcp loopback processing runs
 * there) do not, unlike a measurement of how long the yield took. */
#ifndef BFS_RPC_SPIN_H
#define BFS_RPC_SPIN_H

#ifndef _GNU_SOURCE
#error "define _GNU_SOURCE before any include (RUSAGE_THREAD)"
#endif

#include <sched.h>
#include <sys/resource.h>

/* Yield the CPU; returns 1 when another task ran on this thread's core since
 * the previous call (*last holds the thread's involuntary switch count; start
 * it at -1). */
static inline int bfs_spin_yield_contended(long *last)
{
    sched_yield();
    struct rusage ru;
    if (getrusage(RUSAGE_THREAD, &ru) != 0)
        return 0;
    int contended = *last >= 0 && ru.ru_nivcsw != *last;
    *last = ru.ru_nivcsw;
    return contended;
}

#endif
