// libzip, loaded by the first .npz `convert` meets rather than linked: libzip
// brings libcrypto, libbz2 and libz with it, and loading those at every start
// would cost each `safeweights validate` more than validating a GPT-2 header
// (bench/io_bench.cpp, "validate process"). The functions npz.cpp calls are
// the members below, typed from <zip.h>, so a call is checked as a direct
// call would be.
#pragma once

#include <zip.h>

#include "safeweights/error.hpp"

namespace safeweights_cli {

#define SAFEWEIGHTS_ZIP_FUNCTIONS(X)                                                                      \
  X(zip_close) X(zip_discard) X(zip_error_fini) X(zip_error_init) X(zip_error_init_with_code)             \
  X(zip_error_set) X(zip_error_strerror) X(zip_error_to_data) X(zip_fclose) X(zip_file_add)               \
  X(zip_file_get_error) X(zip_file_set_mtime) X(zip_fopen_index) X(zip_fread) X(zip_get_num_entries)      \
  X(zip_open) X(zip_open_from_source) X(zip_set_file_compression) X(zip_source_free)                      \
  X(zip_source_function_create) X(zip_source_make_command_bitmap) X(zip_stat_index) X(zip_stat_init)      \
  X(zip_strerror)

struct zip_library {
#define SAFEWEIGHTS_ZIP_MEMBER(name) decltype(&::name) name = nullptr;
  SAFEWEIGHTS_ZIP_FUNCTIONS(SAFEWEIGHTS_ZIP_MEMBER)
#undef SAFEWEIGHTS_ZIP_MEMBER
};

// The loaded library (once per process), or why it cannot be loaded, which
// names `what` (the archive the caller is about to read or write).
safeweights::result<const zip_library*> load_zip_library(const std::string& what);

}  // namespace safeweights_cli
