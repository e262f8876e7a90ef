/*
 * score.h — the C interface of libscore.
 *
 * libscore loads small Hugging Face decoder models (Llama, Mistral, Qwen2,
 * Qwen3) from safetensors checkpoints, scores token sequences, and (in later
 * versions) generates, revises and trains with SCoRe.
 *
 * Usage:
 *
 *     #include <score.h>
 *
 *     score_model_params mp = score_model_params_default();
 *     score_model *model = NULL;
 *     if (score_model_load("path/to/model", &mp, &model) != SCORE_OK) {
 *         fprintf(stderr, "load: %s\n", score_last_error());
 *         return 1;
 *     }
 *     int32_t ids[] = {1, 42, 7, 99};
 *     float lp[3];
 *     size_t n = 0;
 *     if (score_model_logprobs(model, ids, 4, lp, 3, &n) != SCORE_OK)
 *         fprintf(stderr, "logprobs: %s\n", score_last_error());
 *     for (size_t i = 0; i < n; i++)
 *         printf("log p(token %d) = %f\n", ids[i + 1], lp[i]);
 *     score_model_free(model);
 *
 * Conventions
 *  - Every fallible call returns a score_status (SCORE_OK == 0) and writes its
 *    results through out-parameters. On failure score_last_error() holds a
 *    message for the calling thread, and out-parameters are left untouched
 *    unless documented otherwise.
 *  - Caller buffers follow one pattern: (buf, cap, size_t *needed). *needed
 *    (if not NULL) receives the required count whenever the other arguments
 *    are valid. buf == NULL with cap == 0 is a size query: SCORE_OK, nothing
 *    else done. A non-zero cap that is too small gives
 *    SCORE_ERR_BUFFER_TOO_SMALL and nothing is written to buf.
 *  - Parameter structs begin with `uint32_t struct_size`, are passed by
 *    pointer, only grow at the end, and come from *_params_default(). The
 *    library reads only the fields covered by struct_size.
 *  - Every handle has exactly one *_free; freeing NULL is a no-op.
 *  - Bad input (NULL, out-of-range values, malformed files) is reported as a
 *    status, never by aborting the process.
 *
 * Thread safety
 *  - A score_model is immutable after loading: any number of threads may call
 *    the score_model_* functions on one model at the same time.
 *  - score_set_log_callback and score_set_n_threads change process-wide state;
 *    call them before starting work on other threads.
 */
#ifndef SCORE_H
#define SCORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SCORE_ABI_VERSION 1u

#if defined(__GNUC__) || defined(__clang__)
#define SCORE_DEPRECATED(func, hint) func __attribute__((deprecated(hint)))
#else
#define SCORE_DEPRECATED(func, hint) func
#endif

/* ------------------------------------------------------------------------ */
/* Status codes                                                              */
/* ------------------------------------------------------------------------ */

typedef int32_t score_status;

enum {
    SCORE_OK = 0,
    SCORE_ERR_INVALID_ARGUMENT = 1, /* NULL pointer, value out of range */
    SCORE_ERR_IO = 2,               /* file missing, unreadable, unwritable */
    SCORE_ERR_FORMAT = 3,           /* malformed JSON, safetensors, shapes */
    SCORE_ERR_UNSUPPORTED = 4,      /* valid input we do not implement */
    SCORE_ERR_OUT_OF_MEMORY = 5,
    SCORE_ERR_BUFFER_TOO_SMALL = 6, /* see *needed */
    SCORE_ERR_ABORTED = 7,          /* a callback asked to stop */
    SCORE_ERR_INTERNAL = 8
};

/* Numeric storage types of weights. */
enum {
    SCORE_DTYPE_F32 = 0,
    SCORE_DTYPE_F16 = 1,
    SCORE_DTYPE_BF16 = 2
};

/* Log levels passed to the log callback. */
enum {
    SCORE_LOG_ERROR = 0,
    SCORE_LOG_WARN = 1,
    SCORE_LOG_INFO = 2,
    SCORE_LOG_DEBUG = 3
};

/* ------------------------------------------------------------------------ */
/* Library                                                                   */
/* ------------------------------------------------------------------------ */

/* SCORE_ABI_VERSION of the loaded library; compare it with the header's. */
uint32_t score_abi_version(void);

/* "MAJOR.MINOR.PATCH". Static storage. */
const char *score_version_string(void);

/* A short English name of a status ("invalid argument", ...). Static storage;
 * unknown codes give "unknown status". */
const char *score_status_string(score_status status);

/* The message of the last failed call on this thread, or "" if none.
 * Valid until the next failing call on the same thread. */
const char *score_last_error(void);

/* Receives whole log lines (no trailing newline). Calls are serialised by a
 * lock, so the callback must return quickly and must not call back into
 * libscore. The default (fn == NULL) discards everything below
 * SCORE_LOG_WARN and writes the rest to stderr. */
typedef void (*score_log_fn)(int32_t level, const char *line, void *user_data);
void score_set_log_callback(score_log_fn fn, void *user_data);

/* Number of threads used by matrix products and kernels (0 = all cores).
 * Process-wide. Returns SCORE_ERR_INVALID_ARGUMENT for n < 0.
 * score_get_n_threads reports the resolved count (never 0). */
score_status score_set_n_threads(int32_t n_threads);
int32_t score_get_n_threads(void);

/* Sizes of the public structs, so bindings can check their mirrors. */
enum {
    SCORE_TYPE_MODEL_PARAMS = 0,
    SCORE_TYPE_MODEL_INFO = 1,
    SCORE_TYPE_SESSION_PARAMS = 2,
    SCORE_TYPE_GENERATE_PARAMS = 3
    /* tokenizer ids from 10, training ids from 20 */
};
/* 0 for an unknown id. */
size_t score_sizeof(int32_t type_id);

/* ------------------------------------------------------------------------ */
/* Model                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct score_model score_model;

typedef struct score_model_params {
    uint32_t struct_size; /* sizeof(score_model_params) */
    /* Map weight files and use F32 tensors in place (true), or read
     * everything into private memory (false). */
    bool use_mmap;
    /* Reject sequences longer than this (0 = the model's
     * max_position_embeddings). Must not exceed it. */
    int32_t max_context;
} score_model_params;

score_model_params score_model_params_default(void);

/* Loads a Hugging Face model directory: config.json, optional
 * generation_config.json, and model.safetensors or shards listed in
 * model.safetensors.index.json. On success *out owns the model; release it
 * with score_model_free. params may be NULL for the defaults. */
score_status score_model_load(const char *dir, const score_model_params *params,
                              score_model **out);

/* Frees the model. NULL is a no-op. */
void score_model_free(score_model *model);

typedef struct score_model_info {
    uint32_t struct_size;      /* set by the caller: sizeof(score_model_info) */
    char architecture[64];     /* e.g. "Qwen2ForCausalLM", NUL-terminated */
    uint64_t n_params;         /* parameters (tied matrices counted once) */
    int32_t vocab_size;
    int32_t context_length;    /* usable context (see max_context) */
    int32_t hidden_size;
    int32_t n_layers;
    int32_t n_heads;
    int32_t n_kv_heads;
    int32_t head_dim;
    int32_t dtype;             /* SCORE_DTYPE_* of the stored weights */
    uint64_t bytes_in_memory;  /* weight bytes held: private + mapped */
    int32_t bos_token_id;      /* -1 if none */
    int32_t eos_token_id;      /* first EOS id, -1 if none */
} score_model_info;

/* Fills *info up to info->struct_size bytes; the caller sets struct_size. */
score_status score_model_get_info(const score_model *model, score_model_info *info);

/* All EOS ids (config.json and generation_config.json, deduplicated) into
 * ids[0..cap). *needed receives the count. */
score_status score_model_eos_ids(const score_model *model, int32_t *ids, size_t cap,
                                 size_t *needed);

/* ------------------------------------------------------------------------ */
/* Scoring (teacher forcing)                                                 */
/* ------------------------------------------------------------------------ */

/* Log-probabilities of tokens[1..n) under the model:
 *   out[i] = log p(tokens[i+1] | tokens[0..i]),  i = 0 .. n_tokens-2.
 * n_tokens must be >= 1 and <= the context length; every id must be in
 * [0, vocab_size). *needed receives n_tokens - 1 (0 when n_tokens == 1). The [tokens x vocab]
 * logits are never held whole. Safe to call from many threads on one model. */
score_status score_model_logprobs(const score_model *model, const int32_t *tokens,
                                  size_t n_tokens, float *out, size_t cap,
                                  size_t *needed);

/* Logits of the last position (the distribution of the next token) into
 * logits[0..cap); *needed receives vocab_size. */
score_status score_model_last_logits(const score_model *model, const int32_t *tokens,
                                     size_t n_tokens, float *logits, size_t cap,
                                     size_t *needed);

/* ------------------------------------------------------------------------ */
/* Tokenizer and chat templates                                              */
/* ------------------------------------------------------------------------ */

/* (section: tokenizer) */

/* Chat templates. Renders a conversation exactly as transformers'
 * tokenizer.apply_chat_template(messages, tokenize=False,
 * add_generation_prompt=...) does: the Jinja text of tokenizer_config.json's
 * "chat_template", with bos_token/eos_token and the other special tokens.
 *
 * roles[i] and contents[i] (i < n_messages, n_messages >= 1) are the
 * messages, NUL-terminated UTF-8. extra_json (may be NULL) is a JSON object
 * of further template variables, e.g. {"date_string": "26 Jul 2024",
 * "tools": [...]}. The text goes to buf[0..cap) with a terminating NUL;
 * *needed receives its length in bytes plus 1 for the NUL. (NULL, 0) is a
 * size query.
 *
 * Errors: SCORE_ERR_FORMAT for a template that does not parse,
 * SCORE_ERR_UNSUPPORTED for Jinja outside the supported subset,
 * SCORE_ERR_INVALID_ARGUMENT when rendering fails, in particular when the
 * template raises (score_last_error() then ends with
 * "chat template error: <the template's message>", e.g. "Conversation roles
 * must alternate user/assistant/user/assistant/..."). Rendering is bounded
 * (steps, output size, nesting), so a hostile template cannot hang.
 *
 * Thread safety: both functions use no shared state; call them from any
 * thread. */

/* template_source NULL renders ChatML, the fallback for models without a
 * template: "<|im_start|>{role}\n{content}<|im_end|>\n" per message, then
 * "<|im_start|>assistant\n" if add_generation_prompt. bos_token and
 * eos_token may be NULL (undefined in the template). */
score_status score_chat_render(const char *template_source, const char *bos_token,
                               const char *eos_token, const char *const *roles,
                               const char *const *contents, size_t n_messages,
                               bool add_generation_prompt, const char *extra_json,
                               char *buf, size_t cap, size_t *needed);

/* Reads model_dir/tokenizer_config.json (chat_template and special tokens),
 * with model_dir/chat_template.jinja taking precedence when present, as in
 * transformers. A config without chat_template renders ChatML (above). */
score_status score_chat_render_dir(const char *model_dir, const char *const *roles,
                                   const char *const *contents, size_t n_messages,
                                   bool add_generation_prompt, const char *extra_json,
                                   char *buf, size_t cap, size_t *needed);

/* ------------------------------------------------------------------------ */
/* Generation and the revise loop                                            */
/* ------------------------------------------------------------------------ */

/* (section: generation) */

typedef struct score_session score_session;

typedef struct score_session_params {
    uint32_t struct_size; /* sizeof(score_session_params) */
    /* Seed of the session's random streams. Two sessions with the same seed
     * and the same calls sample the same tokens. */
    uint64_t seed;
} score_session_params;

score_session_params score_session_params_default(void);

/* A session holds generation state (random streams, scratch) over a model.
 * The model must outlive the session. One thread at a time per session;
 * sessions over one model may run on different threads. */
score_status score_session_new(const score_model *model, const score_session_params *params,
                               score_session **out);
void score_session_free(score_session *session);

/* Why a sequence ended. */
enum {
    SCORE_FINISH_STOP_TOKEN = 0,   /* an EOS/stop id was generated (it is the last token) */
    SCORE_FINISH_LENGTH = 1,       /* max_new_tokens reached */
    SCORE_FINISH_ABORTED = 2,      /* the token callback returned false */
    SCORE_FINISH_CONTEXT_FULL = 3  /* no room left in the context window */
};

typedef struct score_generate_params {
    uint32_t struct_size;      /* sizeof(score_generate_params) */
    int32_t max_new_tokens;    /* >= 0; default 128 */
    float temperature;         /* 0 = greedy; default 1 */
    int32_t top_k;             /* 0 = off */
    float top_p;               /* (0, 1]; 1 = off */
    float min_p;               /* [0, 1]; 0 = off */
    float repetition_penalty;  /* > 0; 1 = off */
    /* Stop ids replacing the model's EOS ids when stop_ids != NULL
     * (n_stop_ids may then be 0: no stop token at all). */
    const int32_t *stop_ids;
    size_t n_stop_ids;
} score_generate_params;

score_generate_params score_generate_params_default(void);

/* Called after each generated token; return false to stop that sequence
 * (it ends with SCORE_FINISH_ABORTED). */
typedef bool (*score_token_fn)(size_t sequence, int32_t token, void *user_data);

typedef struct score_generation score_generation;

/* Continues n_prompts prompts (prompts[i] has prompt_lengths[i] >= 1 ids)
 * together: one pass over the weights per step for all unfinished
 * sequences; identical prompts are prefilled once. Each generated token
 * comes with its log-probability under softmax(logits / temperature) of the
 * model (before top-k/top-p/min-p and the repetition penalty), as RL needs.
 * On success *out owns the results; free with score_generation_free.
 * callback may be NULL. */
score_status score_generate(score_session *session, const int32_t *const *prompts,
                            const size_t *prompt_lengths, size_t n_prompts,
                            const score_generate_params *params, score_token_fn callback,
                            void *user_data, score_generation **out);

/* Number of sequences in a result. */
size_t score_generation_count(const score_generation *generation);

/* Sequence i's tokens and log-probs (both of length *n_tokens, valid until
 * the result is freed) and its SCORE_FINISH_* reason. Any out-pointer may be NULL. */
score_status score_generation_get(const score_generation *generation, size_t i,
                                  const int32_t **tokens, const float **logprobs,
                                  size_t *n_tokens, int32_t *finish_reason);

void score_generation_free(score_generation *generation);

/* ------------------------------------------------------------------------ */
/* Training                                                                  */
/* ------------------------------------------------------------------------ */

/* (section: training) */

#ifdef __cplusplus
}
#endif

#endif /* SCORE_H */
