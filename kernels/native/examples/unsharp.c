/*
 * unsharp.c: an example native kernel library for Kino in C (ABI 1).
 *
 * One kernel, `unsharp-mask` (video -> video): sharpens RGB24 frames by
 * adding back the difference between each pixel and a box blur of radius
 * `radius` around it, scaled by `amount`:
 *
 *     out = clamp(in + amount * (in - blur(in)), 0, 255)
 *
 * so a flat area is unchanged and an edge gets overshoot on both sides.
 *
 * Params (a JSON object; anything else is refused by `create`, naming it):
 *   "amount"  number in [0, 10], default 1.0
 *   "radius"  integer in [1, 64], default 1 (pixels; the box is 2r+1 wide)
 *   "fail"    boolean, default false. A test hook: when true, every frame
 *             fails with "unsharp-mask: asked to fail", which the host's
 *             tests use to exercise a failing kernel (the error path and the
 *             pipeline's fallback). Not for production pipelines.
 *
 * Build:  cc -std=c99 -shared -fPIC -O2 -I kernels/native/include unsharp.c -o libunsharp.so
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kino_kernel.h"

#define NAME "unsharp-mask"
#define MAX_SIDE 32768 /* keeps pixel arithmetic in `int` */

typedef struct unsharp {
    uint32_t width;
    uint32_t height;
    int radius;
    double amount;
    int fail;
    uint32_t *rows; /* horizontal box sums, width * height * 3 */
    uint32_t *cols; /* the running vertical sum of `rows` per column, width * 3 */
} unsharp;

static void set_error(kino_error *error, const char *message) {
    if (error != NULL) {
        snprintf(error->message, sizeof error->message, "%s: %s", NAME, message);
    }
}

/* ---- A tiny scanner for one flat JSON object ------------------------------
 * It walks the whole object, so malformed text is refused rather than half
 * read; nested values are skipped (and then refused as the wrong type). */

typedef struct scanner {
    const char *at;
    const char *end;
} scanner;

static void skip_space(scanner *s) {
    while (s->at < s->end && (*s->at == ' ' || *s->at == '\t' || *s->at == '\n' || *s->at == '\r')) {
        s->at++;
    }
}

static int eat(scanner *s, char c) {
    skip_space(s);
    if (s->at < s->end && *s->at == c) {
        s->at++;
        return 1;
    }
    return 0;
}

/* A string; its raw bytes (escapes kept) go to `out`, cut to `cap - 1`. */
static int scan_string(scanner *s, char *out, size_t cap) {
    size_t n = 0;
    if (!eat(s, '"')) {
        return 0;
    }
    while (s->at < s->end && *s->at != '"') {
        if ((unsigned char)*s->at < 0x20) {
            return 0;
        }
        if (*s->at == '\\') {
            if (out != NULL && n + 1 < cap) {
                out[n++] = *s->at;
            }
            s->at++;
            if (s->at >= s->end) {
                return 0;
            }
        }
        if (out != NULL && n + 1 < cap) {
            out[n++] = *s->at;
        }
        s->at++;
    }
    if (out != NULL && cap > 0) {
        out[n] = '\0';
    }
    return eat(s, '"');
}

/* A JSON number, parsed by hand (strtod would follow the C locale). */
static int scan_number(scanner *s, double *value) {
    double mantissa = 0.0, scale = 1.0;
    int negative = 0, exponent = 0, exp_negative = 0, digits = 0;
    if (s->at < s->end && *s->at == '-') {
        negative = 1;
        s->at++;
    }
    if (s->at < s->end && *s->at == '0') {
        s->at++;
        digits = 1;
    } else {
        while (s->at < s->end && *s->at >= '0' && *s->at <= '9') {
            mantissa = mantissa * 10.0 + (*s->at - '0');
            s->at++;
            digits++;
        }
    }
    if (digits == 0) {
        return 0;
    }
    if (s->at < s->end && *s->at == '.') {
        s->at++;
        digits = 0;
        while (s->at < s->end && *s->at >= '0' && *s->at <= '9') {
            scale /= 10.0;
            mantissa += (*s->at - '0') * scale;
            s->at++;
            digits++;
        }
        if (digits == 0) {
            return 0;
        }
    }
    if (s->at < s->end && (*s->at == 'e' || *s->at == 'E')) {
        s->at++;
        if (s->at < s->end && (*s->at == '+' || *s->at == '-')) {
            exp_negative = *s->at == '-';
            s->at++;
        }
        digits = 0;
        while (s->at < s->end && *s->at >= '0' && *s->at <= '9') {
            if (exponent < 400) {
                exponent = exponent * 10 + (*s->at - '0');
            }
            s->at++;
            digits++;
        }
        if (digits == 0) {
            return 0;
        }
    }
    while (exponent-- > 0) {
        mantissa = exp_negative ? mantissa / 10.0 : mantissa * 10.0;
    }
    *value = negative ? -mantissa : mantissa;
    return 1;
}

static int scan_word(scanner *s, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(s->end - s->at) >= n && memcmp(s->at, word, n) == 0) {
        s->at += n;
        return 1;
    }
    return 0;
}

/* Skips any JSON value, nesting up to 32 deep. */
static int skip_value(scanner *s, int depth) {
    skip_space(s);
    if (s->at >= s->end || depth > 32) {
        return 0;
    }
    if (*s->at == '"') {
        return scan_string(s, NULL, 0);
    }
    if (*s->at == '{' || *s->at == '[') {
        char close = *s->at == '{' ? '}' : ']';
        s->at++;
        if (eat(s, close)) {
            return 1;
        }
        do {
            if (close == '}' && !(scan_string(s, NULL, 0) && eat(s, ':'))) {
                return 0;
            }
            if (!skip_value(s, depth + 1)) {
                return 0;
            }
        } while (eat(s, ','));
        return eat(s, close);
    }
    if (*s->at == '-' || (*s->at >= '0' && *s->at <= '9')) {
        double ignored;
        return scan_number(s, &ignored);
    }
    return scan_word(s, "true") || scan_word(s, "false") || scan_word(s, "null");
}

typedef enum kind { NUMBER, BOOLEAN, OTHER } kind;

typedef struct value {
    kind kind;
    double number;
    int boolean;
} value;

static int scan_value(scanner *s, value *v) {
    skip_space(s);
    if (s->at < s->end && (*s->at == '-' || (*s->at >= '0' && *s->at <= '9'))) {
        v->kind = NUMBER;
        return scan_number(s, &v->number);
    }
    if (scan_word(s, "true")) {
        v->kind = BOOLEAN;
        v->boolean = 1;
        return 1;
    }
    if (scan_word(s, "false")) {
        v->kind = BOOLEAN;
        v->boolean = 0;
        return 1;
    }
    v->kind = OTHER;
    return skip_value(s, 0);
}

/* Reads the params into `u`; on error writes the message and returns 0. */
static int read_params(unsharp *u, const char *json, size_t len, kino_error *error) {
    scanner s = {json, json + len};
    char key[64], message[160];
    value v;
    skip_space(&s);
    if (s.at == s.end) {
        return 1; /* no params */
    }
    if (!eat(&s, '{')) {
        set_error(error, "params must be a JSON object");
        return 0;
    }
    if (!eat(&s, '}')) {
        do {
            if (!scan_string(&s, key, sizeof key) || !eat(&s, ':') || !scan_value(&s, &v)) {
                snprintf(message, sizeof message, "malformed params at byte %ld",
                         (long)(s.at - json));
                set_error(error, message);
                return 0;
            }
            if (strcmp(key, "amount") == 0) {
                if (v.kind != NUMBER || !(v.number >= 0.0 && v.number <= 10.0)) {
                    set_error(error, "param `amount` must be a number from 0 to 10");
                    return 0;
                }
                u->amount = v.number;
            } else if (strcmp(key, "radius") == 0) {
                if (v.kind != NUMBER || !(v.number >= 1.0 && v.number <= 64.0) ||
                    v.number != (double)(int)v.number) {
                    set_error(error, "param `radius` must be a whole number of pixels from 1 to 64");
                    return 0;
                }
                u->radius = (int)v.number;
            } else if (strcmp(key, "fail") == 0) {
                if (v.kind != BOOLEAN) {
                    set_error(error, "param `fail` must be true or false");
                    return 0;
                }
                u->fail = v.boolean;
            } else {
                snprintf(message, sizeof message,
                         "unknown param `%s` (expected amount, radius, fail)", key);
                set_error(error, message);
                return 0;
            }
        } while (eat(&s, ','));
        if (!eat(&s, '}')) {
            snprintf(message, sizeof message, "malformed params at byte %ld", (long)(s.at - json));
            set_error(error, message);
            return 0;
        }
    }
    skip_space(&s);
    if (s.at != s.end) {
        set_error(error, "unexpected text after the params object");
        return 0;
    }
    return 1;
}

/* ---- The kernel ----------------------------------------------------------- */

static void *unsharp_create(const kino_format *format, const char *params_json, size_t params_len,
                            kino_error *error) {
    unsharp *u;
    size_t pixels;
    if (format == NULL || format->kind != KINO_KIND_VIDEO) {
        set_error(error, "expects a video stream");
        return NULL;
    }
    if (format->width == 0 || format->height == 0) {
        set_error(error, "empty frames");
        return NULL;
    }
    if (format->width > MAX_SIDE || format->height > MAX_SIDE) {
        set_error(error, "frames more than 32768 pixels wide or high");
        return NULL;
    }
    pixels = (size_t)format->width * (size_t)format->height;
    if (pixels / format->width != format->height || pixels > SIZE_MAX / (3 * sizeof(uint32_t))) {
        set_error(error, "frames too large");
        return NULL;
    }
    u = calloc(1, sizeof *u);
    if (u == NULL) {
        set_error(error, "out of memory");
        return NULL;
    }
    u->width = format->width;
    u->height = format->height;
    u->radius = 1;
    u->amount = 1.0;
    if (!read_params(u, params_json, params_len, error)) {
        free(u);
        return NULL;
    }
    u->rows = malloc(pixels * 3 * sizeof(uint32_t));
    u->cols = malloc((size_t)format->width * 3 * sizeof(uint32_t));
    if (u->rows == NULL || u->cols == NULL) {
        free(u->rows);
        free(u->cols);
        free(u);
        set_error(error, "out of memory");
        return NULL;
    }
    return u;
}

static int clamp_index(int i, int n) {
    return i < 0 ? 0 : (i >= n ? n - 1 : i);
}

static int32_t unsharp_process(void *instance, const kino_buffer *input, kino_buffer *output,
                               kino_error *error) {
    unsharp *u = instance;
    const int w = (int)u->width, h = (int)u->height, r = u->radius;
    const size_t bytes = (size_t)u->width * u->height * 3;
    const size_t stride = (size_t)w * 3;
    const float area = (float)((2 * r + 1) * (2 * r + 1));
    /* in + amount * (in - sum / area), as in * gain - sum * scale */
    const float gain = (float)(1.0 + u->amount), scale = (float)u->amount / area;
    const uint8_t *in;
    uint8_t *out;
    uint32_t *cols = u->cols;
    size_t i;
    int x, y, c, k;
    if (u->fail) {
        set_error(error, "asked to fail");
        return KINO_ERR_FAILED;
    }
    if (input == NULL || output == NULL || input->len != bytes || output->capacity < bytes ||
        input->data == NULL || output->data == NULL) {
        set_error(error, "frame of the wrong size");
        return KINO_ERR_INVALID;
    }
    in = input->data;
    out = output->data;
    /* Horizontal sums over 2r+1 pixels, edges repeated: the three channels
     * of a pixel together, one pass over each row. */
    for (y = 0; y < h; y++) {
        const uint8_t *row = in + (size_t)y * stride;
        uint32_t *sums = u->rows + (size_t)y * stride;
        uint32_t s[3] = {0, 0, 0};
        for (k = -r; k <= r; k++) {
            for (c = 0; c < 3; c++) {
                s[c] += row[clamp_index(k, w) * 3 + c];
            }
        }
        for (x = 0; x < w; x++) {
            const uint8_t *enter = row + clamp_index(x + r + 1, w) * 3;
            const uint8_t *leave = row + clamp_index(x - r, w) * 3;
            for (c = 0; c < 3; c++) {
                sums[x * 3 + c] = s[c];
                s[c] += (uint32_t)enter[c] - (uint32_t)leave[c];
            }
        }
    }
    /* Vertical sums of those, row by row (one running sum per column, so
     * memory is read in order), then the mask. */
    for (i = 0; i < stride; i++) {
        cols[i] = 0;
        for (k = -r; k <= r; k++) {
            cols[i] += u->rows[(size_t)clamp_index(k, h) * stride + i];
        }
    }
    for (y = 0; y < h; y++) {
        const uint8_t *src = in + (size_t)y * stride;
        uint8_t *dst = out + (size_t)y * stride;
        const uint32_t *enter = u->rows + (size_t)clamp_index(y + r + 1, h) * stride;
        const uint32_t *leave = u->rows + (size_t)clamp_index(y - r, h) * stride;
        for (i = 0; i < stride; i++) {
            float v = (float)src[i] * gain - (float)cols[i] * scale;
            dst[i] = v <= 0.0f ? 0 : (v >= 255.0f ? 255 : (uint8_t)(v + 0.5f));
            /* Unsigned wrap-around cancels out: the true sum is never negative. */
            cols[i] += enter[i] - leave[i];
        }
    }
    output->len = bytes;
    return KINO_OK;
}

static void unsharp_destroy(void *instance) {
    unsharp *u = instance;
    if (u != NULL) {
        free(u->rows);
        free(u->cols);
        free(u);
    }
}

static const kino_kernel kernels[] = {{
    NAME,
    "unsharp mask over RGB24 frames (params: amount 0-10, default 1; radius 1-64 px, default 1)",
    2,
    KINO_KIND_VIDEO,
    KINO_KIND_VIDEO,
    unsharp_create,
    unsharp_process,
    unsharp_destroy,
}};

static const struct kino_kernel_table table = {sizeof kernels / sizeof kernels[0], kernels};

uint32_t kino_kernel_abi_version(void) {
    return KINO_KERNEL_ABI_VERSION;
}

const struct kino_kernel_table *kino_kernel_table(void) {
    return &table;
}
