/* Memory and handles stay flat over long runs: many generate calls (a fresh
 * session each time), many scoring calls, and many trainer steps through
 * the C API. RSS after warm-up may grow by less than 2%, and the number of
 * open file descriptors must not change.
 *
 *   soak MODELS_DIR [GENERATE SCORE STEPS]     (default 100 100 40; make soak: 1000 1000 200)
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "score.h"

static long rss_kb(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (f == NULL) return -1;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = -1;
    fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static int open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (d == NULL) return -1;
    while (readdir(d) != NULL) n++;
    closedir(d);
    return n - 3; /* ".", ".." and the directory's own descriptor */
}

static int failures = 0;

static void expect_ok(score_status s, const char *what) {
    if (s != SCORE_OK) {
        fprintf(stderr, "soak: %s failed: %s\n", what, score_last_error());
        failures++;
    }
}

/* Runs phase() `count` times after a warm-up of a fifth as many (at least 20). */
static void soak(const char *name, int count, void (*phase)(void *), void *context) {
    int warm = count / 5 > 20 ? count / 5 : 20;
    for (int i = 0; i < warm; i++) phase(context);
    long before = rss_kb();
    int fds = open_fds();
    long at[3] = {0, 0, 0};
    for (int i = 0; i < count; i++) {
        phase(context);
        if (i == count / 10) at[0] = rss_kb();
        if (i == count / 2) at[1] = rss_kb();
    }
    at[2] = rss_kb();
    long after = at[2];
    double growth = before > 0 ? (double)(after - before) / (double)before : 1;
    printf("soak %-9s %5d calls: RSS %ld kB after warm-up, %ld / %ld / %ld kB at 10%% / 50%% / 100%% (%+.2f%%); fds %d -> %d\n",
           name, count, before, at[0], at[1], at[2], 100 * growth, fds, open_fds());
    if (growth >= 0.02) {
        fprintf(stderr, "soak: %s: RSS grew %.2f%% (limit 2%%)\n", name, 100 * growth);
        failures++;
    }
    if (open_fds() != fds) {
        fprintf(stderr, "soak: %s: open file descriptors %d -> %d\n", name, fds, open_fds());
        failures++;
    }
}

static score_model *model;
static const int32_t prompt[] = {1, 5, 9, 20, 3, 7};

static void generate_once(void *unused) {
    (void)unused;
    score_session *s = NULL;
    score_generation *g = NULL;
    const int32_t *prompts[2] = {prompt, prompt + 2};
    size_t lengths[2] = {6, 4};
    score_generate_params p = score_generate_params_default();
    p.max_new_tokens = 8;
    expect_ok(score_session_new(model, NULL, &s), "score_session_new");
    expect_ok(score_generate(s, prompts, lengths, 2, &p, NULL, NULL, &g), "score_generate");
    score_generation_free(g);
    score_session_free(s);
}

static void score_once(void *unused) {
    (void)unused;
    float out[16];
    size_t needed = 0;
    expect_ok(score_model_logprobs(model, prompt, 6, out, 16, &needed), "score_model_logprobs");
}

static void step_once(void *trainer) {
    const int32_t *tokens[2] = {prompt, prompt};
    size_t lengths[2] = {6, 5};
    const float mask[6] = {0, 0, 1, 1, 1, 1};
    const float *masks[2] = {mask, mask};
    score_train_stats st = {.struct_size = sizeof st};
    expect_ok(score_trainer_step(trainer, tokens, lengths, masks, NULL, NULL, 2, &st), "score_trainer_step");
}

int main(int argc, char **argv) {
    if (argc != 2 && argc != 5) {
        fprintf(stderr, "usage: soak MODELS_DIR [GENERATE SCORE STEPS]\n");
        return 2;
    }
    int generate = argc == 5 ? atoi(argv[2]) : 100, scores = argc == 5 ? atoi(argv[3]) : 100;
    int steps = argc == 5 ? atoi(argv[4]) : 40;
    char path[4096];
    snprintf(path, sizeof path, "%s/qwen2", argv[1]);
    expect_ok(score_model_load(path, NULL, &model), "score_model_load");
    if (model == NULL) return 1;
    soak("generate", generate, generate_once, NULL);
    soak("score", scores, score_once, NULL);
    score_trainer_params tp = score_trainer_params_default();
    tp.learning_rate = 1e-4f;
    score_trainer *trainer = NULL;
    expect_ok(score_trainer_new(model, &tp, &trainer), "score_trainer_new");
    if (trainer != NULL) soak("train", steps, step_once, trainer);
    score_trainer_free(trainer);
    score_model_free(model);
    if (failures) {
        fprintf(stderr, "soak: %d failure(s)\n", failures);
        return 1;
    }
    printf("soak: flat\n");
    return 0;
}
