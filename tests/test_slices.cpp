// Slices and byte ranges (format/slice_layout.hpp, io/reader.hpp):
// where a slice's bytes lie, bounds and sub-byte checks, every dtype in every
// open mode against an element-by-element reference, zero-copy views, exact
// pread accounting with coalescing, and a slice of a large file bringing in
// only its own pages (mincore).
#ifndef _WIN32
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#endif

#include <algorithm>
#include <map>
#include <numeric>
#include <random>

#include "safeweights/safeweights.hpp"
#include "support.hpp"

namespace sw = safeweights;
using sw::dtype;
using sw::errc;

namespace {

std::vector<std::byte> random_bytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::byte> out(n);
  for (auto& b : out) b = static_cast<std::byte>(rng());
  return out;
}

sw::tensor_info info_of(dtype t, const std::vector<std::uint64_t>& shape) {
  sw::tensor_info info;
  info.name = "w";
  info.type = t;
  info.shape = shape;
  return info;
}

// The bytes of elements [b, e) along `dim` of a byte-aligned tensor, gathered
// one element at a time from its row-major index: independent of slice_layout.
std::vector<std::byte> gather(const std::vector<std::byte>& data, const std::vector<std::uint64_t>& shape,
                              std::size_t width, std::size_t dim, std::uint64_t b, std::uint64_t e) {
  std::vector<std::byte> out;
  std::uint64_t total = 1;
  for (auto d : shape) total *= d;
  for (std::uint64_t flat = 0; flat < total; ++flat) {
    std::uint64_t rest = flat, coord = 0;
    for (std::size_t d = shape.size(); d-- > 0;) {
      if (d == dim) coord = rest % shape[d];
      rest /= shape[d];
    }
    if (coord >= b && coord < e)
      out.insert(out.end(), data.begin() + static_cast<std::ptrdiff_t>(flat * width),
                 data.begin() + static_cast<std::ptrdiff_t>((flat + 1) * width));
  }
  return out;
}

// Sub-byte tensors [rows, cols]: whole-byte row runs, taken bit range by bit range.
std::vector<std::byte> gather_bits(const std::vector<std::byte>& data, std::uint64_t cols, unsigned bits,
                                   std::uint64_t rows, std::size_t dim, std::uint64_t b, std::uint64_t e) {
  std::vector<std::byte> out;
  auto take = [&](std::uint64_t from_bit, std::uint64_t to_bit) {
    REQUIRE(from_bit % 8 == 0);
    REQUIRE(to_bit % 8 == 0);
    out.insert(out.end(), data.begin() + static_cast<std::ptrdiff_t>(from_bit / 8),
               data.begin() + static_cast<std::ptrdiff_t>(to_bit / 8));
  };
  if (dim == 0) {
    take(b * cols * bits, e * cols * bits);
  } else {
    for (std::uint64_t r = 0; r < rows; ++r) take((r * cols + b) * bits, (r * cols + e) * bits);
  }
  return out;
}

std::vector<std::byte> as_vector(std::span<const std::byte> s) { return {s.begin(), s.end()}; }

}  // namespace

TEST_CASE("slice layout: rows are one run, columns one run per row, whole rows merge") {
  std::vector<std::uint64_t> shape{4, 6};
  auto t = info_of(dtype::F32, shape);
  auto rows = sw::plan_slice(t, {0, 1, 3}).value();
  CHECK(rows.shape == std::vector<std::uint64_t>{2, 6});
  CHECK(rows.runs == 1);
  CHECK(rows.offset == 24);
  CHECK(rows.bytes() == 48);
  CHECK(rows.elements == 12);
  auto cols = sw::plan_slice(t, {1, 2, 5}).value();
  CHECK(cols.shape == std::vector<std::uint64_t>{4, 3});
  CHECK(cols.runs == 4);
  CHECK(cols.run_bytes == 12);
  CHECK(cols.stride == 24);
  CHECK(cols.offset == 8);
  CHECK_FALSE(cols.contiguous());
  auto all_cols = sw::plan_slice(t, {1, 0, 6}).value();
  CHECK(all_cols.runs == 1);
  CHECK(all_cols.bytes() == 96);
  auto empty = sw::plan_slice(t, {1, 3, 3}).value();
  CHECK(empty.runs == 0);
  CHECK(empty.bytes() == 0);
  CHECK(empty.shape == std::vector<std::uint64_t>{4, 0});
  // A middle dimension of a 3-D tensor: one run per outer index.
  std::vector<std::uint64_t> cube{2, 3, 4};
  auto mid = sw::plan_slice(info_of(dtype::I16, cube), {1, 1, 2}).value();
  CHECK(mid.runs == 2);
  CHECK(mid.run_bytes == 8);
  CHECK(mid.stride == 24);
  CHECK(mid.offset == 8);
  // Leading dimensions of size 1 do not split a slice.
  std::vector<std::uint64_t> lead{1, 1, 5};
  CHECK(sw::plan_slice(info_of(dtype::U8, lead), {2, 1, 4}).value().runs == 1);
}

TEST_CASE("slice layout: bounds, rank and sub-byte alignment are checked") {
  std::vector<std::uint64_t> shape{4, 6};
  auto t = info_of(dtype::F32, shape);
  CHECK(sw::plan_slice(t, {2, 0, 1}).code() == errc::invalid_argument);  // no such dimension
  CHECK(sw::plan_slice(t, {0, 0, 5}).code() == errc::invalid_argument);  // past the end
  CHECK(sw::plan_slice(t, {0, 3, 2}).code() == errc::invalid_argument);  // begin after end
  CHECK(sw::plan_slice(t, {0, 5, 5}).code() == errc::invalid_argument);
  std::vector<std::uint64_t> none;
  CHECK(sw::plan_slice(info_of(dtype::F32, none), {0, 0, 0}).code() == errc::invalid_argument);  // a scalar
  // F4: rows of 2 elements are one byte; half a row is not whole bytes.
  std::vector<std::uint64_t> f4{4, 2};
  CHECK(sw::plan_slice(info_of(dtype::F4, f4), {0, 1, 3}).value().bytes() == 2);
  CHECK(sw::plan_slice(info_of(dtype::F4, f4), {1, 0, 1}).code() == errc::subbyte_misaligned);
  // F6: 4 elements are 3 bytes; starting at element 1 is not a whole byte.
  std::vector<std::uint64_t> f6{8};
  CHECK(sw::plan_slice(info_of(dtype::F6_E2M3, f6), {0, 4, 8}).value().bytes() == 3);
  CHECK(sw::plan_slice(info_of(dtype::F6_E2M3, f6), {0, 1, 5}).code() == errc::subbyte_misaligned);
  CHECK(sw::plan_slice(info_of(dtype::F6_E3M2, f6), {0, 0, 3}).code() == errc::subbyte_misaligned);
  // A valid empty tensor whose trailing dimensions overflow when multiplied.
  std::vector<std::uint64_t> huge{0, std::uint64_t{1} << 40, std::uint64_t{1} << 40};
  CHECK(sw::plan_slice(info_of(dtype::U8, huge), {0, 0, 0}).code() == errc::size_overflow);
}

TEST_CASE("slices of every dtype, in every open mode, match an element-by-element reference") {
  test_support::scratch_dir dir;
  sw::writer w;
  std::map<std::string, std::vector<std::byte>> data;
  // [4, 8]: rows of 8 elements are whole bytes for every width, 4 columns too.
  const std::vector<std::uint64_t> shape{4, 8};
  for (std::size_t i = 0; i < sw::dtype_count; ++i) {
    auto t = static_cast<dtype>(i);
    std::string name(sw::dtype_name(t));
    data[name] = random_bytes(4 * 8 * sw::bit_width(t) / 8, i);
    REQUIRE(w.add(name, t, shape, data[name]).code() == errc::ok);
  }
  // A 3-D tensor too, sliced along each of its dimensions.
  const std::vector<std::uint64_t> cube{3, 5, 7};
  data["cube"] = random_bytes(3 * 5 * 7 * 2, 99);
  REQUIRE(w.add("cube", dtype::BF16, cube, data["cube"]).code() == errc::ok);
  const auto path = (dir / "all.safetensors").string();
  REQUIRE(w.write_file(path).code() == errc::ok);
  auto image = test_support::read_bytes(path);

  for (int mode = 0; mode < 3; ++mode) {
    INFO("mode ", std::string(mode == 0 ? "mmap" : mode == 1 ? "pread" : "buffer"));
    sw::read_options o;
    o.mode = mode == 1 ? sw::io_mode::pread : sw::io_mode::mmap;
    auto r = mode == 2 ? sw::reader::from_buffer(image) : sw::reader::open(path, o);
    REQUIRE(r);
    for (std::size_t i = 0; i < sw::dtype_count; ++i) {
      auto t = static_cast<dtype>(i);
      std::string name(sw::dtype_name(t));
      INFO(name);
      const sw::tensor_info& info = *r->find(name);
      const unsigned bits = sw::bit_width(t);
      const std::pair<std::uint64_t, std::uint64_t> ranges[] = {{0, 4}, {1, 3}, {2, 2}, {0, 8}, {4, 8}};
      for (std::size_t dim : {std::size_t{0}, std::size_t{1}}) {
        for (auto [b, e] : ranges) {
          if (e > shape[dim]) continue;
          const std::uint64_t inner = dim == 0 ? 8 : 1;
          if ((b * inner * bits) % 8 || ((e - b) * inner * bits) % 8) {  // only F4 and F6 get here
            CHECK(bits % 8 != 0);
            CHECK(r->slice(name, {dim, b, e}).code() == errc::subbyte_misaligned);
            continue;
          }
          auto want = bits % 8 == 0 ? gather(data[name], shape, bits / 8, dim, b, e)
                                    : gather_bits(data[name], 8, bits, 4, dim, b, e);
          std::vector<std::byte> got(want.size());
          REQUIRE(r->read_slice(info, {dim, b, e}, got).code() == errc::ok);
          CHECK(got == want);
          auto view = r->slice(name, {dim, b, e});
          REQUIRE(view);
          CHECK(as_vector(view->bytes()) == want);
          CHECK(view->type() == t);
          CHECK(view->shape()[dim] == e - b);
          CHECK(view->name() == name);
        }
      }
    }
    for (std::size_t dim = 0; dim < 3; ++dim) {
      for (std::uint64_t b = 0; b < cube[dim]; ++b) {
        std::uint64_t e = std::min(cube[dim], b + 2);
        auto view = r->slice("cube", {dim, b, e});
        REQUIRE(view);
        CHECK(as_vector(view->bytes()) == gather(data["cube"], cube, 2, dim, b, e));
        CHECK(view->elements() == 3 * 5 * 7 / cube[dim] * (e - b));
      }
    }
    // A wrong buffer size and a missing tensor are refused.
    std::vector<std::byte> small(3);
    CHECK(r->read_slice(*r->find("F32"), {0, 0, 1}, small).code() == errc::invalid_argument);
    CHECK(r->slice("nope", {0, 0, 1}).code() == errc::tensor_not_found);
    CHECK(r->slice("F4", {1, 0, 1}).code() == errc::subbyte_misaligned);
  }
}

TEST_CASE("a contiguous slice of a mapped file is a view into the mapping, outliving the reader") {
  test_support::scratch_dir dir;
  auto bytes = random_bytes(16 * 32 * 4, 3);
  sw::writer w;
  REQUIRE(w.add("m", dtype::F32, {16, 32}, bytes).code() == errc::ok);
  const auto path = (dir / "m.safetensors").string();
  REQUIRE(w.write_file(path).code() == errc::ok);
  sw::tensor_view rows, cols;
  const std::byte* whole = nullptr;
  {
    auto r = sw::reader::open(path).value();
    sw::tensor_view m = r.tensor("m").value();
    whole = m.bytes().data();
    rows = r.slice("m", {0, 4, 8}).value();
    cols = r.slice("m", {1, 4, 8}).value();
  }
  CHECK(rows.bytes().data() == whole + 4 * 32 * 4);  // zero-copy
  CHECK(as_vector(rows.bytes()) == std::vector<std::byte>(bytes.begin() + 4 * 128, bytes.begin() + 8 * 128));
  CHECK(cols.bytes().data() != whole + 16);  // strided: an owned copy
  CHECK(cols.bytes().size() == 16 * 4 * 4);
  CHECK(cols.typed<float>().value().size() == 64);
  CHECK(rows.typed<float>().value().size() == 128);
}

TEST_CASE("pread mode fetches exactly the slice's bytes; ranges that touch share one call") {
  test_support::scratch_dir dir;
  auto a = random_bytes(64 * 100, 5), b = random_bytes(64, 6);
  sw::writer w;
  REQUIRE(w.add("a", dtype::U8, {64, 100}, a).code() == errc::ok);
  REQUIRE(w.add("b", dtype::I8, {64}, b).code() == errc::ok);
  const auto path = (dir / "p.safetensors").string();
  REQUIRE(w.write_file(path).code() == errc::ok);
  sw::read_options o;
  o.mode = sw::io_mode::pread;
  auto r = sw::reader::open(path, o).value();
  CHECK(r.bytes_fetched() == 0);  // the header is not counted: only tensor data
  const sw::tensor_info& ta = *r.find("a");
  std::vector<std::byte> cols(64 * 10);
  REQUIRE(r.read_slice(ta, {1, 20, 30}, cols).code() == errc::ok);
  CHECK(r.bytes_fetched() == 640);
  CHECK(r.fetch_calls() == 64);  // one run per row, none touching
  std::vector<std::byte> rows(10 * 100);
  REQUIRE(r.read_slice(ta, {0, 5, 15}, rows).code() == errc::ok);
  CHECK(r.bytes_fetched() == 640 + 1000);
  CHECK(r.fetch_calls() == 65);
  CHECK(rows == std::vector<std::byte>(a.begin() + 500, a.begin() + 1500));

  // Three ranges that touch (given out of order, across two tensors) are one call.
  const std::uint64_t end_of_a = ta.end;  // I8 sorts before U8: `b` comes first in the file
  std::vector<std::byte> x(10), y(20), z(5);
  const sw::reader::byte_range batch[] = {
      {end_of_a - 20, 20, y.data()}, {end_of_a - 30, 10, x.data()}, {0, 5, z.data()}};
  auto before = r.fetch_calls();
  REQUIRE(r.read_ranges(batch).code() == errc::ok);
  CHECK(r.fetch_calls() == before + 2);  // [end-30, end) and [0, 5)
  auto image = test_support::read_bytes(path);
  auto data_at = [&](std::uint64_t off, std::size_t n) {
    std::size_t base = static_cast<std::size_t>(r.index().data_offset() + off);
    return std::vector<std::byte>(image.begin() + static_cast<std::ptrdiff_t>(base),
                                  image.begin() + static_cast<std::ptrdiff_t>(base + n));
  };
  CHECK(x == data_at(end_of_a - 30, 10));
  CHECK(y == data_at(end_of_a - 20, 20));
  CHECK(z == data_at(0, 5));
  // Overlapping ranges are each read whole.
  std::vector<std::byte> p(16), q(16);
  const sw::reader::byte_range overlap[] = {{100, 16, p.data()}, {108, 16, q.data()}};
  REQUIRE(r.read_ranges(overlap).code() == errc::ok);
  CHECK(p == data_at(100, 16));
  CHECK(q == data_at(108, 16));
  // Outside the data section: refused before anything is read.
  const sw::reader::byte_range outside[] = {{r.index().data_size() - 4, 8, p.data()}};
  CHECK(r.read_ranges(outside).code() == errc::invalid_argument);
  const sw::reader::byte_range wrap[] = {{~std::uint64_t{0}, 2, p.data()}};
  CHECK(r.read_ranges(wrap).code() == errc::invalid_argument);
}

#ifndef _WIN32  // mincore and posix_fadvise(DONTNEED): Linux page-cache residency
TEST_CASE("with random_access, a slice of a large file brings only its own pages into memory") {
  test_support::scratch_dir dir;
  // 1024 rows of 64 KiB: 64 MiB, 16384 pages.
  constexpr std::uint64_t rows = 1024, cols = 65536;
  sw::writer w;
  std::uint8_t seed = 0;
  REQUIRE(w.add_stream("big", dtype::U8, {rows, cols}, [&](std::span<std::byte> chunk) {
             std::memset(chunk.data(), seed++, chunk.size());
             return chunk.size();
           }).code() == errc::ok);
  const auto path = (dir / "big.safetensors").string();
  REQUIRE(w.write_file(path).code() == errc::ok);  // fsynced: the pages are clean

  const long page = ::sysconf(_SC_PAGESIZE);
  auto resident_pages = [&]() -> long {
    int fd = ::open(path.c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    off_t size = ::lseek(fd, 0, SEEK_END);
    void* m = ::mmap(nullptr, static_cast<std::size_t>(size), PROT_READ, MAP_SHARED, fd, 0);
    REQUIRE(m != MAP_FAILED);
    std::vector<unsigned char> v(static_cast<std::size_t>((size + page - 1) / page));
    REQUIRE(::mincore(m, static_cast<std::size_t>(size), v.data()) == 0);
    ::munmap(m, static_cast<std::size_t>(size));
    ::close(fd);
    return std::count_if(v.begin(), v.end(), [](unsigned char c) { return c & 1; });
  };
  auto evict = [&] {
    int fd = ::open(path.c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
  };
  evict();
  if (resident_pages() > 64) {
    MESSAGE("the page cache kept the file after POSIX_FADV_DONTNEED: residency cannot be measured here");
    return;
  }
  for (sw::io_mode mode : {sw::io_mode::mmap, sw::io_mode::pread}) {
    INFO(std::string(mode == sw::io_mode::mmap ? "mmap" : "pread"));
    evict();
    sw::read_options o;
    o.mode = mode;
    o.random_access = true;
    auto r = sw::reader::open(path, o).value();
    // 64 whole rows (1024 pages), and 100 bytes of each of the 1024 rows (at
    // most 2 pages each), plus the header's page.
    std::vector<std::byte> cols_out(1024 * 100);
    auto rows_view = r.slice("big", {0, 512, 576}).value();  // 64 rows, 4 MiB contiguous
    REQUIRE(r.read_slice(*r.find("big"), {1, 1000, 1100}, cols_out).code() == errc::ok);
    CHECK(cols_out[0] == std::byte{static_cast<unsigned char>(0)});  // chunks of 4 MiB: row 0 is chunk 0
    std::uint64_t sum = 0;
    for (std::size_t k = 0; k < rows_view.bytes().size(); k += static_cast<std::size_t>(page))
      sum += std::to_integer<unsigned>(rows_view.bytes()[k]);
    CHECK(sum > 0);
    long resident = resident_pages();
    const long slice_pages = 64 * cols / page + 1024 * 2 + 2;
    MESSAGE("resident pages after two slices: ", resident, " of ", 16385, " (slices span at most ", slice_pages, ")");
    if (test_support::under_qemu())
      MESSAGE("SKIPPED: resident memory under qemu-user is the emulator's, not the kernel's page accounting");
    else
      CHECK(resident <= slice_pages + 16);
  }
}
#endif
