/* SCoRe through the C API: Stage I (reward only the revision, hold the
 * first attempt near the base model), then Stage II (reward both attempts,
 * shaped towards improvement) anchored on the Stage I policy, with a reward
 * function written in C. Ends with the data-driven path: a rollout read
 * through the score_rollout accessors, scored here, and fed back.
 * Nothing is saved.
 *
 *   ./train_score MODEL_DIR        (the model needs tokenizer.json)
 */
#include <score.h>

#include <stdio.h>
#include <string.h>

#define CHECK(call)                                                        \
    do {                                                                   \
        if ((call) != SCORE_OK) {                                          \
            fprintf(stderr, "%s: %s\n", #call, score_last_error());        \
            return 1;                                                      \
        }                                                                  \
    } while (0)

/* The host's verifier: 1 when the attempt contains a digit. */
static float has_digit(const char *problem, const char *attempt, const char *reference, void *user_data) {
    (void)problem;
    (void)reference;
    (*(int *)user_data)++;
    return strpbrk(attempt, "0123456789") != NULL ? 1.0f : 0.0f;
}

static void print_stats(const char *what, const score_rl_stats *s) {
    printf("%s step %lld (stage %d): reward", what, (long long)s->step, s->stage);
    for (int t = 0; t < s->turns; t++) printf(" %.2f", s->reward_per_turn[t]);
    printf("  kl");
    for (int t = 0; t < s->turns; t++) printf(" %.4f", s->kl_per_turn[t]);
    printf("  changed %.2f  loss %.4f  grad norm %.4f  %d rollouts, %lld tokens, %.2fs\n", s->answer_change_rate,
           s->loss, s->grad_norm, s->rollouts, (long long)s->generated_tokens,
           s->rollout_seconds + s->reference_seconds + s->update_seconds);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL_DIR\n", argv[0]);
        return 2;
    }
    score_model *model = NULL;
    CHECK(score_model_load(argv[1], NULL, &model));

    score_trainer_params training = score_rl_training_params_default();
    training.learning_rate = 1e-3f; /* a tiny random model: large steps show movement */
    score_rl_params params = score_rl_params_default();
    params.samples_per_problem = 2;
    params.max_new_tokens = 8;
    params.instruction = "Check the answer above and fix it if it is wrong.";
    params.seed = 7;
    params.training = &training;
    score_rl_trainer *trainer = NULL;
    CHECK(score_rl_trainer_new(model, &params, &trainer));

    const char *problems[] = {"What is 2 + 3?", "Compute 12 * 4."};
    const char *references[] = {"5", "48"};
    int calls = 0;
    score_rl_stats stats = {.struct_size = sizeof stats};
    for (int i = 0; i < 2; i++) {
        CHECK(score_rl_step(trainer, problems, references, 2, has_digit, &calls, &stats));
        print_stats("stage I ", &stats);
    }
    CHECK(score_rl_trainer_set_stage(trainer, 2));
    CHECK(score_rl_trainer_use_current_as_reference(trainer));
    for (int i = 0; i < 2; i++) {
        CHECK(score_rl_step(trainer, problems, references, 2, has_digit, &calls, &stats));
        print_stats("stage II", &stats);
    }
    printf("the reward function ran %d times\n", calls);

    /* Data-driven: roll out, score every attempt here, update. */
    score_rollout *rollout = NULL;
    CHECK(score_rl_rollout(trainer, problems, 2, &rollout));
    size_t episodes = score_rollout_count(rollout);
    float rewards[2 * 2 * 2] = {0}; /* episodes x attempts; unreached attempts stay 0 */
    if (episodes * 2 > sizeof rewards / sizeof rewards[0]) return 1;
    for (size_t i = 0; i < episodes; i++) {
        size_t problem = 0, n_attempts = 0;
        CHECK(score_rollout_episode(rollout, i, &problem, NULL, NULL, NULL, NULL, &n_attempts));
        for (size_t a = 0; a < n_attempts; a++) {
            const char *text = NULL;
            CHECK(score_rollout_attempt(rollout, i, a, NULL, NULL, NULL, NULL, NULL, &text));
            rewards[i * 2 + a] = has_digit(problems[problem], text, references[problem], &calls);
        }
    }
    CHECK(score_rl_update(trainer, rollout, rewards, episodes * 2, &stats));
    print_stats("update  ", &stats);
    score_rollout_free(rollout);

    score_rl_trainer_free(trainer);
    score_model_free(model);
    return 0;
}
