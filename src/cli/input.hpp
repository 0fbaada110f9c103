// How every command opens a safetensors input: mapped, with the reader's own
// reads (the header, slices) done by pread (read_options::shrink_safe), so
// that only touches of tensor bytes can meet a file another process cut
// short, and those the SIGBUS handler reports (signals.hpp).
#pragma once

#include <string>

#include "safeweights/io/reader.hpp"

namespace safeweights_cli {

inline safeweights::result<safeweights::reader> open_input(const std::string& path,
                                                           safeweights::read_options options = {}) {
  options.shrink_safe = true;
  return safeweights::reader::open(path, options);
}

inline safeweights::result<safeweights::reader> open_input(safeweights::file_handle file, const std::string& label,
                                                           safeweights::read_options options = {}) {
  options.shrink_safe = true;
  return safeweights::reader::open(std::move(file), label, options);
}

// The error of a write whose bytes came straight from `input`'s mapping: when
// the input shrank under it (file_changed), the message names the input.
inline safeweights::error name_changed_input(safeweights::error e, const std::string& input) {
  if (e.code != safeweights::errc::file_changed) return e;
  return safeweights::make_error(e.code, input +
                                             ": changed while being read: the file shrank under the command "
                                             "(another process truncated or rewrote it); no output was written");
}

}  // namespace safeweights_cli
