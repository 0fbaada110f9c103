// Sharded checkpoints (io/shard_index.hpp, io/checkpoint.hpp): the index is
// read strictly, every fault an invalid_shard_index naming the index and the
// entry; an index and its shards load like one file, each shard opened once;
// every way the index and the shards can disagree is an error naming the index.

#include <vector>

#include "errc_printer.hpp"
#include "safeweights/io/checkpoint.hpp"
#include "safeweights/io/shard_index.hpp"
#include "safeweights/nn/layers/linear.hpp"
#include "safeweights/nn/state_dict.hpp"
#include "support.hpp"

namespace sw = safeweights;
namespace nn = safeweights::nn;
using sw::errc;

namespace {

struct two_layers : nn::module {
  nn::linear a{2, 2}, b{2, 1};
  two_layers() {
    register_module("a", a);
    register_module("b", b);
  }
};

void shard(const test_support::scratch_dir& dir, const std::string& name, const std::vector<std::string>& tensors) {
  sw::writer w;
  static std::vector<float> values = {1, 2, 3, 4};
  for (const auto& t : tensors) {
    std::size_t n = t == "a.weight" ? 4 : t == "a.bias" ? 2 : t == "b.weight" ? 2 : 1;
    std::vector<std::uint64_t> shape = t == "a.weight" ? std::vector<std::uint64_t>{2, 2}
                                       : t == "b.weight" ? std::vector<std::uint64_t>{1, 2}
                                                         : std::vector<std::uint64_t>{n};
    REQUIRE(w.add<float>(t, shape, std::span<const float>(values.data(), n)));
  }
  REQUIRE(w.write_file((dir / name).string()));
}

std::string index(const test_support::scratch_dir& dir, const std::string& json, const std::string& name = "model.safetensors.index.json") {
  test_support::write_text(dir / name, json);
  return (dir / name).string();
}

const char* good_index = R"({"metadata": {"total_size": 36},
  "weight_map": {"a.weight": "model-00001-of-00002.safetensors", "a.bias": "model-00001-of-00002.safetensors",
                 "b.weight": "model-00002-of-00002.safetensors", "b.bias": "model-00002-of-00002.safetensors"}})";

}  // namespace

TEST_CASE("sharded: an index and its shards load like one file; each shard is opened once") {
  test_support::scratch_dir dir;
  shard(dir, "model-00001-of-00002.safetensors", {"a.weight", "a.bias"});
  shard(dir, "model-00002-of-00002.safetensors", {"b.weight", "b.bias"});
  std::string path = index(dir, good_index);
  auto file = nn::checkpoint::open(path);
  REQUIRE(file);
  CHECK(file->files().size() == 2);
  CHECK(file->tensors().size() == 4);
  CHECK(file->total_bytes() == 36);
  two_layers m;
  auto r = nn::load_state_dict(m, path);
  REQUIRE(r);
  CHECK(r->loaded == 4);
  CHECK(r->zero_copy == 4);
  CHECK(m.b.weight.f32()[1] == 2.0f);
}

TEST_CASE("sharded: disagreements between the index and its shards are errors naming the index") {
  test_support::scratch_dir dir;
  shard(dir, "s1.safetensors", {"a.weight", "a.bias"});
  shard(dir, "s2.safetensors", {"b.weight", "b.bias"});
  shard(dir, "both.safetensors", {"a.bias", "b.bias"});
  std::string message;
  auto code = [&](const std::string& json) {
    std::string p = index(dir, json);
    auto r = sw::checkpoint::open(p);
    message = r ? "" : r.error_value().message;
    if (!r) CHECK(message.find(p + ": ") == 0);
    return r.code();
  };
  SUBCASE("a name in two shards") {
    CHECK(code(R"({"weight_map": {"a.weight": "s1.safetensors", "a.bias": "s1.safetensors", "b.bias": "both.safetensors"}})") ==
          errc::duplicate_key);
    CHECK(message.ends_with(": tensor `a.bias` is in both `s1.safetensors` and `both.safetensors`"));
  }
  SUBCASE("a shard lacking a tensor the index promises") {
    CHECK(code(R"({"weight_map": {"a.weight": "s1.safetensors", "a.bias": "s1.safetensors", "b.weight": "s1.safetensors", "b.bias": "s2.safetensors"}})") ==
          errc::tensor_not_found);
    CHECK(message.ends_with(": tensor `b.weight` is mapped to `s1.safetensors`, which does not hold it "
                            "(it is in `s2.safetensors`)"));
    CHECK(code(R"({"weight_map": {"a.weight": "s1.safetensors", "a.bias": "s1.safetensors", "ghost": "s1.safetensors"}})") ==
          errc::tensor_not_found);
    CHECK(message.ends_with(": tensor `ghost` is mapped to `s1.safetensors`, which does not hold it"));
  }
  SUBCASE("a shard holding a tensor the index does not list") {
    CHECK(code(R"({"weight_map": {"a.weight": "s1.safetensors", "b.weight": "s2.safetensors", "b.bias": "s2.safetensors"}})") ==
          errc::invalid_shard_index);
    CHECK(message.ends_with(": shard `s1.safetensors` holds tensor `a.bias`, which the index does not list"));
  }
  SUBCASE("total_size that is not the bytes of the tensors the index lists") {
    CHECK(code(R"({"metadata": {"total_size": 24}, "weight_map": {"a.weight": "s1.safetensors", "a.bias": "s1.safetensors"}})") ==
          errc::ok);
    CHECK(code(R"({"metadata": {"total_size": 35}, "weight_map": {"a.weight": "s1.safetensors", "a.bias": "s1.safetensors"}})") ==
          errc::invalid_shard_index);
    CHECK(message.ends_with(": metadata `total_size` is 35 but the tensors the index lists hold 24 bytes"));
    CHECK(code(R"({"metadata": {"total_size": -1}, "weight_map": {"a.weight": "s1.safetensors", "a.bias": "s1.safetensors"}})") ==
          errc::invalid_shard_index);
  }
  SUBCASE("shards outside the index's directory") {
    for (const char* shard_name :
         {"../s1.safetensors", "/tmp/s1.safetensors", "sub/s1.safetensors", "..", "", "x\\\\s1"}) {
      INFO(shard_name);
      CHECK(code(std::string(R"({"weight_map": {"a.weight": ")") + shard_name + "\"}}") == errc::invalid_shard_index);
    }
  }
  SUBCASE("a missing shard file: the reader's error, the shard named as the index names it") {
    CHECK(code(R"({"weight_map": {"a.weight": "nope.safetensors"}})") == errc::io_error);
    CHECK(message.find(": shard `nope.safetensors`: ") != std::string::npos);
    CHECK(message.find((dir / "nope.safetensors").string()) == std::string::npos);
  }
  SUBCASE("malformed index JSON") {
    CHECK(code("") == errc::invalid_shard_index);
    CHECK(code("[]") == errc::invalid_shard_index);
    CHECK(code(R"({"weight_map": [1]})") == errc::invalid_shard_index);
    CHECK(code(R"({"weight_map": {"a.weight": 3}})") == errc::invalid_shard_index);
    CHECK(code(R"({"metadata": {}})") == errc::invalid_shard_index);  // no weight_map
    CHECK(code(R"({"weight_map": {}} trailing)") == errc::invalid_shard_index);
    CHECK(code(R"({"weight_map": {"a.weight": "s1.safetensors", "a.weight": "s1.safetensors"}})") ==
          errc::invalid_shard_index);
    CHECK(code(R"({"weight_map": {}, "weight_map": {}})") == errc::invalid_shard_index);
    CHECK(code(R"({"weight_map": {"a.weight": "s1.safetensors")") == errc::invalid_shard_index);
  }
  SUBCASE("a missing index file") {
    CHECK(sw::checkpoint::open((dir / "none.index.json").string()).code() == errc::io_error);
  }
}

TEST_CASE("shard index: what is read, in the file's order") {
  auto r = sw::parse_shard_index(R"({"metadata": {"total_parameters": 9, "total_size": 36, "format": "pt",
                                                  "note": {"a": [1, 2.5]}, "ok": true, "none": null},
    "weight_map": {"b": "s2.safetensors", "a": "s1.safetensors", "c": "s2.safetensors", "d\u00e9": "s\u00e9"},
    "extra": [1, {"x": 2}]})");
  REQUIRE(r);
  CHECK(r->weight_map == std::vector<std::pair<std::string, std::string>>{
                             {"b", "s2.safetensors"}, {"a", "s1.safetensors"}, {"c", "s2.safetensors"},
                             {"d\xc3\xa9", "s\xc3\xa9"}});
  CHECK(r->shards == std::vector<std::string>{"s2.safetensors", "s1.safetensors", "s\xc3\xa9"});
  CHECK(r->total_size == 36u);
  CHECK(r->total_parameters == 9u);
  CHECK(r->metadata == std::vector<std::pair<std::string, std::string>>{
                           {"format", "\"pt\""}, {"note", R"({"a": [1, 2.5]})"}, {"ok", "true"}, {"none", "null"}});
  auto bare = sw::parse_shard_index(R"({"weight_map": {}})");
  REQUIRE(bare);
  CHECK(bare->weight_map.empty());
  CHECK(!bare->total_size);
  CHECK(!bare->total_parameters);
}

TEST_CASE("shard index: every fault is invalid_shard_index, naming the index, the entry and what is wrong") {
  test_support::scratch_dir dir;
  const std::string path = (dir / "model.safetensors.index.json").string();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[1]", "the index is not a JSON object"},
      {"\"weight_map\"", "the index is not a JSON object"},
      {"{\"weight_map\": {}", "not valid JSON: "},
      {"{\"weight_map\": {}} {}", "text after the JSON object"},
      {"{\"metadata\": {\"total_size\": 0}}", "no `weight_map`"},
      {R"({"weight_map": []})", "`weight_map` is not an object"},
      {R"({"weight_map": null})", "`weight_map` is not an object"},
      {R"({"weight_map": {"t": 1}})", "tensor `t`: the shard is not a string"},
      {R"({"weight_map": {"t": ""}})", "tensor `t`: shard `` is empty: a shard must be a file beside the index"},
      {R"({"weight_map": {"t": "/etc/passwd"}})", "tensor `t`: shard `/etc/passwd` is an absolute path"},
      {R"({"weight_map": {"t": "../x.safetensors"}})", "tensor `t`: shard `../x.safetensors` has a `..` part"},
      {R"({"weight_map": {"t": "a/../../x"}})", "tensor `t`: shard `a/../../x` has a `..` part"},
      {R"({"weight_map": {"t": "a/.."}})", "tensor `t`: shard `a/..` has a `..` part"},
      {R"({"weight_map": {"t": ".."}})", "tensor `t`: shard `..` is a directory, not a file"},
      {R"({"weight_map": {"t": "."}})", "tensor `t`: shard `.` is a directory, not a file"},
      {R"({"weight_map": {"t": "sub/x.safetensors"}})", "tensor `t`: shard `sub/x.safetensors` has a directory part"},
      {R"({"weight_map": {"t": "sub\\x.safetensors"}})", "tensor `t`: shard `sub\\\\x.safetensors` holds a `\\`"},
      {R"({"weight_map": {"t": "..\\x.safetensors"}})", "holds a `\\`"},
      {R"({"weight_map": {"t": "x\u0000y"}})", "tensor `t`: shard `x\\x00y` holds a NUL byte"},
      {R"({"weight_map": {"t": "x", "t": "x"}})", "tensor `t` appears twice in `weight_map`"},
      {R"({"weight_map": {}, "weight_map": {}})", "`weight_map` appears twice"},
      {R"({"metadata": {}, "weight_map": {}, "metadata": {}})", "`metadata` appears twice"},
      {R"({"extra": 1, "weight_map": {}, "extra": 2})", "`extra` appears twice"},
      {R"({"metadata": [], "weight_map": {}})", "`metadata` is not an object"},
      {R"({"metadata": null, "weight_map": {}})", "`metadata` is not an object"},
      {R"({"metadata": {"total_size": 1, "total_size": 1}, "weight_map": {}})", "metadata `total_size` appears twice"},
      {R"({"metadata": {"k": 1, "k": 2}, "weight_map": {}})", "metadata `k` appears twice"},
      {R"({"metadata": {"total_size": -1}, "weight_map": {}})", "metadata `total_size` is not a non-negative integer"},
      {R"({"metadata": {"total_size": 1.5}, "weight_map": {}})", "metadata `total_size` is not a non-negative integer"},
      {R"({"metadata": {"total_size": "36"}, "weight_map": {}})",
       "metadata `total_size` is not a non-negative integer"},
      {R"({"metadata": {"total_size": null}, "weight_map": {}})",
       "metadata `total_size` is not a non-negative integer"},
      {R"({"metadata": {"total_size": 18446744073709551616}, "weight_map": {}})",
       "metadata `total_size` is not a non-negative integer"},
      {R"({"metadata": {"total_parameters": [9]}, "weight_map": {}})",
       "metadata `total_parameters` is not a non-negative integer"},
      {R"({"metadata": {"note": tru}, "weight_map": {}})", "not valid JSON: "},
  };
  for (const auto& [json, says] : cases) {
    INFO(json);
    test_support::write_text(path, json);
    auto r = sw::read_shard_index(path);
    REQUIRE_FALSE(r);
    CHECK(r.code() == errc::invalid_shard_index);
    INFO(r.error_value().message);
    CHECK(r.error_value().message.starts_with(path + ": "));
    CHECK(r.error_value().message.find(says) != std::string::npos);
    CHECK(sw::parse_shard_index(json).code() == errc::invalid_shard_index);
  }
}

TEST_CASE("shard index: over 100,000,000 bytes it is refused unread") {
  test_support::scratch_dir dir;
  const std::string path = (dir / "big.index.json").string();
  test_support::write_text(path, R"({"weight_map": {}})");
  std::filesystem::resize_file(path, 100'000'000);  // sparse: JSON, then spaces' worth of NULs
  CHECK(sw::read_shard_index(path).code() == errc::invalid_shard_index);  // NULs after the object: read, refused
  std::filesystem::resize_file(path, 100'000'001);
  auto r = sw::read_shard_index(path);
  CHECK(r.code() == errc::invalid_shard_index);
  CHECK(r.error_value().message == path + ": an index of 100000001 bytes is over the limit of 100,000,000");
  CHECK(sw::checkpoint::open(path).code() == errc::invalid_shard_index);
}

TEST_CASE("shard index: what shard_index_json writes reads back the same") {
  const std::vector<std::pair<std::string_view, std::string_view>> map = {
      {"b", "model-00002-of-00002.safetensors"}, {"a\xc3\xa9\"\\\x7f", "model-00001-of-00002.safetensors"}};
  const std::string text = sw::shard_index_json(7, 28, map);
  CHECK(text.starts_with("{\n  \"metadata\": {\n    \"total_parameters\": 7,\n    \"total_size\": 28\n  },\n"));
  auto r = sw::parse_shard_index(text);
  REQUIRE(r);
  CHECK(r->total_parameters == 7u);
  CHECK(r->total_size == 28u);
  CHECK(r->weight_map == std::vector<std::pair<std::string, std::string>>{
                             {"a\xc3\xa9\"\\\x7f", "model-00001-of-00002.safetensors"},
                             {"b", "model-00002-of-00002.safetensors"}});
  CHECK(sw::shard_file_name(3, 12) == "model-00003-of-00012.safetensors");
}

TEST_CASE("checkpoint: two plain files as one set; a name in both is duplicate_key") {
  test_support::scratch_dir dir;
  shard(dir, "x.safetensors", {"a.weight", "a.bias"});
  shard(dir, "y.safetensors", {"a.bias"});
  std::vector<sw::reader> files;
  files.push_back(sw::open((dir / "x.safetensors").string()));
  files.push_back(sw::open((dir / "y.safetensors").string()));
  CHECK(nn::checkpoint::from_files(std::move(files), "pair").code() == errc::duplicate_key);
}
