/* A few training steps through the C API: LoRA on every projection, a
 * policy-gradient batch (per-token weights = advantages) with a k3 KL
 * penalty, a checkpoint saved, resumed and checked, and the bad-input
 * contract (no target tokens, NaN learning rate, unknown LoRA target bits).
 *
 *   ./train_step MODEL_DIR OUT_DIR
 */
#include <score.h>

#include <math.h>
#include <stdio.h>

#define CHECK(call)                                                        \
    do {                                                                   \
        if ((call) != SCORE_OK) {                                          \
            fprintf(stderr, "%s: %s\n", #call, score_last_error());        \
            return 1;                                                      \
        }                                                                  \
    } while (0)

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL_DIR OUT_DIR\n", argv[0]);
        return 2;
    }
    score_model *model = NULL;
    CHECK(score_model_load(argv[1], NULL, &model));

    score_trainer_params tp = score_trainer_params_default();
    tp.parameter_set = SCORE_PARAMS_LORA;
    tp.lora_rank = 4;
    tp.lora_alpha = 8;
    tp.lora_targets = SCORE_LORA_ALL;
    tp.learning_rate = 1e-2f;
    tp.kl_estimator = SCORE_KL_K3;
    tp.kl_coefficient = 0.05f;
    tp.schedule = SCORE_SCHEDULE_COSINE;
    tp.warmup_steps = 1;
    tp.total_steps = 5;
    score_trainer *trainer = NULL;
    CHECK(score_trainer_new(model, &tp, &trainer));

    /* Two sequences: prompt tokens masked out, answer tokens weighted by an advantage. */
    const int32_t a[] = {1, 17, 42, 9, 88, 3, 2};
    const int32_t b[] = {1, 5, 6, 7, 100, 2};
    const float ma[] = {0, 0, 0, 1, 1, 1, 1}, mb[] = {0, 0, 1, 1, 1, 1};
    const float wa[] = {0, 0, 0, 1.5f, 1.5f, 1.5f, 1.5f}, wb[] = {0, 0, -0.5f, -0.5f, -0.5f, -0.5f};
    const int32_t *tokens[] = {a, b};
    const size_t lengths[] = {7, 6};
    const float *masks[] = {ma, mb}, *weights[] = {wa, wb};

    score_train_stats st = {.struct_size = sizeof st};
    for (int i = 0; i < 3; i++) {
        CHECK(score_trainer_step(trainer, tokens, lengths, masks, weights, NULL, 2, &st));
        printf("step %lld  loss %.5f  kl %.6f  grad norm %.4f  lr %.5f  %.0f tokens/s\n", (long long)st.step, st.loss,
               st.kl, st.grad_norm, st.learning_rate, st.tokens_per_second);
    }
    CHECK(score_trainer_save(trainer, argv[2]));
    score_train_stats next = {.struct_size = sizeof next};
    CHECK(score_trainer_step(trainer, tokens, lengths, masks, weights, NULL, 2, &next));

    score_trainer *resumed = NULL;
    CHECK(score_trainer_resume(model, argv[2], &resumed));
    score_train_stats again = {.struct_size = sizeof again};
    CHECK(score_trainer_step(resumed, tokens, lengths, masks, weights, NULL, 2, &again));
    if (again.loss != next.loss || again.step != 4) {
        fprintf(stderr, "resumed run differs: loss %.9g vs %.9g, step %lld\n", again.loss, next.loss, (long long)again.step);
        return 1;
    }
    printf("resumed from %s: step %lld loss %.9g (identical)\n", argv[2], (long long)again.step, again.loss);

    /* Bad input is a status, never a crash. */
    const float none[] = {0, 0, 0, 0, 0, 0, 0};
    const float *no_targets[] = {none, none};
    if (score_trainer_step(trainer, tokens, lengths, no_targets, NULL, NULL, 2, NULL) != SCORE_ERR_INVALID_ARGUMENT) return 1;
    score_trainer_params bad = score_trainer_params_default();
    bad.learning_rate = NAN;
    score_trainer *t2 = NULL;
    if (score_trainer_new(model, &bad, &t2) != SCORE_ERR_INVALID_ARGUMENT || t2 != NULL) return 1;
    bad = score_trainer_params_default();
    bad.parameter_set = SCORE_PARAMS_LORA;
    bad.lora_targets = 1u << 9;
    if (score_trainer_new(model, &bad, &t2) != SCORE_ERR_INVALID_ARGUMENT) return 1;
    if (score_trainer_step(NULL, tokens, lengths, masks, NULL, NULL, 2, NULL) != SCORE_ERR_INVALID_ARGUMENT) return 1;
    printf("bad input rejected: %s\n", score_last_error());

    score_trainer_free(resumed);
    score_trainer_free(trainer);
    score_trainer_free(NULL);
    score_model_free(model);
    return 0;
}
