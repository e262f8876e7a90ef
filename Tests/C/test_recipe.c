/* score_rl_run_recipe: the SCoRe recipe of score-cli train through the C API.
 * A short run writes OUT/last and OUT/best and reports every step; bad
 * arguments are statuses with messages and write nothing; a run stopped by
 * its step callback and resumed ends with the weights of an uninterrupted
 * run. Run by `make test` with the fixture models directory as argv[1]. */
#include <score.h>

#include <math.h>
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

static const char *problems[] = {"What is 2 + 3?", "What is 1 + 1?", "Name a colour."};
static const char *answers[] = {"5", "2", "red"};

/* What the callbacks saw. */
typedef struct {
    int reward_calls;
    int steps;
    int stages[16];
    int evaluations;
    int64_t stop_at; /* on_step returns false after this step (0: never) */
    int bad_reports;
} seen;

static float digit_reward(const char *problem, const char *attempt, const char *reference, void *user_data) {
    (void)problem;
    (void)reference;
    ((seen *)user_data)->reward_calls++;
    return strpbrk(attempt, "0123456789") != NULL ? 1.0f : 0.0f;
}

static bool on_step(const score_rl_recipe_step *step, void *user_data) {
    seen *s = user_data;
    if (step->struct_size != sizeof *step || step->stats == NULL || step->stats->turns != 2 ||
        step->step_in_stage < 1 || step->step > step->total_steps)
        s->bad_reports++;
    if (s->steps < 16) s->stages[s->steps] = step->stage;
    s->steps++;
    if (step->eval != NULL) {
        if (step->eval->problems != 2 || step->eval->attempts != 2) s->bad_reports++;
        s->evaluations++;
    }
    return step->step != s->stop_at;
}

static bool stop_at_update(const char *phase, int64_t done, int64_t total, void *user_data) {
    (void)done;
    (void)total;
    (void)user_data;
    return strcmp(phase, "update") != 0;
}

static bool exists(const char *dir, const char *file) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    return access(path, F_OK) == 0;
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

static bool same_file(const char *a, const char *b) {
    size_t na = 0, nb = 0;
    unsigned char *x = read_file(a, &na), *y = read_file(b, &nb);
    bool same = x != NULL && y != NULL && na == nb && na > 0 && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

/* A tiny, fast run: 2 samples of 2 attempts of at most 4 tokens, 2 problems per step. */
static score_trainer_params training;
static score_rl_params rl;

static score_rl_recipe_params small_params(void) {
    training = score_rl_training_params_default();
    training.learning_rate = 1e-2f;
    rl = score_rl_params_default();
    rl.samples_per_problem = 2;
    rl.max_new_tokens = 4;
    rl.temperature = 0.7f;
    rl.training = &training;
    score_rl_recipe_params p = score_rl_recipe_params_default();
    p.steps_per_stage = 1;
    p.problems_per_step = 2;
    p.save_every = 1;
    p.seed = 3;
    p.rl = &rl;
    return p;
}

static void test_defaults(void) {
    score_rl_recipe_params p = score_rl_recipe_params_default();
    CHECK(p.struct_size == sizeof p && score_sizeof(SCORE_TYPE_RL_RECIPE_PARAMS) == sizeof p);
    CHECK(score_sizeof(SCORE_TYPE_RL_RECIPE_STEP) == sizeof(score_rl_recipe_step));
    CHECK(score_sizeof(SCORE_TYPE_RL_RECIPE_RESULT) == sizeof(score_rl_recipe_result));
    CHECK(p.stage == SCORE_RECIPE_BOTH && p.rounds == 1 && p.steps_per_stage == 100 && p.problems_per_step == 16);
    CHECK(p.save_every == 25 && p.eval_every == 0 && !p.anchor_to_stage1 && p.seed == 0 && p.shards == 1);
    CHECK(p.verifier == SCORE_VERIFY_MATH && p.tolerance == 1e-6 && p.rl == NULL && p.collective == NULL);
}

static void test_bad_arguments(const score_model *m, const score_model *plain, const char *tmp) {
    char never[512];
    snprintf(never, sizeof never, "%s/never", tmp);
    seen s = {0};
    score_rl_recipe_params p = small_params();
    CHECK_ERR(score_rl_run_recipe(NULL, never, problems, answers, 3, NULL, NULL, 0, &p, false, digit_reward, NULL, &s, NULL),
              SCORE_ERR_INVALID_ARGUMENT, "model is NULL");
    CHECK_ERR(score_rl_run_recipe(m, NULL, problems, answers, 3, NULL, NULL, 0, &p, false, digit_reward, NULL, &s, NULL),
              SCORE_ERR_INVALID_ARGUMENT, "out_dir is NULL");
    CHECK_ERR(score_rl_run_recipe(m, never, problems, answers, 0, NULL, NULL, 0, &p, false, digit_reward, NULL, &s, NULL),
              SCORE_ERR_INVALID_ARGUMENT, "n is 0");
    CHECK_ERR(score_rl_run_recipe(m, never, NULL, answers, 3, NULL, NULL, 0, &p, false, digit_reward, NULL, &s, NULL),
              SCORE_ERR_INVALID_ARGUMENT, "problems is NULL");
    CHECK_ERR(score_rl_run_recipe(m, never, problems, answers, 3, NULL, answers, 2, &p, false, digit_reward, NULL, &s, NULL),
              SCORE_ERR_INVALID_ARGUMENT, "eval_problems is NULL");
    p.stage = 3;
    CHECK_ERR(score_rl_run_recipe(m, never, problems, answers, 3, NULL, NULL, 0, &p, false, digit_reward, NULL, &s, NULL),
              SCORE_ERR_INVALID_ARGUMENT, "stage 3 is not SCORE_RECIPE_BOTH");
    p = small_params();
    p.steps_per_stage = 0;
    CHECK_ERR(score_rl_run_recipe(m, never, problems, answers, 3, NULL, NULL, 0, &p, false, digit_reward, NULL, &s, NULL),
              SCORE_ERR_INVALID_ARGUMENT, "steps per stage must be in 1...");
    p = small_params();
    p.stage2_steps = -1;
    CHECK_ERR(score_rl_run_recipe(m, never, problems, answers, 3, NULL, NULL, 0, &p, false, digit_reward, NULL, &s, NULL),
              SCORE_ERR_INVALID_ARGUMENT, "Stage II steps must be in 1...");
    p = small_params();
    p.stage = SCORE_RECIPE_STAGE1;
    p.rounds = 2;
    CHECK_ERR(score_rl_run_recipe(m, never, problems, answers, 3, NULL, NULL, 0, &p, false, digit_reward, NULL, &s, NULL),
              SCORE_ERR_INVALID_ARGUMENT, "2 rounds need both stages");
    p = small_params();
    p.stage = SCORE_RECIPE_STAGE2;
    p.anchor_to_stage1 = true;
    CHECK_ERR(score_rl_run_recipe(m, never, problems, answers, 3, NULL, NULL, 0, &p, false, digit_reward, NULL, &s, NULL),
              SCORE_ERR_INVALID_ARGUMENT, "anchoring Stage II");
    p = small_params();
    p.eval_every = -1;
    CHECK_ERR(score_rl_run_recipe(m, never, problems, answers, 3, NULL, NULL, 0, &p, false, digit_reward, NULL, &s, NULL),
              SCORE_ERR_INVALID_ARGUMENT, "evaluation interval");
    p = small_params();
    p.struct_size = 2;
    CHECK_ERR(score_rl_run_recipe(m, never, problems, answers, 3, NULL, NULL, 0, &p, false, digit_reward, NULL, &s, NULL),
              SCORE_ERR_INVALID_ARGUMENT, "struct_size");
    p = small_params();
    rl.samples_per_problem = 1;
    CHECK_ERR(score_rl_run_recipe(m, never, problems, answers, 3, NULL, NULL, 0, &p, false, digit_reward, NULL, &s, NULL),
              SCORE_ERR_INVALID_ARGUMENT, "samples per problem must be");
    p = small_params();
    rl.attempts = 1; /* Stage I needs two */
    CHECK_ERR(score_rl_run_recipe(m, never, problems, answers, 3, NULL, NULL, 0, &p, false, digit_reward, NULL, &s, NULL),
              SCORE_ERR_INVALID_ARGUMENT, "Stage I");
    p = small_params();
    p.verifier = 9;
    CHECK_ERR(score_rl_run_recipe(m, never, problems, answers, 3, NULL, NULL, 0, &p, false, NULL, NULL, NULL, NULL),
              SCORE_ERR_INVALID_ARGUMENT, "verifier kind 9");
    p = small_params();
    CHECK_ERR(score_rl_run_recipe(plain, never, problems, answers, 3, NULL, NULL, 0, &p, false, digit_reward, NULL, &s, NULL),
              SCORE_ERR_INVALID_ARGUMENT, "no tokenizer.json");
    CHECK_ERR(score_rl_run_recipe(m, never, problems, answers, 3, NULL, NULL, 0, &p, true, digit_reward, NULL, &s, NULL),
              SCORE_ERR_INVALID_ARGUMENT, "holds no checkpoint to continue");
    score_rl_recipe_result r = {.struct_size = 0};
    CHECK_ERR(score_rl_run_recipe(m, never, problems, answers, 3, NULL, NULL, 0, &p, false, digit_reward, NULL, &s, &r),
              SCORE_ERR_INVALID_ARGUMENT, "result->struct_size");
    CHECK(access(never, F_OK) != 0); /* nothing was written */
    CHECK(s.reward_calls == 0 && s.steps == 0);
}

static void test_run(const score_model *m, const char *tmp) {
    char out[512];
    snprintf(out, sizeof out, "%s/run", tmp);
    seen s = {0};
    score_rl_recipe_params p = small_params();
    p.eval_every = 1;
    score_rl_recipe_result r = {.struct_size = sizeof r};
    CHECK(score_rl_run_recipe(m, out, problems, answers, 3, problems, answers, 2, &p, false, digit_reward, on_step, &s, &r) == SCORE_OK);
    CHECK(s.steps == 2 && s.stages[0] == 1 && s.stages[1] == 2 && s.evaluations == 2 && s.bad_reports == 0);
    CHECK(s.reward_calls > 0);
    CHECK(r.steps_trained == 2 && r.step == 2 && r.best_step >= 1 && r.best_reward >= 0 && r.best_reward <= 1);
    CHECK(exists(out, "last/trainer_state.json") && exists(out, "last/score_state.json") && exists(out, "last/model.safetensors"));
    CHECK(exists(out, "best/model.safetensors") && exists(out, "best/config.json") && exists(out, "best/tokenizer.json"));
    /* The directory holds a run now. */
    CHECK_ERR(score_rl_run_recipe(m, out, problems, answers, 3, NULL, NULL, 0, &p, false, digit_reward, NULL, &s, NULL),
              SCORE_ERR_INVALID_ARGUMENT, "already holds a run; pass resume = true");
    /* Resuming needs the run's settings (the step counts and rounds aside). */
    rl.samples_per_problem = 3;
    CHECK_ERR(score_rl_run_recipe(m, out, problems, answers, 3, NULL, NULL, 0, &p, true, digit_reward, NULL, &s, NULL),
              SCORE_ERR_INVALID_ARGUMENT, "other settings (rl->samples_per_problem)");
    p = small_params();
    CHECK_ERR(score_rl_run_recipe(m, out, problems, answers, 2, NULL, NULL, 0, &p, true, digit_reward, NULL, &s, NULL),
              SCORE_ERR_INVALID_ARGUMENT, "other settings (n (another number of problems))");
    /* A second round continues the run. */
    p.rounds = 2;
    memset(&s, 0, sizeof s);
    CHECK(score_rl_run_recipe(m, out, problems, answers, 3, NULL, NULL, 0, &p, true, digit_reward, on_step, &s, &r) == SCORE_OK);
    CHECK(r.steps_trained == 2 && r.step == 4 && s.steps == 2 && s.stages[0] == 1 && s.stages[1] == 2 && s.evaluations == 0);

    /* Stage I and Stage II with step counts of their own: 1 then 2. */
    snprintf(out, sizeof out, "%s/split", tmp);
    p = small_params();
    p.stage2_steps = 2;
    memset(&s, 0, sizeof s);
    CHECK(score_rl_run_recipe(m, out, problems, answers, 3, NULL, NULL, 0, &p, false, digit_reward, on_step, &s, &r) == SCORE_OK);
    CHECK(r.steps_trained == 3 && s.steps == 3 && s.stages[0] == 1 && s.stages[1] == 2 && s.stages[2] == 2);

    /* The built-in verifier (reward_fn NULL), Stage II alone. */
    snprintf(out, sizeof out, "%s/verifier", tmp);
    p = small_params();
    p.stage = SCORE_RECIPE_STAGE2;
    p.verifier = SCORE_VERIFY_EXACT;
    memset(&s, 0, sizeof s);
    CHECK(score_rl_run_recipe(m, out, problems, answers, 3, NULL, NULL, 0, &p, false, NULL, on_step, &s, &r) == SCORE_OK);
    CHECK(r.steps_trained == 1 && s.steps == 1 && s.stages[0] == 2 && s.reward_calls == 0);
    CHECK(exists(out, "last/score_state.json") && exists(out, "best/model.safetensors"));

    /* The progress callback stops a run before any update: nothing saved. */
    snprintf(out, sizeof out, "%s/progress", tmp);
    p = small_params();
    rl.progress = stop_at_update;
    CHECK_ERR(score_rl_run_recipe(m, out, problems, answers, 3, NULL, NULL, 0, &p, false, digit_reward, NULL, &s, NULL),
              SCORE_ERR_ABORTED, "stopped by the progress callback");
    CHECK(!exists(out, "last"));
}

/* Two rounds straight, against a run its step callback stops after step 3
 * (OUT/last then holds step 2) and that is resumed: the same weights. */
static void test_resume_equals_straight(const score_model *m, const char *tmp) {
    char straight[512], resumed[512], a[600], b[600];
    snprintf(straight, sizeof straight, "%s/straight", tmp);
    snprintf(resumed, sizeof resumed, "%s/resumed", tmp);
    score_rl_recipe_params p = small_params();
    p.rounds = 2;
    p.anchor_to_stage1 = true;
    seen s = {0};
    score_rl_recipe_result r = {.struct_size = sizeof r};
    CHECK(score_rl_run_recipe(m, straight, problems, answers, 3, NULL, NULL, 0, &p, false, digit_reward, on_step, &s, &r) == SCORE_OK);
    CHECK(r.step == 4 && s.steps == 4);
    seen t = {.stop_at = 3};
    CHECK_ERR(score_rl_run_recipe(m, resumed, problems, answers, 3, NULL, NULL, 0, &p, false, digit_reward, on_step, &t, &r),
              SCORE_ERR_ABORTED, "on_step stopped the run after step 3");
    t.stop_at = 0;
    CHECK(score_rl_run_recipe(m, resumed, problems, answers, 3, NULL, NULL, 0, &p, true, digit_reward, on_step, &t, &r) == SCORE_OK);
    CHECK(r.steps_trained == 2 && r.step == 4);
    for (int i = 0; i < 2; i++) {
        const char *file = i == 0 ? "last/model.safetensors" : "best/model.safetensors";
        snprintf(a, sizeof a, "%s/%s", straight, file);
        snprintf(b, sizeof b, "%s/%s", resumed, file);
        CHECK(same_file(a, b));
    }
}

int main(int argc, char **argv) {
    const char *models = argc > 1 ? argv[1] : "Tests/Fixtures/models";
    char chat[4200], plain_dir[4200];
    snprintf(chat, sizeof chat, "%s/qwen2-chat", models);
    snprintf(plain_dir, sizeof plain_dir, "%s/qwen2", models);
    char tmp[] = "/tmp/score-recipe-XXXXXX";
    if (mkdtemp(tmp) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    score_model *m = NULL, *plain = NULL;
    if (score_model_load(chat, NULL, &m) != SCORE_OK || score_model_load(plain_dir, NULL, &plain) != SCORE_OK) {
        fprintf(stderr, "load: %s\n", score_last_error());
        return 1;
    }
    test_defaults();
    test_bad_arguments(m, plain, tmp);
    test_run(m, tmp);
    test_resume_equals_straight(m, tmp);
    score_model_free(plain);
    score_model_free(m);
    char command[600];
    snprintf(command, sizeof command, "rm -rf '%s'", tmp);
    if (system(command) != 0) fprintf(stderr, "could not remove %s\n", tmp);
    if (failures) {
        fprintf(stderr, "test_recipe: %d failure(s)\n", failures);
        return 1;
    }
    printf("test_recipe: all checks passed\n");
    return 0;
}
