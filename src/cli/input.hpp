// How every command opens a safetensors input: mapped, with the reader's own
// reads (the header, slices) done by pread (read_options::shrink_safe), so
// that only touches of tensor bytes can meet a file another process cut
// short, and those the SIGBUS handler reports (signals.hpp). A file the
// reader refuses is then looked at once more (file_kind.hpp), so that an
// .npz, a pickle, an index or a directory is called what it is.
#pragma once

#include <string>

#include "file_kind.hpp"
#include "safeweights/io/reader.hpp"

namespace safeweights_cli {

inline safeweights::result<safeweights::reader> open_input(const std::string& path,
                                                           safeweights::read_options options = {}) {
  options.shrink_safe = true;
  auto r = safeweights::reader::open(path, options);
  if (!r) return explain_input(std::move(r).error_value(), path);
  return r;
}

// `label` is the path `file` was opened from: a refused file is looked at again by it.
inline safeweights::result<safeweights::reader> open_input(safeweights::file_handle file, const std::string& label,
                                                           safeweights::read_options options = {}) {
  options.shrink_safe = true;
  auto r = safeweights::reader::open(std::move(file), label, options);
  if (!r) return explain_input(std::move(r).error_value(), label);
  return r;
}

// `path` mapped whole, and read from that mapping: for the commands that hash
// the file, so that the digests and the header describe the same bytes.
inline safeweights::result<safeweights::reader> open_input_mapped(const std::string& path,
                                                                  safeweights::mapping& map) {
  auto file = safeweights::file_handle::open_read(path);
  if (!file) return explain_input(std::move(file).error_value().in(path), path);
  auto m = safeweights::mapping::map(*file);
  if (!m) return std::move(m).error_value().in(path);
  map = std::move(*m);
  auto r = safeweights::reader::from_buffer(map.bytes(), {}, path);
  if (!r) return explain_input(std::move(r).error_value(), path);
  return r;
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
