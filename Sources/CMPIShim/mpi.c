/* MPI loaded with dlopen. Open MPI's handles are addresses of its exported
 * objects (ompi_mpi_comm_world, ompi_mpi_float, ...); MPICH's are integer
 * constants of its ABI.
 *
 * Sums are a reduce-scatter then an allgather with a fixed order: rank r owns
 * segment r of the buffer, receives every rank's copy of it (alltoallv),
 * adds them in rank order, and the owners' sums are gathered back. Every
 * rank gets the same bits, the same as one process adding the same shards in
 * the same order, and 2(N-1)/N of the buffer crosses each link, as in a ring
 * allreduce. Chunks bound the scratch memory. */
#define _GNU_SOURCE
#include "score_mpi.h"

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void *handle;
static struct {
    int (*init)(int *, char ***);
    int (*finalize)(void);
    int (*comm_rank)(handle, int *);
    int (*comm_size)(handle, int *);
    int (*allgather)(const void *, int, handle, void *, int, handle, handle);
    int (*alltoallv)(const void *, const int *, const int *, handle, void *, const int *, const int *, handle, handle);
    int (*allgatherv)(const void *, int, handle, void *, const int *, const int *, handle, handle);
    int (*bcast)(void *, int, handle, int, handle);
    int (*barrier)(handle);
    int (*abort)(handle, int);
    handle world, f32, f64, byte;
    int rank, size, ready;
} mpi;

static int load(const char *name, char *error, size_t cap) {
    void *lib = dlopen(name, RTLD_NOW | RTLD_GLOBAL);
    if (lib == NULL) {
        snprintf(error, cap, "%s", dlerror());
        return -1;
    }
#define SYM(field, symbol) *(void **)(&mpi.field) = dlsym(lib, symbol)
    SYM(init, "MPI_Init");
    SYM(finalize, "MPI_Finalize");
    SYM(comm_rank, "MPI_Comm_rank");
    SYM(comm_size, "MPI_Comm_size");
    SYM(allgather, "MPI_Allgather");
    SYM(alltoallv, "MPI_Alltoallv");
    SYM(allgatherv, "MPI_Allgatherv");
    SYM(bcast, "MPI_Bcast");
    SYM(barrier, "MPI_Barrier");
    SYM(abort, "MPI_Abort");
#undef SYM
    void *world = dlsym(lib, "ompi_mpi_comm_world");
    if (world != NULL) { /* Open MPI */
        mpi.world = world;
        mpi.f32 = dlsym(lib, "ompi_mpi_float");
        mpi.f64 = dlsym(lib, "ompi_mpi_double");
        mpi.byte = dlsym(lib, "ompi_mpi_byte");
    } else { /* MPICH ABI */
        mpi.world = (handle)(intptr_t)0x44000000;
        mpi.f32 = (handle)(intptr_t)0x4c00040a;
        mpi.f64 = (handle)(intptr_t)0x4c00080b;
        mpi.byte = (handle)(intptr_t)0x4c00010d;
    }
    if (!mpi.init || !mpi.finalize || !mpi.comm_rank || !mpi.comm_size || !mpi.allgather || !mpi.alltoallv || !mpi.allgatherv || !mpi.bcast || !mpi.barrier ||
        !mpi.abort || !mpi.f32 || !mpi.f64 || !mpi.byte) {
        snprintf(error, cap, "%s lacks an MPI function this needs", name);
        return -1;
    }
    return 0;
}

int scorempi_init(char *error, size_t cap) {
    if (mpi.ready) return 0;
    const char *names[] = {"libmpi.so.40", "libmpi.so", "libmpich.so.12", "libmpich.so"};
    char first[512] = {0};
    int loaded = -1;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && loaded != 0; i++) {
        loaded = load(names[i], i == 0 ? first : error, i == 0 ? sizeof first : cap);
    }
    if (loaded != 0) {
        snprintf(error, cap, "cannot load an MPI library (libmpi.so.40: %s); install openmpi-bin libopenmpi-dev", first);
        return -1;
    }
    if (mpi.init(NULL, NULL) != 0 || mpi.comm_rank(mpi.world, &mpi.rank) != 0 || mpi.comm_size(mpi.world, &mpi.size) != 0) {
        snprintf(error, cap, "MPI_Init failed");
        return -1;
    }
    mpi.ready = 1;
    return 0;
}

int scorempi_rank(void) { return mpi.ready ? mpi.rank : 0; }
int scorempi_size(void) { return mpi.ready ? mpi.size : 1; }

enum { CHUNK = 1 << 20 }; /* elements per rank and round: 4-8 MB of scratch per rank */

#define SUM_IN_RANK_ORDER(T, type)                                                                       \
    if (!mpi.ready || mpi.size == 1) return 0;                                                            \
    int N = mpi.size, me = mpi.rank, status = 0;                                                          \
    int *counts = calloc((size_t)N, sizeof(int)), *displs = calloc((size_t)N, sizeof(int));              \
    int *mine = calloc((size_t)N, sizeof(int)), *from = calloc((size_t)N, sizeof(int));                  \
    T *copies = malloc(sizeof(T) * CHUNK * (size_t)N + 1), *sums = malloc(sizeof(T) * CHUNK + 1);        \
    if (!counts || !displs || !mine || !from || !copies || !sums) status = -1;                           \
    for (size_t start = 0; status == 0 && start < n; start += (size_t)CHUNK * (size_t)N) {              \
        size_t m = n - start < (size_t)CHUNK * (size_t)N ? n - start : (size_t)CHUNK * (size_t)N;       \
        /* segment s: the first m % N segments take one more element */                                \
        for (int r = 0, at = 0; r < N; r++) {                                                             \
            counts[r] = (int)(m / (size_t)N) + (r < (int)(m % (size_t)N));                               \
            displs[r] = at;                                                                               \
            at += counts[r];                                                                              \
        }                                                                                                 \
        for (int r = 0; r < N; r++) { mine[r] = counts[me]; from[r] = r * counts[me]; }                  \
        if (mpi.alltoallv(values + start, counts, displs, type, copies, mine, from, type, mpi.world) != 0) { \
            status = -1;                                                                                  \
            break;                                                                                        \
        }                                                                                                 \
        for (int i = 0; i < counts[me]; i++) {                                                            \
            T s = copies[i];                                                                              \
            for (int r = 1; r < N; r++) s += copies[(size_t)r * (size_t)counts[me] + (size_t)i];          \
            sums[i] = s;                                                                                  \
        }                                                                                                 \
        if (mpi.allgatherv(sums, counts[me], type, values + start, counts, displs, type, mpi.world) != 0) status = -1; \
    }                                                                                                     \
    free(counts), free(displs), free(mine), free(from), free(copies), free(sums);                         \
    return status;

int scorempi_sum_f32(float *values, size_t n) { SUM_IN_RANK_ORDER(float, mpi.f32) }
int scorempi_sum_f64(double *values, size_t n) { SUM_IN_RANK_ORDER(double, mpi.f64) }

int scorempi_broadcast(void *bytes, size_t n, int root) {
    if (!mpi.ready || mpi.size == 1) return 0;
    for (size_t start = 0; start < n; start += (size_t)1 << 30) {
        size_t count = n - start < ((size_t)1 << 30) ? n - start : ((size_t)1 << 30);
        if (mpi.bcast((char *)bytes + start, (int)count, mpi.byte, root, mpi.world) != 0) return -1;
    }
    return 0;
}

int scorempi_barrier(void) { return mpi.ready && mpi.size > 1 ? mpi.barrier(mpi.world) : 0; }

void scorempi_finalize(void) {
    if (mpi.ready) mpi.finalize();
    mpi.ready = 0;
}

void scorempi_abort(int code) {
    if (mpi.ready) mpi.abort(mpi.world, code);
    exit(code);
}
