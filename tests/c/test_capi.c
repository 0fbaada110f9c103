/* Tests of the C API (include/safeweights.h), in C11: every conformance file
 * through it (the valid ones against their .expect.json, the malformed ones
 * against the verdict and code the C++ tests expect), lookups, copies, slices,
 * metadata, the writer (byte-identical rewrites, atomic writes) and errors.
 *
 * Usage: test-capi CONFORMANCE_DIR SCRATCH_DIR
 * Ends with a doctest-style summary line (scripts/test sums them) and exits
 * non-zero when any check failed. */
#include <safeweights.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capi_cases.h"

static const char* conformance_dir;
static const char* scratch_dir;
static int case_failed;
static unsigned long checks_run;

#define CHECK(cond)                                                         \
  do {                                                                      \
    ++checks_run;                                                           \
    if (!(cond)) {                                                          \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      case_failed = 1;                                                      \
    }                                                                       \
  } while (0)
/* A check that stops the case (what follows needs it). */
#define REQUIRE(cond)                                                       \
  do {                                                                      \
    CHECK(cond);                                                            \
    if (case_failed) return;                                                \
  } while (0)
/* A status with its error's message when it is not the expected one. */
#define CHECK_STATUS(expr, expected, err)                                                          \
  do {                                                                                             \
    int status_ = (expr);                                                                          \
    ++checks_run;                                                                                  \
    if (status_ != (expected)) {                                                                   \
      fprintf(stderr, "%s:%d: %s gave %s, not %s: %s\n", __FILE__, __LINE__, #expr,                 \
              safeweights_errc_name(status_), safeweights_errc_name(expected),                      \
              safeweights_error_message(err));                                                     \
      case_failed = 1;                                                                             \
    }                                                                                              \
  } while (0)

static char* path_of(const char* dir, const char* sub, const char* file) {
  size_t n = strlen(dir) + strlen(sub) + strlen(file) + 3;
  char* p = malloc(n);
  if (!p) abort();
  if (*sub)
    snprintf(p, n, "%s/%s/%s", dir, sub, file);
  else
    snprintf(p, n, "%s/%s", dir, file);
  return p;
}

/* The whole file, malloc'ed (at least one byte); NULL if it cannot be read. */
static unsigned char* read_all(const char* path, size_t* size) {
  FILE* f = fopen(path, "rb");
  unsigned char* data = NULL;
  size_t n = 0, cap = 0;
  if (!f) return NULL;
  for (;;) {
    if (n == cap) {
      unsigned char* more;
      cap = cap ? cap * 2 : 65536;
      more = realloc(data, cap);
      if (!more) abort();
      data = more;
    }
    size_t got = fread(data + n, 1, cap - n, f);
    n += got;
    if (got == 0) break;
  }
  fclose(f);
  *size = n;
  return data;
}

static int file_exists(const char* path) {
  FILE* f = fopen(path, "rb");
  if (f) fclose(f);
  return f != NULL;
}

static void write_all(const char* path, const void* data, size_t size) {
  FILE* f = fopen(path, "wb");
  if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
    fprintf(stderr, "cannot write %s\n", path);
    abort();
  }
}

static uint64_t fnv1a64(const void* data, uint64_t size) {
  const unsigned char* p = data;
  uint64_t h = 0xCBF29CE484222325u;
  for (uint64_t i = 0; i < size; ++i) {
    h ^= p[i];
    h *= 0x100000001B3u;
  }
  return h;
}

static int starts_with(const char* s, const char* prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

/* ---- Codes, names, version ---- */

struct code_name {
  int code;
  const char* name;
};
#define CODE(UPPER, lower) {SAFEWEIGHTS_ERRC_##UPPER, #lower}
static const struct code_name code_names[] = {
    CODE(OK, ok), CODE(IO_ERROR, io_error), CODE(HEADER_TOO_SMALL, header_too_small),
    CODE(HEADER_TOO_LARGE, header_too_large), CODE(HEADER_LENGTH_EXCEEDS_FILE, header_length_exceeds_file),
    CODE(HEADER_INVALID_UTF8, header_invalid_utf8), CODE(HEADER_INVALID_JSON, header_invalid_json),
    CODE(HEADER_NOT_OBJECT, header_not_object), CODE(INVALID_TENSOR_ENTRY, invalid_tensor_entry),
    CODE(UNKNOWN_DTYPE, unknown_dtype), CODE(INVALID_SHAPE, invalid_shape),
    CODE(INVALID_DATA_OFFSETS, invalid_data_offsets), CODE(DUPLICATE_KEY, duplicate_key),
    CODE(INVALID_METADATA, invalid_metadata), CODE(OFFSETS_END_BEFORE_BEGIN, offsets_end_before_begin),
    CODE(OFFSETS_NOT_CONTIGUOUS, offsets_not_contiguous), CODE(SIZE_OVERFLOW, size_overflow),
    CODE(SUBBYTE_MISALIGNED, subbyte_misaligned), CODE(SIZE_MISMATCH, size_mismatch),
    CODE(DATA_TRUNCATED, data_truncated), CODE(TRAILING_BYTES, trailing_bytes),
    CODE(TOO_MANY_TENSORS, too_many_tensors), CODE(RANK_TOO_LARGE, rank_too_large),
    CODE(TENSOR_NOT_FOUND, tensor_not_found), CODE(DTYPE_MISMATCH, dtype_mismatch),
    CODE(MISALIGNED_VIEW, misaligned_view), CODE(INVALID_ARGUMENT, invalid_argument),
    CODE(STREAM_FAILED, stream_failed), CODE(WRITE_FAILED, write_failed), CODE(DIGEST_MISMATCH, digest_mismatch),
    CODE(NOT_SEALED, not_sealed), CODE(INVALID_SEAL, invalid_seal), CODE(INVALID_KEY, invalid_key),
    CODE(INVALID_SIGNATURE, invalid_signature), CODE(WRONG_KEY, wrong_key),
    CODE(SIGNATURE_MISMATCH, signature_mismatch), CODE(STATE_DICT_MISMATCH, state_dict_mismatch),
    CODE(LOAD_CANCELLED, load_cancelled), CODE(INVALID_SHARD_INDEX, invalid_shard_index),
    CODE(INVALID_BOOL, invalid_bool), CODE(FILE_CHANGED, file_changed), CODE(UNTRUSTED_SIGNER, untrusted_signer),
    CODE(OUT_OF_MEMORY, out_of_memory), CODE(UNEXPECTED_EXCEPTION, unexpected_exception), CODE(BYTE_ORDER, byte_order),
    CODE(INVALID_MODEL, invalid_model), CODE(UNSUPPORTED_MODEL, unsupported_model),
    CODE(MODEL_NOT_FOUND, model_not_found), CODE(REGISTRY_FAILED, registry_failed),
};
#undef CODE

static void test_codes_and_names(void) {
  size_t n = sizeof code_names / sizeof code_names[0];
  CHECK(n == SAFEWEIGHTS_ERRC_COUNT);
  for (size_t i = 0; i < n; ++i) {
    CHECK(code_names[i].code == (int)i);
    CHECK(strcmp(safeweights_errc_name(code_names[i].code), code_names[i].name) == 0);
  }
  CHECK(strcmp(safeweights_errc_name(SAFEWEIGHTS_ERRC_COUNT), "unknown_error") == 0);
  CHECK(strcmp(safeweights_errc_name(-1), "unknown_error") == 0);
  CHECK(strcmp(safeweights_errc_name(255), "unknown_error") == 0);

  CHECK(strcmp(safeweights_dtype_name(SAFEWEIGHTS_DTYPE_F32), "F32") == 0);
  CHECK(strcmp(safeweights_dtype_name(SAFEWEIGHTS_DTYPE_BOOL), "BOOL") == 0);
  CHECK(strcmp(safeweights_dtype_name(SAFEWEIGHTS_DTYPE_U64), "U64") == 0);
  CHECK(strcmp(safeweights_dtype_name(SAFEWEIGHTS_DTYPE_F8_E4M3FNUZ), "F8_E4M3FNUZ") == 0);
  CHECK(safeweights_dtype_name(SAFEWEIGHTS_DTYPE_COUNT) == NULL);
  CHECK(safeweights_dtype_name(-1) == NULL);
  CHECK(safeweights_dtype_bits(SAFEWEIGHTS_DTYPE_F4) == 4);
  CHECK(safeweights_dtype_bits(SAFEWEIGHTS_DTYPE_F6_E2M3) == 6);
  CHECK(safeweights_dtype_bits(SAFEWEIGHTS_DTYPE_BF16) == 16);
  CHECK(safeweights_dtype_bits(SAFEWEIGHTS_DTYPE_C64) == 64);
  CHECK(safeweights_dtype_bits(SAFEWEIGHTS_DTYPE_COUNT) == 0);

  char expected[64];
  snprintf(expected, sizeof expected, "%d.%d.%d", SAFEWEIGHTS_C_VERSION_MAJOR, SAFEWEIGHTS_C_VERSION_MINOR,
           SAFEWEIGHTS_C_VERSION_PATCH);
  CHECK(strcmp(safeweights_version(), expected) == 0);
}

/* ---- Valid files against .expect.json, in every way of opening ---- */

enum open_way { BY_MAP, BY_BUFFER, BY_PREAD };
static const char* way_names[] = {"mapped", "buffer", "pread"};

static int open_way(const char* path, enum open_way way, unsigned char** buffer, safeweights_reader** r,
                    safeweights_error** err) {
  *buffer = NULL;
  if (way == BY_BUFFER) {
    size_t size = 0;
    *buffer = read_all(path, &size);
    if (!*buffer) return -1;
    return safeweights_open_buffer(*buffer, size, path, 0, r, err);
  }
  return safeweights_open_file(path, way == BY_PREAD ? SAFEWEIGHTS_OPEN_PREAD : 0, r, err);
}

static void check_valid_file(const struct valid_file* vf, enum open_way way) {
  char* path = path_of(conformance_dir, "valid", vf->file);
  unsigned char* buffer = NULL;
  safeweights_reader* r = NULL;
  safeweights_error* err = NULL;
  int status = open_way(path, way, &buffer, &r, &err);
  if (status != 0) fprintf(stderr, "%s (%s): %s\n", vf->file, way_names[way], safeweights_error_message(err));
  CHECK(status == 0);
  if (status == 0) {
    CHECK(safeweights_tensor_count(r) == vf->tensor_count);
    CHECK(safeweights_has_metadata(r) == vf->has_metadata);
    CHECK(safeweights_metadata_count(r) == vf->meta_count);
    for (size_t m = 0; m < vf->meta_count; ++m) {
      const struct valid_meta* vm = &valid_metas[VALID_METAS_AT + vf->meta_at + m];
      const char* value = NULL;
      size_t value_len = 0;
      CHECK_STATUS(safeweights_metadata_get(r, vm->key, vm->key_len, &value, &value_len, &err), 0, err);
      CHECK(value != NULL && value_len == vm->value_len && memcmp(value, vm->value, value_len) == 0);
    }
    for (size_t i = 0; i < vf->tensor_count && !case_failed; ++i) {
      const struct valid_tensor* vt = &valid_tensors[vf->tensor_at + i];
      const safeweights_tensor* t = NULL;
      const safeweights_tensor* by_name = NULL;
      safeweights_tensor_info info;
      CHECK_STATUS(safeweights_tensor_at(r, i, &t, &err), 0, err);
      CHECK_STATUS(safeweights_tensor_by_name(r, vt->name, vt->name_len, &by_name, &err), 0, err);
      CHECK(t != NULL && t == by_name);
      CHECK_STATUS(safeweights_tensor_get_info(r, t, &info, &err), 0, err);
      if (case_failed) break;
      CHECK(info.name_len == vt->name_len && memcmp(info.name, vt->name, vt->name_len) == 0);
      CHECK(strcmp(safeweights_dtype_name(info.dtype), vt->dtype) == 0);
      CHECK(info.ndim == vt->ndim);
      uint64_t elements = 1;
      for (size_t d = 0; d < vt->ndim && d < info.ndim; ++d) {
        CHECK(info.shape[d] == valid_shapes[VALID_SHAPES_AT + vt->shape_at + d]);
        elements *= valid_shapes[VALID_SHAPES_AT + vt->shape_at + d];
      }
      CHECK(info.elements == elements);
      CHECK(info.data_offset == vt->begin);
      CHECK(info.byte_size == vt->end - vt->begin);
      CHECK(info.index == i);
      /* The bytes: where they lie, and copied. */
      const void* data = NULL;
      if (way == BY_PREAD) {
        CHECK(info.data == NULL);
        CHECK_STATUS(safeweights_tensor_data(r, t, &data, &err), SAFEWEIGHTS_ERRC_INVALID_ARGUMENT, err);
        CHECK(err != NULL && strstr(safeweights_error_message(err), "SAFEWEIGHTS_OPEN_PREAD") != NULL);
        safeweights_error_free(err);
        err = NULL;
      } else {
        CHECK_STATUS(safeweights_tensor_data(r, t, &data, &err), 0, err);
        CHECK(data == info.data);
        CHECK(info.byte_size == 0 ? data == NULL : data != NULL);
        if (data) CHECK(fnv1a64(data, info.byte_size) == vt->fnv1a);
        if (way == BY_BUFFER && data)  /* zero-copy: inside the caller's buffer */
          CHECK((const unsigned char*)data == buffer + 8 + vf->header_size + vt->begin);
      }
      unsigned char* copy = malloc((size_t)info.byte_size + 1);
      if (!copy) abort();
      CHECK_STATUS(safeweights_tensor_copy(r, t, copy, (size_t)info.byte_size, &err), 0, err);
      CHECK(fnv1a64(copy, info.byte_size) == vt->fnv1a);
      free(copy);
    }
  }
  safeweights_error_free(err);
  safeweights_reader_free(r);
  free(buffer);
  free(path);
}

static void test_valid_files_mapped(void) {
  for (size_t f = 0; f < VALID_FILES; ++f) check_valid_file(&valid_files[f], BY_MAP);
}
static void test_valid_files_buffer(void) {
  for (size_t f = 0; f < VALID_FILES; ++f) check_valid_file(&valid_files[f], BY_BUFFER);
}
static void test_valid_files_pread(void) {
  for (size_t f = 0; f < VALID_FILES; ++f) check_valid_file(&valid_files[f], BY_PREAD);
}

/* ---- Malformed files: the verdict and code of tests/test_conformance.cpp ---- */

static void test_malformed_files(void) {
  CHECK(MALFORMED_CASES == 30);
  for (size_t c = 0; c < MALFORMED_CASES; ++c) {
    const struct malformed_case* mc = &malformed_cases[c];
    char* path = path_of(conformance_dir, "malformed", mc->file);
    for (int way = BY_MAP; way <= BY_PREAD; ++way) {
      unsigned char* buffer = NULL;
      safeweights_reader* r = NULL;
      safeweights_error* err = NULL;
      int status = open_way(path, (enum open_way)way, &buffer, &r, &err);
      if (mc->accept) {
        if (status != 0) fprintf(stderr, "%s (%s): %s\n", mc->file, way_names[way], safeweights_error_message(err));
        CHECK(status == 0);
        CHECK(r != NULL && err == NULL);
      } else {
        if (strcmp(safeweights_errc_name(status), mc->code) != 0)
          fprintf(stderr, "%s (%s): %s, not %s: %s\n", mc->file, way_names[way], safeweights_errc_name(status),
                  mc->code, safeweights_error_message(err));
        CHECK(strcmp(safeweights_errc_name(status), mc->code) == 0);
        CHECK(r == NULL);  /* untouched on failure */
        CHECK(err != NULL && safeweights_error_code(err) == status);
        /* The message names the file (the buffer's label is its path). */
        CHECK(err != NULL && starts_with(safeweights_error_message(err), path));
      }
      safeweights_error_free(err);
      safeweights_reader_free(r);
      free(buffer);
    }
    free(path);
  }
}

/* ---- Lookups and errors ---- */

static void test_lookup_and_errors(void) {
  char* path = path_of(conformance_dir, "valid", "mixed_dtypes.safetensors");
  safeweights_reader* r = NULL;
  safeweights_error* err = NULL;
  const safeweights_tensor* t = NULL;
  REQUIRE(safeweights_open_file(path, 0, &r, &err) == 0);
  CHECK(err == NULL);

  /* By a NUL-terminated name and by a name with a length (a prefix of a longer string). */
  const safeweights_tensor* a = NULL;
  const safeweights_tensor* b = NULL;
  safeweights_tensor_info info;
  CHECK_STATUS(safeweights_tensor_at(r, 0, &a, &err), 0, err);
  CHECK_STATUS(safeweights_tensor_get_info(r, a, &info, &err), 0, err);
  char name[256];
  REQUIRE(info.name_len < sizeof name - 2);
  memcpy(name, info.name, info.name_len);
  name[info.name_len] = '\0';
  CHECK_STATUS(safeweights_tensor_by_name(r, name, SAFEWEIGHTS_NUL_TERMINATED, &b, &err), 0, err);
  CHECK(a == b);
  name[info.name_len] = 'X';
  name[info.name_len + 1] = '\0';
  b = NULL;
  CHECK_STATUS(safeweights_tensor_by_name(r, name, info.name_len, &b, &err), 0, err);
  CHECK(a == b);

  /* A missing name: tensor_not_found, naming the file and the tensor; out untouched. */
  t = NULL;
  CHECK_STATUS(safeweights_tensor_by_name(r, "no.such.tensor", SAFEWEIGHTS_NUL_TERMINATED, &t, &err),
               SAFEWEIGHTS_ERRC_TENSOR_NOT_FOUND, err);
  CHECK(t == NULL);
  REQUIRE(err != NULL);
  CHECK(safeweights_error_code(err) == SAFEWEIGHTS_ERRC_TENSOR_NOT_FOUND);
  CHECK(starts_with(safeweights_error_message(err), path));
  CHECK(strstr(safeweights_error_message(err), "no.such.tensor") != NULL);

  /* The first error is kept: a second failure does not overwrite *err. */
  CHECK_STATUS(safeweights_tensor_at(r, 1000, &t, &err), SAFEWEIGHTS_ERRC_INVALID_ARGUMENT, err);
  CHECK(safeweights_error_code(err) == SAFEWEIGHTS_ERRC_TENSOR_NOT_FOUND);
  safeweights_error_free(err);
  err = NULL;

  /* Past the end: invalid_argument naming the index; NULL err: the status alone. */
  CHECK_STATUS(safeweights_tensor_at(r, safeweights_tensor_count(r), &t, &err), SAFEWEIGHTS_ERRC_INVALID_ARGUMENT,
               err);
  CHECK(err != NULL && strstr(safeweights_error_message(err), "index 22") != NULL);
  safeweights_error_free(err);
  err = NULL;
  CHECK(safeweights_tensor_at(r, (size_t)-1, &t, NULL) == SAFEWEIGHTS_ERRC_INVALID_ARGUMENT);
  CHECK(t == NULL);

  /* NULL arguments are errors, not crashes. */
  CHECK_STATUS(safeweights_tensor_at(NULL, 0, &t, &err), SAFEWEIGHTS_ERRC_INVALID_ARGUMENT, err);
  CHECK(err != NULL && strstr(safeweights_error_message(err), "reader is NULL") != NULL);
  safeweights_error_free(err);
  err = NULL;
  CHECK(safeweights_tensor_get_info(r, NULL, &info, NULL) == SAFEWEIGHTS_ERRC_INVALID_ARGUMENT);
  CHECK(safeweights_open_file(NULL, 0, &r, NULL) == SAFEWEIGHTS_ERRC_INVALID_ARGUMENT);
  CHECK(safeweights_tensor_count(NULL) == 0);
  CHECK(safeweights_error_code(NULL) == 0);
  CHECK(strcmp(safeweights_error_message(NULL), "") == 0);
  safeweights_error_free(NULL);
  safeweights_reader_free(NULL);
  safeweights_writer_free(NULL);

  /* A handle of another reader is refused. */
  safeweights_reader* other = NULL;
  REQUIRE(safeweights_open_file(path, 0, &other, NULL) == 0);
  CHECK_STATUS(safeweights_tensor_get_info(other, a, &info, &err), SAFEWEIGHTS_ERRC_INVALID_ARGUMENT, err);
  CHECK(err != NULL && strstr(safeweights_error_message(err), "not one of this reader's") != NULL);
  safeweights_error_free(err);
  err = NULL;
  safeweights_reader_free(other);

  /* Unknown flags, a missing file (io_error naming it). */
  safeweights_reader* none = NULL;
  CHECK(safeweights_open_file(path, 1u << 20, &none, NULL) == SAFEWEIGHTS_ERRC_INVALID_ARGUMENT);
  CHECK(safeweights_open_buffer("", 0, NULL, SAFEWEIGHTS_OPEN_PREAD, &none, NULL) ==
        SAFEWEIGHTS_ERRC_INVALID_ARGUMENT);
  char* missing = path_of(scratch_dir, "", "capi-no-such-file.safetensors");
  CHECK_STATUS(safeweights_open_file(missing, 0, &none, &err), SAFEWEIGHTS_ERRC_IO_ERROR, err);
  CHECK(err != NULL && starts_with(safeweights_error_message(err), missing));
  CHECK(none == NULL);
  safeweights_error_free(err);
  err = NULL;
  /* An empty buffer: too small for a length prefix, labelled "<buffer>". */
  CHECK_STATUS(safeweights_open_buffer(NULL, 0, NULL, 0, &none, &err), SAFEWEIGHTS_ERRC_HEADER_TOO_SMALL, err);
  CHECK(err != NULL && starts_with(safeweights_error_message(err), "<buffer>"));
  safeweights_error_free(err);
  err = NULL;
  free(missing);

  /* Metadata: absent key, index past the end. */
  const char* value = "unset";
  size_t value_len = 7;
  CHECK_STATUS(safeweights_metadata_get(r, "format", SAFEWEIGHTS_NUL_TERMINATED, &value, &value_len, &err), 0, err);
  CHECK(value == NULL && value_len == 0);
  CHECK(safeweights_metadata_at(r, 0, NULL, NULL, NULL, NULL, NULL) == SAFEWEIGHTS_ERRC_INVALID_ARGUMENT);
  safeweights_reader_free(r);
  free(path);
}

/* ---- Copies into a caller's buffer ---- */

static void test_copy_checks_the_buffer(void) {
  char* path = path_of(conformance_dir, "valid", "dtype_F64.safetensors");
  safeweights_reader* r = NULL;
  safeweights_error* err = NULL;
  const safeweights_tensor* t = NULL;
  safeweights_tensor_info info;
  REQUIRE(safeweights_open_file(path, SAFEWEIGHTS_OPEN_PREAD, &r, NULL) == 0);
  REQUIRE(safeweights_tensor_at(r, 0, &t, NULL) == 0);
  REQUIRE(safeweights_tensor_get_info(r, t, &info, NULL) == 0);
  REQUIRE(info.byte_size > 1 && info.byte_size < 4096);
  unsigned char buffer[4096 + 16];
  memset(buffer, 0xAB, sizeof buffer);
  /* One byte short: an error, and not a byte written. */
  CHECK_STATUS(safeweights_tensor_copy(r, t, buffer, (size_t)info.byte_size - 1, &err),
               SAFEWEIGHTS_ERRC_INVALID_ARGUMENT, err);
  CHECK(err != NULL && strstr(safeweights_error_message(err), "buffer is") != NULL);
  safeweights_error_free(err);
  err = NULL;
  int untouched = 1;
  for (size_t i = 0; i < sizeof buffer; ++i) untouched &= buffer[i] == 0xAB;
  CHECK(untouched);
  CHECK(safeweights_tensor_copy(r, t, NULL, 0, NULL) == SAFEWEIGHTS_ERRC_INVALID_ARGUMENT);
  CHECK(safeweights_tensor_copy(r, t, NULL, 8, NULL) == SAFEWEIGHTS_ERRC_INVALID_ARGUMENT);
  /* A larger buffer: the tensor's bytes, and nothing past them. */
  CHECK_STATUS(safeweights_tensor_copy(r, t, buffer, sizeof buffer, &err), 0, err);
  untouched = 1;
  for (size_t i = (size_t)info.byte_size; i < sizeof buffer; ++i) untouched &= buffer[i] == 0xAB;
  CHECK(untouched);
  const struct valid_tensor* vt = NULL;
  for (size_t f = 0; f < VALID_FILES; ++f)
    if (strcmp(valid_files[f].file, "dtype_F64.safetensors") == 0) vt = &valid_tensors[valid_files[f].tensor_at];
  REQUIRE(vt != NULL);
  CHECK(fnv1a64(buffer, info.byte_size) == vt->fnv1a);
  safeweights_reader_free(r);
  free(path);
}

/* ---- Slices ---- */

/* Writes an F32 [4, 3] tensor "m" holding 0..11, an F4 [2, 3] "q" and an I32
 * [2, 3, 4] "c" holding 0..23; returns the path. */
static char* write_slice_file(void) {
  char* path = path_of(scratch_dir, "", "capi-slices.safetensors");
  safeweights_writer* w = NULL;
  safeweights_error* err = NULL;
  float m[12];
  for (int i = 0; i < 12; ++i) m[i] = (float)i;
  const uint64_t m_shape[2] = {4, 3};
  const unsigned char q[3] = {0x10, 0x32, 0x54};
  const uint64_t q_shape[2] = {2, 3};
  int32_t c[24];
  for (int i = 0; i < 24; ++i) c[i] = i;
  const uint64_t c_shape[3] = {2, 3, 4};
  int ok = safeweights_writer_new(&w, &err) == 0 &&
           safeweights_writer_add_tensor(w, "m", 1, SAFEWEIGHTS_DTYPE_F32, 2, m_shape, m, sizeof m, 0, &err) == 0 &&
           safeweights_writer_add_tensor(w, "q", 1, SAFEWEIGHTS_DTYPE_F4, 2, q_shape, q, sizeof q, 0, &err) == 0 &&
           safeweights_writer_add_tensor(w, "c", 1, SAFEWEIGHTS_DTYPE_I32, 3, c_shape, c, sizeof c, 0, &err) == 0 &&
           safeweights_writer_write_file(w, path, 0, &err) == 0;
  if (!ok) {
    fprintf(stderr, "writing %s: %s\n", path, safeweights_error_message(err));
    abort();
  }
  safeweights_writer_free(w);
  return path;
}

static void check_slices(unsigned flags) {
  char* path = write_slice_file();
  safeweights_reader* r = NULL;
  safeweights_error* err = NULL;
  const safeweights_tensor* m = NULL;
  const safeweights_tensor* q = NULL;
  REQUIRE(safeweights_open_file(path, flags, &r, NULL) == 0);
  REQUIRE(safeweights_tensor_by_name(r, "m", 1, &m, NULL) == 0);
  REQUIRE(safeweights_tensor_by_name(r, "q", 1, &q, NULL) == 0);
  uint64_t bytes = 0;
  float out[16];

  /* Rows 1 and 2: one run. */
  CHECK_STATUS(safeweights_slice_size(r, m, 0, 1, 3, &bytes, &err), 0, err);
  CHECK(bytes == 6 * sizeof(float));
  CHECK_STATUS(safeweights_slice_copy(r, m, 0, 1, 3, out, sizeof out, &err), 0, err);
  for (int i = 0; i < 6; ++i) CHECK(out[i] == (float)(3 + i));
  /* Column 1: strided. */
  CHECK_STATUS(safeweights_slice_size(r, m, 1, 1, 2, &bytes, &err), 0, err);
  CHECK(bytes == 4 * sizeof(float));
  for (int i = 0; i < 16; ++i) out[i] = -1.0f;
  CHECK_STATUS(safeweights_slice_copy(r, m, 1, 1, 2, out, 4 * sizeof(float), &err), 0, err);
  CHECK(out[0] == 1.0f && out[1] == 4.0f && out[2] == 7.0f && out[3] == 10.0f);
  CHECK(out[4] == -1.0f);
  /* Columns 1..3. */
  CHECK_STATUS(safeweights_slice_copy(r, m, 1, 1, 3, out, sizeof out, &err), 0, err);
  CHECK(out[0] == 1.0f && out[1] == 2.0f && out[2] == 4.0f && out[7] == 11.0f);
  /* Empty slice. */
  CHECK_STATUS(safeweights_slice_size(r, m, 0, 2, 2, &bytes, &err), 0, err);
  CHECK(bytes == 0);
  CHECK_STATUS(safeweights_slice_copy(r, m, 0, 2, 2, NULL, 0, &err), 0, err);

  /* Outside the dimension, a dimension past the rank, begin > end, a buffer too small. */
  CHECK_STATUS(safeweights_slice_size(r, m, 0, 3, 5, &bytes, &err), SAFEWEIGHTS_ERRC_INVALID_ARGUMENT, err);
  CHECK(err != NULL && starts_with(safeweights_error_message(err), path));
  CHECK(err != NULL && strstr(safeweights_error_message(err), "outside [0, 4)") != NULL);
  safeweights_error_free(err);
  err = NULL;
  CHECK(safeweights_slice_copy(r, m, 2, 0, 1, out, sizeof out, NULL) == SAFEWEIGHTS_ERRC_INVALID_ARGUMENT);
  CHECK(safeweights_slice_copy(r, m, 0, 2, 1, out, sizeof out, NULL) == SAFEWEIGHTS_ERRC_INVALID_ARGUMENT);
  CHECK(safeweights_slice_copy(r, m, 0, 0, UINT64_MAX, out, sizeof out, NULL) == SAFEWEIGHTS_ERRC_INVALID_ARGUMENT);
  for (int i = 0; i < 16; ++i) out[i] = -1.0f;
  CHECK_STATUS(safeweights_slice_copy(r, m, 0, 0, 4, out, 11 * sizeof(float), &err),
               SAFEWEIGHTS_ERRC_INVALID_ARGUMENT, err);
  CHECK(out[0] == -1.0f && out[10] == -1.0f);
  safeweights_error_free(err);
  err = NULL;

  /* F4: a row of 3 elements is 12 bits, so row slices do not fall on whole bytes; both rows do. */
  CHECK(safeweights_slice_size(r, q, 0, 1, 2, &bytes, NULL) == SAFEWEIGHTS_ERRC_SUBBYTE_MISALIGNED);
  CHECK_STATUS(safeweights_slice_size(r, q, 0, 0, 2, &bytes, &err), 0, err);
  CHECK(bytes == 3);
  unsigned char qb[3] = {0, 0, 0};
  CHECK_STATUS(safeweights_slice_copy(r, q, 0, 0, 2, qb, sizeof qb, &err), 0, err);
  CHECK(qb[0] == 0x10 && qb[1] == 0x32 && qb[2] == 0x54);

  /* Every dimension at once. */
  const safeweights_tensor* c = NULL;
  REQUIRE(safeweights_tensor_by_name(r, "c", 1, &c, NULL) == 0);
  {
    const uint64_t starts[2] = {1, 1}, stops[2] = {3, 3};
    for (int i = 0; i < 16; ++i) out[i] = -1.0f;
    CHECK_STATUS(safeweights_slice_nd_size(r, m, 2, starts, stops, &bytes, &err), 0, err);
    CHECK(bytes == 4 * sizeof(float));
    CHECK_STATUS(safeweights_slice_nd_copy(r, m, 2, starts, stops, out, 4 * sizeof(float), &err), 0, err);
    CHECK(out[0] == 4.0f && out[1] == 5.0f && out[2] == 7.0f && out[3] == 8.0f && out[4] == -1.0f);
    /* One byte short: an error, nothing written. */
    out[0] = -1.0f;
    CHECK(safeweights_slice_nd_copy(r, m, 2, starts, stops, out, 4 * sizeof(float) - 1, NULL) ==
          SAFEWEIGHTS_ERRC_INVALID_ARGUMENT);
    CHECK(out[0] == -1.0f);
  }
  {
    const uint64_t starts[2] = {1, 0}, stops[2] = {3, 3};  /* whole rows: as the one-dimension slice */
    CHECK_STATUS(safeweights_slice_nd_copy(r, m, 2, starts, stops, out, sizeof out, &err), 0, err);
    for (int i = 0; i < 6; ++i) CHECK(out[i] == (float)(3 + i));
    const uint64_t all_stops[2] = {4, 3}, zero[2] = {0, 0};
    CHECK_STATUS(safeweights_slice_nd_copy(r, m, 2, zero, all_stops, out, sizeof out, &err), 0, err);
    for (int i = 0; i < 12; ++i) CHECK(out[i] == (float)i);
    const uint64_t empty_stops[2] = {1, 3};
    CHECK_STATUS(safeweights_slice_nd_size(r, m, 2, starts, empty_stops, &bytes, &err), 0, err);
    CHECK(bytes == 0);
    CHECK_STATUS(safeweights_slice_nd_copy(r, m, 2, starts, empty_stops, NULL, 0, &err), 0, err);
    /* The rank, the bounds. */
    CHECK(safeweights_slice_nd_size(r, m, 1, starts, stops, &bytes, NULL) == SAFEWEIGHTS_ERRC_INVALID_ARGUMENT);
    const uint64_t past[2] = {3, 4};
    CHECK_STATUS(safeweights_slice_nd_size(r, m, 2, starts, past, &bytes, &err), SAFEWEIGHTS_ERRC_INVALID_ARGUMENT,
                 err);
    CHECK(err != NULL && strstr(safeweights_error_message(err), "dimension 1 is outside [0, 3)") != NULL);
    safeweights_error_free(err);
    err = NULL;
    CHECK(safeweights_slice_nd_size(r, m, 2, NULL, stops, &bytes, NULL) == SAFEWEIGHTS_ERRC_INVALID_ARGUMENT);
  }
  {
    /* Three dimensions: i in [0, 2), j in [1, 3), k in [1, 3) of i * 12 + j * 4 + k. */
    const uint64_t starts[3] = {0, 1, 1}, stops[3] = {2, 3, 3};
    const int32_t expected[8] = {5, 6, 9, 10, 17, 18, 21, 22};
    int32_t got[8];
    CHECK_STATUS(safeweights_slice_nd_copy(r, c, 3, starts, stops, got, sizeof got, &err), 0, err);
    CHECK(memcmp(got, expected, sizeof got) == 0);
    /* i = 1, every j, k in [2, 4): two elements per (i, j). */
    const uint64_t starts2[3] = {1, 0, 2}, stops2[3] = {2, 3, 4};
    const int32_t expected2[6] = {14, 15, 18, 19, 22, 23};
    int32_t got2[6];
    CHECK_STATUS(safeweights_slice_nd_copy(r, c, 3, starts2, stops2, got2, sizeof got2, &err), 0, err);
    CHECK(memcmp(got2, expected2, sizeof got2) == 0);
  }
  {
    /* F4: whole rows are whole bytes; a row of 3 elements is not. */
    const uint64_t starts[2] = {0, 0}, stops[2] = {2, 3}, row1[2] = {1, 0};
    CHECK_STATUS(safeweights_slice_nd_size(r, q, 2, starts, stops, &bytes, &err), 0, err);
    CHECK(bytes == 3);
    CHECK(safeweights_slice_nd_size(r, q, 2, row1, stops, &bytes, NULL) == SAFEWEIGHTS_ERRC_SUBBYTE_MISALIGNED);
  }

  safeweights_reader_free(r);
  remove(path);
  free(path);
}

static void test_slices_mapped(void) { check_slices(0); }
static void test_slices_pread(void) { check_slices(SAFEWEIGHTS_OPEN_PREAD | SAFEWEIGHTS_OPEN_RANDOM_ACCESS); }

/* ---- Writer ---- */

/* Every valid file rewritten through the C API is byte-identical to the reference's. */
static void test_writer_rewrites_every_valid_file(void) {
  char* out = path_of(scratch_dir, "", "capi-rewrite.safetensors");
  for (size_t f = 0; f < VALID_FILES && !case_failed; ++f) {
    char* path = path_of(conformance_dir, "valid", valid_files[f].file);
    safeweights_reader* r = NULL;
    safeweights_writer* w = NULL;
    safeweights_error* err = NULL;
    /* Odd files borrow the mapped bytes, even ones are copied. */
    const unsigned add_flags = (f % 2) ? SAFEWEIGHTS_ADD_BORROW : 0;
    CHECK_STATUS(safeweights_open_file(path, 0, &r, &err), 0, err);
    CHECK_STATUS(safeweights_writer_new(&w, &err), 0, err);
    for (size_t i = 0; i < safeweights_tensor_count(r) && !case_failed; ++i) {
      const safeweights_tensor* t = NULL;
      safeweights_tensor_info info;
      CHECK_STATUS(safeweights_tensor_at(r, i, &t, &err), 0, err);
      CHECK_STATUS(safeweights_tensor_get_info(r, t, &info, &err), 0, err);
      CHECK_STATUS(safeweights_writer_add_tensor(w, info.name, info.name_len, info.dtype, info.ndim, info.shape,
                                                 info.data, (size_t)info.byte_size, add_flags, &err),
                   0, err);
    }
    for (size_t m = 0; m < safeweights_metadata_count(r) && !case_failed; ++m) {
      const char *key, *value;
      size_t key_len, value_len;
      CHECK_STATUS(safeweights_metadata_at(r, m, &key, &key_len, &value, &value_len, &err), 0, err);
      CHECK_STATUS(safeweights_writer_add_metadata(w, key, key_len, value, value_len, &err), 0, err);
    }
    CHECK_STATUS(safeweights_writer_write_file(w, out, 0, &err), 0, err);
    size_t a_size = 0, b_size = 0;
    unsigned char* a = read_all(path, &a_size);
    unsigned char* b = read_all(out, &b_size);
    CHECK(a != NULL && b != NULL);
    if (a && b && (a_size != b_size || memcmp(a, b, a_size) != 0)) {
      fprintf(stderr, "%s: the rewrite differs\n", valid_files[f].file);
      CHECK(!"byte-identical rewrite");
    }
    free(a);
    free(b);
    safeweights_error_free(err);
    safeweights_writer_free(w);
    safeweights_reader_free(r);
    free(path);
  }
  remove(out);
  free(out);
}

static void test_writer_copies_unless_borrowing(void) {
  char* out = path_of(scratch_dir, "", "capi-copies.safetensors");
  safeweights_writer* w = NULL;
  safeweights_error* err = NULL;
  int32_t copied[2] = {1, 2}, borrowed[2] = {3, 4};
  const uint64_t shape[1] = {2};
  REQUIRE(safeweights_writer_new(&w, &err) == 0);
  CHECK_STATUS(safeweights_writer_add_tensor(w, "copied", SAFEWEIGHTS_NUL_TERMINATED, SAFEWEIGHTS_DTYPE_I32, 1,
                                             shape, copied, sizeof copied, 0, &err),
               0, err);
  CHECK_STATUS(safeweights_writer_add_tensor(w, "borrowed", SAFEWEIGHTS_NUL_TERMINATED, SAFEWEIGHTS_DTYPE_I32, 1,
                                             shape, borrowed, sizeof borrowed, SAFEWEIGHTS_ADD_BORROW, &err),
               0, err);
  copied[0] = 100;
  borrowed[0] = 300;
  CHECK_STATUS(safeweights_writer_write_file(w, out, SAFEWEIGHTS_WRITE_ALIGN_DATA, &err), 0, err);
  safeweights_writer_free(w);

  safeweights_reader* r = NULL;
  REQUIRE(safeweights_open_file(out, 0, &r, &err) == 0);
  const safeweights_tensor* t = NULL;
  int32_t got[2] = {0, 0};
  CHECK_STATUS(safeweights_tensor_by_name(r, "copied", SAFEWEIGHTS_NUL_TERMINATED, &t, &err), 0, err);
  CHECK_STATUS(safeweights_tensor_copy(r, t, got, sizeof got, &err), 0, err);
  CHECK(got[0] == 1 && got[1] == 2);
  CHECK_STATUS(safeweights_tensor_by_name(r, "borrowed", SAFEWEIGHTS_NUL_TERMINATED, &t, &err), 0, err);
  CHECK_STATUS(safeweights_tensor_copy(r, t, got, sizeof got, &err), 0, err);
  CHECK(got[0] == 300 && got[1] == 4);
  CHECK(safeweights_has_metadata(r) == 0);
  safeweights_reader_free(r);
  /* SAFEWEIGHTS_WRITE_ALIGN_DATA: the data section starts on a 64-byte boundary. */
  size_t size = 0;
  unsigned char* bytes = read_all(out, &size);
  REQUIRE(bytes != NULL && size > 8);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | bytes[i];
  CHECK((8 + n) % 64 == 0);
  free(bytes);
  remove(out);
  free(out);
}

static void test_writer_errors(void) {
  safeweights_writer* w = NULL;
  safeweights_error* err = NULL;
  const uint64_t shape[2] = {2, 2};
  const float v[4] = {1, 2, 3, 4};
  REQUIRE(safeweights_writer_new(&w, NULL) == 0);
  CHECK_STATUS(safeweights_writer_add_tensor(w, "a", 1, SAFEWEIGHTS_DTYPE_F32, 2, shape, v, sizeof v, 0, &err), 0,
               err);
  /* The same name again. */
  CHECK_STATUS(safeweights_writer_add_tensor(w, "a", 1, SAFEWEIGHTS_DTYPE_F32, 2, shape, v, sizeof v, 0, &err),
               SAFEWEIGHTS_ERRC_DUPLICATE_KEY, err);
  CHECK(err != NULL && strstr(safeweights_error_message(err), "added twice") != NULL);
  safeweights_error_free(err);
  err = NULL;
  /* Bytes that do not match the shape; a dtype out of range; the reserved name; unknown flags; NULLs. */
  CHECK_STATUS(safeweights_writer_add_tensor(w, "b", 1, SAFEWEIGHTS_DTYPE_F32, 2, shape, v, sizeof v - 1, 0, &err),
               SAFEWEIGHTS_ERRC_SIZE_MISMATCH, err);
  CHECK(err != NULL && strstr(safeweights_error_message(err), "`b`") != NULL);
  safeweights_error_free(err);
  err = NULL;
  CHECK(safeweights_writer_add_tensor(w, "b", 1, SAFEWEIGHTS_DTYPE_F64, 2, shape, v, sizeof v, 0, NULL) ==
        SAFEWEIGHTS_ERRC_SIZE_MISMATCH);
  CHECK(safeweights_writer_add_tensor(w, "b", 1, SAFEWEIGHTS_DTYPE_COUNT, 2, shape, v, sizeof v, 0, NULL) ==
        SAFEWEIGHTS_ERRC_UNKNOWN_DTYPE);
  CHECK(safeweights_writer_add_tensor(w, "b", 1, -1, 2, shape, v, sizeof v, 0, NULL) == SAFEWEIGHTS_ERRC_UNKNOWN_DTYPE);
  CHECK(safeweights_writer_add_tensor(w, "__metadata__", SAFEWEIGHTS_NUL_TERMINATED, SAFEWEIGHTS_DTYPE_F32, 2, shape,
                                      v, sizeof v, 0, NULL) == SAFEWEIGHTS_ERRC_INVALID_ARGUMENT);
  CHECK(safeweights_writer_add_tensor(w, "b", 1, SAFEWEIGHTS_DTYPE_F32, 2, shape, v, sizeof v, 8u, NULL) ==
        SAFEWEIGHTS_ERRC_INVALID_ARGUMENT);
  CHECK(safeweights_writer_add_tensor(w, "b", 1, SAFEWEIGHTS_DTYPE_F32, 2, NULL, v, sizeof v, 0, NULL) ==
        SAFEWEIGHTS_ERRC_INVALID_ARGUMENT);
  CHECK(safeweights_writer_add_tensor(w, "b", 1, SAFEWEIGHTS_DTYPE_F32, 2, shape, NULL, sizeof v, 0, NULL) ==
        SAFEWEIGHTS_ERRC_INVALID_ARGUMENT);
  CHECK(safeweights_writer_add_tensor(NULL, "b", 1, SAFEWEIGHTS_DTYPE_F32, 2, shape, v, sizeof v, 0, NULL) ==
        SAFEWEIGHTS_ERRC_INVALID_ARGUMENT);
  /* A shape whose size overflows 64 bits. */
  const uint64_t huge[2] = {UINT64_MAX / 2, 4};
  CHECK(safeweights_writer_add_tensor(w, "h", 1, SAFEWEIGHTS_DTYPE_F32, 2, huge, v, sizeof v, 0, NULL) ==
        SAFEWEIGHTS_ERRC_SIZE_OVERFLOW);
  /* A failed add leaves the writer as it was: "b" can still be added. */
  CHECK_STATUS(safeweights_writer_add_tensor(w, "b", 1, SAFEWEIGHTS_DTYPE_F32, 1, shape, v, 2 * sizeof(float), 0, &err),
               0, err);
  CHECK(safeweights_writer_write_file(w, NULL, 0, NULL) == SAFEWEIGHTS_ERRC_INVALID_ARGUMENT);
  safeweights_writer_free(w);
}

/* A write that fails leaves nothing at its path, and an old file there whole. */
static void test_writer_is_atomic(void) {
  safeweights_writer* w = NULL;
  safeweights_error* err = NULL;
  const uint64_t shape[1] = {3};
  const uint8_t v[3] = {7, 8, 9};
  REQUIRE(safeweights_writer_new(&w, NULL) == 0);
  CHECK_STATUS(safeweights_writer_add_tensor(w, "v", 1, SAFEWEIGHTS_DTYPE_U8, 1, shape, v, sizeof v, 0, &err), 0, err);

  /* A directory that does not exist. */
  char* nowhere = path_of(scratch_dir, "capi-no-such-directory", "out.safetensors");
  int status = safeweights_writer_write_file(w, nowhere, 0, &err);
  CHECK(status == SAFEWEIGHTS_ERRC_WRITE_FAILED || status == SAFEWEIGHTS_ERRC_IO_ERROR);
  CHECK(err != NULL && strstr(safeweights_error_message(err), "capi-no-such-directory") != NULL);
  CHECK(!file_exists(nowhere));
  safeweights_error_free(err);
  err = NULL;
  free(nowhere);

  /* An old file stays whole when the write fails part-way (a metadata key that is not UTF-8). */
  char* path = path_of(scratch_dir, "", "capi-atomic.safetensors");
  const char old[] = "the old file";
  write_all(path, old, sizeof old);
  CHECK_STATUS(safeweights_writer_add_metadata(w, "\xff", 1, "v", 1, &err), 0, err);
  CHECK_STATUS(safeweights_writer_write_file(w, path, 0, &err), SAFEWEIGHTS_ERRC_INVALID_ARGUMENT, err);
  CHECK(err != NULL && strstr(safeweights_error_message(err), "not UTF-8") != NULL);
  safeweights_error_free(err);
  err = NULL;
  size_t size = 0;
  unsigned char* now = read_all(path, &size);
  CHECK(now != NULL && size == sizeof old && memcmp(now, old, size) == 0);
  free(now);
  safeweights_writer_free(w);

  /* And a write that succeeds replaces it. */
  REQUIRE(safeweights_writer_new(&w, NULL) == 0);
  CHECK_STATUS(safeweights_writer_add_tensor(w, "v", 1, SAFEWEIGHTS_DTYPE_U8, 1, shape, v, sizeof v, 0, &err), 0, err);
  CHECK_STATUS(safeweights_writer_add_metadata(w, "k", SAFEWEIGHTS_NUL_TERMINATED, "v1", 2, &err), 0, err);
  CHECK_STATUS(safeweights_writer_add_metadata(w, "k", SAFEWEIGHTS_NUL_TERMINATED, "v2", 2, &err), 0, err);
  CHECK_STATUS(safeweights_writer_write_file(w, path, 0, &err), 0, err);
  safeweights_writer_free(w);
  safeweights_reader* r = NULL;
  CHECK_STATUS(safeweights_open_file(path, 0, &r, &err), 0, err);
  const char* value = NULL;
  size_t value_len = 0;
  CHECK(safeweights_metadata_count(r) == 1);
  CHECK_STATUS(safeweights_metadata_get(r, "k", 1, &value, &value_len, &err), 0, err);
  CHECK(value != NULL && value_len == 2 && memcmp(value, "v2", 2) == 0);
  safeweights_reader_free(r);
  safeweights_error_free(err);
  remove(path);
  free(path);
}

/* An allocation that fails is out_of_memory, not an exception through C or
 * an abort: the writer's copy of 2^60 bytes (the shape says so; the bytes are
 * never read, since the copy cannot be made). Not under AddressSanitizer,
 * whose allocator stops the program at such a request. */
static int test_out_of_memory(void) {
#if defined(__SANITIZE_ADDRESS__)
  return 0;
#else
  safeweights_writer* w = NULL;
  safeweights_error* err = NULL;
  const uint64_t shape[1] = {(uint64_t)1 << 60};
  const unsigned char byte = 0;
  if ((size_t)-1 < shape[0]) return 0; /* a 32-bit size_t cannot state the size */
  if (safeweights_writer_new(&w, NULL) != 0) {
    CHECK(!"safeweights_writer_new");
    return 1;
  }
  CHECK_STATUS(safeweights_writer_add_tensor(w, "huge", 4, SAFEWEIGHTS_DTYPE_U8, 1, shape, &byte, (size_t)shape[0], 0,
                                             &err),
               SAFEWEIGHTS_ERRC_OUT_OF_MEMORY, err);
  CHECK(err != NULL && strstr(safeweights_error_message(err), "out of memory") != NULL);
  safeweights_error_free(err);
  /* The writer is as it was. */
  CHECK(safeweights_writer_add_tensor(w, "huge", 4, SAFEWEIGHTS_DTYPE_U8, 0, shape, &byte, 1, 0, NULL) == 0);
  safeweights_writer_free(w);
  return 1;
#endif
}

/* ---- The runner ---- */

struct test_case {
  const char* name;
  void (*run)(void);
};
static void run_out_of_memory(void);
static int out_of_memory_ran;
static void run_out_of_memory(void) { out_of_memory_ran = test_out_of_memory(); }
static const struct test_case cases[] = {
    {"codes, names and version", test_codes_and_names},
    {"every valid file matches its .expect.json (mapped)", test_valid_files_mapped},
    {"every valid file matches its .expect.json (buffer)", test_valid_files_buffer},
    {"every valid file matches its .expect.json (pread)", test_valid_files_pread},
    {"every malformed file gets its verdict and code", test_malformed_files},
    {"lookups by name and index, and errors", test_lookup_and_errors},
    {"copies check the caller's buffer", test_copy_checks_the_buffer},
    {"slices (mapped)", test_slices_mapped},
    {"slices (pread)", test_slices_pread},
    {"the writer rewrites every valid file byte for byte", test_writer_rewrites_every_valid_file},
    {"the writer copies unless borrowing; aligned data", test_writer_copies_unless_borrowing},
    {"writer errors", test_writer_errors},
    {"writes are atomic", test_writer_is_atomic},
    {"an allocation that fails is out_of_memory", run_out_of_memory},
};

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s CONFORMANCE_DIR SCRATCH_DIR\n", argv[0]);
    return 2;
  }
  conformance_dir = argv[1];
  scratch_dir = argv[2];
  const size_t n = sizeof cases / sizeof cases[0];
  size_t failed = 0, skipped = 0;
  for (size_t i = 0; i < n; ++i) {
    case_failed = 0;
    cases[i].run();
    if (cases[i].run == run_out_of_memory && !out_of_memory_ran) {
      printf("skipped: %s (AddressSanitizer or a 32-bit size_t)\n", cases[i].name);
      ++skipped;
      continue;
    }
    printf("%s: %s\n", case_failed ? "FAILED" : "ok", cases[i].name);
    failed += case_failed ? 1 : 0;
  }
  printf("%lu checks\n", checks_run);
  printf("[doctest] test cases: %6zu | %6zu passed | %zu failed | %zu skipped\n", n - skipped, n - skipped - failed,
         failed, skipped);
  return failed ? 1 : 0;
}
