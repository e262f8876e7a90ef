/* Generate, then revise: two attempts per problem, k samples each.
 * The model directory needs tokenizer.json (and ideally a chat template).
 *
 *   ./self_correct MODEL_DIR ["problem" ...]
 */
#include <score.h>

#include <stdio.h>

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL_DIR [problem ...]\n", argv[0]);
        return 2;
    }
    const char *defaults[] = {"What is 2 + 3?", "Compute 12 * 4."};
    const char *const *problems = argc > 2 ? (const char *const *)(argv + 2) : defaults;
    size_t n_problems = argc > 2 ? (size_t)(argc - 2) : 2;

    score_model *model = NULL;
    score_session *session = NULL;
    score_rollout *rollout = NULL;
    int rc = 1;
    if (score_model_load(argv[1], NULL, &model) != SCORE_OK) goto fail;
    score_session_params sp = score_session_params_default();
    sp.seed = 7;
    if (score_session_new(model, &sp, &session) != SCORE_OK) goto fail;

    score_revise_params rp = score_revise_params_default();
    rp.samples = 2;
    rp.attempts = 2;
    score_generate_params gp = score_generate_params_default();
    gp.max_new_tokens = 24;
    gp.temperature = 1.0f;
    if (score_rollout_run(session, problems, n_problems, &rp, &gp, &rollout) != SCORE_OK) goto fail;

    for (size_t i = 0; i < score_rollout_count(rollout); i++) {
        size_t problem, sample, n_seq, n_attempts;
        const uint8_t *mask;
        score_rollout_episode(rollout, i, &problem, &sample, NULL, &mask, &n_seq, &n_attempts);
        size_t trained = 0;
        for (size_t t = 0; t < n_seq; t++) trained += mask[t];
        printf("problem %zu sample %zu: %zu tokens in the conversation, %zu sampled by the model\n",
               problem, sample, n_seq, trained);
        for (size_t a = 0; a < n_attempts; a++) {
            const float *lp;
            size_t n, offset;
            int32_t finish;
            const char *text;
            score_rollout_attempt(rollout, i, a, NULL, &lp, &n, &offset, &finish, &text);
            double sum = 0;
            for (size_t t = 0; t < n; t++) sum += lp[t];
            printf("  attempt %zu at %zu: %zu tokens, finish %d, sum log p %.3f, text %.40s...\n",
                   a + 1, offset, n, finish, sum, text);
        }
    }
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "error: %s\n", score_last_error());
done:
    score_rollout_free(rollout);
    score_session_free(session);
    score_model_free(model);
    return rc;
}
