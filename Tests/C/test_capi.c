/* C API contract tests: statuses, messages, buffers, struct_size, threads.
 * Run by `make test` with the fixture models directory as argv[1]. */
#include <score.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures = 0;

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n",      \
                    __FILE__, __LINE__, #cond, score_last_error());           \
            failures++;                                                        \
        }                                                                      \
    } while (0)

#define CHECK_ERR(call, status, fragment)                                      \
    do {                                                                       \
        score_status st_ = (call);                                             \
        if (st_ != (status) || strstr(score_last_error(), (fragment)) == NULL) { \
            fprintf(stderr, "%s:%d: %s gave %d '%s', expected %d with '%s'\n", \
                    __FILE__, __LINE__, #call, st_, score_last_error(),       \
                    (status), (fragment));                                     \
            failures++;                                                        \
        }                                                                      \
    } while (0)

static char models[4096];

static const char *model_path(const char *name) {
    static char path[4200];
    snprintf(path, sizeof path, "%s/%s", models, name);
    return path;
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f == NULL) { failures++; return; }
    fputs(text, f);
    fclose(f);
}

static void on_log(int32_t level, const char *line, void *user_data) {
    (void)level;
    if (strstr(line, "loaded") != NULL) (*(int *)user_data)++;
}

static void *error_in_other_thread(void *arg) {
    (void)arg;
    score_model *m = NULL;
    score_model_load("/nonexistent/other-thread", NULL, &m);
    return NULL;
}

static void test_library(void) {
    CHECK(score_abi_version() == SCORE_ABI_VERSION);
    size_t needed = 0;
    char info[4096], tiny[4];
    CHECK(score_system_info(NULL, 0, &needed) == SCORE_OK && needed > 10 && needed < sizeof info);
    CHECK_ERR(score_system_info(tiny, sizeof tiny, &needed), SCORE_ERR_BUFFER_TOO_SMALL, "system info");
    CHECK(score_system_info(info, sizeof info, &needed) == SCORE_OK && strlen(info) + 1 == needed);
    CHECK(info[0] == '{' && strstr(info, "\"openblas_core\":") != NULL && strstr(info, "\"features\":[") != NULL);
    CHECK(strlen(score_version_string()) >= 5);
    CHECK(strcmp(score_status_string(SCORE_OK), "ok") == 0);
    CHECK(strcmp(score_status_string(SCORE_ERR_BUFFER_TOO_SMALL), "buffer too small") == 0);
    CHECK(strcmp(score_status_string(12345), "unknown status") == 0);
    CHECK(strcmp(score_status_string(-1), "unknown status") == 0);
    CHECK(score_sizeof(SCORE_TYPE_MODEL_PARAMS) == sizeof(score_model_params));
    CHECK(score_sizeof(SCORE_TYPE_MODEL_INFO) == sizeof(score_model_info));
    CHECK(score_sizeof(999) == 0);
    CHECK_ERR(score_set_n_threads(-2), SCORE_ERR_INVALID_ARGUMENT, "negative");
    CHECK(score_set_n_threads(1) == SCORE_OK && score_get_n_threads() == 1);
    /* No upper bound used to mean 20000 threads and a GB of stacks. */
    CHECK_ERR(score_set_n_threads(20000), SCORE_ERR_INVALID_ARGUMENT, "out of range 1...");
    CHECK_ERR(score_set_n_threads(INT32_MAX), SCORE_ERR_INVALID_ARGUMENT, "out of range 1...");
    CHECK(score_get_n_threads() == 1);
    CHECK(score_set_n_threads(0) == SCORE_OK && score_get_n_threads() >= 1);
    score_model_free(NULL); /* no-op */
}

static void test_load_errors(void) {
    score_model *m = NULL;
    CHECK_ERR(score_model_load(NULL, NULL, &m), SCORE_ERR_INVALID_ARGUMENT, "dir is NULL");
    CHECK_ERR(score_model_load(model_path("qwen2"), NULL, NULL), SCORE_ERR_INVALID_ARGUMENT, "out is NULL");
    CHECK_ERR(score_model_load("/nonexistent/model", NULL, &m), SCORE_ERR_IO, "no such directory");
    CHECK(m == NULL);

    char tmp[] = "/tmp/score-capi-XXXXXX";
    CHECK(mkdtemp(tmp) != NULL);
    CHECK_ERR(score_model_load(tmp, NULL, &m), SCORE_ERR_IO, "no config.json");
    char path[256];
    snprintf(path, sizeof path, "%s/config.json", tmp);
    write_file(path, "not json at all");
    CHECK_ERR(score_model_load(tmp, NULL, &m), SCORE_ERR_FORMAT, "invalid JSON");
    write_file(path, "{\"architectures\": [\"FalconForCausalLM\"]}");
    CHECK_ERR(score_model_load(tmp, NULL, &m), SCORE_ERR_UNSUPPORTED, "FalconForCausalLM");
    unlink(path);
    rmdir(tmp);

    /* A params struct from a caller that knows fewer fields, and garbage sizes. */
    score_model_params old = score_model_params_default();
    old.struct_size = 4; /* only struct_size: everything else defaults */
    old.max_context = 3; /* beyond struct_size: must be ignored */
    CHECK(score_model_load(model_path("qwen2"), &old, &m) == SCORE_OK);
    score_model_info info = {.struct_size = sizeof info};
    CHECK(score_model_get_info(m, &info) == SCORE_OK && info.context_length == 512);
    score_model_free(m);
    m = NULL;
    score_model_params bad = score_model_params_default();
    bad.struct_size = 0;
    CHECK_ERR(score_model_load(model_path("qwen2"), &bad, &m), SCORE_ERR_INVALID_ARGUMENT, "struct_size");
    bad = score_model_params_default();
    bad.max_context = 100000;
    CHECK_ERR(score_model_load(model_path("qwen2"), &bad, &m), SCORE_ERR_INVALID_ARGUMENT, "max_context");
    bad.max_context = -1;
    CHECK_ERR(score_model_load(model_path("qwen2"), &bad, &m), SCORE_ERR_INVALID_ARGUMENT, "negative");
    bad = score_model_params_default();
    bad.compute = 7;
    CHECK_ERR(score_model_load(model_path("qwen2"), &bad, &m), SCORE_ERR_INVALID_ARGUMENT, "compute");
    bad = score_model_params_default();
    bad.compute = SCORE_COMPUTE_BF16;
    bad.pack = false;
    CHECK_ERR(score_model_load(model_path("qwen2"), &bad, &m), SCORE_ERR_INVALID_ARGUMENT, "packed");

    /* BF16 compute: close to F32 (not equal), and not trainable. */
    score_model_params f32 = score_model_params_default(), bf16 = score_model_params_default();
    bf16.compute = SCORE_COMPUTE_BF16;
    score_model *exact = NULL, *rounded = NULL;
    CHECK(score_model_load(model_path("qwen2"), &f32, &exact) == SCORE_OK);
    CHECK(score_model_load(model_path("qwen2"), &bf16, &rounded) == SCORE_OK);
    int32_t ids[] = {1, 42, 7, 99, 3, 15};
    float lp_exact[5], lp_rounded[5];
    size_t n_exact = 0, n_rounded = 0;
    CHECK(score_model_logprobs(exact, ids, 6, lp_exact, 5, &n_exact) == SCORE_OK && n_exact == 5);
    CHECK(score_model_logprobs(rounded, ids, 6, lp_rounded, 5, &n_rounded) == SCORE_OK && n_rounded == 5);
    float worst = 0;
    int differ = 0;
    for (int i = 0; i < 5; i++) {
        float d = lp_exact[i] > lp_rounded[i] ? lp_exact[i] - lp_rounded[i] : lp_rounded[i] - lp_exact[i];
        if (d > worst) worst = d;
        if (d > 0) differ = 1;
    }
    CHECK(differ && worst < 0.1f);
    score_trainer_params tp = score_trainer_params_default();
    score_trainer *trainer = NULL;
    CHECK_ERR(score_trainer_new(rounded, &tp, &trainer), SCORE_ERR_INVALID_ARGUMENT, "compute f32");
    score_model_free(exact);
    score_model_free(rounded);

    /* score_last_error is per thread: another thread's failure does not touch ours. */
    CHECK_ERR(score_model_load(NULL, NULL, &m), SCORE_ERR_INVALID_ARGUMENT, "dir is NULL");
    pthread_t t;
    pthread_create(&t, NULL, error_in_other_thread, NULL);
    pthread_join(t, NULL);
    CHECK(strstr(score_last_error(), "dir is NULL") != NULL);
}

static void test_model(void) {
    score_model_params params = score_model_params_default();
    score_model *m = NULL;
    int lines = 0;
    score_set_log_callback(on_log, &lines);
    CHECK(score_model_load(model_path("qwen2"), &params, &m) == SCORE_OK);
    score_set_log_callback(NULL, NULL);
    CHECK(lines == 1);
    if (m == NULL) return;

    score_model_info info = {.struct_size = sizeof info};
    CHECK(score_model_get_info(m, &info) == SCORE_OK);
    CHECK(strcmp(info.architecture, "Qwen2ForCausalLM") == 0);
    CHECK(info.vocab_size == 128 && info.n_layers == 2 && info.n_heads == 4 && info.n_kv_heads == 2);
    CHECK(info.head_dim == 16 && info.hidden_size == 64 && info.dtype == SCORE_DTYPE_F32);
    CHECK(info.n_params > 0 && info.bytes_in_memory >= info.n_params * 4);
    CHECK(info.bos_token_id == 1 && info.eos_token_id == 2);

    /* An older, shorter info struct gets only its own fields. */
    unsigned char raw[sizeof(score_model_info) + 8];
    memset(raw, 0xAB, sizeof raw);
    score_model_info *small = (score_model_info *)raw;
    small->struct_size = 8;
    CHECK(score_model_get_info(m, small) == SCORE_OK);
    CHECK(small->struct_size == 8 && small->architecture[0] == 'Q' && raw[8] == 0xAB);
    small->struct_size = 0;
    CHECK_ERR(score_model_get_info(m, small), SCORE_ERR_INVALID_ARGUMENT, "struct_size");
    CHECK_ERR(score_model_get_info(NULL, &info), SCORE_ERR_INVALID_ARGUMENT, "model is NULL");
    CHECK_ERR(score_model_get_info(m, NULL), SCORE_ERR_INVALID_ARGUMENT, "info is NULL");

    int32_t eos[4];
    size_t needed = 0;
    CHECK_ERR(score_model_eos_ids(m, eos, 1, &needed), SCORE_ERR_BUFFER_TOO_SMALL, "needs 2");
    CHECK(needed == 2);
    CHECK(score_model_eos_ids(m, eos, 4, &needed) == SCORE_OK && needed == 2 && eos[0] == 2 && eos[1] == 3);

    int32_t ids[] = {1, 5, 9, 20, 3};
    float lp[4];
    needed = 0;
    CHECK_ERR(score_model_logprobs(m, ids, 5, lp, 2, &needed), SCORE_ERR_BUFFER_TOO_SMALL, "needs 4");
    CHECK(needed == 4);
    needed = 0; /* (NULL, 0) is a size query */
    CHECK(score_model_logprobs(m, ids, 5, NULL, 0, &needed) == SCORE_OK && needed == 4);
    CHECK(score_model_eos_ids(m, NULL, 0, &needed) == SCORE_OK && needed == 2);
    CHECK_ERR(score_model_logprobs(m, ids, 5, NULL, 4, &needed), SCORE_ERR_INVALID_ARGUMENT, "buffer is NULL");
    CHECK(score_model_logprobs(m, ids, 5, lp, 4, &needed) == SCORE_OK && needed == 4);
    for (int i = 0; i < 4; i++) CHECK(lp[i] < 0 && isfinite(lp[i]));
    CHECK(score_model_logprobs(m, ids, 1, NULL, 0, &needed) == SCORE_OK && needed == 0);
    CHECK_ERR(score_model_logprobs(m, NULL, 5, lp, 4, &needed), SCORE_ERR_INVALID_ARGUMENT, "tokens is NULL");
    CHECK_ERR(score_model_logprobs(m, ids, 0, lp, 4, &needed), SCORE_ERR_INVALID_ARGUMENT, "n_tokens is 0");
    CHECK_ERR(score_model_logprobs(NULL, ids, 5, lp, 4, &needed), SCORE_ERR_INVALID_ARGUMENT, "model is NULL");
    int32_t out_of_vocab[] = {1, 128};
    CHECK_ERR(score_model_logprobs(m, out_of_vocab, 2, lp, 4, &needed), SCORE_ERR_INVALID_ARGUMENT, "outside the vocabulary");
    int32_t negative[] = {-7, 1};
    CHECK_ERR(score_model_logprobs(m, negative, 2, lp, 4, &needed), SCORE_ERR_INVALID_ARGUMENT, "-7");

    /* Batched scoring: the same numbers as one call per sequence. */
    int32_t flat[] = {1, 5, 9, 20, 3, /* */ 7, 2, /* */ 4};
    size_t offsets[] = {0, 5, 7, 8};
    float blp[6], one[4];
    CHECK(score_model_logprobs_batch(m, flat, offsets, 3, NULL, 0, &needed) == SCORE_OK && needed == 5);
    CHECK_ERR(score_model_logprobs_batch(m, flat, offsets, 3, blp, 4, &needed), SCORE_ERR_BUFFER_TOO_SMALL, "needs 5");
    CHECK(score_model_logprobs_batch(m, flat, offsets, 3, blp, 6, &needed) == SCORE_OK && needed == 5);
    CHECK(score_model_logprobs(m, flat, 5, one, 4, &needed) == SCORE_OK);
    for (int i = 0; i < 4; i++) CHECK(fabsf(blp[i] - one[i]) < 1e-5f);
    CHECK(score_model_logprobs(m, flat + 5, 2, one, 4, &needed) == SCORE_OK && fabsf(blp[4] - one[0]) < 1e-5f);
    size_t bad_offsets[] = {0, 5, 5, 8};
    CHECK_ERR(score_model_logprobs_batch(m, flat, bad_offsets, 3, blp, 6, &needed), SCORE_ERR_INVALID_ARGUMENT, "sequence 1 is empty");
    /* An offset past the last one (found by fuzzing: the copy read past the
     * 3 tokens the last offset promises and trapped). */
    size_t overshoot[] = {0, 5, 3};
    CHECK_ERR(score_model_logprobs_batch(m, flat, overshoot, 2, blp, 6, &needed), SCORE_ERR_INVALID_ARGUMENT, "offsets decrease");
    size_t shifted[] = {1, 5, 7, 8};
    CHECK_ERR(score_model_logprobs_batch(m, flat, shifted, 3, blp, 6, &needed), SCORE_ERR_INVALID_ARGUMENT, "must be 0");
    CHECK_ERR(score_model_logprobs_batch(m, flat, NULL, 3, blp, 6, &needed), SCORE_ERR_INVALID_ARGUMENT, "offsets is NULL");
    CHECK_ERR(score_model_logprobs_batch(m, flat, offsets, 0, blp, 6, &needed), SCORE_ERR_INVALID_ARGUMENT, "n_sequences is 0");
    int32_t flat_bad[] = {1, 5, 9, 20, 3, 7, 128, 4};
    CHECK_ERR(score_model_logprobs_batch(m, flat_bad, offsets, 3, blp, 6, &needed), SCORE_ERR_INVALID_ARGUMENT, "sequence 1");

    int32_t *long_seq = calloc(513, sizeof *long_seq);
    float *big = calloc(513, sizeof *big);
    CHECK_ERR(score_model_logprobs(m, long_seq, 513, big, 513, &needed), SCORE_ERR_INVALID_ARGUMENT, "context length");
    free(long_seq);
    free(big);

    float logits[128];
    CHECK_ERR(score_model_last_logits(m, ids, 5, logits, 127, &needed), SCORE_ERR_BUFFER_TOO_SMALL, "needs 128");
    CHECK(needed == 128);
    CHECK(score_model_last_logits(m, ids, 5, logits, 128, &needed) == SCORE_OK);
    /* log-softmax of the logits after ids[0..3] gives lp[3] for ids[4]. */
    float lp4[4];
    CHECK(score_model_last_logits(m, ids, 4, logits, 128, &needed) == SCORE_OK);
    double mx = logits[0], sum = 0;
    for (int i = 1; i < 128; i++) if (logits[i] > mx) mx = logits[i];
    for (int i = 0; i < 128; i++) sum += exp(logits[i] - mx);
    CHECK(score_model_logprobs(m, ids, 5, lp4, 4, &needed) == SCORE_OK);
    CHECK(fabs((logits[ids[4]] - mx - log(sum)) - lp4[3]) < 1e-4);

    score_model_free(m);
}

static bool stop_at_once(size_t sequence, int32_t token, void *user_data) {
    (void)sequence; (void)token;
    (*(int *)user_data)++;
    return false;
}

/* Calls score_generate on the session that is calling it. */
struct reentry {
    score_session *session;
    score_status status;
    char message[256];
};

static bool generate_again(size_t sequence, int32_t token, void *user_data) {
    (void)sequence; (void)token;
    struct reentry *r = user_data;
    const int32_t p[] = {1, 2};
    const int32_t *prompts[] = {p};
    const size_t lengths[] = {2};
    score_generation *g = NULL;
    r->status = score_generate(r->session, prompts, lengths, 1, NULL, NULL, NULL, &g);
    snprintf(r->message, sizeof r->message, "%s", score_last_error());
    score_generation_free(g);
    return false;
}

static void test_generation(void) {
    score_model *m = NULL;
    CHECK(score_model_load(model_path("llama-gqa"), NULL, &m) == SCORE_OK);
    if (m == NULL) return;
    score_session *s = NULL;
    CHECK_ERR(score_session_new(NULL, NULL, &s), SCORE_ERR_INVALID_ARGUMENT, "model is NULL");
    CHECK(score_session_new(m, NULL, &s) == SCORE_OK);

    const int32_t a[] = {5, 9, 13}, b[] = {7, 8};
    const int32_t *prompts[] = {a, b};
    const size_t lengths[] = {3, 2};
    score_generate_params gp = score_generate_params_default();
    gp.temperature = 0;
    gp.max_new_tokens = 12;
    score_generation *g1 = NULL, *g2 = NULL;
    CHECK(score_generate(s, prompts, lengths, 2, &gp, NULL, NULL, &g1) == SCORE_OK);
    CHECK(score_generation_count(g1) == 2);
    /* Greedy: the second prompt alone gives the same tokens as in the batch. */
    CHECK(score_generate(s, prompts + 1, lengths + 1, 1, &gp, NULL, NULL, &g2) == SCORE_OK);
    const int32_t *t1, *t2;
    const float *lp1;
    size_t n1 = 0, n2 = 0;
    int32_t f1 = -1;
    CHECK(score_generation_get(g1, 1, &t1, &lp1, &n1, &f1) == SCORE_OK);
    CHECK(score_generation_get(g2, 0, &t2, NULL, &n2, NULL) == SCORE_OK);
    CHECK(n1 == n2 && n1 > 0 && memcmp(t1, t2, n1 * sizeof *t1) == 0);
    CHECK(f1 == SCORE_FINISH_LENGTH || f1 == SCORE_FINISH_STOP_TOKEN);
    for (size_t i = 0; i < n1; i++) CHECK(lp1[i] <= 0);
    CHECK_ERR(score_generation_get(g1, 2, &t1, NULL, &n1, NULL), SCORE_ERR_INVALID_ARGUMENT, "out of range");
    CHECK(score_generation_count(NULL) == 0);
    score_generation_free(g1);
    score_generation_free(g2);
    score_generation_free(NULL);

    /* A callback that stops at the first token. */
    int calls = 0;
    gp.temperature = 1;
    CHECK(score_generate(s, prompts, lengths, 2, &gp, stop_at_once, &calls, &g1) == SCORE_OK);
    CHECK(calls == 2);
    CHECK(score_generation_get(g1, 0, NULL, NULL, &n1, &f1) == SCORE_OK && n1 == 1 && f1 == SCORE_FINISH_ABORTED);
    score_generation_free(g1);

    /* Generating again from the token callback on the same session used to
     * deadlock; it fails at once, and the outer call completes. */
    struct reentry re = {s, SCORE_OK, ""};
    CHECK(score_generate(s, prompts, lengths, 1, &gp, generate_again, &re, &g1) == SCORE_OK);
    CHECK(re.status == SCORE_ERR_INVALID_ARGUMENT && strstr(re.message, "already generating") != NULL);
    score_generation_free(g1);
    CHECK(score_generate(s, prompts, lengths, 1, &gp, NULL, NULL, &g1) == SCORE_OK);  /* the session is free again */
    score_generation_free(g1);

    /* max_new_tokens = 0 returns empty results. */
    gp.max_new_tokens = 0;
    CHECK(score_generate(s, prompts, lengths, 2, &gp, NULL, NULL, &g1) == SCORE_OK);
    CHECK(score_generation_get(g1, 0, NULL, NULL, &n1, NULL) == SCORE_OK && n1 == 0);
    score_generation_free(g1);

    /* Bad input. */
    score_generate_params bad = score_generate_params_default();
    bad.temperature = -0.5f;
    CHECK_ERR(score_generate(s, prompts, lengths, 2, &bad, NULL, NULL, &g1), SCORE_ERR_INVALID_ARGUMENT, "temperature");
    bad = score_generate_params_default();
    bad.top_p = 0;
    CHECK_ERR(score_generate(s, prompts, lengths, 2, &bad, NULL, NULL, &g1), SCORE_ERR_INVALID_ARGUMENT, "top_p");
    bad.top_p = 1.5f;
    CHECK_ERR(score_generate(s, prompts, lengths, 2, &bad, NULL, NULL, &g1), SCORE_ERR_INVALID_ARGUMENT, "top_p");
    bad = score_generate_params_default();
    bad.max_new_tokens = -1;
    CHECK_ERR(score_generate(s, prompts, lengths, 2, &bad, NULL, NULL, &g1), SCORE_ERR_INVALID_ARGUMENT, "max_new_tokens");
    bad = score_generate_params_default();
    bad.n_stop_ids = 3;
    CHECK_ERR(score_generate(s, prompts, lengths, 2, &bad, NULL, NULL, &g1), SCORE_ERR_INVALID_ARGUMENT, "stop_ids is NULL");
    bad = score_generate_params_default();
    bad.n_stop_strings = 1;
    CHECK_ERR(score_generate(s, prompts, lengths, 2, &bad, NULL, NULL, &g1), SCORE_ERR_INVALID_ARGUMENT, "stop_strings is NULL");
    const char *stops[] = {"x"};
    bad.stop_strings = stops;
    CHECK_ERR(score_generate(s, prompts, lengths, 2, &bad, NULL, NULL, &g1), SCORE_ERR_INVALID_ARGUMENT, "tokenizer");
    CHECK_ERR(score_generate(s, prompts, lengths, 0, NULL, NULL, NULL, &g1), SCORE_ERR_INVALID_ARGUMENT, "n_prompts is 0");
    CHECK_ERR(score_generate(s, NULL, lengths, 2, NULL, NULL, NULL, &g1), SCORE_ERR_INVALID_ARGUMENT, "NULL");
    const size_t empty[] = {3, 0};
    CHECK_ERR(score_generate(s, prompts, empty, 2, NULL, NULL, NULL, &g1), SCORE_ERR_INVALID_ARGUMENT, "empty");
    const int32_t oov[] = {5, 4000};
    const int32_t *oov_prompts[] = {oov};
    const size_t two[] = {2};
    CHECK_ERR(score_generate(s, oov_prompts, two, 1, NULL, NULL, NULL, &g1), SCORE_ERR_INVALID_ARGUMENT, "vocabulary");
    CHECK_ERR(score_generate(NULL, prompts, lengths, 2, NULL, NULL, NULL, &g1), SCORE_ERR_INVALID_ARGUMENT, "session is NULL");
    CHECK_ERR(score_generate(s, prompts, lengths, 2, NULL, NULL, NULL, NULL), SCORE_ERR_INVALID_ARGUMENT, "out is NULL");

    score_session_free(s);
    score_session_free(NULL);
    score_model_free(m);
}

static void test_rollouts(void) {
    score_model *m = NULL, *plain = NULL;
    score_session *s = NULL, *ps = NULL;
    score_rollout *r = NULL;
    CHECK(score_model_load(model_path("qwen2-chat"), NULL, &m) == SCORE_OK);
    CHECK(score_model_load(model_path("qwen2"), NULL, &plain) == SCORE_OK);
    if (m == NULL || plain == NULL) return;
    CHECK(score_session_new(m, NULL, &s) == SCORE_OK);
    CHECK(score_session_new(plain, NULL, &ps) == SCORE_OK);
    const char *problems[] = {"What is 2 + 3?", "Compute 12 * 4.", "1+1"};
    score_revise_params rp = score_revise_params_default();
    rp.samples = 2;
    rp.attempts = 3;
    rp.instruction = "Check the solution above and fix it if needed.";
    score_generate_params gp = score_generate_params_default();
    gp.max_new_tokens = 6;
    CHECK(score_rollout_run(s, problems, 3, &rp, &gp, &r) == SCORE_OK);
    CHECK(score_rollout_count(r) == 6);
    size_t problem = 9, sample = 9, n_seq = 0, n_att = 0;
    const int32_t *seq;
    const uint8_t *mask;
    CHECK(score_rollout_episode(r, 3, &problem, &sample, &seq, &mask, &n_seq, &n_att) == SCORE_OK);
    CHECK(problem == 1 && sample == 1 && n_att == 3 && n_seq > 0);
    for (size_t a = 0; a < n_att; a++) {
        const int32_t *tokens;
        size_t n = 0, offset = 0;
        const char *text = NULL;
        CHECK(score_rollout_attempt(r, 3, a, &tokens, NULL, &n, &offset, NULL, &text) == SCORE_OK);
        CHECK(text != NULL && offset + n <= n_seq && memcmp(seq + offset, tokens, n * sizeof *tokens) == 0);
        for (size_t t = 0; t < n; t++) CHECK(mask[offset + t] == 1);
        if (offset > 0) CHECK(mask[offset - 1] == 0); /* prompt or glue before each attempt */
    }
    CHECK_ERR(score_rollout_attempt(r, 3, 3, NULL, NULL, NULL, NULL, NULL, NULL), SCORE_ERR_INVALID_ARGUMENT, "attempt 3");
    CHECK_ERR(score_rollout_episode(r, 6, NULL, NULL, NULL, NULL, NULL, NULL), SCORE_ERR_INVALID_ARGUMENT, "episode 6");
    CHECK(score_rollout_count(NULL) == 0);
    score_rollout_free(r);
    score_rollout_free(NULL);

    score_rollout *bad = NULL;
    CHECK_ERR(score_rollout_run(ps, problems, 1, NULL, NULL, &bad), SCORE_ERR_INVALID_ARGUMENT, "no tokenizer.json");
    rp.samples = 0;
    CHECK_ERR(score_rollout_run(s, problems, 1, &rp, NULL, &bad), SCORE_ERR_INVALID_ARGUMENT, "samples");
    rp.samples = INT32_MAX; /* used to grow memory until SIGSEGV */
    CHECK_ERR(score_rollout_run(s, problems, 1, &rp, NULL, &bad), SCORE_ERR_INVALID_ARGUMENT, "samples per problem 2147483647 is out of range");
    rp.samples = 1;
    rp.attempts = INT32_MAX;
    CHECK_ERR(score_rollout_run(s, problems, 1, &rp, NULL, &bad), SCORE_ERR_INVALID_ARGUMENT, "attempts");
    rp.attempts = 0;
    CHECK_ERR(score_rollout_run(s, problems, 1, &rp, NULL, &bad), SCORE_ERR_INVALID_ARGUMENT, "attempts");
    CHECK_ERR(score_rollout_run(s, problems, 0, NULL, NULL, &bad), SCORE_ERR_INVALID_ARGUMENT, "n_problems is 0");
    const char *null_problem[] = {NULL};
    CHECK_ERR(score_rollout_run(s, null_problem, 1, NULL, NULL, &bad), SCORE_ERR_INVALID_ARGUMENT, "problems[0] is NULL");
    const char invalid_utf8[] = {(char)0xC3, (char)0x28, 0};
    const char *invalid[] = {invalid_utf8};
    CHECK_ERR(score_rollout_run(s, invalid, 1, NULL, NULL, &bad), SCORE_ERR_INVALID_ARGUMENT, "UTF-8");
    CHECK(bad == NULL);
    score_session_free(s);
    score_session_free(ps);
    score_model_free(m);
    score_model_free(plain);
}

/* --- SCoRe --------------------------------------------------------------- */

/* Reward callbacks: a digit in the attempt; NaN or Inf (a broken verifier);
 * the parity of the attempt's length. user_data counts calls when not NULL. */
static float digit_reward(const char *problem, const char *attempt, const char *reference, void *user_data) {
    (void)problem; (void)reference;
    if (user_data != NULL) (*(int *)user_data)++;
    return strpbrk(attempt, "0123456789") != NULL ? 1.0f : 0.0f;
}

static float nan_reward(const char *problem, const char *attempt, const char *reference, void *user_data) {
    (void)problem; (void)attempt; (void)reference; (void)user_data;
    return NAN;
}

static float inf_reward(const char *problem, const char *attempt, const char *reference, void *user_data) {
    (void)problem; (void)attempt; (void)reference; (void)user_data;
    return INFINITY;
}

static float even_length_reward(const char *problem, const char *attempt, const char *reference, void *user_data) {
    (void)problem; (void)reference;
    if (user_data != NULL) (*(int *)user_data)++;
    return strlen(attempt) % 2 == 0 ? 1.0f : 0.0f;
}

/* The bytes of a file (malloc'd, *n its size), or NULL. */
static unsigned char *read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *bytes = malloc(size > 0 ? (size_t)size : 1);
    *n = bytes != NULL ? fread(bytes, 1, (size_t)size, f) : 0;
    fclose(f);
    return bytes;
}

/* Exports the trainer's weights to dir/name and returns model.safetensors' bytes. */
static unsigned char *exported_weights(score_rl_trainer *t, const char *dir, const char *name, size_t *n) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (score_rl_trainer_export(t, path) != SCORE_OK) return NULL;
    snprintf(path, sizeof path, "%s/%s/model.safetensors", dir, name);
    return read_file(path, n);
}

static void test_score_rl_params(void) {
    score_rl_params p = score_rl_params_default();
    CHECK(p.struct_size == sizeof p && score_sizeof(SCORE_TYPE_RL_PARAMS) == sizeof p);
    CHECK(score_sizeof(SCORE_TYPE_RL_STATS) == sizeof(score_rl_stats));
    CHECK(score_sizeof(SCORE_TYPE_EVAL_PARAMS) == sizeof(score_eval_params));
    CHECK(score_sizeof(SCORE_TYPE_EVAL_RESULT) == sizeof(score_eval_result));
    CHECK(p.stage == 1 && p.attempts == 2 && p.samples_per_problem == 4);
    CHECK(p.alpha == 10.0f && p.beta1 == 0.01f && p.beta2 == 0.1f && p.update_rule == SCORE_RL_REINFORCE);
    CHECK(p.temperature == 1.0f && p.top_k == 0 && p.top_p == 1.0f && p.max_new_tokens == 256 && p.micro_batch == 64);
    CHECK(p.instruction == NULL && p.task_prompt == NULL && p.system_prompt == NULL && p.training == NULL && p.seed == 0);
    score_trainer_params t = score_rl_training_params_default();
    CHECK(t.struct_size == sizeof t && t.parameter_set == SCORE_PARAMS_FULL);
    CHECK(t.learning_rate == 5e-6f && t.weight_decay == 0 && t.max_grad_norm == 1.0f);
    CHECK(t.kl_estimator == SCORE_KL_K3 && t.aggregation == SCORE_AGGREGATE_SEQUENCE_SUM);
    score_eval_params e = score_eval_params_default();
    CHECK(e.struct_size == sizeof e && e.attempts == 2 && e.max_new_tokens == 256);
    CHECK(e.verifier == SCORE_VERIFY_MATH && e.tolerance == 1e-6);
}

static void test_score_rl_create_errors(score_model *m, score_model *plain) {
    score_rl_trainer *t = NULL;
    score_rl_params p = score_rl_params_default();
    CHECK_ERR(score_rl_trainer_new(NULL, &p, &t), SCORE_ERR_INVALID_ARGUMENT, "model is NULL");
    CHECK_ERR(score_rl_trainer_new(m, &p, NULL), SCORE_ERR_INVALID_ARGUMENT, "out is NULL");
    CHECK_ERR(score_rl_trainer_new(plain, &p, &t), SCORE_ERR_INVALID_ARGUMENT, "no tokenizer.json");
    score_trainer_params many = score_rl_training_params_default();
    many.n_threads = 20000;
    p.training = &many;
    CHECK_ERR(score_rl_trainer_new(m, &p, &t), SCORE_ERR_INVALID_ARGUMENT, "out of range 1...");
    score_trainer *ft = NULL;
    CHECK_ERR(score_trainer_new(m, &many, &ft), SCORE_ERR_INVALID_ARGUMENT, "out of range 1...");
    p.training = NULL;
    p.samples_per_problem = 1; /* no leave-one-out baseline from one sample */
    CHECK_ERR(score_rl_trainer_new(m, &p, &t), SCORE_ERR_INVALID_ARGUMENT, "samples per problem must be ≥ 2");
    p = score_rl_params_default();
    p.stage = 3;
    CHECK_ERR(score_rl_trainer_new(m, &p, &t), SCORE_ERR_INVALID_ARGUMENT, "stage 3 is not 1 or 2");
    p = score_rl_params_default();
    p.attempts = 0;
    CHECK_ERR(score_rl_trainer_new(m, &p, &t), SCORE_ERR_INVALID_ARGUMENT, "attempts 0");
    p.attempts = SCORE_RL_MAX_TURNS + 1;
    CHECK_ERR(score_rl_trainer_new(m, &p, &t), SCORE_ERR_INVALID_ARGUMENT, "SCORE_RL_MAX_TURNS");
    p.attempts = 1; /* single-turn RL exists only as Stage II */
    CHECK_ERR(score_rl_trainer_new(m, &p, &t), SCORE_ERR_INVALID_ARGUMENT, "Stage I");
    p = score_rl_params_default();
    p.temperature = 0;
    CHECK_ERR(score_rl_trainer_new(m, &p, &t), SCORE_ERR_INVALID_ARGUMENT, "temperature");
    p = score_rl_params_default();
    p.update_rule = 7;
    CHECK_ERR(score_rl_trainer_new(m, &p, &t), SCORE_ERR_INVALID_ARGUMENT, "update_rule 7");
    p = score_rl_params_default();
    p.alpha = NAN;
    CHECK_ERR(score_rl_trainer_new(m, &p, &t), SCORE_ERR_INVALID_ARGUMENT, "alpha");
    p = score_rl_params_default();
    p.max_new_tokens = 0;
    CHECK_ERR(score_rl_trainer_new(m, &p, &t), SCORE_ERR_INVALID_ARGUMENT, "max new tokens");
    p = score_rl_params_default();
    p.struct_size = 0;
    CHECK_ERR(score_rl_trainer_new(m, &p, &t), SCORE_ERR_INVALID_ARGUMENT, "struct_size");
    p = score_rl_params_default();
    score_trainer_params tp = score_rl_training_params_default();
    tp.kl_estimator = 9;
    p.training = &tp;
    CHECK_ERR(score_rl_trainer_new(m, &p, &t), SCORE_ERR_INVALID_ARGUMENT, "kl_estimator 9");
    CHECK(t == NULL);

    /* k = 1 is fine for the filtered-SFT ablation, one attempt for single-turn RL. */
    p = score_rl_params_default();
    p.samples_per_problem = 1;
    p.update_rule = SCORE_RL_FILTERED_SFT;
    CHECK(score_rl_trainer_new(m, &p, &t) == SCORE_OK);
    score_rl_trainer_free(t);
    t = NULL;
    p = score_rl_params_default();
    p.stage = 2;
    p.attempts = 1;
    CHECK(score_rl_trainer_new(m, &p, &t) == SCORE_OK);
    CHECK_ERR(score_rl_trainer_set_stage(t, 1), SCORE_ERR_INVALID_ARGUMENT, "Stage I");
    score_rl_trainer_free(t);
    score_rl_trainer_free(NULL);
}

/* A progress callback that stops the call when it reaches stop_phase. */
static const char *const progress_phases[] = {"rollout", "rewards", "reference", "update", "evaluate"};

typedef struct {
    const char *stop_phase;
    int64_t calls[5];  /* per progress_phases entry */
    bool inconsistent; /* done > total, a negative count, or an unknown phase */
} progress_probe;

static bool stop_in_phase(const char *phase, int64_t done, int64_t total, void *user_data) {
    progress_probe *probe = user_data;
    size_t k = 0;
    while (k < 5 && strcmp(phase, progress_phases[k]) != 0) k++;
    if (k == 5 || done < 0 || total < 0 || done > total) probe->inconsistent = true;
    else probe->calls[k]++;
    return !(probe->stop_phase != NULL && strcmp(phase, probe->stop_phase) == 0);
}

/* Stopping a step in any phase returns SCORE_ERR_ABORTED and changes nothing:
 * the weights stay, and the next step equals the step of a trainer that was
 * never stopped (no random stream consumed, no half-applied update). */
static void test_progress_stops(score_model *m) {
    score_trainer_params tp = score_rl_training_params_default();
    tp.learning_rate = 1e-3f;
    progress_probe probe = {0};
    score_rl_params p = score_rl_params_default();
    p.samples_per_problem = 2;
    p.max_new_tokens = 5;
    p.training = &tp;
    p.progress = stop_in_phase;
    p.progress_user_data = &probe;
    score_rl_trainer *stopped = NULL, *never = NULL;
    CHECK(score_rl_trainer_new(m, &p, &stopped) == SCORE_OK);
    p.progress = NULL;
    CHECK(score_rl_trainer_new(m, &p, &never) == SCORE_OK);
    if (stopped == NULL || never == NULL) return;
    const char *problems[] = {"What is 2 + 3?", "Compute 12 * 4."};
    const char *references[] = {"5", "48"};
    score_rl_stats st = {.struct_size = sizeof st};
    char tmp[] = "/tmp/score-progress-XXXXXX";
    CHECK(mkdtemp(tmp) != NULL);
    size_t n0 = 0, n1 = 0;
    unsigned char *before = exported_weights(stopped, tmp, "before", &n0);
    const char *phases[] = {"rollout", "rewards", "reference", "update"};
    for (size_t i = 0; i < 4; i++) {
        probe.stop_phase = phases[i];
        CHECK_ERR(score_rl_step(stopped, problems, references, 2, digit_reward, NULL, &st), SCORE_ERR_ABORTED, phases[i]);
    }
    unsigned char *after = exported_weights(stopped, tmp, "after", &n1);
    CHECK(before != NULL && after != NULL && n0 == n1 && memcmp(before, after, n0) == 0);
    free(before);
    free(after);
    probe = (progress_probe){0};
    CHECK(score_rl_step(stopped, problems, references, 2, digit_reward, NULL, &st) == SCORE_OK && st.step == 1);
    CHECK(!probe.inconsistent && probe.calls[0] >= st.generated_tokens && probe.calls[1] == 8 && probe.calls[2] == 2);
    CHECK(probe.calls[3] == 1 && probe.calls[4] == 0);
    CHECK(score_rl_step(never, problems, references, 2, digit_reward, NULL, &st) == SCORE_OK && st.step == 1);
    unsigned char *a = exported_weights(stopped, tmp, "a", &n0), *b = exported_weights(never, tmp, "b", &n1);
    CHECK(a != NULL && b != NULL && n0 == n1 && memcmp(a, b, n0) == 0);
    free(a);
    free(b);

    /* The data-driven calls stop too. */
    score_rollout *r = NULL;
    probe.stop_phase = "rollout";
    CHECK_ERR(score_rl_rollout(stopped, problems, 2, &r), SCORE_ERR_ABORTED, "rollout");
    CHECK(r == NULL);
    probe.stop_phase = NULL;
    CHECK(score_rl_rollout(stopped, problems, 2, &r) == SCORE_OK);
    float rewards[8] = {1, 0, 0, 1, 0, 0, 1, 1};
    probe.stop_phase = "update";
    CHECK_ERR(score_rl_update(stopped, r, rewards, 8, &st), SCORE_ERR_ABORTED, "update");
    probe.stop_phase = NULL;
    CHECK(score_rl_update(stopped, r, rewards, 8, &st) == SCORE_OK && st.step == 2);
    score_rollout_free(r);

    /* Evaluation. */
    score_eval_params ep = score_eval_params_default();
    ep.max_new_tokens = 4;
    ep.verifier = SCORE_VERIFY_EXACT;
    ep.progress = stop_in_phase;
    ep.progress_user_data = &probe;
    score_eval_result res = {.struct_size = sizeof res};
    probe.stop_phase = "evaluate";
    CHECK_ERR(score_evaluate(m, &ep, problems, references, 2, NULL, NULL, &res), SCORE_ERR_ABORTED, "evaluate");
    probe.stop_phase = "rewards";
    CHECK_ERR(score_evaluate(m, &ep, problems, references, 2, NULL, NULL, &res), SCORE_ERR_ABORTED, "rewards");
    probe.stop_phase = NULL;
    CHECK(score_evaluate(m, &ep, problems, references, 2, NULL, NULL, &res) == SCORE_OK && res.problems == 2);
    score_rl_trainer_free(stopped);
    score_rl_trainer_free(never);
}

static void test_score_rl_steps(score_model *m) {
    score_trainer_params tp = score_rl_training_params_default();
    tp.learning_rate = 1e-3f;
    score_rl_params p = score_rl_params_default();
    p.samples_per_problem = 2;
    p.max_new_tokens = 5;
    p.instruction = "Fix the answer above if needed.";
    p.training = &tp;
    score_rl_trainer *t = NULL;
    CHECK(score_rl_trainer_new(m, &p, &t) == SCORE_OK);
    if (t == NULL) return;

    int32_t stage = 0;
    CHECK(score_rl_trainer_get_stage(t, &stage) == SCORE_OK && stage == 1);
    CHECK_ERR(score_rl_trainer_set_stage(t, 3), SCORE_ERR_INVALID_ARGUMENT, "stage 3");
    CHECK_ERR(score_rl_trainer_set_stage(NULL, 2), SCORE_ERR_INVALID_ARGUMENT, "trainer is NULL");
    CHECK_ERR(score_rl_trainer_get_stage(t, NULL), SCORE_ERR_INVALID_ARGUMENT, "stage is NULL");

    const char *problems[] = {"What is 2 + 3?", "Compute 12 * 4."};
    const char *references[] = {"5", "48"};
    const char *one_null[] = {"5", NULL};
    score_rl_stats st = {.struct_size = sizeof st};
    int calls = 0;
    CHECK(score_rl_step(t, problems, references, 2, digit_reward, &calls, &st) == SCORE_OK);
    CHECK(calls == 2 * 2 * 2 && st.step == 1 && st.stage == 1 && st.turns == 2 && st.rollouts == 4);
    CHECK(st.generated_tokens > 0 && st.generated_tokens <= 4 * 2 * 5);
    for (int i = 0; i < st.turns; i++) {
        CHECK(st.reward_per_turn[i] >= 0 && st.reward_per_turn[i] <= 1);
        CHECK(st.zero_signal_fraction[i] >= 0 && st.zero_signal_fraction[i] <= 1);
        CHECK(isfinite(st.kl_per_turn[i]));
    }
    CHECK(isfinite(st.loss) && st.grad_norm >= 0 && fabs(st.learning_rate - 1e-3) < 1e-9 && !st.skipped_non_finite);
    CHECK(st.rollout_seconds > 0 && st.update_seconds > 0);

    /* Bad input to a step. */
    CHECK_ERR(score_rl_step(NULL, problems, references, 2, digit_reward, NULL, &st), SCORE_ERR_INVALID_ARGUMENT, "trainer is NULL");
    CHECK_ERR(score_rl_step(t, NULL, references, 2, digit_reward, NULL, &st), SCORE_ERR_INVALID_ARGUMENT, "problems is NULL");
    CHECK_ERR(score_rl_step(t, problems, NULL, 2, digit_reward, NULL, &st), SCORE_ERR_INVALID_ARGUMENT, "references is NULL");
    CHECK_ERR(score_rl_step(t, problems, one_null, 2, digit_reward, NULL, &st), SCORE_ERR_INVALID_ARGUMENT, "references[1] is NULL");
    CHECK_ERR(score_rl_step(t, problems, references, 0, digit_reward, NULL, &st), SCORE_ERR_INVALID_ARGUMENT, "n is 0");
    CHECK_ERR(score_rl_step(t, problems, references, 2, NULL, NULL, &st), SCORE_ERR_INVALID_ARGUMENT, "reward_fn is NULL");
    score_rl_stats zero = {.struct_size = 0};
    CHECK_ERR(score_rl_step(t, problems, references, 2, digit_reward, NULL, &zero), SCORE_ERR_INVALID_ARGUMENT, "struct_size");

    /* A reward function returning NaN or Inf fails the step and leaves the weights alone. */
    char tmp[] = "/tmp/score-rl-XXXXXX";
    CHECK(mkdtemp(tmp) != NULL);
    size_t n_before = 0, n_after = 0;
    unsigned char *before = exported_weights(t, tmp, "before", &n_before);
    CHECK_ERR(score_rl_step(t, problems, references, 2, nan_reward, NULL, &st), SCORE_ERR_INVALID_ARGUMENT, "returned nan");
    CHECK_ERR(score_rl_step(t, problems, references, 2, inf_reward, NULL, &st), SCORE_ERR_INVALID_ARGUMENT, "returned inf");
    unsigned char *after = exported_weights(t, tmp, "after", &n_after);
    CHECK(before != NULL && after != NULL && n_before == n_after && n_before > 0 && memcmp(before, after, n_before) == 0);
    free(before);
    free(after);
    /* ... and the next good step works (and counts from where it was). */
    CHECK(score_rl_step(t, problems, references, 2, digit_reward, NULL, &st) == SCORE_OK && st.step == 2);

    /* An older, shorter stats struct gets only its own fields. */
    unsigned char raw[sizeof(score_rl_stats) + 8];
    memset(raw, 0xAB, sizeof raw);
    score_rl_stats *small = (score_rl_stats *)raw;
    small->struct_size = 16;
    CHECK(score_rl_trainer_set_stage(t, 2) == SCORE_OK);
    CHECK(score_rl_trainer_get_stage(t, &stage) == SCORE_OK && stage == 2);
    CHECK(score_rl_trainer_use_current_as_reference(t) == SCORE_OK);
    CHECK_ERR(score_rl_trainer_use_current_as_reference(NULL), SCORE_ERR_INVALID_ARGUMENT, "trainer is NULL");
    CHECK(score_rl_step(t, problems, references, 2, digit_reward, NULL, small) == SCORE_OK);
    CHECK(small->struct_size == 16 && small->stage == 2 && small->step == 3 && raw[16] == 0xAB);

    /* The data-driven path: rollout, rewards from here, update. */
    score_rollout *r = NULL;
    CHECK_ERR(score_rl_rollout(t, problems, 0, &r), SCORE_ERR_INVALID_ARGUMENT, "n_problems is 0");
    CHECK_ERR(score_rl_rollout(t, problems, 2, NULL), SCORE_ERR_INVALID_ARGUMENT, "out is NULL");
    CHECK_ERR(score_rl_rollout(NULL, problems, 2, &r), SCORE_ERR_INVALID_ARGUMENT, "trainer is NULL");
    CHECK(score_rl_rollout(t, problems, 2, &r) == SCORE_OK);
    CHECK(score_rollout_count(r) == 4);
    size_t problem = 9, n_att = 0;
    CHECK(score_rollout_episode(r, 3, &problem, NULL, NULL, NULL, NULL, &n_att) == SCORE_OK && problem == 1 && n_att == 2);
    float rewards[8] = {1, 0, 0, 1, 0, 0, 1, 1};
    CHECK_ERR(score_rl_update(t, r, rewards, 7, &st), SCORE_ERR_INVALID_ARGUMENT, "n_rewards 7");
    CHECK_ERR(score_rl_update(t, r, NULL, 8, &st), SCORE_ERR_INVALID_ARGUMENT, "rewards is NULL");
    CHECK_ERR(score_rl_update(t, NULL, rewards, 8, &st), SCORE_ERR_INVALID_ARGUMENT, "rollout is NULL");
    CHECK_ERR(score_rl_update(NULL, r, rewards, 8, &st), SCORE_ERR_INVALID_ARGUMENT, "trainer is NULL");
    rewards[5] = NAN;
    CHECK_ERR(score_rl_update(t, r, rewards, 8, &st), SCORE_ERR_INVALID_ARGUMENT, "nan");
    rewards[5] = 0;
    CHECK(score_rl_update(t, r, rewards, 8, &st) == SCORE_OK);
    CHECK(st.step == 4 && st.stage == 2 && st.rollouts == 4 && st.rollout_seconds == 0);
    CHECK(fabs(st.reward_per_turn[0] - 0.5) < 1e-9 && fabs(st.reward_per_turn[1] - 0.5) < 1e-9);
    score_rollout_free(r);

    /* A rollout with more attempts than the trainer takes is refused. */
    score_session *s = NULL;
    CHECK(score_session_new(m, NULL, &s) == SCORE_OK);
    score_revise_params rp = score_revise_params_default();
    rp.attempts = 3;
    score_generate_params gp = score_generate_params_default();
    gp.max_new_tokens = 3;
    CHECK(score_rollout_run(s, problems, 1, &rp, &gp, &r) == SCORE_OK);
    float three[3] = {0, 0, 0};
    CHECK_ERR(score_rl_update(t, r, three, 2, &st), SCORE_ERR_INVALID_ARGUMENT, "episode 0 has 3 attempts");
    score_rollout_free(r);
    score_session_free(s);

    /* Save, resume, and the resumed trainer takes the next step. */
    char dir[512];
    snprintf(dir, sizeof dir, "%s/checkpoint", tmp);
    CHECK_ERR(score_rl_trainer_save(t, NULL), SCORE_ERR_INVALID_ARGUMENT, "dir is NULL");
    CHECK(score_rl_trainer_save(t, dir) == SCORE_OK);
    score_rl_trainer *resumed = NULL;
    p.stage = 2;
    CHECK_ERR(score_rl_trainer_resume(m, "/nonexistent/checkpoint", &p, &resumed), SCORE_ERR_IO, "/nonexistent/checkpoint");
    CHECK(score_rl_trainer_resume(m, dir, &p, &resumed) == SCORE_OK);
    CHECK(score_rl_step(resumed, problems, references, 2, digit_reward, NULL, &st) == SCORE_OK && st.step == 5);
    score_rl_trainer_free(resumed);
    score_rl_trainer_free(t);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    CHECK(system(cmd) == 0);
}

static void test_verify(void) {
    float r = -1;
    CHECK(score_verify(SCORE_VERIFY_EXACT, 1e-6, "  Paris.  ", "paris", &r) == SCORE_OK && r == 1);
    CHECK(score_verify(SCORE_VERIFY_EXACT, 1e-6, "London", "Paris", &r) == SCORE_OK && r == 0);
    CHECK(score_verify(SCORE_VERIFY_NUMERIC, 1e-6, "The total is 1,234 dollars.", "1234", &r) == SCORE_OK && r == 1);
    CHECK(score_verify(SCORE_VERIFY_NUMERIC, 1e-6, "3.14", "3.14159", &r) == SCORE_OK && r == 0);
    CHECK(score_verify(SCORE_VERIFY_NUMERIC, 0.01, "3.14", "3.14159", &r) == SCORE_OK && r == 1);
    CHECK(score_verify(SCORE_VERIFY_MATH, 1e-6,
                       "Final Answer: The final answer is $\\frac{1}{2}$. I hope it is correct.", "0.5", &r) == SCORE_OK && r == 1);
    CHECK(score_verify(SCORE_VERIFY_MATH, 1e-6, "\\boxed{1/2}", "1/3", &r) == SCORE_OK && r == 0);
    CHECK(score_verify(SCORE_VERIFY_MATH, 1e-6, "", "", &r) == SCORE_OK && r == 0);
    CHECK_ERR(score_verify(3, 1e-6, "1", "1", &r), SCORE_ERR_INVALID_ARGUMENT, "kind 3");
    CHECK_ERR(score_verify(-1, 1e-6, "1", "1", &r), SCORE_ERR_INVALID_ARGUMENT, "kind -1");
    CHECK_ERR(score_verify(SCORE_VERIFY_NUMERIC, -1, "1", "1", &r), SCORE_ERR_INVALID_ARGUMENT, "tolerance");
    CHECK_ERR(score_verify(SCORE_VERIFY_NUMERIC, NAN, "1", "1", &r), SCORE_ERR_INVALID_ARGUMENT, "tolerance");
    CHECK_ERR(score_verify(SCORE_VERIFY_EXACT, 1e-6, NULL, "1", &r), SCORE_ERR_INVALID_ARGUMENT, "attempt is NULL");
    CHECK_ERR(score_verify(SCORE_VERIFY_EXACT, 1e-6, "1", NULL, &r), SCORE_ERR_INVALID_ARGUMENT, "reference is NULL");
    CHECK_ERR(score_verify(SCORE_VERIFY_EXACT, 1e-6, "1", "1", NULL), SCORE_ERR_INVALID_ARGUMENT, "reward is NULL");
    const char invalid[] = {(char)0xFF, 0};
    CHECK_ERR(score_verify(SCORE_VERIFY_EXACT, 1e-6, invalid, "1", &r), SCORE_ERR_INVALID_ARGUMENT, "UTF-8");
}

/* score_evaluate against the same greedy attempts from score_rollout_run,
 * scored here: the metrics must be the ones computed by hand. */
static void test_evaluate(score_model *m, score_model *plain) {
    const char *problems[] = {"What is 2 + 3?", "Compute 12 * 4.", "1+1", "Name a prime.", "Spell cat."};
    enum { N = 5 };
    const char *instruction = "Fix the answer above if needed.";
    score_session *s = NULL;
    score_rollout *r = NULL;
    CHECK(score_session_new(m, NULL, &s) == SCORE_OK);
    score_revise_params rp = score_revise_params_default();
    rp.instruction = instruction;
    score_generate_params gp = score_generate_params_default();
    gp.temperature = 0;
    gp.max_new_tokens = 6;
    CHECK(score_rollout_run(s, problems, N, &rp, &gp, &r) == SCORE_OK);
    if (r == NULL) return;
    const char *first[N];
    int right[N][2], calls = 0;
    for (size_t i = 0; i < N; i++) {
        size_t n_att = 0;
        CHECK(score_rollout_episode(r, i, NULL, NULL, NULL, NULL, NULL, &n_att) == SCORE_OK && n_att == 2);
        for (size_t a = 0; a < 2; a++) {
            const char *text = "";
            CHECK(score_rollout_attempt(r, i, a, NULL, NULL, NULL, NULL, NULL, &text) == SCORE_OK);
            right[i][a] = even_length_reward(NULL, text, NULL, NULL) >= 1;
            if (a == 0) first[i] = text;
        }
    }
    double t1 = 0, t2 = 0, i2c = 0, c2i = 0;
    for (int i = 0; i < N; i++) {
        t1 += right[i][0];
        t2 += right[i][1];
        i2c += !right[i][0] && right[i][1];
        c2i += right[i][0] && !right[i][1];
    }

    score_eval_params ep = score_eval_params_default();
    ep.max_new_tokens = 6;
    ep.instruction = instruction;
    score_eval_result res = {.struct_size = sizeof res};
    CHECK(score_evaluate(m, &ep, problems, problems, N, even_length_reward, &calls, &res) == SCORE_OK);
    CHECK(calls == 2 * N && res.problems == N && res.attempts == 2);
    CHECK(fabs(res.acc_t1 - t1 / N) < 1e-12 && fabs(res.acc_t2 - t2 / N) < 1e-12);
    CHECK(res.accuracy[0] == res.acc_t1 && res.accuracy[1] == res.acc_t2);
    CHECK(fabs(res.delta_i_to_c - i2c / N) < 1e-12 && fabs(res.delta_c_to_i - c2i / N) < 1e-12);
    CHECK(fabs(res.delta - (res.delta_i_to_c - res.delta_c_to_i)) < 1e-12);
    CHECK(res.answer_changed >= 0 && res.answer_changed <= 1);
    CHECK(res.edit_distance_ratio >= 0 && res.edit_distance_ratio <= 1);

    /* Without a callback the verifier scores: attempt 1's own text is its exact reference. */
    ep.verifier = SCORE_VERIFY_EXACT;
    CHECK(score_evaluate(m, &ep, problems, first, N, NULL, NULL, &res) == SCORE_OK);
    int nonblank = 0;
    for (int i = 0; i < N; i++) nonblank += strspn(first[i], " \t\n\r") < strlen(first[i]);
    CHECK(fabs(res.acc_t1 - (double)nonblank / N) < 1e-12);
    score_rollout_free(r);
    score_session_free(s);

    /* Bad input. */
    ep = score_eval_params_default();
    const char *one_null[] = {"a", NULL};
    CHECK_ERR(score_evaluate(NULL, &ep, problems, problems, 1, NULL, NULL, &res), SCORE_ERR_INVALID_ARGUMENT, "model is NULL");
    CHECK_ERR(score_evaluate(m, &ep, problems, problems, 1, NULL, NULL, NULL), SCORE_ERR_INVALID_ARGUMENT, "out is NULL");
    CHECK_ERR(score_evaluate(plain, &ep, problems, problems, 1, NULL, NULL, &res), SCORE_ERR_INVALID_ARGUMENT, "no tokenizer.json");
    CHECK_ERR(score_evaluate(m, &ep, problems, problems, 0, NULL, NULL, &res), SCORE_ERR_INVALID_ARGUMENT, "n is 0");
    CHECK_ERR(score_evaluate(m, &ep, NULL, problems, 1, NULL, NULL, &res), SCORE_ERR_INVALID_ARGUMENT, "problems is NULL");
    CHECK_ERR(score_evaluate(m, &ep, problems, one_null, 2, NULL, NULL, &res), SCORE_ERR_INVALID_ARGUMENT, "references[1] is NULL");
    ep.max_new_tokens = 4;
    CHECK_ERR(score_evaluate(m, &ep, problems, problems, 1, nan_reward, NULL, &res), SCORE_ERR_INVALID_ARGUMENT, "returned nan");
    ep.attempts = 0;
    CHECK_ERR(score_evaluate(m, &ep, problems, problems, 1, NULL, NULL, &res), SCORE_ERR_INVALID_ARGUMENT, "attempts 0");
    ep.attempts = SCORE_RL_MAX_TURNS + 1;
    CHECK_ERR(score_evaluate(m, &ep, problems, problems, 1, NULL, NULL, &res), SCORE_ERR_INVALID_ARGUMENT, "SCORE_RL_MAX_TURNS");
    ep = score_eval_params_default();
    ep.verifier = 5;
    CHECK_ERR(score_evaluate(m, &ep, problems, problems, 1, NULL, NULL, &res), SCORE_ERR_INVALID_ARGUMENT, "kind 5");
    ep = score_eval_params_default();
    ep.tolerance = -1;
    CHECK_ERR(score_evaluate(m, &ep, problems, problems, 1, NULL, NULL, &res), SCORE_ERR_INVALID_ARGUMENT, "tolerance");
    ep = score_eval_params_default();
    ep.max_new_tokens = -1;
    CHECK_ERR(score_evaluate(m, &ep, problems, problems, 1, NULL, NULL, &res), SCORE_ERR_INVALID_ARGUMENT, "max_new_tokens -1");
    score_eval_result bad = {.struct_size = 0};
    CHECK_ERR(score_evaluate(m, NULL, problems, problems, 1, NULL, NULL, &bad), SCORE_ERR_INVALID_ARGUMENT, "struct_size");
}

static void test_score(void) {
    test_score_rl_params();
    test_verify();
    score_model *m = NULL, *plain = NULL;
    CHECK(score_model_load(model_path("qwen2-chat"), NULL, &m) == SCORE_OK);
    CHECK(score_model_load(model_path("qwen2"), NULL, &plain) == SCORE_OK);
    if (m == NULL || plain == NULL) return;
    test_score_rl_create_errors(m, plain);
    test_score_rl_steps(m);
    test_progress_stops(m);
    test_evaluate(m, plain);
    score_model_free(m);
    score_model_free(plain);
}

int main(int argc, char **argv) {
    snprintf(models, sizeof models, "%s", argc > 1 ? argv[1] : "Tests/Fixtures/models");
    test_library();
    test_load_errors();
    test_model();
    test_generation();
    test_rollouts();
    test_score();
    if (failures) {
        fprintf(stderr, "test_capi: %d failure(s)\n", failures);
        return 1;
    }
    printf("test_capi: all checks passed\n");
    return 0;
}
