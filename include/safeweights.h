/* safeweights.h: the C API of safeweights (C11 or later, or C++).
 *
 * A stable C interface over the same core as the C++ headers, in the shared
 * library libsafeweights (pkg-config: safeweights-c; CMake:
 * find_package(safeweights) and target safeweights::c).
 *
 * Conventions
 * - Every exported name starts with safeweights_ (macros and enumerators
 *   with SAFEWEIGHTS_). Handles are opaque; no C++ type crosses the boundary,
 *   and no exception either.
 * - A function that can fail returns an int status: 0 (SAFEWEIGHTS_ERRC_OK)
 *   or a safeweights_errc code, whose values are those of the C++
 *   safeweights::errc (safeweights_errc_name gives its snake-case name).
 *   Its last parameter, `err`, may be NULL; otherwise, on failure, when
 *   *err is NULL it is set to a new error carrying the code and the core's
 *   message (naming the file, the tensor and what is wrong), which the caller
 *   frees with safeweights_error_free. On success *err is left alone, and an
 *   *err that already holds an error is never overwritten (the first error
 *   is kept). Out-parameters are written only on success.
 * - Strings the library hands out (tensor names, metadata keys and values)
 *   are pointer + length, not NUL-terminated (a name may hold a NUL byte),
 *   and live as long as the reader. Strings passed in take a length, or
 *   SAFEWEIGHTS_NUL_TERMINATED for a NUL-terminated string.
 * - A reader may be used from several threads at once; a writer may not.
 */
#ifndef SAFEWEIGHTS_H
#define SAFEWEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32) || defined(__CYGWIN__)
#if defined(SAFEWEIGHTS_BUILDING_C_API)
#define SAFEWEIGHTS_API __declspec(dllexport)
#else
#define SAFEWEIGHTS_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) || defined(__clang__)
#define SAFEWEIGHTS_API __attribute__((visibility("default")))
#else
#define SAFEWEIGHTS_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The version of the library this header belongs to; safeweights_version()
 * gives the one actually loaded. */
#define SAFEWEIGHTS_C_VERSION_MAJOR 0
#define SAFEWEIGHTS_C_VERSION_MINOR 1
#define SAFEWEIGHTS_C_VERSION_PATCH 0

/* A name length meaning "up to the first NUL byte". */
#define SAFEWEIGHTS_NUL_TERMINATED ((size_t)-1)

/* Error codes: the values of safeweights::errc (spec/FORMAT.md, "Error codes"). */
typedef enum safeweights_errc {
  SAFEWEIGHTS_ERRC_OK = 0,
  SAFEWEIGHTS_ERRC_IO_ERROR = 1,
  SAFEWEIGHTS_ERRC_HEADER_TOO_SMALL = 2,
  SAFEWEIGHTS_ERRC_HEADER_TOO_LARGE = 3,
  SAFEWEIGHTS_ERRC_HEADER_LENGTH_EXCEEDS_FILE = 4,
  SAFEWEIGHTS_ERRC_HEADER_INVALID_UTF8 = 5,
  SAFEWEIGHTS_ERRC_HEADER_INVALID_JSON = 6,
  SAFEWEIGHTS_ERRC_HEADER_NOT_OBJECT = 7,
  SAFEWEIGHTS_ERRC_INVALID_TENSOR_ENTRY = 8,
  SAFEWEIGHTS_ERRC_UNKNOWN_DTYPE = 9,
  SAFEWEIGHTS_ERRC_INVALID_SHAPE = 10,
  SAFEWEIGHTS_ERRC_INVALID_DATA_OFFSETS = 11,
  SAFEWEIGHTS_ERRC_DUPLICATE_KEY = 12,
  SAFEWEIGHTS_ERRC_INVALID_METADATA = 13,
  SAFEWEIGHTS_ERRC_OFFSETS_END_BEFORE_BEGIN = 14,
  SAFEWEIGHTS_ERRC_OFFSETS_NOT_CONTIGUOUS = 15,
  SAFEWEIGHTS_ERRC_SIZE_OVERFLOW = 16,
  SAFEWEIGHTS_ERRC_SUBBYTE_MISALIGNED = 17,
  SAFEWEIGHTS_ERRC_SIZE_MISMATCH = 18,
  SAFEWEIGHTS_ERRC_DATA_TRUNCATED = 19,
  SAFEWEIGHTS_ERRC_TRAILING_BYTES = 20,
  SAFEWEIGHTS_ERRC_TOO_MANY_TENSORS = 21,
  SAFEWEIGHTS_ERRC_RANK_TOO_LARGE = 22,
  SAFEWEIGHTS_ERRC_TENSOR_NOT_FOUND = 23,
  SAFEWEIGHTS_ERRC_DTYPE_MISMATCH = 24,
  SAFEWEIGHTS_ERRC_MISALIGNED_VIEW = 25,
  SAFEWEIGHTS_ERRC_INVALID_ARGUMENT = 26,
  SAFEWEIGHTS_ERRC_STREAM_FAILED = 27,
  SAFEWEIGHTS_ERRC_WRITE_FAILED = 28,
  SAFEWEIGHTS_ERRC_DIGEST_MISMATCH = 29,
  SAFEWEIGHTS_ERRC_NOT_SEALED = 30,
  SAFEWEIGHTS_ERRC_INVALID_SEAL = 31,
  SAFEWEIGHTS_ERRC_INVALID_KEY = 32,
  SAFEWEIGHTS_ERRC_INVALID_SIGNATURE = 33,
  SAFEWEIGHTS_ERRC_WRONG_KEY = 34,
  SAFEWEIGHTS_ERRC_SIGNATURE_MISMATCH = 35,
  SAFEWEIGHTS_ERRC_STATE_DICT_MISMATCH = 36,
  SAFEWEIGHTS_ERRC_LOAD_CANCELLED = 37,
  SAFEWEIGHTS_ERRC_INVALID_SHARD_INDEX = 38,
  SAFEWEIGHTS_ERRC_INVALID_BOOL = 39,
  SAFEWEIGHTS_ERRC_FILE_CHANGED = 40,
  SAFEWEIGHTS_ERRC_UNTRUSTED_SIGNER = 41,
  SAFEWEIGHTS_ERRC_OUT_OF_MEMORY = 42,
  SAFEWEIGHTS_ERRC_UNEXPECTED_EXCEPTION = 43,
  SAFEWEIGHTS_ERRC_BYTE_ORDER = 44,
  SAFEWEIGHTS_ERRC_INVALID_MODEL = 45,
  SAFEWEIGHTS_ERRC_UNSUPPORTED_MODEL = 46,
  SAFEWEIGHTS_ERRC_MODEL_NOT_FOUND = 47,
  SAFEWEIGHTS_ERRC_REGISTRY_FAILED = 48
} safeweights_errc;
/* One more than the largest code. */
#define SAFEWEIGHTS_ERRC_COUNT 49

/* Element types, in the format's order (the values of safeweights::dtype). */
typedef enum safeweights_dtype {
  SAFEWEIGHTS_DTYPE_BOOL = 0,
  SAFEWEIGHTS_DTYPE_F4 = 1,
  SAFEWEIGHTS_DTYPE_F6_E2M3 = 2,
  SAFEWEIGHTS_DTYPE_F6_E3M2 = 3,
  SAFEWEIGHTS_DTYPE_U8 = 4,
  SAFEWEIGHTS_DTYPE_I8 = 5,
  SAFEWEIGHTS_DTYPE_F8_E5M2 = 6,
  SAFEWEIGHTS_DTYPE_F8_E4M3 = 7,
  SAFEWEIGHTS_DTYPE_F8_E8M0 = 8,
  SAFEWEIGHTS_DTYPE_F8_E4M3FNUZ = 9,
  SAFEWEIGHTS_DTYPE_F8_E5M2FNUZ = 10,
  SAFEWEIGHTS_DTYPE_I16 = 11,
  SAFEWEIGHTS_DTYPE_U16 = 12,
  SAFEWEIGHTS_DTYPE_F16 = 13,
  SAFEWEIGHTS_DTYPE_BF16 = 14,
  SAFEWEIGHTS_DTYPE_I32 = 15,
  SAFEWEIGHTS_DTYPE_U32 = 16,
  SAFEWEIGHTS_DTYPE_F32 = 17,
  SAFEWEIGHTS_DTYPE_C64 = 18,
  SAFEWEIGHTS_DTYPE_F64 = 19,
  SAFEWEIGHTS_DTYPE_I64 = 20,
  SAFEWEIGHTS_DTYPE_U64 = 21
} safeweights_dtype;
#define SAFEWEIGHTS_DTYPE_COUNT 22

typedef struct safeweights_error safeweights_error;   /* a code and a message */
typedef struct safeweights_reader safeweights_reader; /* an open, validated file or buffer */
typedef struct safeweights_tensor safeweights_tensor; /* one tensor of a reader; lives as long as it */
typedef struct safeweights_writer safeweights_writer; /* tensors and metadata to write */

/* ---- Library, codes, dtypes ---- */

/* The loaded library's version, "MAJOR.MINOR.PATCH". */
SAFEWEIGHTS_API const char* safeweights_version(void);
/* The snake-case name of a code ("offsets_not_contiguous"), "unknown_error" for any other value. */
SAFEWEIGHTS_API const char* safeweights_errc_name(int code);
/* The name a header spells a dtype with ("F32"), NULL for any other value. */
SAFEWEIGHTS_API const char* safeweights_dtype_name(int dtype);
/* Bits per element (4 for F4, 6 for F6_*, 8 to 64 otherwise), 0 for any other value. */
SAFEWEIGHTS_API unsigned safeweights_dtype_bits(int dtype);

/* ---- Errors ---- */

/* The code (never SAFEWEIGHTS_ERRC_OK) and the message (NUL-terminated, lives
 * as long as the error). A NULL error gives SAFEWEIGHTS_ERRC_OK and "". */
SAFEWEIGHTS_API int safeweights_error_code(const safeweights_error* err);
SAFEWEIGHTS_API const char* safeweights_error_message(const safeweights_error* err);
/* Frees an error; NULL is allowed. */
SAFEWEIGHTS_API void safeweights_error_free(safeweights_error* err);

/* ---- Reading ---- */

/* Flags of the open functions (0: mapped, strict). */
#define SAFEWEIGHTS_OPEN_PREAD 1u                /* never map the file: read with pread (files that may shrink) */
#define SAFEWEIGHTS_OPEN_ALLOW_TRAILING_BYTES 2u /* accept bytes after the last tensor */
#define SAFEWEIGHTS_OPEN_RANDOM_ACCESS 4u        /* no readahead: slices bring in only their pages */

/* Opens and validates a file (the whole header; every rule of spec/FORMAT.md). */
SAFEWEIGHTS_API int safeweights_open_file(const char* path, unsigned flags, safeweights_reader** out,
                                          safeweights_error** err);
/* Reads a file image in memory; the caller keeps `data` alive and unchanged
 * until the reader is freed. `label` names it in messages (NULL: "<buffer>").
 * SAFEWEIGHTS_OPEN_PREAD is not a flag of this function. */
SAFEWEIGHTS_API int safeweights_open_buffer(const void* data, size_t size, const char* label, unsigned flags,
                                            safeweights_reader** out, safeweights_error** err);
/* Frees a reader and its tensors' handles; NULL is allowed. */
SAFEWEIGHTS_API void safeweights_reader_free(safeweights_reader* reader);

/* Number of tensors (0 for a NULL reader). */
SAFEWEIGHTS_API size_t safeweights_tensor_count(const safeweights_reader* reader);
/* The tensor at `index`, in file (offset) order: invalid_argument past the end. */
SAFEWEIGHTS_API int safeweights_tensor_at(const safeweights_reader* reader, size_t index,
                                          const safeweights_tensor** out, safeweights_error** err);
/* The tensor of that name: tensor_not_found when there is none. */
SAFEWEIGHTS_API int safeweights_tensor_by_name(const safeweights_reader* reader, const char* name, size_t name_len,
                                               const safeweights_tensor** out, safeweights_error** err);

/* What the header says about a tensor. Pointers live as long as the reader. */
typedef struct safeweights_tensor_info {
  const char* name;       /* not NUL-terminated */
  size_t name_len;
  int dtype;              /* a safeweights_dtype */
  size_t ndim;            /* 0 for a scalar */
  const uint64_t* shape;  /* ndim extents (NULL when ndim is 0) */
  uint64_t elements;      /* product of the shape */
  uint64_t byte_size;     /* bytes in the file */
  uint64_t data_offset;   /* offset of the first byte from the start of the data section */
  size_t index;           /* position in file order */
  const void* data;       /* the bytes, in a mapped file or a buffer; NULL with SAFEWEIGHTS_OPEN_PREAD or when empty */
} safeweights_tensor_info;

SAFEWEIGHTS_API int safeweights_tensor_get_info(const safeweights_reader* reader, const safeweights_tensor* tensor,
                                            safeweights_tensor_info* out, safeweights_error** err);
/* The tensor's bytes where they lie (the mapping or the caller's buffer),
 * valid while the reader lives: invalid_argument for a reader opened with
 * SAFEWEIGHTS_OPEN_PREAD (use safeweights_tensor_copy). An empty tensor gives NULL. */
SAFEWEIGHTS_API int safeweights_tensor_data(const safeweights_reader* reader, const safeweights_tensor* tensor,
                                            const void** data, safeweights_error** err);
/* Copies the tensor's byte_size bytes into dst; dst_size must be at least
 * that (invalid_argument otherwise, and nothing is written). */
SAFEWEIGHTS_API int safeweights_tensor_copy(const safeweights_reader* reader, const safeweights_tensor* tensor,
                                            void* dst, size_t dst_size, safeweights_error** err);

/* A slice: elements [begin, end) along dimension `dim`, every other dimension
 * whole. Its size in bytes (to size a buffer), and a copy of exactly those
 * bytes, row-major, into dst of at least that size. Reads only the slice's
 * bytes. invalid_argument for a range outside the dimension, subbyte_misaligned
 * when an F4/F6 slice does not start and end on whole bytes. */
SAFEWEIGHTS_API int safeweights_slice_size(const safeweights_reader* reader, const safeweights_tensor* tensor,
                                           size_t dim, uint64_t begin, uint64_t end, uint64_t* bytes,
                                           safeweights_error** err);
SAFEWEIGHTS_API int safeweights_slice_copy(const safeweights_reader* reader, const safeweights_tensor* tensor,
                                           size_t dim, uint64_t begin, uint64_t end, void* dst, size_t dst_size,
                                           safeweights_error** err);

/* A slice of every dimension at once: elements [starts[d], stops[d]) along
 * each dimension d of the tensor (ndim must be its rank), copied row-major.
 * Reads only the slice's bytes. Errors as above. */
SAFEWEIGHTS_API int safeweights_slice_nd_size(const safeweights_reader* reader, const safeweights_tensor* tensor,
                                              size_t ndim, const uint64_t* starts, const uint64_t* stops,
                                              uint64_t* bytes, safeweights_error** err);
SAFEWEIGHTS_API int safeweights_slice_nd_copy(const safeweights_reader* reader, const safeweights_tensor* tensor,
                                              size_t ndim, const uint64_t* starts, const uint64_t* stops, void* dst,
                                              size_t dst_size, safeweights_error** err);

/* __metadata__: whether the header has it, its entries in file order, and
 * lookup by key. A key that is absent is not an error: *value is set to NULL. */
SAFEWEIGHTS_API int safeweights_has_metadata(const safeweights_reader* reader);
SAFEWEIGHTS_API size_t safeweights_metadata_count(const safeweights_reader* reader);
SAFEWEIGHTS_API int safeweights_metadata_at(const safeweights_reader* reader, size_t index, const char** key,
                                            size_t* key_len, const char** value, size_t* value_len,
                                            safeweights_error** err);
SAFEWEIGHTS_API int safeweights_metadata_get(const safeweights_reader* reader, const char* key, size_t key_len,
                                             const char** value, size_t* value_len, safeweights_error** err);

/* ---- Writing ---- */

/* A writer lays tensors out as the reference serializer does (dtype rank
 * descending, then name; __metadata__ first; header padded to 8 bytes), so the
 * same tensors and metadata give the same bytes. */
SAFEWEIGHTS_API int safeweights_writer_new(safeweights_writer** out, safeweights_error** err);
SAFEWEIGHTS_API void safeweights_writer_free(safeweights_writer* writer);

/* Flags of safeweights_writer_add_tensor (0: the writer copies the bytes). */
#define SAFEWEIGHTS_ADD_BORROW 1u /* no copy: the caller keeps `data` alive and unchanged until the writer is freed */

/* Adds a tensor: `size` must be the shape's elements x the dtype's bits / 8
 * (size_mismatch otherwise); duplicate_key for a name already added. */
SAFEWEIGHTS_API int safeweights_writer_add_tensor(safeweights_writer* writer, const char* name, size_t name_len,
                                                  int dtype, size_t ndim, const uint64_t* shape, const void* data,
                                                  size_t size, unsigned flags, safeweights_error** err);
/* Sets a metadata key (a key set again keeps its place and takes the new
 * value). A writer given any metadata writes __metadata__, first. */
SAFEWEIGHTS_API int safeweights_writer_add_metadata(safeweights_writer* writer, const char* key, size_t key_len,
                                                    const char* value, size_t value_len, safeweights_error** err);

/* Flags of safeweights_writer_write_file. */
#define SAFEWEIGHTS_WRITE_ALIGN_DATA 1u /* pad the header so the data starts on a 64-byte boundary */

/* Writes the file atomically: a temporary file beside it, synced, then renamed
 * over `path`; on failure no file, partial or whole, is left at `path` and an
 * old file there is unchanged. */
SAFEWEIGHTS_API int safeweights_writer_write_file(const safeweights_writer* writer, const char* path, unsigned flags,
                                                  safeweights_error** err);

#ifdef __cplusplus
}
#endif

#endif /* SAFEWEIGHTS_H */
