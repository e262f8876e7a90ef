/* Loads a model and prints the log-probability of each token of a sequence.
 *
 *   cc -std=c11 -Wall -Wextra -Werror logprobs.c -I include -L .build/release -lscore
 *   ./logprobs MODEL_DIR [id id id ...]
 */
#include <score.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL_DIR [token ids...]\n", argv[0]);
        return 2;
    }
    if (score_abi_version() != SCORE_ABI_VERSION) {
        fprintf(stderr, "libscore ABI %u, header %u\n", score_abi_version(), SCORE_ABI_VERSION);
        return 1;
    }

    int32_t default_ids[] = {1, 17, 42, 7, 99, 3, 64, 2};
    size_t n = sizeof default_ids / sizeof default_ids[0];
    int32_t *ids = default_ids;
    if (argc > 2) {
        n = (size_t)(argc - 2);
        ids = calloc(n, sizeof *ids);
        if (ids == NULL) return 1;
        for (size_t i = 0; i < n; i++) ids[i] = (int32_t)strtol(argv[i + 2], NULL, 10);
    }

    score_model_params params = score_model_params_default();
    score_model *model = NULL;
    if (score_model_load(argv[1], &params, &model) != SCORE_OK) {
        fprintf(stderr, "error: %s\n", score_last_error());
        return 1;
    }

    score_model_info info = {.struct_size = sizeof info};
    score_model_get_info(model, &info);
    printf("%s: %llu parameters, vocabulary %d, context %d\n", info.architecture,
           (unsigned long long)info.n_params, info.vocab_size, info.context_length);

    /* Ask for the size first (NULL, 0), then fill: the (buf, cap, needed) pattern. */
    size_t needed = 0;
    if (score_model_logprobs(model, ids, n, NULL, 0, &needed) != SCORE_OK) {
        fprintf(stderr, "error: %s\n", score_last_error());
        score_model_free(model);
        return 1;
    }
    float *logprobs = calloc(needed + 1, sizeof *logprobs);
    if (logprobs == NULL || score_model_logprobs(model, ids, n, logprobs, needed, &needed) != SCORE_OK) {
        fprintf(stderr, "error: %s\n", score_last_error());
        score_model_free(model);
        return 1;
    }
    double total = 0;
    for (size_t i = 0; i < needed; i++) {
        printf("token %5d  log p = %10.6f\n", ids[i + 1], logprobs[i]);
        total += logprobs[i];
    }
    printf("sum of log-probs: %.6f over %zu tokens\n", total, needed);

    free(logprobs);
    if (ids != default_ids) free(ids);
    score_model_free(model);
    return 0;
}
