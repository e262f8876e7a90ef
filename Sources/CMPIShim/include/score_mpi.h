/* MPI for score-cli, loaded at run time: libscore.so never links MPI, and
 * score-cli needs it only when mpirun started it. Sums are in rank order,
 * identical on every rank. Functions return 0 on success. */
#ifndef SCORE_MPI_H
#define SCORE_MPI_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Loads the MPI library (Open MPI's libmpi.so.40, or MPICH's libmpich.so.12)
 * and calls MPI_Init. On failure writes a message into error. */
int scorempi_init(char *error, size_t cap);
int scorempi_rank(void);
int scorempi_size(void);
/* values[i] = sum over ranks of values[i], in rank order, on every rank. */
int scorempi_sum_f32(float *values, size_t n);
int scorempi_sum_f64(double *values, size_t n);
int scorempi_broadcast(void *bytes, size_t n, int root);
int scorempi_barrier(void);
void scorempi_finalize(void);
/* Ends every rank of the job. */
void scorempi_abort(int code);

#ifdef __cplusplus
}
#endif
#endif
