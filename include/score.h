/*
 * score.h — the C interface of libscore.
 *
 * libscore loads small Hugging Face decoder models (Llama, Mistral, Qwen2,
 * Qwen3) from safetensors checkpoints, scores token sequences, generates,
 * revises, and trains models to self-correct with SCoRe.
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

/* This machine and what libscore runs on it, as one JSON object: "cpu"
 * (brand string), "vendor", "family", "model", "features" (the vector
 * extensions found, e.g. "avx2", "avx512f", "avx512_bf16"),
 * "openblas_detected" (the core OpenBLAS picked when loaded),
 * "openblas_core" (the core it runs now: libscore re-selects one of this
 * CPU's tier when OpenBLAS picked a lower one) and "threads". Written with
 * its NUL into (buf, cap); *needed receives the size with the NUL
 * (buf NULL and cap 0: size query). Thread-safe. */
score_status score_system_info(char *buf, size_t cap, size_t *needed);

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
 * Process-wide. Returns SCORE_ERR_INVALID_ARGUMENT for n < 0 and for more
 * than max(256, 4 x the number of cores).
 * score_get_n_threads reports the resolved count (never 0). */
score_status score_set_n_threads(int32_t n_threads);
int32_t score_get_n_threads(void);

/* Sizes of the public structs, so bindings can check their mirrors. */
enum {
    SCORE_TYPE_MODEL_PARAMS = 0,
    SCORE_TYPE_MODEL_INFO = 1,
    SCORE_TYPE_SESSION_PARAMS = 2,
    SCORE_TYPE_GENERATE_PARAMS = 3,
    SCORE_TYPE_REVISE_PARAMS = 4,
    /* tokenizer ids from 10, training ids from 20 */
    SCORE_TYPE_TRAINER_PARAMS = 20,
    SCORE_TYPE_TRAIN_STATS = 21,
    SCORE_TYPE_RL_PARAMS = 22,
    SCORE_TYPE_RL_STATS = 23,
    SCORE_TYPE_EVAL_PARAMS = 24,
    SCORE_TYPE_EVAL_RESULT = 25,
    SCORE_TYPE_COLLECTIVE = 26,
    SCORE_TYPE_RL_RECIPE_PARAMS = 27,
    SCORE_TYPE_RL_RECIPE_STEP = 28,
    SCORE_TYPE_RL_RECIPE_RESULT = 29
};
/* 0 for an unknown id. */
size_t score_sizeof(int32_t type_id);

/* ------------------------------------------------------------------------ */
/* Model                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct score_model score_model;

typedef struct score_model_params {
    uint32_t struct_size; /* sizeof(score_model_params) */
    /* Map weight files and use F32/BF16 tensors in place (true, the
     * default), or read everything into private memory (false).
     * With mapping, the weight files must not be truncated or rewritten in
     * place while the model is loaded: the next access to a page past the
     * new end raises SIGBUS, which kills the process (the OS reports it
     * there, no status can). When files may change underneath (a training
     * run writing checkpoints in place, a network file system), load with
     * use_mmap = false. */
    bool use_mmap;
    /* Reject sequences longer than this (0 = the model's
     * max_position_embeddings). Must not exceed it. */
    int32_t max_context;
    /* Inference arithmetic: SCORE_COMPUTE_F32 (the default) or
     * SCORE_COMPUTE_BF16: BF16 weights times BF16-rounded activations with
     * F32 sums (vdpbf16ps where the CPU has it), about twice the prefill
     * rate, not bit-equal to F32; its KV caches hold BF16 keys and values
     * (half the memory per token). A BF16-compute model cannot be trained
     * (score_trainer_new fails): RL needs rollout log-probs equal to the
     * trainer's. */
    int32_t compute;
    /* Pack every weight matrix once at load into the layout our kernels
     * stream (true, the default: the fastest inference). A model loaded
     * only to be trained may pass false: trainers read row-major F32 and
     * would otherwise hold an unpacked copy next to the packed one.
     * SCORE_COMPUTE_BF16 needs true. */
    bool pack;
} score_model_params;

enum {
    SCORE_COMPUTE_F32 = 0,
    SCORE_COMPUTE_BF16 = 1,
};

score_model_params score_model_params_default(void);

/* Loads a Hugging Face model directory: config.json, optional
 * generation_config.json, and model.safetensors or shards listed in
 * model.safetensors.index.json. On success *out owns the model; release it
 * with score_model_free. params may be NULL for the defaults (weights
 * memory-mapped: see use_mmap about files changed on disk, SIGBUS). */
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

/* score_model_logprobs of several sequences in one pass over the weights
 * (their rows share every matrix product; each attends only to itself):
 * much faster than one call per sequence. Sequence b is
 * tokens[offsets[b] .. offsets[b+1]), so offsets has n_sequences + 1
 * entries, starts at 0 and never decreases; every sequence is non-empty.
 * out receives each sequence's n_b - 1 log-probs, sequence after sequence;
 * *needed receives the sum of (n_b - 1). */
score_status score_model_logprobs_batch(const score_model *model, const int32_t *tokens,
                                        const size_t *offsets, size_t n_sequences, float *out,
                                        size_t cap, size_t *needed);

/* Logits of the last position (the distribution of the next token) into
 * logits[0..cap); *needed receives vocab_size. */
score_status score_model_last_logits(const score_model *model, const int32_t *tokens,
                                     size_t n_tokens, float *logits, size_t cap,
                                     size_t *needed);

/* ------------------------------------------------------------------------ */
/* Tokenizer and chat templates                                              */
/* ------------------------------------------------------------------------ */

/* (section: tokenizer) */

/* Tokenizers: Hugging Face tokenizer.json (BPE: GPT-2, Llama-3, Qwen2,
 * SmolLM2, Llama-2/Mistral), ids and text exactly as the `tokenizers`
 * library produces them. A score_tokenizer is immutable: any number of
 * threads may use one at the same time (the streaming detokenizer excepted,
 * see below). Text is UTF-8 with an explicit length; invalid UTF-8 is
 * SCORE_ERR_INVALID_ARGUMENT. */
typedef struct score_tokenizer score_tokenizer;

/* Loads path/tokenizer.json and, when present, path/tokenizer_config.json
 * (bos_token, eos_token); path may also name a tokenizer.json file. A
 * configuration we do not implement (another model type, an unknown
 * pre-tokenizer pattern, NFKC, ...) is SCORE_ERR_UNSUPPORTED naming it. On
 * success *out owns the tokenizer; release it with score_tokenizer_free. */
score_status score_tokenizer_load(const char *path, score_tokenizer **out);

/* Frees a tokenizer from score_tokenizer_load. NULL is a no-op. Never pass
 * the tokenizer borrowed from score_model_tokenizer. */
void score_tokenizer_free(score_tokenizer *tokenizer);

/* The tokenizer of a model directory that has tokenizer.json, or NULL in
 * *out when it has none. Borrowed: valid while the model lives; do not free. */
score_status score_model_tokenizer(const score_model *model, const score_tokenizer **out);

/* Flags of score_tokenize. */
enum {
    /* Add the post-processor's special tokens (e.g. BOS). */
    SCORE_TOKENIZE_ADD_SPECIAL = 1,
    /* Read special-token text in the input ("<|im_end|>") as that special
     * token. Leave it off for untrusted text: it is then plain text. */
    SCORE_TOKENIZE_PARSE_SPECIAL = 2
};

/* Token ids of text[0..text_len) into ids[0..cap); *needed receives their
 * count. flags: SCORE_TOKENIZE_* ORed. text may be NULL when text_len is 0. */
score_status score_tokenize(const score_tokenizer *tokenizer, const char *text, size_t text_len,
                            uint32_t flags, int32_t *ids, size_t cap, size_t *needed);

/* The text of ids[0..n_ids) into buf[0..cap) with a terminating NUL; *needed
 * receives its length in bytes plus 1. skip_special drops special tokens.
 * An id that is not a token is SCORE_ERR_INVALID_ARGUMENT. */
score_status score_detokenize(const score_tokenizer *tokenizer, const int32_t *ids, size_t n_ids,
                              bool skip_special, char *buf, size_t cap, size_t *needed);

/* One past the largest token id (model vocabulary and added tokens). */
score_status score_tokenizer_vocab_size(const score_tokenizer *tokenizer, int32_t *out);

/* The vocabulary string of a token as stored ("Ġthe", "▁the", "<s>") into
 * buf with a terminating NUL; *needed receives its length plus 1. */
score_status score_tokenizer_token_text(const score_tokenizer *tokenizer, int32_t id, char *buf,
                                        size_t cap, size_t *needed);

/* The id of a vocabulary string (NUL-terminated), or -1 in *out if absent. */
score_status score_tokenizer_token_id(const score_tokenizer *tokenizer, const char *token,
                                      int32_t *out);

/* BOS id from tokenizer_config.json's bos_token, or -1 in *out. */
score_status score_tokenizer_bos_id(const score_tokenizer *tokenizer, int32_t *out);

/* EOS ids (tokenizer_config.json's eos_token) into ids[0..cap); *needed
 * receives the count (0 when there is none). */
score_status score_tokenizer_eos_ids(const score_tokenizer *tokenizer, int32_t *ids, size_t cap,
                                     size_t *needed);

/* Whether id is a special (added) token; false for unknown ids. */
score_status score_tokenizer_is_special(const score_tokenizer *tokenizer, int32_t id, bool *out);

/* Streaming detokenization: push generated tokens one at a time and get the
 * text each completes. The pieces concatenated (with the final flush) equal
 * score_detokenize of all the ids, and no piece ends inside a UTF-8
 * character. One thread at a time per detokenizer; the tokenizer must
 * outlive it. */
typedef struct score_detokenizer score_detokenizer;

score_status score_detokenizer_new(const score_tokenizer *tokenizer, bool skip_special,
                                   score_detokenizer **out);

/* Adds one token. *text receives the new text (not NUL-terminated, often
 * empty) and *text_len its length; the pointer stays valid until the next
 * call on this detokenizer. */
score_status score_detokenizer_push(score_detokenizer *detokenizer, int32_t id,
                                    const char **text, size_t *text_len);

/* After the last token: the text still held back (an incomplete character
 * at the very end comes out as U+FFFD, as score_detokenize renders it). */
score_status score_detokenizer_flush(score_detokenizer *detokenizer, const char **text,
                                     size_t *text_len);

void score_detokenizer_free(score_detokenizer *detokenizer);

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
 * sessions over one model may run on different threads. A call on a
 * session that is already generating (from its own token callback, or
 * another thread) fails with SCORE_ERR_INVALID_ARGUMENT. */
score_status score_session_new(const score_model *model, const score_session_params *params,
                               score_session **out);
void score_session_free(score_session *session);

/* Why a sequence ended. */
enum {
    SCORE_FINISH_STOP_TOKEN = 0,   /* an EOS/stop id was generated (it is the last token) */
    SCORE_FINISH_LENGTH = 1,       /* max_new_tokens reached */
    SCORE_FINISH_ABORTED = 2,      /* the token callback returned false */
    SCORE_FINISH_CONTEXT_FULL = 3, /* no room left in the context window */
    SCORE_FINISH_STOP_STRING = 4   /* the text contains a stop string */
};

typedef struct score_generate_params {
    uint32_t struct_size;      /* sizeof(score_generate_params) */
    int32_t max_new_tokens;    /* >= 0; default 128 */
    float temperature;         /* 0 = greedy, else >= 1e-5 (smaller values, e.g.
                                  subnormals, are SCORE_ERR_INVALID_ARGUMENT); default 1 */
    int32_t top_k;             /* 0 = off */
    float top_p;               /* (0, 1]; 1 = off */
    float min_p;               /* [0, 1]; 0 = off */
    float repetition_penalty;  /* in [0.01, 100]; 1 = off */
    /* Stop ids replacing the model's EOS ids when stop_ids != NULL
     * (n_stop_ids may then be 0: no stop token at all). */
    const int32_t *stop_ids;
    size_t n_stop_ids;
    /* UTF-8 texts that end a sequence once the generated text contains one,
     * across token boundaries (needs the model's tokenizer). The tokens are
     * kept; finish reason SCORE_FINISH_STOP_STRING. */
    const char *const *stop_strings;
    size_t n_stop_strings;
} score_generate_params;

score_generate_params score_generate_params_default(void);

/* Called after each generated token; return false to stop that sequence
 * (it ends with SCORE_FINISH_ABORTED). It may call into libscore, but not
 * generate on the same session: score_generate / score_rollout_run on the
 * session that is calling it fail at once with SCORE_ERR_INVALID_ARGUMENT
 * ("already generating"), as does a second thread using a busy session. */
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

/* --- The revise loop ---------------------------------------------------- */

typedef struct score_revise_params {
    uint32_t struct_size;      /* sizeof(score_revise_params) */
    int32_t attempts;          /* attempts per sample, >= 1 (default 2) */
    int32_t samples;           /* samples per problem, >= 1 (default 1) */
    /* Turn-1 user message; "{problem}" is replaced by the problem (NULL: "{problem}"). */
    const char *task_prompt;
    const char *system_prompt; /* NULL: no system message */
    /* The message asking for the next attempt (NULL: the SCoRe paper's MATH
     * instruction). It never says whether the previous attempt was right. */
    const char *instruction;
} score_revise_params;

score_revise_params score_revise_params_default(void);

typedef struct score_rollout score_rollout;

/* Generate, then revise: for every problem (UTF-8 text) and each of
 * `samples` samples, attempt 1 from the chat-template prompt; then the
 * instruction is appended as tokens after attempt 1's own tokens (never
 * re-tokenized) and attempt 2 is sampled from the same KV cache; and so on.
 * All sequences decode together. The model needs a tokenizer.json; its
 * chat_template (or ChatML) frames the turns. generate may be NULL for the
 * defaults. On success *out owns the result: free with score_rollout_free. */
score_status score_rollout_run(score_session *session, const char *const *problems, size_t n_problems,
                               const score_revise_params *params, const score_generate_params *generate,
                               score_rollout **out);

/* Number of episodes (n_problems x samples), problem-major. */
size_t score_rollout_count(const score_rollout *rollout);

/* Episode i: its problem and sample index, the whole token sequence the model
 * saw, and the loss mask (1 where the model sampled the token, 0 for prompt
 * and template/instruction tokens), both of length *n_sequence, valid until
 * the rollout is freed. Any out-pointer may be NULL. */
score_status score_rollout_episode(const score_rollout *rollout, size_t i, size_t *problem, size_t *sample,
                                   const int32_t **sequence, const uint8_t **loss_mask, size_t *n_sequence,
                                   size_t *n_attempts);

/* Attempt a of episode i: its tokens and log-probs (length *n_tokens), where
 * it starts in the episode's sequence, why it ended (SCORE_FINISH_*), and its
 * text (NUL-terminated UTF-8, special tokens removed). Pointers stay valid
 * until the rollout is freed. Any out-pointer may be NULL. */
score_status score_rollout_attempt(const score_rollout *rollout, size_t i, size_t a,
                                   const int32_t **tokens, const float **logprobs, size_t *n_tokens,
                                   size_t *offset, int32_t *finish_reason, const char **text);

void score_rollout_free(score_rollout *rollout);

/* ------------------------------------------------------------------------ */
/* Training                                                                  */
/* ------------------------------------------------------------------------ */

/* (section: training) */

/* Training: full fine-tuning or LoRA with AdamW, on batches of token
 * sequences with loss masks and per-token weights. The same step serves SFT
 * (weights 1) and policy-gradient RL (weights = advantages); an optional KL
 * term to the reference policy (the model the trainer was created from; with
 * LoRA: adapters off) is added with coefficient kl_coefficient.
 * A score_trainer is used by one thread at a time. It keeps a reference to
 * its model; the model must stay loaded while the trainer exists. */
typedef struct score_trainer score_trainer;

enum { SCORE_PARAMS_FULL = 0, SCORE_PARAMS_LORA = 1 };
enum { SCORE_SCHEDULE_CONSTANT = 0, SCORE_SCHEDULE_LINEAR = 1, SCORE_SCHEDULE_COSINE = 2 };
enum { SCORE_KL_NONE = 0, SCORE_KL_EXACT = 1, SCORE_KL_K1 = 2, SCORE_KL_K3 = 3 };
enum { SCORE_AGGREGATE_TOKEN_MEAN = 0, SCORE_AGGREGATE_SEQUENCE_MEAN = 1, SCORE_AGGREGATE_SEQUENCE_SUM = 2 };
/* LoRA target modules, ORed. */
enum {
    SCORE_LORA_Q = 1, SCORE_LORA_K = 2, SCORE_LORA_V = 4, SCORE_LORA_O = 8,
    SCORE_LORA_GATE = 16, SCORE_LORA_UP = 32, SCORE_LORA_DOWN = 64,
    SCORE_LORA_ALL = 127
};

typedef struct score_trainer_params {
    uint32_t struct_size;      /* sizeof(score_trainer_params) */
    int32_t parameter_set;     /* SCORE_PARAMS_*; default FULL */
    int32_t lora_rank;         /* default 8 */
    float lora_alpha;          /* scale = alpha / rank; default 16 */
    uint32_t lora_targets;     /* SCORE_LORA_* ORed; default Q | V */
    float learning_rate;       /* AdamW, as torch.optim.AdamW: default 1e-3 */
    float beta1;               /* default 0.9 */
    float beta2;               /* default 0.999 */
    float epsilon;             /* default 1e-8 */
    float weight_decay;        /* decoupled; default 0.01 */
    int32_t schedule;          /* SCORE_SCHEDULE_* (transformers' formulas); default CONSTANT */
    int32_t warmup_steps;      /* default 0 */
    int32_t total_steps;       /* needed by LINEAR and COSINE */
    float max_grad_norm;       /* global-norm clipping; 0 = off; default 1 */
    int32_t accumulation_steps;/* micro-batches per optimiser step; default 1 */
    int32_t kl_estimator;      /* SCORE_KL_*; default NONE */
    float kl_coefficient;      /* beta >= 0; default 0 */
    int32_t aggregation;       /* SCORE_AGGREGATE_*; default TOKEN_MEAN */
    bool activation_checkpointing; /* recompute activations per layer; default false */
    int32_t n_threads;         /* > 0: set the process-wide thread count (as score_set_n_threads,
                                  at most max(256, 4 x cores)); 0 = leave it */
    uint64_t seed;             /* LoRA initialisation and RNG; default 0 */
} score_trainer_params;

score_trainer_params score_trainer_params_default(void);

typedef struct score_train_stats {
    uint32_t struct_size;      /* set by the caller: sizeof(score_train_stats) */
    double loss;               /* the objective of this micro-batch */
    double policy_loss;        /* its cross-entropy / policy-gradient part */
    double kl;                 /* aggregated KL estimate (without beta); 0 when off */
    double grad_norm;          /* global norm before clipping, when an optimiser step completed */
    double learning_rate;      /* of the optimiser step this micro-batch belongs to */
    double seconds;            /* wall time of the call */
    double tokens_per_second;
    int64_t step;              /* optimiser steps completed */
    int32_t tokens;            /* tokens in the batch */
    int32_t target_tokens;     /* tokens with a non-zero mask */
    bool optimizer_stepped;    /* AdamW ran after this micro-batch */
    bool skipped_non_finite;   /* the step was dropped: NaN/Inf in loss or gradients;
                                  weights and optimiser state are unchanged */
} score_train_stats;

/* Creates a trainer over model. params may be NULL for the defaults. An
 * unknown LoRA target bit, a NaN learning rate etc. are
 * SCORE_ERR_INVALID_ARGUMENT. On success *out owns the trainer. */
score_status score_trainer_new(const score_model *model, const score_trainer_params *params,
                               score_trainer **out);

/* Continues a run saved with score_trainer_save into dir. model must be the
 * model the run started from (the reference and, with LoRA, the base). */
score_status score_trainer_resume(const score_model *model, const char *dir, score_trainer **out);

/* Frees a trainer. NULL is a no-op. */
void score_trainer_free(score_trainer *trainer);

/* One micro-batch of n sequences: sequence i has lengths[i] >= 1 token ids
 * tokens[i], a loss mask masks[i] (lengths[i] floats, >= 0; masks[i][t] > 0
 * makes token t a target predicted from tokens before it; [0] is ignored),
 * optional per-token weights (weights == NULL or weights[i] == NULL: all 1)
 * and optional reference log-probs log pi_ref(tokens[t]) for the k1/k3 KL
 * (NULL: computed with the reference weights). Gradients accumulate; after
 * accumulation_steps micro-batches AdamW runs. A batch without any target
 * token is SCORE_ERR_INVALID_ARGUMENT. stats may be NULL. */
score_status score_trainer_step(score_trainer *trainer, const int32_t *const *tokens,
                                const size_t *lengths, const float *const *masks,
                                const float *const *weights, const float *const *ref_logprobs,
                                size_t n, score_train_stats *stats);

/* Loads a peft LoRA adapter (adapter_config.json + adapter_model.safetensors)
 * into a LoRA trainer whose rank, alpha and targets match it. */
score_status score_trainer_load_adapter(score_trainer *trainer, const char *dir);

/* Saves a resumable checkpoint into dir, atomically: a Hugging Face model
 * directory (full) or a peft adapter (LoRA), plus optimizer.safetensors and
 * trainer_state.json. A dir holding other files or another model's
 * checkpoint is refused. Not between micro-batches of one step. */
score_status score_trainer_save(score_trainer *trainer, const char *dir);

/* Writes the current weights as a Hugging Face model directory (LoRA merged
 * into the base), atomically. */
score_status score_trainer_export(score_trainer *trainer, const char *dir);

/* ------------------------------------------------------------------------ */
/* SCoRe: training self-correction with reinforcement learning              */
/* ------------------------------------------------------------------------ */

/* (section: score) */

/* SCoRe (Kumar et al. 2024, "Training Language Models to Self-Correct via
 * Reinforcement Learning"): k multi-attempt rollouts per problem sampled from
 * the current policy (attempt t+1 continues attempt t's own tokens after the
 * revision instruction), the host's reward r(y_t) for each attempt, per-turn rewards
 * (Stage I: only the last attempt is rewarded and the earlier ones are held
 * to the reference by the strong KL beta2; Stage II: every attempt is
 * rewarded, attempt t >= 2 gets r(y_t) + alpha * (r(y_t) - r(y_t-1))),
 * leave-one-out baselines over the k samples per turn, and one
 * policy-gradient step with the per-turn KL.
 *
 * Data-driven: score_rl_rollout gives the episodes (a score_rollout, read
 * with score_rollout_episode / score_rollout_attempt), the host scores each
 * attempt, score_rl_update takes the rewards. score_rl_step does both with
 * a reward callback.
 *
 * A score_rl_trainer is used by one thread at a time. It keeps a reference
 * to its model; the model must stay loaded while the trainer exists. */
typedef struct score_rl_trainer score_rl_trainer;

/* The reward r(y, y*) of one attempt: problem and reference as the caller
 * gave them, attempt the model's text (special tokens removed); all
 * NUL-terminated UTF-8, valid during the call. It is called on the thread
 * that called score_rl_step / score_evaluate and must not call into the
 * same trainer. Returning NaN or +-Inf fails the call (status
 * SCORE_ERR_INVALID_ARGUMENT, message naming the value) without touching
 * the weights; a host whose verifier failed can return NaN to stop. */
typedef float (*score_reward_fn)(const char *problem, const char *attempt, const char *reference,
                                 void *user_data);

/* Progress of a long call (score_rl_rollout, score_rl_update, score_rl_step,
 * score_evaluate). phase is "rollout", "rewards", "reference", "update" or
 * "evaluate"; done and total count that phase's units: tokens sampled of
 * the most the call can sample, attempts scored, sequences scored under the
 * reference, micro-batches of the update. Return false to stop: the call
 * returns SCORE_ERR_ABORTED and changes nothing (the weights and optimiser
 * state are as before it, and the next rollout samples what the stopped one
 * would have). Called on the thread that made the call, often (every
 * sampled token); it must return quickly and must not call into the same
 * trainer. score_rl_run_recipe passes it on to each step and held-out
 * evaluation; there a stop ends the run, and out_dir/last keeps the last
 * checkpoint. */
typedef bool (*score_progress_fn)(const char *phase, int64_t done, int64_t total, void *user_data);

/* Per-turn arrays of the structs below hold this many entries, so attempts
 * is at most SCORE_RL_MAX_TURNS. */
#define SCORE_RL_MAX_TURNS 8

/* How the rewards become the update. */
enum {
    SCORE_RL_REINFORCE = 0,   /* REINFORCE with the leave-one-out baseline (the paper) */
    SCORE_RL_FILTERED_SFT = 1 /* STaR ablation: fine-tune on the attempts with reward >= 1 */
};

typedef struct score_rl_params {
    uint32_t struct_size;         /* sizeof(score_rl_params) */
    int32_t stage;                /* 1 or 2; default 1 (score_rl_trainer_set_stage changes it) */
    int32_t attempts;             /* 1..SCORE_RL_MAX_TURNS; default 2; 1 = single-turn RL
                                     ablation (Stage II only) */
    int32_t samples_per_problem;  /* k; default 4; >= 2 (the baseline needs them)
                                     unless update_rule is SCORE_RL_FILTERED_SFT */
    float alpha;                  /* reward-shaping bonus; default 10; 0 = no shaping */
    float beta1;                  /* weak KL on every attempt (Stage I: the last); default 0.01 */
    float beta2;                  /* Stage I's strong KL on the earlier attempts; default 0.1 */
    int32_t update_rule;          /* SCORE_RL_*; default REINFORCE */
    float temperature;            /* rollout sampling, > 0; default 1 */
    int32_t top_k;                /* 0 = off (default) */
    float top_p;                  /* (0, 1]; default 1 = off */
    int32_t max_new_tokens;       /* per attempt, >= 1; default 256 */
    int32_t micro_batch;          /* sequences per forward/backward pass; default 64
                                     (one optimiser step always covers the whole batch) */
    /* NULL: the defaults of score_revise_params (the paper's MATH
     * instruction, "{problem}" as the task prompt, no system message). */
    const char *instruction;
    const char *task_prompt;
    const char *system_prompt;
    uint64_t seed;                /* seed of the rollouts' random streams; default 0 */
    /* Optimiser and objective; NULL: score_rl_training_params_default().
     * Its kl_estimator picks the KL estimator; the KL coefficients come
     * from beta1/beta2 (kl_coefficient is not used). */
    const score_trainer_params *training;
    /* NULL: no progress reports. Called during the trainer's rollouts,
     * steps and updates with progress_user_data (see score_progress_fn). */
    score_progress_fn progress;
    void *progress_user_data;
} score_rl_params;

score_rl_params score_rl_params_default(void);

/* SCoRe's optimiser (the paper's MATH setting): Adam with learning rate
 * 5e-6 and no weight decay, gradient clipping at 1, the per-sequence sum of
 * token terms (SCORE_AGGREGATE_SEQUENCE_SUM, REINFORCE's estimator) and the
 * k3 KL estimator; full fine-tuning. Start from this, not from
 * score_trainer_params_default(), when changing one field. */
score_trainer_params score_rl_training_params_default(void);

typedef struct score_rl_stats {
    uint32_t struct_size;         /* set by the caller: sizeof(score_rl_stats) */
    int32_t stage;                /* the stage of this step */
    int64_t step;                 /* optimiser steps completed */
    int32_t turns;                /* entries used in the per-turn arrays (= attempts) */
    int32_t rollouts;             /* episodes in the batch */
    int64_t generated_tokens;     /* tokens the model sampled in them */
    double reward_per_turn[SCORE_RL_MAX_TURNS];      /* mean r(y_t) over the episodes */
    double kl_per_turn[SCORE_RL_MAX_TURNS];          /* mean per-episode KL estimate of turn t's tokens */
    double zero_signal_fraction[SCORE_RL_MAX_TURNS]; /* problems whose k turn rewards are all equal */
    double answer_change_rate;    /* episodes whose last final answer differs from the first's */
    double loss;
    double grad_norm;             /* before clipping */
    double learning_rate;
    double rollout_seconds;       /* 0 for score_rl_update (the rollout was another call) */
    double reference_seconds;     /* scoring the tokens under the reference policy */
    double update_seconds;
    bool skipped_non_finite;      /* NaN/Inf in loss or gradients: weights unchanged */
} score_rl_stats;

/* Creates a SCoRe trainer over model, which needs tokenizer.json (its
 * chat_template, or ChatML, frames the turns). params may be NULL for the
 * defaults. Out-of-range values (stage 3, attempts 0, k = 1 with
 * REINFORCE, Stage I with one attempt, ...) are SCORE_ERR_INVALID_ARGUMENT.
 * On success *out owns the trainer; free it with score_rl_trainer_free. */
score_status score_rl_trainer_new(const score_model *model, const score_rl_params *params,
                                  score_rl_trainer **out);

/* Continues a run saved with score_rl_trainer_save into dir: weights,
 * optimiser state and step count from the checkpoint (params->training is
 * not read: the checkpoint records the optimiser), the rest from params
 * (NULL: defaults). model must be the model the run started from. */
score_status score_rl_trainer_resume(const score_model *model, const char *dir, const score_rl_params *params,
                                     score_rl_trainer **out);

/* Frees a trainer. NULL is a no-op. */
void score_rl_trainer_free(score_rl_trainer *trainer);

/* Switches the objective between steps (1 = Stage I, 2 = Stage II). Stage I
 * with a single attempt is SCORE_ERR_INVALID_ARGUMENT. */
score_status score_rl_trainer_set_stage(score_rl_trainer *trainer, int32_t stage);
score_status score_rl_trainer_get_stage(const score_rl_trainer *trainer, int32_t *stage);

/* Anchors the KL to the current policy from now on (Stage II against the
 * Stage I model instead of the base model). */
score_status score_rl_trainer_use_current_as_reference(score_rl_trainer *trainer);

/* samples_per_problem episodes of `attempts` attempts for each of
 * n_problems problems, sampled from the current policy (problem-major, as
 * score_rollout_run). On success *out owns the rollout: free it with
 * score_rollout_free. */
score_status score_rl_rollout(score_rl_trainer *trainer, const char *const *problems, size_t n_problems,
                              score_rollout **out);
/*   Statuses: SCORE_OK; SCORE_ERR_INVALID_ARGUMENT (NULL or closed handle,
 *   n_problems 0, a problem that is not UTF-8 or too long for the context);
 *   SCORE_ERR_ABORTED (the progress callback stopped it: nothing changed);
 *   SCORE_ERR_OUT_OF_MEMORY; SCORE_ERR_INTERNAL. */

/* One policy update from a rollout and the rewards of its attempts:
 * rewards[i * attempts + t] = r(y_t) of episode i, row-major with the
 * trainer's `attempts` per row, n_rewards = episodes * attempts. An attempt
 * an episode did not reach (its context filled up) must have reward 0.
 * Episodes are grouped by their problem index for the baseline. stats may
 * be NULL. */
score_status score_rl_update(score_rl_trainer *trainer, const score_rollout *rollout, const float *rewards,
                             size_t n_rewards, score_rl_stats *stats);
/*   Statuses: SCORE_OK (also when a non-finite loss skipped the step: see
 *   stats->skipped_non_finite); SCORE_ERR_INVALID_ARGUMENT (NULL or closed
 *   handles, n_rewards not episodes x attempts, non-finite rewards, a reward
 *   for an attempt the episode did not reach, a bad stats->struct_size);
 *   SCORE_ERR_ABORTED (the progress callback stopped it before the
 *   optimiser step: weights unchanged); SCORE_ERR_OUT_OF_MEMORY;
 *   SCORE_ERR_INTERNAL. */

/* Rollout, rewards from reward_fn(problems[p], attempt, references[p],
 * user_data) for every attempt, and one update. references[i] is problem
 * i's reference answer (or tests): n entries, like problems. stats may be
 * NULL. */
score_status score_rl_step(score_rl_trainer *trainer, const char *const *problems,
                           const char *const *references, size_t n, score_reward_fn reward_fn,
                           void *user_data, score_rl_stats *stats);
/*   Statuses: those of score_rl_rollout and score_rl_update, and
 *   SCORE_ERR_INVALID_ARGUMENT when reward_fn is NULL or returns NaN/Inf
 *   (weights unchanged). */

/* A resumable checkpoint into dir, atomically, as score_trainer_save
 * writes it (score_rl_trainer_resume continues from it). */
score_status score_rl_trainer_save(score_rl_trainer *trainer, const char *dir);

/* The current policy as a Hugging Face model directory, atomically (as
 * score_trainer_export). */
score_status score_rl_trainer_export(score_rl_trainer *trainer, const char *dir);

/* --- Data-parallel training ---------------------------------------------- */

/* A host's own transport between workers (its MPI communicator, mpi4py,
 * torch.distributed, shared memory): worker `rank` of `size`. sum_f32 and
 * sum_f64 replace values[0..n) with the elementwise sum over all workers,
 * added in rank order ((w0 + w1) + w2 ...) so every worker gets the same
 * bits; broadcast copies root's n bytes to every worker; barrier may be
 * NULL. Each returns 0 on success; anything else fails the step (status
 * SCORE_ERR_IO, weights unchanged on this worker). Called on the thread
 * that calls the trainer, during its steps; user_data is passed back. */
typedef struct score_collective {
    uint32_t struct_size; /* sizeof(score_collective) */
    int32_t rank;
    int32_t size;
    int32_t (*sum_f32)(float *values, size_t n, void *user_data);
    int32_t (*sum_f64)(double *values, size_t n, void *user_data);
    int32_t (*broadcast)(void *bytes, size_t n, int32_t root, void *user_data);
    int32_t (*barrier)(void *user_data);
    void *user_data;
} score_collective;

/* Makes the trainer worker collective->rank of collective->size: every
 * score_rl_step then rolls out, scores and differentiates only this
 * worker's contiguous share of the problems it is given (all workers pass
 * the same problems), and the gradients and statistics are summed over the
 * workers, so every worker applies the same update. The struct is copied;
 * user_data must stay valid while the trainer steps. NULL makes it a single
 * process again. Set it before the first step, on every worker. A worker
 * whose step fails or is stopped (progress callback) leaves the others
 * waiting in a sum: stop every worker alike, and let the host's transport
 * time out when a worker dies (mpirun ends the job). */
score_status score_rl_trainer_set_collective(score_rl_trainer *trainer, const score_collective *collective);

/* A single process that sums each step in `shards` shards, as that many
 * workers would: its steps then equal theirs bit for bit (for tests and to
 * reproduce a distributed run). 1 = off (default). */
score_status score_rl_trainer_set_shards(score_rl_trainer *trainer, int32_t shards);

/* The same for supervised steps: score_trainer_step is then given this
 * worker's share of each micro-batch, weighted by its part of the whole
 * micro-batch's normaliser, and the gradients are summed before AdamW. */
score_status score_trainer_set_collective(score_trainer *trainer, const score_collective *collective);

/* --- Verifiers and evaluation ------------------------------------------- */

/* Built-in verifiers: reward 1 if the attempt answers like the reference,
 * else 0. EXACT and NUMERIC extract the final answer first ("The final
 * answer is $...$", \boxed{...}); text without one is used whole. MATH
 * extracts and compares as Hugging Face's math-verify does (its priorities:
 * "final answer is", the last \boxed{}, "answer:", then the last math or
 * number; a reference written bare, as MATH's answers are, is read whole)
 * and decides equivalence, not spelling: 7/3 = 2\frac{1}{3}, 0.25 = 25\%,
 * {1,2,3} = {3,2,1}, (x+1)^2 = x^2+2x+1, 3! = 6 (README, "The math verifier"). */
enum {
    SCORE_VERIFY_EXACT = 0,   /* same text (case, spaces, a final period ignored) */
    SCORE_VERIFY_NUMERIC = 1, /* same last number within the tolerance */
    SCORE_VERIFY_MATH = 2     /* same math answer, decided as math-verify decides it */
};

/* *reward = r(attempt, reference) under verifier kind. For NUMERIC, numbers
 * a and b match when |a - b| <= tolerance * max(1, |b|); tolerance must be
 * finite and >= 0 (1e-6 is the usual choice). MATH ignores it: decimals are
 * compared rounded to 6 places, as math-verify does. Thread-safe. */
score_status score_verify(int32_t kind, double tolerance, const char *attempt, const char *reference,
                          float *reward);

typedef struct score_eval_params {
    uint32_t struct_size;         /* sizeof(score_eval_params) */
    int32_t attempts;             /* 1..SCORE_RL_MAX_TURNS; default 2 */
    int32_t max_new_tokens;       /* per attempt, >= 0; default 256 */
    int32_t verifier;             /* SCORE_VERIFY_*, used without a reward_fn; default MATH */
    double tolerance;             /* of the verifier; default 1e-6 */
    const char *instruction;      /* NULL: as in score_rl_params */
    const char *task_prompt;
    const char *system_prompt;
    score_progress_fn progress;   /* NULL: none; phases "evaluate" and "rewards" */
    void *progress_user_data;
} score_eval_params;

score_eval_params score_eval_params_default(void);

/* The paper's self-correction metrics, from greedy attempts. */
typedef struct score_eval_result {
    uint32_t struct_size;         /* set by the caller: sizeof(score_eval_result) */
    int32_t attempts;             /* entries used in accuracy */
    int64_t problems;
    double accuracy[SCORE_RL_MAX_TURNS]; /* accuracy of each attempt */
    double acc_t1;                /* Acc@t1 */
    double acc_t2;                /* Acc@t2 (a problem without attempt 2 keeps attempt 1) */
    double delta;                 /* acc_t2 - acc_t1 = delta_i_to_c - delta_c_to_i */
    double delta_i_to_c;          /* fraction of all problems wrong at t1, right at t2 */
    double delta_c_to_i;          /* fraction of all problems right at t1, wrong at t2 */
    double answer_changed;        /* fraction whose attempt-2 final answer differs */
    double edit_distance_ratio;   /* mean Levenshtein(y1, y2) / (|y1| + |y2|) */
} score_eval_result;

/* Greedy attempts 1..attempts for each of n problems with model, scored by
 * reward_fn (an attempt is right when its reward is >= 1) or, when
 * reward_fn is NULL, by the params' verifier. params may be NULL for the
 * defaults. Fills *out up to out->struct_size bytes. Each call decodes with
 * state of its own: calls on one model may run on different threads. */
score_status score_evaluate(const score_model *model, const score_eval_params *params,
                            const char *const *problems, const char *const *references, size_t n,
                            score_reward_fn reward_fn, void *user_data, score_eval_result *out);
/*   Statuses: SCORE_OK; SCORE_ERR_INVALID_ARGUMENT (NULL model/out/arrays,
 *   n 0, out-of-range params, a model without tokenizer.json, reward_fn
 *   returning NaN/Inf); SCORE_ERR_FORMAT (a broken chat template);
 *   SCORE_ERR_ABORTED (params->progress stopped it; *out untouched);
 *   SCORE_ERR_OUT_OF_MEMORY; SCORE_ERR_INTERNAL. */

/* --- The SCoRe recipe ---------------------------------------------------- */

/* The whole recipe score-cli train runs, in one call: Stage I, Stage II, or
 * rounds of Stage I then Stage II; every step draws problems_per_step
 * problems (a seeded shuffle, epoch by epoch) and takes one score_rl_step;
 * held-out problems are evaluated greedily every eval_every steps; and
 * out_dir receives
 *   out_dir/last  a resumable checkpoint (score_rl_trainer_save's, plus
 *                 score_state.json: where the run stands, and the settings
 *                 it must be resumed with), every save_every steps and at
 *                 the end;
 *   out_dir/best  the exported model (a Hugging Face directory) of the save
 *                 window with the highest mean training reward of the last
 *                 attempt.
 * Both are replaced atomically. score-cli train and this call write the same
 * checkpoints, so either resumes the other's run. */

/* Which stages run. */
enum {
    SCORE_RECIPE_BOTH = 0,   /* Stage I then Stage II, `rounds` times (the paper) */
    SCORE_RECIPE_STAGE1 = 1, /* Stage I alone */
    SCORE_RECIPE_STAGE2 = 2  /* Stage II alone (with attempts = 1: the single-turn RL ablation) */
};

typedef struct score_rl_recipe_params {
    uint32_t struct_size;      /* sizeof(score_rl_recipe_params) */
    int32_t stage;             /* SCORE_RECIPE_*; default BOTH */
    int32_t rounds;            /* 1..100000; more than 1 needs BOTH; default 1 */
    int32_t steps_per_stage;   /* optimiser steps of every stage, 1..10^7; default 100 */
    int32_t problems_per_step; /* 1..10^6; more than n uses all n; default 16 */
    int32_t save_every;        /* checkpoint interval in steps, 1..10^7; default 25 */
    int32_t eval_every;        /* held-out evaluation interval, 1..10^7; 0 = save_every (default) */
    /* Stage II's KL reference is the policy as Stage I ended (it stays the
     * anchor until the next Stage II begins) instead of the base model.
     * Needs BOTH; default false. */
    bool anchor_to_stage1;
    /* Data order, rollout sampling (step s samples with a seed derived from
     * this and s) and LoRA initialisation; rl->seed and
     * rl->training->seed are not read. Default 0. */
    uint64_t seed;
    /* Sum each step in this many shards, as that many workers would (see
     * score_rl_trainer_set_shards); 1..65536, default 1. */
    int32_t shards;
    int32_t verifier;          /* SCORE_VERIFY_*: the reward when reward_fn is NULL; default MATH */
    double tolerance;          /* of the verifier (as score_verify); default 1e-6 */
    /* The objective, rollouts and optimiser (rl->training; NULL there:
     * score_rl_training_params_default()); NULL: score_rl_params_default().
     * rl->stage and rl->seed are not read. rl->progress hears the rollouts,
     * rewards, reference scoring, updates and held-out evaluation ("evaluate")
     * and may stop the run. A resumed run takes the optimiser from its
     * checkpoint: rl->training must then only match what the checkpoint
     * records (learning rate, KL estimator, LoRA). */
    const score_rl_params *rl;
    /* NULL: a single process. Otherwise every worker calls
     * score_rl_run_recipe with the same problems and settings; each takes its
     * share of every step (as score_rl_trainer_set_collective), and worker 0
     * alone evaluates and writes out_dir. */
    const score_collective *collective;
    /* Stage I's and Stage II's own step counts, 1..10^7; 0 = steps_per_stage
     * (default). score-cli demo runs 50 then 150. */
    int32_t stage1_steps;
    int32_t stage2_steps;
} score_rl_recipe_params;

score_rl_recipe_params score_rl_recipe_params_default(void);

/* What the step callback hears after every step (before the step's
 * checkpoint). The pointers are valid during the call only. */
typedef struct score_rl_recipe_step {
    uint32_t struct_size;           /* sizeof(score_rl_recipe_step) of the library */
    int32_t stage;                  /* 1 or 2 */
    int32_t round;                  /* 1-based */
    int64_t step;                   /* steps done in the run, this one included (a resumed run counts on) */
    int64_t step_in_stage;
    int64_t total_steps;            /* the step the run ends at */
    double elapsed;                 /* seconds of training, earlier calls of a resumed run included */
    const score_rl_stats *stats;    /* this step's statistics */
    const score_eval_result *eval;  /* held-out metrics when this step evaluated (worker 0), else NULL */
} score_rl_recipe_step;

/* Return false to stop the run after this step: score_rl_run_recipe then
 * returns SCORE_ERR_ABORTED, and out_dir/last holds the last checkpoint
 * (resume continues from it). Called on the calling thread; it must not
 * call score_rl_run_recipe. */
typedef bool (*score_rl_recipe_step_fn)(const score_rl_recipe_step *step, void *user_data);

typedef struct score_rl_recipe_result {
    uint32_t struct_size;      /* set by the caller: sizeof(score_rl_recipe_result) */
    int64_t steps_trained;     /* by this call */
    int64_t step;              /* where the run stands: steps done in all calls */
    double best_reward;        /* mean last-attempt reward of out_dir/best's window; NaN when none */
    int64_t best_step;         /* the step that window ended at; 0 when none */
} score_rl_recipe_result;

/* Runs the recipe on model (which needs tokenizer.json) from the start, or
 * with resume true continues the run in out_dir/last (model must then be
 * the model the run started from; the settings must be those the checkpoint
 * records, the step counts and rounds aside). A new run refuses an out_dir
 * that already holds one; out_dir is created when missing.
 *   problems[i], answers[i] (i < n, n >= 1): the training problems and their
 *     reference answers (or tests), NUL-terminated UTF-8.
 *   eval_problems, eval_answers (n_eval of each): held-out problems; n_eval
 *     0 (the arrays may then be NULL) evaluates nothing.
 *   reward_fn: the reward of every attempt, training and held-out (see
 *     score_reward_fn); NULL: params->verifier.
 *   on_step: NULL, or called after every step. user_data goes to reward_fn
 *     and on_step.
 *   result: NULL, or filled up to result->struct_size when the run ends.
 * params may be NULL for the defaults. Nothing is printed. */
score_status score_rl_run_recipe(const score_model *model, const char *out_dir, const char *const *problems,
                                 const char *const *answers, size_t n, const char *const *eval_problems,
                                 const char *const *eval_answers, size_t n_eval,
                                 const score_rl_recipe_params *params, bool resume, score_reward_fn reward_fn,
                                 score_rl_recipe_step_fn on_step, void *user_data,
                                 score_rl_recipe_result *result);
/*   Statuses: SCORE_OK; SCORE_ERR_INVALID_ARGUMENT (NULL model, out_dir or
 *   arrays, n 0, out-of-range params: stage 3, steps_per_stage 0, rounds
 *   with one stage, ...; a model without tokenizer.json; out_dir holding a
 *   run without resume, or no checkpoint with it; a checkpoint with other
 *   settings; reward_fn returning NaN/Inf); SCORE_ERR_IO (out_dir not a
 *   directory, unwritable, a collective call failing); SCORE_ERR_FORMAT (a
 *   damaged checkpoint); SCORE_ERR_ABORTED (rl->progress or on_step stopped
 *   it: out_dir/last holds the last checkpoint); SCORE_ERR_OUT_OF_MEMORY;
 *   SCORE_ERR_INTERNAL. Bad arguments fail before anything is written. */

#ifdef __cplusplus
}
#endif

#endif /* SCORE_H */
