/*
 * Makes OneFlow 0.9.0's lazy-job queue safe against the race that segfaults CPU nn.Graph runs.
 *
 * LaunchLazyJobInstructionPolicy::Compute (a VM worker thread) pushes a graph's job into
 * OneFlow's source-tick buffer, which starts it, and only then calls
 * LazyJobStreamPolicy::EnqueueNNGraph. The job's finish callback (another thread) calls
 * LazyJobStreamPolicy::DequeueNNGraph, which pops the policy's std::queue. When a small job
 * finishes before the enqueue, the pop hits an empty queue: undefined behaviour that
 * corrupts the deque and the weak_ptr counts, and crashes the process sooner or later.
 *
 * liboneflow calls both methods through its PLT, so a library loaded into the global
 * scope before liboneflow (RTLD_GLOBAL, or LD_PRELOAD) replaces them. The replacements
 * count, per policy object, the enqueues that have completed and not yet been matched
 * by a dequeue; a dequeue that finds none waits until the enqueue has happened, then
 * calls OneFlow's own method. The order of events is then the one OneFlow assumes, and
 * nothing in the policy object is read or written here, so no layout is assumed.
 *
 * If an enqueue has not come after WAIT_SECONDS (never seen; it is a few instructions
 * away), the dequeue is recorded as owed and returns, and the late enqueue is popped
 * right after it is pushed: the queue never pops empty, and the process never hangs.
 *
 * Python loads this only when liboneflow's build id is that of OneFlow 0.9.0 from PyPI
 * (libai/utils/graph_race_fix/__init__.py): the symbols and their callers are that build's.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define DEQUEUE_SYMBOL "_ZN7oneflow2vm19LazyJobStreamPolicy14DequeueNNGraphEv"
#define ENQUEUE_SYMBOL \
    "_ZN7oneflow2vm19LazyJobStreamPolicy14EnqueueNNGraphERKSt10shared_ptrINS_9NNGraphIfEE"
#define MAX_POLICIES 64
#define WAIT_SECONDS 30

typedef void (*dequeue_fn)(void *policy);
typedef void (*enqueue_fn)(void *policy, const void *nn_graph);

/* One LazyJobStreamPolicy object: enqueues not yet matched by a dequeue, dequeues owed. */
struct policy_slot {
    void *policy;
    long pending;
    long owed;
};

void libai_dequeue_nn_graph(void *policy) __asm__(DEQUEUE_SYMBOL);
void libai_enqueue_nn_graph(void *policy, const void *nn_graph) __asm__(ENQUEUE_SYMBOL);

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t enqueued;
static struct policy_slot slots[MAX_POLICIES];
/* enqueues, dequeues, dequeues that waited for their enqueue, dequeues deferred after a timeout */
static long stats[4];
static dequeue_fn original_dequeue;
static enqueue_fn original_enqueue;

__attribute__((constructor)) static void init_condition(void) {
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&enqueued, &attr);
    pthread_condattr_destroy(&attr);
}

/* OneFlow's own definition of `symbol`, looked up in the object that called us (liboneflow). */
static void *original(const char *symbol, void *caller, void *replacement) {
    Dl_info info;
    if (!dladdr(caller, &info) || info.dli_fname == NULL) {
        fprintf(stderr, "libai graph race fix: cannot tell which library called %s\n", symbol);
        abort();
    }
    void *handle = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    void *found = handle ? dlsym(handle, symbol) : NULL;
    if (found == NULL || found == replacement) {
        const char *why = found == NULL ? dlerror() : "only this library defines it";
        fprintf(stderr, "libai graph race fix: %s not found in %s: %s\n", symbol, info.dli_fname,
                why ? why : "not loaded");
        abort();
    }
    return found;
}

static void resolve(void *caller) {
    if (__atomic_load_n(&original_enqueue, __ATOMIC_ACQUIRE) != NULL) return;
    dequeue_fn dequeue = (dequeue_fn)original(DEQUEUE_SYMBOL, caller, (void *)libai_dequeue_nn_graph);
    enqueue_fn enqueue = (enqueue_fn)original(ENQUEUE_SYMBOL, caller, (void *)libai_enqueue_nn_graph);
    __atomic_store_n(&original_dequeue, dequeue, __ATOMIC_RELEASE);
    __atomic_store_n(&original_enqueue, enqueue, __ATOMIC_RELEASE);
}

/* The slot of `policy` (taken on first use); NULL when MAX_POLICIES are in use. Holds `lock`. */
static struct policy_slot *slot_of(void *policy) {
    struct policy_slot *free_slot = NULL;
    for (int i = 0; i < MAX_POLICIES; ++i) {
        if (slots[i].policy == policy) return &slots[i];
        if (free_slot == NULL && slots[i].policy == NULL) free_slot = &slots[i];
    }
    if (free_slot != NULL) free_slot->policy = policy;
    return free_slot;
}

void libai_dequeue_nn_graph(void *policy) {
    resolve(__builtin_return_address(0));
    pthread_mutex_lock(&lock);
    struct policy_slot *slot = slot_of(policy);
    if (slot != NULL && slot->pending == 0) {
        /* The job finished before Compute enqueued it: wait for that enqueue. */
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += WAIT_SECONDS;
        ++stats[2];
        int rc = 0;
        while (slot->pending == 0 && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&enqueued, &lock, &deadline);
        if (slot->pending == 0) {
            ++slot->owed;
            ++stats[3];
            pthread_mutex_unlock(&lock);
            fprintf(stderr,
                    "libai graph race fix: no EnqueueNNGraph %d s after its job finished; "
                    "the dequeue is deferred until it comes\n",
                    WAIT_SECONDS);
            return;
        }
    }
    if (slot != NULL) --slot->pending;
    ++stats[1];
    pthread_mutex_unlock(&lock);
    original_dequeue(policy);
}

void libai_enqueue_nn_graph(void *policy, const void *nn_graph) {
    resolve(__builtin_return_address(0));
    original_enqueue(policy, nn_graph);
    pthread_mutex_lock(&lock);
    ++stats[0];
    struct policy_slot *slot = slot_of(policy);
    if (slot != NULL && slot->owed > 0) {
        /* A dequeue gave up waiting for this enqueue: pop what was just pushed. */
        --slot->owed;
        ++stats[1];
        pthread_mutex_unlock(&lock);
        original_dequeue(policy);
        return;
    }
    if (slot != NULL) ++slot->pending;
    pthread_cond_broadcast(&enqueued);
    pthread_mutex_unlock(&lock);
}

/* Copies the counters (enqueues, dequeues, waits, deferred) into `out`; for tests and logs. */
void libai_graph_race_fix_stats(long out[4]) {
    pthread_mutex_lock(&lock);
    for (int i = 0; i < 4; ++i) out[i] = stats[i];
    pthread_mutex_unlock(&lock);
}
