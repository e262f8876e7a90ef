/* Data-parallel SCoRe with a transport of the host's own: two workers (here
 * two threads of one process; in production, ranks of the host's MPI
 * communicator) each take their share of every step's problems, and a
 * shared-memory collective sums in rank order. Both end with the weights of
 * one process that sums the same two shards (score_rl_trainer_set_shards),
 * bit for bit.
 *
 *   data_parallel MODEL_DIR   (a model with tokenizer.json, e.g. Tests/Fixtures/models/qwen2-chat)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "score.h"

enum { WORKERS = 2, STEPS = 3 };

/* The shared-memory transport: each worker publishes its buffer, all wait,
 * each sums every buffer in rank order into its own scratch, all wait, each
 * copies the sum back. */
typedef struct {
    pthread_barrier_t barrier;
    void *slots[WORKERS];
} group;

typedef struct {
    group *g;
    int rank;
} member;

#define SUM(T)                                                                 \
    member *m = user_data;                                                     \
    T *sum = malloc(n * sizeof(T) + 1);                                        \
    if (sum == NULL) return 1;                                                 \
    m->g->slots[m->rank] = values;                                             \
    pthread_barrier_wait(&m->g->barrier);                                      \
    for (size_t i = 0; i < n; i++) {                                           \
        T s = ((T *)m->g->slots[0])[i];                                        \
        for (int r = 1; r < WORKERS; r++) s += ((T *)m->g->slots[r])[i];       \
        sum[i] = s;                                                            \
    }                                                                          \
    pthread_barrier_wait(&m->g->barrier);                                      \
    memcpy(values, sum, n * sizeof(T));                                        \
    free(sum);                                                                 \
    return 0;

static int32_t sum_f32(float *values, size_t n, void *user_data) { SUM(float) }
static int32_t sum_f64(double *values, size_t n, void *user_data) { SUM(double) }

static int32_t broadcast(void *bytes, size_t n, int32_t root, void *user_data) {
    member *m = user_data;
    m->g->slots[m->rank] = bytes;
    pthread_barrier_wait(&m->g->barrier);
    if (m->rank != root) memcpy(bytes, m->g->slots[root], n);
    pthread_barrier_wait(&m->g->barrier);
    return 0;
}

static int32_t barrier(void *user_data) {
    member *m = user_data;
    pthread_barrier_wait(&m->g->barrier);
    return 0;
}

static const char *problems[] = {"What is 2 + 3?", "Compute 12 * 4.", "What is 7 - 5?", "Name a colour.", "What is 3 * 3?"};
static const char *references[] = {"5", "48", "2", "red", "9"};

static float odd_digits(const char *problem, const char *attempt, const char *reference, void *user_data) {
    (void)problem, (void)reference, (void)user_data;
    int digits = 0;
    for (const char *c = attempt; *c; c++) digits += *c >= '0' && *c <= '9';
    return (float)(digits % 2);
}

static score_model *model;

static score_rl_trainer *new_trainer(void) {
    score_trainer_params tp = score_rl_training_params_default();
    tp.learning_rate = 1e-2f;
    score_rl_params p = score_rl_params_default();
    p.samples_per_problem = 2;
    p.max_new_tokens = 4;
    p.micro_batch = 3;
    p.training = &tp;
    score_rl_trainer *t = NULL;
    if (score_rl_trainer_new(model, &p, &t) != SCORE_OK) fprintf(stderr, "trainer: %s\n", score_last_error());
    return t;
}

static int train(score_rl_trainer *t) {
    for (int step = 0; step < STEPS; step++) {
        score_rl_stats st = {.struct_size = sizeof st};
        if (score_rl_step(t, problems, references, 5, odd_digits, NULL, &st) != SCORE_OK) {
            fprintf(stderr, "step: %s\n", score_last_error());
            return 1;
        }
    }
    return 0;
}

typedef struct {
    member m;
    score_rl_trainer *trainer;
    int failed;
} worker;

static void *run_worker(void *arg) {
    worker *w = arg;
    score_collective c = {.struct_size = sizeof c, .rank = w->m.rank, .size = WORKERS, .sum_f32 = sum_f32,
                          .sum_f64 = sum_f64, .broadcast = broadcast, .barrier = barrier, .user_data = &w->m};
    w->failed = score_rl_trainer_set_collective(w->trainer, &c) != SCORE_OK || train(w->trainer);
    return NULL;
}

static unsigned char *weights(score_rl_trainer *t, const char *dir, size_t *n) {
    char path[512];
    if (score_rl_trainer_export(t, dir) != SCORE_OK) return NULL;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *bytes = malloc(*n);
    if (bytes != NULL && fread(bytes, 1, *n, f) != *n) *n = 0;
    fclose(f);
    return bytes;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: data_parallel MODEL_DIR\n");
        return 2;
    }
    if (score_model_load(argv[1], NULL, &model) != SCORE_OK) {
        fprintf(stderr, "load: %s\n", score_last_error());
        return 1;
    }
    group g;
    pthread_barrier_init(&g.barrier, NULL, WORKERS);
    worker workers[WORKERS];
    pthread_t threads[WORKERS];
    for (int r = 0; r < WORKERS; r++) {
        workers[r] = (worker){.m = {.g = &g, .rank = r}, .trainer = new_trainer()};
        pthread_create(&threads[r], NULL, run_worker, &workers[r]);
    }
    for (int r = 0; r < WORKERS; r++) pthread_join(threads[r], NULL);

    score_rl_trainer *single = new_trainer();
    int failed = single == NULL || score_rl_trainer_set_shards(single, WORKERS) != SCORE_OK || train(single);
    char dir[] = "/tmp/score-data-parallel-XXXXXX";
    if (mkdtemp(dir) == NULL) return 1;
    char path[600];
    size_t n0 = 0, n1 = 0, ns = 0;
    snprintf(path, sizeof path, "%s/w0", dir);
    unsigned char *w0 = weights(workers[0].trainer, path, &n0);
    snprintf(path, sizeof path, "%s/w1", dir);
    unsigned char *w1 = weights(workers[1].trainer, path, &n1);
    snprintf(path, sizeof path, "%s/single", dir);
    unsigned char *ws = weights(single, path, &ns);
    int same = w0 && w1 && ws && n0 == n1 && n0 == ns && n0 > 0 && !memcmp(w0, w1, n0) && !memcmp(w0, ws, n0);
    printf("2 workers over a host collective: %s\n",
           failed || workers[0].failed || workers[1].failed ? "a step failed"
           : same ? "identical weights, equal to one process summing the same shards" : "WEIGHTS DIFFER");
    free(w0), free(w1), free(ws);
    for (int r = 0; r < WORKERS; r++) score_rl_trainer_free(workers[r].trainer);
    score_rl_trainer_free(single);
    score_model_free(model);
    pthread_barrier_destroy(&g.barrier);
    return failed || workers[0].failed || workers[1].failed || !same;
}
