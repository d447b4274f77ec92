/*
 * kino_kernel.h: Kino's native kernel ABI, version 1 (C99).
 *
 * A native kernel library is a shared library (.so, .dylib) that an
 * operator installs on a Kino host (`kino kernel install`). Pipelines use
 * its kernels as ops: `op = "native:NAME"`.
 *
 * Trust model
 * -----------
 * Kernels are trusted code: installed by the operator, signed like plugins,
 * never supplied by a tenant. They run inside the host's process, without a
 * sandbox. The host contains what it can (it checks this ABI's version and
 * every descriptor at load, checks sizes before and after each call, and
 * only ever hands out buffers it owns), but a crash in a kernel (a bad
 * pointer, abort(), a stack overflow) takes the whole host down. So:
 *
 *   - report every failure as a status code plus a message in the
 *     `kino_error` buffer; never call abort(), exit() or assert() on input;
 *   - never write outside the output buffer or keep a buffer's pointer
 *     after the call returns;
 *   - a kernel may be called from any host thread, but one instance is used
 *     by one thread at a time: state per instance needs no lock, state
 *     shared between instances (globals) does.
 *
 * What a library exports
 * ----------------------
 * Exactly two symbols, with C linkage:
 *
 *   uint32_t kino_kernel_abi_version(void);        returns KINO_KERNEL_ABI_VERSION
 *   const struct kino_kernel_table *kino_kernel_table(void);
 *
 * The table and its descriptors must stay valid, unchanged, for as long as
 * the library is loaded (static storage).
 *
 * Calls
 * -----
 * For each pipeline node running a kernel the host calls `create` once with
 * the stream's format and the stage's params (a JSON object), then `process`
 * once per unit of input, then `destroy`. ABI 1 supports three kind pairs:
 *
 *   video -> video   one call per frame; frames are packed RGB24 (3 bytes
 *                    per pixel, stride = width * 3, rows top to bottom);
 *                    `input->index` is the frame number from 0; the output
 *                    buffer has the input's size (`len == capacity`) and the
 *                    kernel fills all of it.
 *   audio -> audio   one call per block of at most KINO_AUDIO_BLOCK_FRAMES
 *                    sample frames of interleaved 32-bit float samples
 *                    (`data` is aligned for float; `len` is in bytes);
 *                    `input->index` is the index of the block's first sample
 *                    frame in the stream; the output has the input's length
 *                    and the kernel fills all of it.
 *   json -> json     one call for the whole UTF-8 JSON document (`index` 0).
 *                    The host passes `output->len == 0` and some
 *                    `output->capacity`; the kernel writes at most
 *                    `capacity` bytes into `output->data` and sets
 *                    `output->len`. When it needs more it returns
 *                    KINO_ERR_NEED_SPACE with `output->len` set to the bytes
 *                    needed, and the host calls again, same input, with a
 *                    buffer at least that large.
 *
 * Any other pair of kinds is refused by the host when it loads the library.
 * Input buffers are read-only: never write through `input->data`.
 */
#ifndef KINO_KERNEL_H
#define KINO_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version this header describes. A host loads only libraries whose
 * kino_kernel_abi_version() returns the version it implements. */
#define KINO_KERNEL_ABI_VERSION 1

/* Stream kinds (kino_kernel.input_kind / output_kind, kino_format.kind). */
#define KINO_KIND_VIDEO 1 /* packed RGB24 frames */
#define KINO_KIND_AUDIO 2 /* interleaved 32-bit float samples */
#define KINO_KIND_JSON 3  /* one UTF-8 JSON document */

/* Status codes returned by `process`. */
#define KINO_OK 0             /* done; the output is complete */
#define KINO_ERR_FAILED 1     /* the kernel failed; the message says why */
#define KINO_ERR_INVALID 2    /* the input (or its format) is not valid for this kernel */
#define KINO_ERR_NEED_SPACE 3 /* json only: output->len holds the bytes needed */
#define KINO_ERR_PANIC 4      /* a Rust kernel panicked (reported by the Rust SDK) */

/* The most sample frames in one audio block. */
#define KINO_AUDIO_BLOCK_FRAMES 4096

/* The size of kino_error.message, NUL included. */
#define KINO_ERROR_MESSAGE_LEN 512

/* The longest kernel name, in bytes (NUL excluded). */
#define KINO_KERNEL_NAME_MAX 64

/* The format of the stream a kernel instance processes. */
typedef struct kino_format {
    uint32_t kind;        /* KINO_KIND_* */
    uint32_t width;       /* video: pixels per row; 0 otherwise */
    uint32_t height;      /* video: rows; 0 otherwise */
    uint32_t sample_rate; /* audio: sample frames per second; 0 otherwise */
    uint32_t channels;    /* audio: samples per sample frame; 0 otherwise */
    uint32_t reserved;    /* 0 */
    double fps;           /* video: frames per second; 0 otherwise */
} kino_format;

/* Memory owned by the host, lent for the duration of one call. */
typedef struct kino_buffer {
    uint8_t *data;   /* the bytes; audio: float samples, interleaved */
    size_t len;      /* bytes in use */
    size_t capacity; /* bytes available at data (outputs) */
    uint64_t index;  /* video: frame number; audio: first sample frame; json: 0 */
} kino_buffer;

/* Where a kernel reports what went wrong: a NUL-terminated UTF-8 message.
 * The host reads up to the first NUL within the buffer (invalid UTF-8 is
 * replaced) and zeroes it before every call. */
typedef struct kino_error {
    char message[KINO_ERROR_MESSAGE_LEN];
} kino_error;

/* One kernel, described by its library. */
typedef struct kino_kernel {
    /* Lowercase ASCII letters, digits and '-', 1 to KINO_KERNEL_NAME_MAX
     * bytes, unique among every installed library: `op = "native:NAME"`. */
    const char *name;
    /* One line for `kino kernel list`. */
    const char *description;
    /* Bump when the output for the same input and params changes: the host
     * keys its cache of stage outputs by it (and by the library's hash). */
    uint32_t version;
    uint32_t input_kind;  /* KINO_KIND_* */
    uint32_t output_kind; /* KINO_KIND_* (ABI 1: equal to input_kind) */

    /* Makes an instance for one pipeline node. `params_json` is the stage's
     * params as a JSON object, `params_len` bytes of UTF-8, not necessarily
     * NUL-terminated. Returns NULL, with `error` filled, when the format or
     * params are not acceptable. */
    void *(*create)(const kino_format *format, const char *params_json, size_t params_len,
                    kino_error *error);

    /* Processes one unit of input (see "Calls" above). Returns KINO_OK, or
     * another KINO_* code with `error` filled (KINO_ERR_NEED_SPACE needs no
     * message). */
    int32_t (*process)(void *instance, const kino_buffer *input, kino_buffer *output,
                       kino_error *error);

    /* Frees an instance. Called once per instance created, never during a
     * call of `process` on it. */
    void (*destroy)(void *instance);
} kino_kernel;

/* Every kernel of a library. (A struct tag without a typedef: in C the
 * name `kino_kernel_table` is the exported function's.) */
struct kino_kernel_table {
    uint32_t count;             /* entries in `kernels` */
    const kino_kernel *kernels; /* `count` descriptors */
};

/* The two symbols every kernel library exports. */
uint32_t kino_kernel_abi_version(void);
const struct kino_kernel_table *kino_kernel_table(void);

#ifdef __cplusplus
}
#endif

#endif /* KINO_KERNEL_H */
