/* The parts of the ABI that are plain C: the thread-local error message,
 * and compile-time checks that the public structs keep their layout. */
#include "score.h"
#include "score_abi_internal.h"

#include <string.h>

static _Thread_local char last_error[1024];

const char *score_last_error(void) { return last_error; }

void scoreabi_set_last_error(const char *msg) {
    if (msg == NULL) {
        last_error[0] = '\0';
        return;
    }
    size_t n = strlen(msg);
    if (n >= sizeof last_error) {
        n = sizeof last_error - 1;
        /* do not cut a UTF-8 sequence in half */
        while (n > 0 && ((unsigned char)msg[n] & 0xC0) == 0x80) n--;
    }
    memcpy(last_error, msg, n);
    last_error[n] = '\0';
}

/* Layout is ABI: fields are only ever appended. */
_Static_assert(offsetof(score_model_params, struct_size) == 0, "struct_size first");
_Static_assert(sizeof(score_model_params) == 20, "score_model_params layout");
_Static_assert(offsetof(score_model_info, struct_size) == 0, "struct_size first");
_Static_assert(offsetof(score_model_info, n_params) == 72, "score_model_info layout");
_Static_assert(sizeof(score_model_info) == 128, "score_model_info layout");
_Static_assert(sizeof(score_session_params) == 16, "score_session_params layout");
_Static_assert(offsetof(score_generate_params, stop_ids) == 32, "score_generate_params layout");
_Static_assert(offsetof(score_generate_params, stop_strings) == 48, "score_generate_params layout");
_Static_assert(sizeof(score_generate_params) == 64, "score_generate_params layout");
_Static_assert(offsetof(score_trainer_params, struct_size) == 0, "struct_size first");
_Static_assert(offsetof(score_trainer_params, learning_rate) == 20, "score_trainer_params layout");
_Static_assert(offsetof(score_trainer_params, seed) == 80, "score_trainer_params layout");
_Static_assert(sizeof(score_trainer_params) == 88, "score_trainer_params layout");
_Static_assert(offsetof(score_train_stats, loss) == 8, "score_train_stats layout");
_Static_assert(offsetof(score_train_stats, step) == 64, "score_train_stats layout");
_Static_assert(offsetof(score_train_stats, optimizer_stepped) == 80, "score_train_stats layout");
_Static_assert(sizeof(score_train_stats) == 88, "score_train_stats layout");
_Static_assert(offsetof(score_revise_params, task_prompt) == 16, "score_revise_params layout");
_Static_assert(sizeof(score_revise_params) == 40, "score_revise_params layout");
_Static_assert(offsetof(score_rl_params, struct_size) == 0, "struct_size first");
_Static_assert(offsetof(score_rl_params, micro_batch) == 48, "score_rl_params layout");
_Static_assert(offsetof(score_rl_params, instruction) == 56, "score_rl_params layout");
_Static_assert(offsetof(score_rl_params, seed) == 80, "score_rl_params layout");
_Static_assert(offsetof(score_rl_params, training) == 88, "score_rl_params layout");
_Static_assert(offsetof(score_rl_params, progress) == 96, "score_rl_params layout");
_Static_assert(sizeof(score_rl_params) == 112, "score_rl_params layout");
_Static_assert(offsetof(score_rl_stats, struct_size) == 0, "struct_size first");
_Static_assert(offsetof(score_rl_stats, generated_tokens) == 24, "score_rl_stats layout");
_Static_assert(offsetof(score_rl_stats, reward_per_turn) == 32, "score_rl_stats layout");
_Static_assert(offsetof(score_rl_stats, answer_change_rate) == 224, "score_rl_stats layout");
_Static_assert(offsetof(score_rl_stats, skipped_non_finite) == 280, "score_rl_stats layout");
_Static_assert(sizeof(score_rl_stats) == 288, "score_rl_stats layout");
_Static_assert(offsetof(score_eval_params, tolerance) == 16, "score_eval_params layout");
_Static_assert(offsetof(score_eval_params, progress) == 48, "score_eval_params layout");
_Static_assert(sizeof(score_eval_params) == 64, "score_eval_params layout");
_Static_assert(offsetof(score_eval_result, accuracy) == 16, "score_eval_result layout");
_Static_assert(offsetof(score_eval_result, edit_distance_ratio) == 128, "score_eval_result layout");
_Static_assert(sizeof(score_eval_result) == 136, "score_eval_result layout");
_Static_assert(offsetof(score_collective, sum_f32) == 16, "score_collective layout");
_Static_assert(sizeof(score_collective) == 56, "score_collective layout");
