// Helpers shared by the tests: fixture paths, whole-file reads, scratch directories.
#pragma once

#include <doctest/doctest.h>

#include <cstddef>
#include <cstring>
#include <span>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "safeweights/format/byte_order.hpp"

namespace test_support {

inline std::filesystem::path data_dir() { return SAFEWEIGHTS_TEST_DATA; }
inline std::filesystem::path conformance_dir() { return data_dir() / "conformance"; }

// Host values as a file's little-endian bytes (swapped on a big-endian host).
template <class T>
std::vector<std::byte> le_bytes(std::span<const T> values) {
  std::vector<std::byte> out(values.size_bytes());
  if (!out.empty()) std::memcpy(out.data(), values.data(), out.size());
  if constexpr (safeweights::host_is_big_endian) safeweights::detail::swap_scalars(out.data(), out.size(), sizeof(T));
  return out;
}
template <class T>
std::vector<std::byte> le_bytes(const std::vector<T>& values) {
  return le_bytes(std::span<const T>(values));
}

// Under qemu-user (the s390x cross build's exe_wrapper, cross/qemu-s390x-run,
// sets this): what the emulator does to resident memory is not the kernel's.
inline bool under_qemu() { return std::getenv("SAFEWEIGHTS_UNDER_QEMU") != nullptr; }

inline std::vector<std::byte> read_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), {});
  std::vector<std::byte> out(chars.size());
  if (!chars.empty()) std::memcpy(out.data(), chars.data(), chars.size());
  return out;
}

inline void write_bytes(const std::filesystem::path& p, std::span<const std::byte> bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

inline void write_text(const std::filesystem::path& p, std::string_view text) {
  write_bytes(p, std::as_bytes(std::span(text.data(), text.size())));
}

// A fresh directory under the system temp dir, removed with its contents.
class scratch_dir {
 public:
  scratch_dir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("safeweights-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~scratch_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
  std::size_t entries() const {
    std::size_t n = 0;
    for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(path_)) ++n;
    return n;
  }

 private:
  std::filesystem::path path_;
};

// A safetensors image from a raw header (JSON) and data bytes, for hand-made cases.
inline std::vector<std::byte> make_file(std::string_view json, std::size_t data_bytes = 0, std::byte fill = std::byte{0}) {
  std::vector<std::byte> out(8 + json.size() + data_bytes, fill);
  std::uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<std::byte>(n >> (8 * i));
  std::memcpy(out.data() + 8, json.data(), json.size());
  return out;
}

}  // namespace test_support
