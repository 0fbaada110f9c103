// NumPy's .npz archives (a zip of NAME.npy members, stored by np.savez,
// deflated by np.savez_compressed), read and written with libzip.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "safeweights/io/writer.hpp"

namespace safeweights_cli {

namespace sw = safeweights;

class npz_reader {
 public:
  struct member {
    std::string name;          // in the archive, e.g. "fc.weight.npy"
    std::uint64_t index = 0;   // libzip's
    std::uint64_t size = 0;    // uncompressed, as the directory says
    std::uint64_t packed = 0;  // in the archive (compressed, or not)
    std::uint16_t method = 0;  // zip's compression method (0 stored, 8 deflate)
  };

  // The most bytes a member stored in `packed` bytes with zip method
  // `method` can hold: a stored member its packed size, a deflated one 1032
  // times it (a deflate match spends at least 2 bits on 258 bytes); nullopt
  // for methods with no such bound.
  static std::optional<std::uint64_t> most_bytes(std::uint16_t method, std::uint64_t packed);

  // Opens the archive and checks its directory (a truncated file has none),
  // refusing a member whose stated size its packed bytes cannot hold: sizes
  // are trusted only then, so a small archive cannot make a reader allocate
  // gigabytes.
  static sw::result<npz_reader> open(const std::string& path);

  const std::string& path() const { return path_; }
  const std::vector<member>& members() const { return members_; }

  // Reads `n` bytes from the start of a member (n at most its size), in room
  // that grows past what the member can hold only as bytes arrive.
  sw::result<std::vector<std::byte>> read_prefix(const member& m, std::size_t n) const;

  // The member's bytes from offset `skip` to its end, streamed and checked:
  // the member must hold exactly its stated size and pass its CRC. A failure
  // stops the source (returns 0) and leaves its message in `*failure`.
  sw::chunk_source stream(const member& m, std::uint64_t skip, std::shared_ptr<std::string> failure) const;

 private:
  std::string path_;
  std::shared_ptr<void> archive_;  // zip_t*, discarded with the last reader copy
  std::vector<member> members_;
};

// Builds an .npz archive and writes it atomically at commit(): members are
// produced while the archive is written, so no tensor sits whole in memory.
class npz_writer {
 public:
  // Makes a fresh source of a member's bytes each time libzip reads it.
  using producer = std::function<sw::chunk_source()>;

  static sw::result<npz_writer> create(const std::string& path, bool compress);
  npz_writer(npz_writer&&) noexcept;
  npz_writer& operator=(npz_writer&&) = delete;
  ~npz_writer();

  sw::result<void> add(const std::string& member_name, std::uint64_t size, producer bytes);
  // Writes the archive; on failure the target is untouched and no temporary left.
  sw::result<void> commit();

 private:
  struct impl;
  explicit npz_writer(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace safeweights_cli
