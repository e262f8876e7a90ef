/* The C API's argument handling (Sources/CAPI over include/score.h): the
 * input is a little program of calls with fuzzed arguments: NULL pointers,
 * short and zero capacities, ids outside the vocabulary, odd struct_size
 * values, invalid UTF-8, hostile templates and verifier strings. Every
 * buffer is malloc'd with exactly the capacity passed, so ASan catches any
 * write past it; every call must return a status, never crash. The model is
 * Tests/Fixtures/models/qwen2-chat (loaded once). */
#include "score.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static score_model *model;
static const score_tokenizer *tokenizer;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    const char *repo = getenv("SCORE_REPO");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/Tests/Fixtures/models/qwen2-chat", repo ? repo : ".");
    score_set_n_threads(1);
    if (score_model_load(dir, NULL, &model) != SCORE_OK || score_model_tokenizer(model, &tokenizer) != SCORE_OK ||
        tokenizer == NULL) {
        fprintf(stderr, "cannot load %s: %s\n", dir, score_last_error());
        abort();
    }
    return 0;
}

typedef struct { const uint8_t *p; size_t n; } reader;

static uint8_t byte(reader *r) {
    if (r->n == 0) return 0;
    r->n--;
    return *r->p++;
}
static uint32_t u32(reader *r) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)byte(r) << (8 * i);
    return v;
}
/* Up to 255 input bytes as a malloc'd string of exactly that many bytes plus a NUL. */
static char *chunk(reader *r, size_t *len) {
    size_t n = byte(r);
    if (n > r->n) n = r->n;
    char *s = malloc(n + 1);
    memcpy(s, r->p, n);
    s[n] = 0;
    r->p += n;
    r->n -= n;
    if (len) *len = n;
    return s;
}
/* Mostly small ids near the vocabulary, sometimes any int32. */
static int32_t token_id(reader *r) {
    uint8_t k = byte(r);
    if (k < 200) return (int32_t)(u32(r) % 300) - 10;
    return (int32_t)u32(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    reader r = {data, size};
    for (int op = 0; op < 16 && r.n > 0; op++) {
        uint8_t which = byte(&r) % 14;
        uint8_t flags = byte(&r);
        size_t cap = byte(&r) % 64;
        size_t needed = 0;
        size_t *needp = (flags & 0x80) ? NULL : &needed;
        switch (which) {
        case 0: { /* tokenize: text with an explicit length, not NUL-terminated */
            size_t len;
            char *text = chunk(&r, &len);
            char *exact = len ? malloc(len) : NULL;
            if (len) memcpy(exact, text, len);
            int32_t *ids = cap ? malloc(cap * sizeof *ids) : NULL;
            score_tokenize((flags & 0x40) ? NULL : tokenizer, (flags & 0x20) ? NULL : exact, len, flags & 7, ids, cap, needp);
            free(ids); free(exact); free(text);
            break;
        }
        case 1: { /* detokenize */
            size_t n = byte(&r) % 32;
            int32_t *ids = n ? malloc(n * sizeof *ids) : NULL;
            for (size_t i = 0; i < n; i++) ids[i] = token_id(&r);
            char *buf = cap ? malloc(cap) : NULL;
            score_detokenize(tokenizer, (flags & 0x20) ? NULL : ids, n, flags & 1, buf, cap, needp);
            free(buf); free(ids);
            break;
        }
        case 2: { /* token text and id */
            char *buf = cap ? malloc(cap) : NULL;
            score_tokenizer_token_text(tokenizer, token_id(&r), buf, cap, needp);
            free(buf);
            char *s = chunk(&r, NULL);
            int32_t id;
            score_tokenizer_token_id(tokenizer, (flags & 0x20) ? NULL : s, (flags & 0x40) ? NULL : &id);
            free(s);
            break;
        }
        case 3: { /* small queries */
            bool special;
            int32_t v;
            score_tokenizer_is_special(tokenizer, token_id(&r), (flags & 1) ? NULL : &special);
            score_tokenizer_vocab_size(tokenizer, (flags & 2) ? NULL : &v);
            score_tokenizer_bos_id(tokenizer, (flags & 4) ? NULL : &v);
            int32_t *ids = cap ? malloc(cap * sizeof *ids) : NULL;
            score_tokenizer_eos_ids(tokenizer, ids, cap, needp);
            score_model_eos_ids(model, ids, cap, needp);
            free(ids);
            (void)score_sizeof((int32_t)u32(&r));
            (void)score_status_string((score_status)(int32_t)u32(&r));
            break;
        }
        case 4: { /* streaming detokenizer */
            score_detokenizer *d = NULL;
            if (score_detokenizer_new(tokenizer, flags & 1, &d) != SCORE_OK) break;
            size_t n = byte(&r) % 32;
            for (size_t i = 0; i < n; i++) {
                const char *text = NULL;
                size_t len = 0;
                if (score_detokenizer_push(d, token_id(&r), (flags & 2) ? NULL : &text, (flags & 4) ? NULL : &len) == SCORE_OK && text)
                    (void)memchr(text, 0, len);
            }
            const char *text = NULL;
            size_t len = 0;
            if (score_detokenizer_flush(d, &text, &len) == SCORE_OK && text) (void)memchr(text, 0, len);
            score_detokenizer_free(d);
            break;
        }
        case 5: { /* chat render: fuzzed template, messages (some NULL), extra JSON */
            char *source = chunk(&r, NULL);
            char *extra = chunk(&r, NULL);
            size_t n = byte(&r) % 4;
            char *roles[4] = {0}, *contents[4] = {0};
            for (size_t i = 0; i < n; i++) {
                roles[i] = (flags & (1 << i)) ? NULL : chunk(&r, NULL);
                contents[i] = chunk(&r, NULL);
            }
            char *buf = cap ? malloc(cap) : NULL;
            score_chat_render((flags & 0x10) ? NULL : source, "<s>", (flags & 0x20) ? NULL : "</s>",
                              (const char *const *)roles, (const char *const *)contents, n, flags & 0x40,
                              (flags & 0x08) ? extra : NULL, buf, cap, needp);
            free(buf);
            for (size_t i = 0; i < n; i++) { free(roles[i]); free(contents[i]); }
            free(source); free(extra);
            break;
        }
        case 6: { /* verifier */
            int32_t kind = (flags & 0x10) ? (int32_t)u32(&r) : (int32_t)(flags % 4);
            double tolerance;
            uint64_t bits = (uint64_t)u32(&r) | (uint64_t)u32(&r) << 32;
            memcpy(&tolerance, &bits, sizeof tolerance);
            if (flags & 0x20) tolerance = 1e-6;
            char *attempt = chunk(&r, NULL), *reference = chunk(&r, NULL);
            float reward;
            score_verify(kind, tolerance, (flags & 0x40) ? NULL : attempt, reference, (flags & 0x08) ? NULL : &reward);
            free(attempt); free(reference);
            break;
        }
        case 7: /* log-probabilities and logits over fuzzed tokens */
        case 8:
        case 9: {
            size_t n = byte(&r) % 12;
            int32_t *tokens = n ? malloc(n * sizeof *tokens) : NULL;
            for (size_t i = 0; i < n; i++) tokens[i] = token_id(&r);
            size_t out_cap = (flags & 0x40) ? cap * 64 : cap;
            float *out = out_cap ? malloc(out_cap * sizeof *out) : NULL;
            if (which == 7) {
                score_model_logprobs(model, tokens, n, out, out_cap, needp);
            } else if (which == 8) {
                /* The contract: tokens holds offsets[k] ids; any other offset may be wrong. */
                size_t k = byte(&r) % 5;
                size_t offsets[5] = {0};
                for (size_t i = (flags & 0x10) ? 0 : 1; i <= k; i++) offsets[i] = (flags & 0x20) ? (size_t)u32(&r) : byte(&r) % 16;
                if (offsets[k] <= 4096) {
                    free(tokens);
                    tokens = offsets[k] ? malloc(offsets[k] * sizeof *tokens) : NULL;
                    for (size_t i = 0; i < offsets[k]; i++) tokens[i] = token_id(&r);
                    score_model_logprobs_batch(model, tokens, (flags & 0x08) ? NULL : offsets, k, out, out_cap, needp);
                }
            } else {
                score_model_last_logits(model, tokens, n, out, out_cap, needp);
            }
            free(out); free(tokens);
            break;
        }
        case 10: { /* model info with any struct_size: exactly that many bytes */
            uint32_t ss = byte(&r) * 2;
            score_model_info *info = malloc(ss ? ss : 1);
            memset(info, 0, ss ? ss : 1);
            if (ss >= sizeof(uint32_t)) info->struct_size = ss;
            score_model_get_info(model, ss >= sizeof(uint32_t) ? info : NULL);
            free(info);
            break;
        }
        case 11: { /* session with a fuzzed struct_size */
            score_session_params p = score_session_params_default();
            p.struct_size = byte(&r);
            p.seed = u32(&r);
            score_session *s = NULL;
            if (score_session_new(model, (flags & 1) ? NULL : &p, &s) == SCORE_OK) score_session_free(s);
            break;
        }
        case 12: { /* NULL handles everywhere */
            int32_t v;
            score_tokenizer_vocab_size(NULL, &v);
            score_detokenize(NULL, NULL, 0, false, NULL, 0, needp);
            score_model_logprobs(NULL, NULL, 0, NULL, 0, needp);
            score_session_new(NULL, NULL, NULL);
            score_model_get_info(NULL, NULL);
            score_tokenizer_free(NULL);
            score_session_free(NULL);
            score_detokenizer_free(NULL);
            break;
        }
        case 13: { /* tokenize with special parsing over text with special tokens spliced in */
            static const char *specials[] = {"<|im_start|>", "<|im_end|>", "<|endoftext|>", "\xf0\x9f", "\xc3\xa9", " "};
            char text[256];
            size_t len = 0;
            size_t n = byte(&r) % 12;
            for (size_t i = 0; i < n; i++) {
                const char *s = specials[byte(&r) % 6];
                size_t l = strlen(s);
                if (len + l > sizeof text) break;
                memcpy(text + len, s, l);
                len += l;
            }
            int32_t *ids = cap ? malloc(cap * sizeof *ids) : NULL;
            score_tokenize(tokenizer, text, len, flags & 3, ids, cap, needp);
            free(ids);
            break;
        }
        }
    }
    return 0;
}
