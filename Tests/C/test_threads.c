/* Concurrency test for the TSan build (make test-tsan): what score.h allows
 * to run at the same time, does: one model shared by four threads that each
 * own a session (generate with sampling, score log-probs, last logits) and
 * also use the model's tokenizer, a streaming detokenizer, the chat template
 * and the verifier; meanwhile a fine-tuning trainer and a SCoRe RL trainer
 * over the same model step on threads of their own, with the kernels' own
 * thread pool at 2 threads. Passes when every call succeeds (TSan reports
 * data races separately and fails the run through its exit code). */
#include "score.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(call)                                                                        \
    do {                                                                                   \
        score_status s_ = (call);                                                          \
        if (s_ != SCORE_OK) {                                                              \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, score_last_error()); \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

enum { SESSION_THREADS = 4, ROUNDS = 3 };
static score_model *model;
static const char *model_dir;

static void *session_worker(void *arg) {
    uintptr_t id = (uintptr_t)arg;
    score_session_params sp = score_session_params_default();
    sp.seed = id;
    score_session *session = NULL;
    CHECK(score_session_new(model, &sp, &session));
    const score_tokenizer *tok = NULL;
    CHECK(score_model_tokenizer(model, &tok));
    for (int round = 0; round < ROUNDS; round++) {
        int32_t ids[64];
        size_t n = 0;
        const char *text = id % 2 ? "What is 47+38? Think step by step." : "Hello, world! <|im_end|>";
        CHECK(score_tokenize(tok, text, strlen(text), SCORE_TOKENIZE_PARSE_SPECIAL, ids, 64, &n));
        const int32_t *prompts[2] = {ids, ids};
        size_t lengths[2] = {n, n > 3 ? n - 3 : n};
        score_generate_params gp = score_generate_params_default();
        gp.max_new_tokens = 8;
        gp.temperature = round == 0 ? 0.0f : 0.8f;
        gp.top_k = 20;
        score_generation *g = NULL;
        CHECK(score_generate(session, prompts, lengths, 2, &gp, NULL, NULL, &g));
        const int32_t *out;
        const float *lp;
        size_t out_n;
        int32_t finish;
        CHECK(score_generation_get(g, 0, &out, &lp, &out_n, &finish));
        score_detokenizer *d = NULL;
        CHECK(score_detokenizer_new(tok, false, &d));
        for (size_t i = 0; i < out_n; i++) {
            const char *piece;
            size_t len;
            CHECK(score_detokenizer_push(d, out[i], &piece, &len));
        }
        score_detokenizer_free(d);
        score_generation_free(g);
        float logprobs[64];
        size_t needed;
        CHECK(score_model_logprobs(model, ids, n, logprobs, 64, &needed));
        char buf[4096];
        const char *roles[2] = {"user", "assistant"}, *contents[2] = {text, "85"};
        CHECK(score_chat_render_dir(model_dir, roles, contents, 2, true, NULL, buf, sizeof buf, &needed));
        float reward;
        CHECK(score_verify(SCORE_VERIFY_MATH, 1e-6, "so the answer is \\boxed{\\frac{170}{2}}", "85", &reward));
        if (reward != 1.0f) {
            fprintf(stderr, "verifier: expected 1, got %g\n", reward);
            exit(1);
        }
    }
    score_session_free(session);
    return NULL;
}

static void *trainer_worker(void *arg) {
    (void)arg;
    score_trainer_params tp = score_trainer_params_default();
    tp.parameter_set = SCORE_PARAMS_LORA;
    score_trainer *trainer = NULL;
    CHECK(score_trainer_new(model, &tp, &trainer));
    int32_t tokens[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    float mask[8] = {0, 0, 0, 1, 1, 1, 1, 1};
    const int32_t *seqs[1] = {tokens};
    const float *masks[1] = {mask};
    size_t lengths[1] = {8};
    for (int step = 0; step < ROUNDS; step++) CHECK(score_trainer_step(trainer, seqs, lengths, masks, NULL, NULL, 1, NULL));
    score_trainer_free(trainer);
    return NULL;
}

static float has_digit(const char *problem, const char *attempt, const char *reference, void *user_data) {
    (void)problem; (void)reference; (void)user_data;
    return strpbrk(attempt, "0123456789") ? 1.0f : 0.0f;
}

static void *rl_worker(void *arg) {
    (void)arg;
    score_rl_params p = score_rl_params_default();
    p.samples_per_problem = 2;
    p.max_new_tokens = 6;
    score_rl_trainer *t = NULL;
    CHECK(score_rl_trainer_new(model, &p, &t));
    const char *problems[2] = {"1+1?", "2+3?"}, *references[2] = {"2", "5"};
    score_rl_stats st = {.struct_size = sizeof st};
    CHECK(score_rl_step(t, problems, references, 2, has_digit, NULL, &st));
    CHECK(score_rl_trainer_set_stage(t, 2));
    CHECK(score_rl_step(t, problems, references, 2, has_digit, NULL, &st));
    score_rl_trainer_free(t);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s MODEL_DIR (a model with a tokenizer and chat template)\n", argv[0]);
        return 2;
    }
    model_dir = argv[1];
    CHECK(score_set_n_threads(2));
    CHECK(score_model_load(model_dir, NULL, &model));
    pthread_t threads[SESSION_THREADS + 2];
    for (uintptr_t i = 0; i < SESSION_THREADS; i++) pthread_create(&threads[i], NULL, session_worker, (void *)i);
    pthread_create(&threads[SESSION_THREADS], NULL, trainer_worker, NULL);
    pthread_create(&threads[SESSION_THREADS + 1], NULL, rl_worker, NULL);
    for (int i = 0; i < SESSION_THREADS + 2; i++) pthread_join(threads[i], NULL);
    score_model_free(model);
    printf("test_threads: %d sessions, a trainer and an RL trainer over one model: ok\n", SESSION_THREADS);
    return 0;
}
