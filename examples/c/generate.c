/* Greedy and sampled continuations of token prompts, batched, with a
 * streaming callback.
 *
 *   ./generate MODEL_DIR
 */
#include <score.h>

#include <stdio.h>

static bool print_token(size_t sequence, int32_t token, void *user_data) {
    int *count = user_data;
    if (sequence == 0) printf(" %d", token); /* stream the first sequence */
    (*count)++;
    return true;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL_DIR\n", argv[0]);
        return 2;
    }
    score_model *model = NULL;
    if (score_model_load(argv[1], NULL, &model) != SCORE_OK) {
        fprintf(stderr, "error: %s\n", score_last_error());
        return 1;
    }
    score_session_params sp = score_session_params_default();
    sp.seed = 42;
    score_session *session = NULL;
    if (score_session_new(model, &sp, &session) != SCORE_OK) {
        fprintf(stderr, "error: %s\n", score_last_error());
        score_model_free(model);
        return 1;
    }

    /* Two different prompts and a repeat of the first: 3 sequences, one batch. */
    const int32_t a[] = {1, 17, 42, 7}, b[] = {1, 99, 3};
    const int32_t *prompts[] = {a, b, a};
    const size_t lengths[] = {4, 3, 4};

    score_generate_params gp = score_generate_params_default();
    gp.max_new_tokens = 16;
    gp.temperature = 0.8f;
    gp.top_p = 0.95f;
    int streamed = 0;
    score_generation *result = NULL;
    printf("streaming sequence 0:");
    if (score_generate(session, prompts, lengths, 3, &gp, print_token, &streamed, &result) != SCORE_OK) {
        fprintf(stderr, "\nerror: %s\n", score_last_error());
        score_session_free(session);
        score_model_free(model);
        return 1;
    }
    printf("\n%d tokens streamed\n", streamed);

    for (size_t i = 0; i < score_generation_count(result); i++) {
        const int32_t *tokens;
        const float *logprobs;
        size_t n;
        int32_t finish;
        score_generation_get(result, i, &tokens, &logprobs, &n, &finish);
        double total = 0;
        for (size_t t = 0; t < n; t++) total += logprobs[t];
        printf("sequence %zu: %zu tokens, finish %d, sum log p %.4f, first %d\n", i, n, finish, total,
               n > 0 ? tokens[0] : -1);
    }
    score_generation_free(result);
    score_session_free(session);
    score_model_free(model);
    return 0;
}
