// The platform layer (io/platform.hpp and the io/ classes on it), through the
// library's own API: UTF-8 paths that are not ASCII, positional reads
// (io_mode::pread: pread/preadv on POSIX, ReadFile with OVERLAPPED offsets on
// Windows), replacing a file that is open or mapped, and no temporary left
// after a failed write. Built and run on Linux and, cross-built with
// MinGW-w64, under Wine (scripts/test-windows).
#include <algorithm>
#include <atomic>
#include <cstring>
#include <fstream>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "errc_printer.hpp"
#include "safeweights/io/platform.hpp"
#include "safeweights/kernels/gemm.hpp"
#include "safeweights/safeweights.hpp"
#include "support.hpp"

namespace sw = safeweights;
using sw::errc;
using test_support::scratch_dir;

namespace {

// "modèle-模型.safetensors", spelled in UTF-8 bytes whatever the source charset.
const std::string non_ascii_name = "mod\xC3\xA8le-\xE6\xA8\xA1\xE5\x9E\x8B.safetensors";

// A directory's path as UTF-8 text (what the library's string API takes).
std::string utf8(const std::filesystem::path& p) { return sw::platform::path_utf8(p); }

std::vector<float> ramp(std::size_t n, float start = 0.0f) {
  std::vector<float> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}

// Names in a directory, as UTF-8.
std::vector<std::string> names_in(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (auto& e : std::filesystem::directory_iterator(dir)) names.push_back(utf8(e.path().filename()));
  std::sort(names.begin(), names.end());
  return names;
}

void write_ramp(const std::string& path, std::size_t n, float start) {
  sw::writer w;
  auto values = ramp(n, start);
  REQUIRE(w.add<float>("x", {n}, values));
  auto r = w.write_file(path);
  REQUIRE_MESSAGE(r, (r ? "" : r.error_value().message));
}

float first_value(const std::string& path) {
  sw::read_options o;
  o.mode = sw::io_mode::pread;
  auto rd = sw::reader::open(path, o);
  REQUIRE_MESSAGE(rd, (rd ? "" : rd.error_value().message));
  return rd->tensor("x").value().as<float>().value()[0];
}

}  // namespace

TEST_CASE("P1: UTF-8 paths that are not ASCII: written, listed under their own name, read in every mode") {
  scratch_dir dir;
  const std::string sub = utf8(dir.path()) + "/r\xC3\xA9pertoire-\xE7\x9B\xAE\xE5\xBD\x95";  // répertoire-目录
  std::filesystem::create_directory(sw::platform::utf8_path(sub));
  const std::string path = sub + "/" + non_ascii_name;
  write_ramp(path, 100, 1.0f);
  // The file has exactly that name (not a code-page mangling of it), and no temporary is left.
  CHECK(names_in(sw::platform::utf8_path(sub)) == std::vector<std::string>{non_ascii_name});
  CHECK(std::filesystem::file_size(sw::platform::utf8_path(path)) > 400);
  for (auto mode : {sw::io_mode::mmap, sw::io_mode::pread}) {
    sw::read_options o;
    o.mode = mode;
    auto rd = sw::reader::open(path, o);
    REQUIRE_MESSAGE(rd, (rd ? "" : rd.error_value().message));
    auto values = rd->tensor("x").value().as<float>().value();
    REQUIRE(values.size() == 100);
    CHECK(values[0] == 1.0f);
    CHECK(values[99] == 100.0f);
  }
  // A sharded checkpoint whose index and shards have such names.
  const std::string index = sub + "/\xE6\xA8\xA1\xE5\x9E\x8B.safetensors.index.json";  // 模型.safetensors.index.json
  test_support::write_text(sw::platform::utf8_path(index),
                           R"({"weight_map": {"x": ")" + non_ascii_name + R"("}})");
  auto ck = sw::checkpoint::open(index);
  REQUIRE_MESSAGE(ck, (ck ? "" : ck.error_value().message));
  const auto* entry = ck->find("x");
  REQUIRE(entry);
  CHECK(ck->view(*entry).value().as<float>().value()[5] == 6.0f);
}

TEST_CASE("P2: errors name a non-ASCII file in UTF-8") {
  scratch_dir dir;
  const std::string missing = utf8(dir.path()) + "/" + non_ascii_name;
  auto rd = sw::reader::open(missing);
  REQUIRE(!rd);
  CHECK(rd.code() == errc::io_error);
  CHECK(rd.error_value().message.find(non_ascii_name) != std::string::npos);
  // A directory is refused as one.
  auto d = sw::reader::open(utf8(dir.path()));
  REQUIRE(!d);
  CHECK(d.code() == errc::io_error);
  CHECK(d.error_value().message.find("directory") != std::string::npos);
}

TEST_CASE("P3: positional reads (io_mode::pread) fetch exactly the asked bytes, from several threads at once") {
  scratch_dir dir;
  const std::string path = utf8(dir / "big.safetensors");
  // Three tensors; the middle one over 1 MiB, so reads are large and at odd offsets.
  sw::writer w;
  auto a = ramp(3), b = ramp(300001, 10.0f), c = ramp(7, -5.0f);
  REQUIRE(w.add<float>("a", {3}, a));
  REQUIRE(w.add<float>("b", {300001}, b));
  REQUIRE(w.add<float>("c", {7}, c));
  REQUIRE(w.write_file(path));
  sw::read_options o;
  o.mode = sw::io_mode::pread;
  auto rd = sw::reader::open(path, o).value();
  CHECK(rd.mode() == sw::io_mode::pread);
  const auto before = rd.bytes_fetched();
  auto bv = rd.tensor("b").value().as<float>().value();
  REQUIRE(bv.size() == 300001);
  CHECK(std::equal(bv.begin(), bv.end(), b.begin()));
  CHECK(rd.bytes_fetched() - before == 300001 * 4);
  // Ranges that touch in the file are one call; the bytes land where asked.
  const auto& info_a = *rd.find("a");
  const auto& info_b = *rd.find("b");
  const auto& info_c = *rd.find("c");
  std::vector<float> got_a(3), got_c(7), got_b_tail(2);
  std::vector<sw::byte_range> ranges = {
      {info_c.begin, 7 * 4, reinterpret_cast<std::byte*>(got_c.data())},
      {info_a.begin, 3 * 4, reinterpret_cast<std::byte*>(got_a.data())},
      {info_b.begin + 299999 * 4, 8, reinterpret_cast<std::byte*>(got_b_tail.data())},
  };
  const auto calls = rd.fetch_calls();
  REQUIRE(rd.read_ranges(ranges));
  CHECK(got_a == a);
  CHECK(got_c == c);
  CHECK(got_b_tail[0] == b[299999]);
  CHECK(got_b_tail[1] == b[300000]);
  // a alone; b's tail and c in one call when they touch in the file.
  CHECK(rd.fetch_calls() - calls == (info_b.begin + 300001 * 4 == info_c.begin ? 2u : 3u));
  // Positional reads share no file position: threads reading at once each get their own bytes.
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const std::uint64_t k = static_cast<std::uint64_t>((t * 7919 + i * 104729) % 300000);
        float pair[2];
        sw::byte_range r{info_b.begin + k * 4, 8, reinterpret_cast<std::byte*>(pair)};
        if (!rd.read_ranges({&r, 1}) || pair[0] != b[k] || pair[1] != b[k + 1]) ++wrong;
      }
    });
  for (auto& th : threads) th.join();
  CHECK(wrong == 0);
}

TEST_CASE("P4: replacing a file that is open or mapped elsewhere") {
  scratch_dir dir;
  const std::string path = utf8(dir.path()) + "/" + non_ascii_name;
  write_ramp(path, 1000, 1.0f);
  SUBCASE("mapped by a reader") {
    auto old_reader = sw::open(path);
    REQUIRE(old_reader.mode() == sw::io_mode::mmap);
    auto old_view = old_reader.tensor("x").value();
    sw::writer w;
    auto values = ramp(2000, 7.0f);
    REQUIRE(w.add<float>("x", {2000}, values));
    auto r = w.write_file(path);
#ifdef _WIN32
    // Windows will not replace a mapped file: a clear error, the old file whole.
    REQUIRE(!r);
    CHECK(r.code() == errc::write_failed);
    MESSAGE(r.error_value().message);
    CHECK(r.error_value().message.find(non_ascii_name) != std::string::npos);
    CHECK(r.error_value().message.find("open or mapped") != std::string::npos);
    CHECK(r.error_value().message.find("old file is intact") != std::string::npos);
    CHECK(first_value(path) == 1.0f);
#else
    // POSIX renames over it; the mapping keeps the old bytes.
    REQUIRE(r);
    CHECK(first_value(path) == 7.0f);
#endif
    CHECK(old_view.as<float>().value()[999] == 1000.0f);  // the old mapping is undisturbed either way
    CHECK(names_in(dir.path()) == std::vector<std::string>{non_ascii_name});  // no temporary left
  }
  SUBCASE("open in another stream, the way most programs open files") {
    std::ifstream held(sw::platform::utf8_path(path), std::ios::binary);
    REQUIRE(held.good());
    sw::writer w;
    auto values = ramp(10, 3.0f);
    REQUIRE(w.add<float>("x", {10}, values));
    auto r = w.write_file(path);
#ifdef _WIN32
    // The C runtime opens without FILE_SHARE_DELETE: real Windows refuses the
    // replace (Python's open() does the same). Either way the result is whole.
    if (!r) {
      CHECK(r.code() == errc::write_failed);
      CHECK(r.error_value().message.find("old file is intact") != std::string::npos);
      CHECK(first_value(path) == 1.0f);
    } else {
      MESSAGE("the system replaced a file open without FILE_SHARE_DELETE (Wine does)");
      CHECK(first_value(path) == 3.0f);
    }
#else
    REQUIRE(r);
    CHECK(first_value(path) == 3.0f);
#endif
    char byte = 0;
    CHECK(held.read(&byte, 1).good());  // the stream still reads
    CHECK(names_in(dir.path()) == std::vector<std::string>{non_ascii_name});
  }
  SUBCASE("read by a reader in io_mode::pread (opened with sharing, never mapped)") {
    sw::read_options o;
    o.mode = sw::io_mode::pread;
    auto old_reader = sw::reader::open(path, o).value();
    sw::writer w;
    auto values = ramp(10, 5.0f);
    REQUIRE(w.add<float>("x", {10}, values));
    auto r = w.write_file(path);
    if (r) {
      CHECK(first_value(path) == 5.0f);
    } else {
      CHECK(r.code() == errc::write_failed);
      CHECK(first_value(path) == 1.0f);
    }
    // The old reader reads the old file's bytes, whichever way it went.
    CHECK(old_reader.tensor("x").value().as<float>().value()[999] == 1000.0f);
    CHECK(names_in(dir.path()) == std::vector<std::string>{non_ascii_name});
  }
  // Once nothing holds it, the same write succeeds.
  write_ramp(path, 5, 9.0f);
  CHECK(first_value(path) == 9.0f);
}

TEST_CASE("P5: a failed write leaves no temporary and the target as it was") {
  scratch_dir dir;
  sw::writer w;
  auto values = ramp(4);
  REQUIRE(w.add<float>("x", {4}, values));
  SUBCASE("the target is a directory") {
    const std::string target = utf8(dir.path()) + "/" + non_ascii_name;
    std::filesystem::create_directory(sw::platform::utf8_path(target));
    auto r = w.write_file(target);
    REQUIRE(!r);
    CHECK(r.code() == errc::write_failed);
    CHECK(r.error_value().message.find(non_ascii_name) != std::string::npos);
    CHECK(std::filesystem::is_directory(sw::platform::utf8_path(target)));
    CHECK(names_in(dir.path()) == std::vector<std::string>{non_ascii_name});
  }
  SUBCASE("the directory does not exist") {
    auto r = w.write_file(utf8(dir / "missing") + "/" + non_ascii_name);
    REQUIRE(!r);
    CHECK(r.code() == errc::write_failed);
    CHECK(dir.entries() == 0);
  }
  SUBCASE("the writer gives up before committing") {
    const std::string target = utf8(dir / "t.safetensors");
    {
      auto f = sw::atomic_file::create(target);
      REQUIRE(f);
      CHECK(dir.entries() == 1);  // the temporary, while it is written
      // While it lives it is not stale; once abandoned it is gone.
      CHECK(sw::atomic_file::stale_temporaries(utf8(dir.path())).value().empty());
    }
    CHECK(dir.entries() == 0);
  }
}

TEST_CASE("P6: stale temporaries (left by a killed writer) are found by name, live ones are not") {
  scratch_dir dir;
  const std::string d = utf8(dir.path());
  const std::string stale = d + "/." + non_ascii_name + ".tmp-abc123";
  test_support::write_text(sw::platform::utf8_path(stale), "half");
  auto live = sw::atomic_file::create(d + "/" + non_ascii_name);
  REQUIRE(live);
  auto found = sw::atomic_file::stale_temporaries(d);
  REQUIRE(found);
  CHECK(*found == std::vector<std::string>{stale});
}

TEST_CASE("P7: the platform's helpers") {
  CHECK(sw::platform::page_size() >= 4096);
  CHECK(sw::platform::cpu_count() >= 1);
  CHECK(sw::platform::path_utf8(sw::platform::utf8_path(non_ascii_name)) == non_ascii_name);
  void* p = sw::platform::map_pages(1 << 20);
  REQUIRE(p);
  CHECK(static_cast<unsigned char*>(p)[12345] == 0);  // fresh pages are zero
  static_cast<unsigned char*>(p)[12345] = 1;
  sw::platform::unmap_pages(p, 1 << 20);
  // guard_mapped_reads runs its callback (and on Windows does nothing else).
  int ran = 0;
  std::byte region[4] = {};
  CHECK(sw::guard_mapped_reads(region, [&] { ++ran; }));
  CHECK(ran == 1);
}

TEST_CASE("P8: threads that parse headers and run kernels, then end, leave nothing broken behind") {
  // Each thread has its own header parser and kernel scratch memory, freed
  // when it ends (on Windows by a fiber-local storage callback: MinGW's
  // thread_local destructors run after their storage is gone).
  scratch_dir dir;
  const std::string path = utf8(dir.path()) + "/general.safetensors";
  // Not in the canonical form (spaces, keys out of order): the general parser reads it.
  std::string json = R"({ "x" : { "shape": [4], "dtype": "F32", "data_offsets": [0, 16] } })";
  while ((8 + json.size()) % 8) json += ' ';
  auto image = test_support::make_file(json, 16);
  test_support::write_bytes(sw::platform::utf8_path(path), image);
  std::atomic<int> failed{0};
  for (int round = 0; round < 5; ++round) {
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&] {
        auto rd = sw::reader::open(path);
        if (!rd || !rd->find("x")) ++failed;
        auto a = ramp(64 * 64), b = ramp(64 * 64, 1.0f);
        std::vector<float> c(64 * 64);
        sw::kernels::matrix_ref w{reinterpret_cast<const std::byte*>(b.data()), sw::dtype::F32, 64, 64};
        sw::kernels::gemm(a.data(), 64, 64, w, sw::kernels::weight_layout::in_out, nullptr, c.data(), 64);
        if (c[0] == 0.0f) ++failed;
      });
    for (auto& th : threads) th.join();
  }
  CHECK(failed == 0);
}
