/* A C program built against the installed C API: prints
 * "N tensors, format=VALUE" for the file it is given. */
#include <safeweights.h>
#include <stdio.h>

int main(int argc, char** argv) {
  safeweights_reader* reader = NULL;
  safeweights_error* err = NULL;
  const char* value = NULL;
  size_t value_len = 0;
  if (argc != 2) return 2;
  if (safeweights_open_file(argv[1], 0, &reader, &err) != 0 ||
      safeweights_metadata_get(reader, "format", SAFEWEIGHTS_NUL_TERMINATED, &value, &value_len, &err) != 0) {
    fprintf(stderr, "%s\n", safeweights_error_message(err));
    safeweights_error_free(err);
    safeweights_reader_free(reader);
    return 1;
  }
  printf("%zu tensors, format=%.*s\n", safeweights_tensor_count(reader), value ? (int)value_len : 6,
         value ? value : "(none)");
  safeweights_reader_free(reader);
  return 0;
}
