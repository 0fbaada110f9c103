// Sharded checkpoints (nn/sharded.hpp, nn/checkpoint.hpp): an index and its
// shards load like one file, each shard opened once; every way the index
// and the shards can disagree is an error naming the index.
#include <vector>

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
  auto code = [&](const std::string& json) {
    std::string p = index(dir, json);
    auto r = nn::checkpoint::open(p);
    if (!r) CHECK(r.error_value().message.find(p) == 0);
    return r.code();
  };
  SUBCASE("a name in two shards") {
    CHECK(code(R"({"weight_map": {"a.weight": "s1.safetensors", "a.bias": "s1.safetensors", "b.bias": "both.safetensors"}})") ==
          errc::duplicate_key);
  }
  SUBCASE("a shard lacking a tensor the index promises") {
    CHECK(code(R"({"weight_map": {"a.weight": "s1.safetensors", "a.bias": "s1.safetensors", "b.weight": "s1.safetensors", "b.bias": "s2.safetensors"}})") ==
          errc::tensor_not_found);
  }
  SUBCASE("a shard holding a tensor the index does not list") {
    CHECK(code(R"({"weight_map": {"a.weight": "s1.safetensors", "b.weight": "s2.safetensors", "b.bias": "s2.safetensors"}})") ==
          errc::invalid_shard_index);
  }
  SUBCASE("total_size that is not the tensors' bytes") {
    CHECK(code(R"({"metadata": {"total_size": 35}, "weight_map": {"a.weight": "s1.safetensors", "a.bias": "s1.safetensors"}})") ==
          errc::invalid_shard_index);
    CHECK(code(R"({"metadata": {"total_size": -1}, "weight_map": {"a.weight": "s1.safetensors", "a.bias": "s1.safetensors"}})") ==
          errc::invalid_shard_index);
  }
  SUBCASE("shards outside the index's directory") {
    for (const char* shard_name : {"../s1.safetensors", "/tmp/s1.safetensors", "sub/s1.safetensors", "..", ""}) {
      INFO(shard_name);
      CHECK(code(std::string(R"({"weight_map": {"a.weight": ")") + shard_name + "\"}}") == errc::invalid_shard_index);
    }
  }
  SUBCASE("a missing shard file") {
    CHECK(code(R"({"weight_map": {"a.weight": "nope.safetensors"}})") == errc::io_error);
  }
  SUBCASE("malformed index JSON") {
    CHECK(code("") == errc::invalid_shard_index);
    CHECK(code("[]") == errc::invalid_shard_index);
    CHECK(code(R"({"weight_map": [1]})") == errc::invalid_shard_index);
    CHECK(code(R"({"weight_map": {"a.weight": 3}})") == errc::invalid_shard_index);
    CHECK(code(R"({"metadata": {}})") == errc::invalid_shard_index);  // no weight_map
    CHECK(code(R"({"weight_map": {}} trailing)") == errc::invalid_shard_index);
    CHECK(code(R"({"weight_map": {"a.weight": "s1.safetensors", "a.weight": "s1.safetensors"}})") == errc::duplicate_key);
    CHECK(code(R"({"weight_map": {}, "weight_map": {}})") == errc::invalid_shard_index);
    CHECK(code(R"({"weight_map": {"a.weight": "s1.safetensors")") == errc::invalid_shard_index);
  }
  SUBCASE("a missing index file") {
    CHECK(nn::checkpoint::open((dir / "none.index.json").string()).code() == errc::io_error);
  }
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
