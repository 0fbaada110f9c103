// Tensor parallelism without MPI: which part of each tensor a rank holds
// (nn/tensor_parallel.hpp), that reading it fetches exactly those bytes,
// GPT-2's plan (every split tensor covered exactly once over the ranks), and
// the split model itself: ranks as threads summing through a barrier give
// the single model's logits and greedy tokens.
#include <doctest/doctest.h>

#include <algorithm>
#include <condition_variable>
#include <cmath>
#include <map>
#include <mutex>
#include <thread>

#include "safeweights/io/writer.hpp"
#include "safeweights/nn/gpt2_tensor_parallel.hpp"
#include "support.hpp"

namespace sw = safeweights;
namespace nn = safeweights::nn;

namespace {

std::string fixture(const std::string& name) { return (test_support::data_dir() / "torch" / name).string(); }

sw::read_options pread_options() {
  sw::read_options o;
  o.mode = sw::io_mode::pread;
  o.random_access = true;
  return o;
}

// "m" F32 [4, 6] holding 0..23, "q" F4 [2, 8] holding bytes 0..7.
std::string small_file(const test_support::scratch_dir& dir) {
  std::vector<float> m(24);
  for (std::size_t i = 0; i < m.size(); ++i) m[i] = static_cast<float>(i);
  std::vector<std::byte> q(8);
  for (std::size_t i = 0; i < q.size(); ++i) q[i] = std::byte(i);
  sw::writer w;
  REQUIRE(w.add("m", {4, 6}, std::span<const float>(m)));
  REQUIRE(w.add("q", sw::dtype::F4, {2, 8}, q));
  const std::string path = (dir / "small.safetensors").string();
  REQUIRE(w.write_file(path));
  return path;
}

// Ranks as threads: sum() waits for every rank, then each adds up all the
// ranks' buffers in rank order (so every rank gets bit-identical sums).
// A reusable barrier on a mutex and a condition variable: libstdc++ 12's
// std::barrier waits with std::atomic::wait, whose fallback where there is
// no futex (MinGW-w64) can lose a wake-up (this test hung under Wine).
class phase_barrier {
 public:
  explicit phase_barrier(std::size_t n) : n_(n) {}
  void arrive_and_wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    const std::size_t phase = phase_;
    if (++arrived_ == n_) {
      arrived_ = 0;
      ++phase_;
      all_arrived_.notify_all();
      return;
    }
    all_arrived_.wait(lock, [&] { return phase_ != phase; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable all_arrived_;
  std::size_t n_, arrived_ = 0, phase_ = 0;
};

class thread_world {
 public:
  explicit thread_world(std::size_t n) : buffers_(n), sync_(n) {}
  void sum(std::size_t rank, float* data, std::size_t count) {
    buffers_[rank] = data;
    sync_.arrive_and_wait();
    std::vector<float> total(count, 0.0f);
    for (float* b : buffers_)
      for (std::size_t i = 0; i < count; ++i) total[i] += b[i];
    sync_.arrive_and_wait();  // all have read before any writes
    std::copy(total.begin(), total.end(), data);
  }

 private:
  std::vector<float*> buffers_;
  phase_barrier sync_;
};

}  // namespace

TEST_CASE("shard_of and read_shard: columns in blocks, rows, sub-byte parts, and exactly the part's bytes fetched") {
  test_support::scratch_dir dir;
  const std::string path = small_file(dir);
  sw::reader file = sw::reader::open(path, pread_options()).value();
  const sw::tensor_info& m = *file.find("m");

  // Columns of [4, 6] in 3 blocks over 2 ranks: rank 1 holds columns 1, 3 and 5.
  nn::tensor_shard cols = nn::shard_of(m, {true, 1, 3}, 1, 2).value();
  CHECK(cols.shape == std::vector<std::uint64_t>{4, 3});
  CHECK(cols.bytes == 48);
  std::vector<float> got(12);
  REQUIRE(nn::read_shard(file, m, cols, std::as_writable_bytes(std::span<float>(got))));
  CHECK(got == std::vector<float>{1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23});
  CHECK(file.bytes_fetched() == 48);  // not a byte more than the part

  // Rows over 2 ranks: rank 1 holds rows 2 and 3, one read.
  const std::uint64_t fetched = file.bytes_fetched(), calls = file.fetch_calls();
  nn::tensor_shard rows = nn::shard_of(m, {true, 0, 1}, 1, 2).value();
  std::vector<float> tail(12);
  REQUIRE(nn::read_shard(file, m, rows, std::as_writable_bytes(std::span<float>(tail))));
  CHECK(tail.front() == 12);
  CHECK(tail.back() == 23);
  CHECK(file.bytes_fetched() - fetched == 48);
  CHECK(file.fetch_calls() - calls == 1);

  // Whole (replicated): every rank, all of it.
  nn::tensor_shard whole = nn::shard_of(m, {}, 3, 4).value();
  CHECK(whole.replicated);
  CHECK(whole.bytes == 96);

  // F4 [2, 8]: 2 ranks get 4 columns = 2 bytes a row; 8 ranks would cut bytes in half.
  const sw::tensor_info& q = *file.find("q");
  nn::tensor_shard half = nn::shard_of(q, {true, 1, 1}, 1, 2).value();
  std::vector<std::byte> qb(4);
  REQUIRE(nn::read_shard(file, q, half, qb));
  CHECK(qb == std::vector<std::byte>{std::byte(2), std::byte(3), std::byte(6), std::byte(7)});
  CHECK(nn::shard_of(q, {true, 1, 1}, 0, 8).error_value().code == sw::errc::subbyte_misaligned);

  // Parts that do not divide, a dimension that is not there, a rank past the world, a wrong buffer.
  CHECK(nn::shard_of(m, {true, 1, 3}, 0, 4).error_value().code == sw::errc::invalid_argument);
  CHECK(nn::shard_of(m, {true, 2, 1}, 0, 2).error_value().code == sw::errc::invalid_argument);
  CHECK(nn::shard_of(m, {true, 0, 1}, 2, 2).error_value().code == sw::errc::invalid_argument);
  std::vector<float> small(11);
  CHECK(nn::read_shard(file, m, cols, std::as_writable_bytes(std::span<float>(small))).error_value().code ==
        sw::errc::invalid_argument);
}

TEST_CASE("GPT-2's plan: over 1, 2 and 4 ranks every split tensor is covered exactly once, the rest whole everywhere") {
  nn::checkpoint file = nn::checkpoint::open(fixture("gpt2_small_f32.safetensors")).value();
  const nn::gpt2_config c = nn::gpt2_config_from(file).value();
  REQUIRE(c.n_head == 4);
  std::uint64_t split_total = 0;  // bytes of the tensors that are split
  for (std::size_t world : {1, 2, 4}) {
    INFO("world ", world);
    std::map<std::string, std::vector<int>> covered;  // split tensor -> times each index of its dimension is held
    std::uint64_t split_bytes = 0;
    std::size_t split_tensors = 0;
    for (std::size_t rank = 0; rank < world; ++rank) {
      nn::gpt2_tp_plan plan = nn::plan_gpt2_tp(file, c, rank, world).value();
      CHECK(plan.parts.size() == 2 + 12 * c.n_layer + 2);  // the mask buffers are left out
      split_bytes += plan.sharded_bytes;
      for (const nn::gpt2_tp_part& p : plan.parts) {
        const sw::tensor_info& info = *p.source->info;
        if (p.shard.replicated) {
          CHECK(p.shard.bytes == info.byte_size());
          CHECK(std::equal(p.shard.shape.begin(), p.shard.shape.end(), info.shape.begin(), info.shape.end()));
          continue;
        }
        if (rank == 0) ++split_tensors;
        CHECK(p.shard.bytes * world == info.byte_size());
        auto& counts = covered[p.name];
        counts.resize(static_cast<std::size_t>(info.shape[p.shard.dim]));
        for (const sw::slice_spec& s : p.shard.pieces)
          for (std::uint64_t i = s.begin; i < s.end; ++i) ++counts[static_cast<std::size_t>(i)];
      }
    }
    CHECK(split_tensors == 6 * c.n_layer);  // c_attn, c_fc (weight, bias), both c_proj weights
    CHECK(covered.size() == split_tensors);
    for (const auto& [name, counts] : covered) {
      INFO(name);
      CHECK(std::all_of(counts.begin(), counts.end(), [](int n) { return n == 1; }));
    }
    if (world == 1) split_total = split_bytes;
    CHECK(split_bytes == split_total);
  }
  // Rank 1 of 2 holds heads 2 and 3: columns [32, 64) of q, [96, 128) of k, [160, 192) of v.
  nn::gpt2_tp_plan two = nn::plan_gpt2_tp(file, c, 1, 2).value();
  auto attn = std::find_if(two.parts.begin(), two.parts.end(), [](auto& p) { return p.name == "h.0.attn.c_attn.weight"; });
  REQUIRE(attn != two.parts.end());
  REQUIRE(attn->shard.pieces.size() == 3);
  CHECK(attn->shard.pieces[0].begin == 32);
  CHECK(attn->shard.pieces[1].begin == 96);
  CHECK(attn->shard.pieces[2].end == 192);
  CHECK(nn::plan_gpt2_tp(file, c, 0, 3).error_value().code == sw::errc::invalid_argument);  // 4 heads, 3 ranks
}

TEST_CASE("GPT-2 split over 2 and 4 ranks (threads as ranks): the single model's logits within 1e-4, its greedy tokens") {
  const std::size_t threads_before = sw::kernels::thread_count();
  sw::kernels::set_thread_count(1);  // the ranks are the threads here
  const std::string path = fixture("gpt2_small_f32.safetensors");
  const std::vector<std::int64_t> prompt = {1, 2, 3, 200, 17};
  auto single = nn::load_gpt2(path).value();
  std::vector<float> want;
  const std::vector<std::int64_t> want_tokens = single->generate(prompt, 6, &want);
  for (std::size_t world : {1, 2, 4}) {
    INFO("world ", world);
    thread_world threads(world);
    std::vector<nn::checkpoint> files;
    std::vector<std::unique_ptr<nn::gpt2_tp>> ranks;
    std::vector<nn::gpt2_tp_plan> plans(world);
    for (std::size_t r = 0; r < world; ++r) files.push_back(nn::checkpoint::open(path, pread_options()).value());
    const nn::gpt2_config c = nn::gpt2_config_from(files[0]).value();
    for (std::size_t r = 0; r < world; ++r) {
      auto sum = [&threads, r](float* data, std::size_t count) { threads.sum(r, data, count); };
      ranks.push_back(nn::load_gpt2_tp(files[r], c, r, world, sum, nn::dtype_policy::keep, &plans[r]).value());
      // What the rank read is its plan: its parts and the whole tensors, nothing else.
      CHECK(files[r].files()[0].bytes_fetched() == plans[r].sharded_bytes + plans[r].replicated_bytes);
    }
    std::vector<std::vector<float>> logits(world);
    std::vector<std::vector<std::int64_t>> tokens(world);
    std::vector<std::thread> run;
    for (std::size_t r = 0; r < world; ++r)
      run.emplace_back([&, r] { tokens[r] = ranks[r]->generate(prompt, 6, &logits[r]); });
    for (std::thread& t : run) t.join();
    for (std::size_t r = 0; r < world; ++r) {
      CHECK(tokens[r] == want_tokens);
      REQUIRE(logits[r].size() == want.size());
      double diff = 0;
      for (std::size_t i = 0; i < want.size(); ++i) diff = std::max(diff, double(std::abs(logits[r][i] - want[i])));
      CHECK(diff <= 1e-4);
    }
  }
  sw::kernels::set_thread_count(threads_before);
}

TEST_CASE("load_gpt2_tp: a missing tensor and a rank count that does not divide the heads are errors") {
  test_support::scratch_dir dir;
  sw::reader full = sw::reader::open(fixture("gpt2_tiny_f32.safetensors")).value();
  sw::writer w;
  for (const sw::tensor_info& t : full.tensors())
    if (t.name != "h.1.mlp.c_fc.bias") REQUIRE(w.add(full.tensor(t).value()));
  const std::string cut = (dir / "cut.safetensors").string();
  REQUIRE(w.write_file(cut));
  nn::checkpoint file = nn::checkpoint::open(cut, pread_options()).value();
  const nn::gpt2_config c = nn::gpt2_config_from(file, 3).value();
  auto missing = nn::load_gpt2_tp(file, c, 0, 3, {});
  REQUIRE(!missing);
  CHECK(missing.error_value().code == sw::errc::state_dict_mismatch);
  CHECK(missing.error_value().message.find("h.1.mlp.c_fc.bias") != std::string::npos);
  nn::checkpoint whole = nn::checkpoint::open(fixture("gpt2_tiny_f32.safetensors"), pread_options()).value();
  CHECK(nn::load_gpt2_tp(whole, c, 0, 2, {}).error_value().code == sw::errc::invalid_argument);  // 3 heads, 2 ranks
  CHECK(nn::load_gpt2_tp(whole, c, 1, 3, {}));
}

TEST_CASE("GPT-2 split over 3 ranks from a shard index: each rank reads its parts from both shards, same logits") {
  const std::size_t threads_before = sw::kernels::thread_count();
  sw::kernels::set_thread_count(1);
  test_support::scratch_dir dir;
  sw::reader full = sw::reader::open(fixture("gpt2_tiny_f32.safetensors")).value();
  sw::writer first, second;
  std::string weight_map;
  for (const sw::tensor_info& t : full.tensors()) {
    const bool in_first = t.name.substr(0, 4) == "h.0.";
    REQUIRE((in_first ? first : second).add(full.tensor(t).value()));
    weight_map += std::string(weight_map.empty() ? "" : ", ") + "\"" + std::string(t.name) + "\": \"" +
                  (in_first ? "a.safetensors" : "b.safetensors") + "\"";
  }
  REQUIRE(first.write_file((dir / "a.safetensors").string()));
  REQUIRE(second.write_file((dir / "b.safetensors").string()));
  const std::string index = (dir / "model.safetensors.index.json").string();
  test_support::write_text(index, "{\"metadata\": {}, \"weight_map\": {" + weight_map + "}}");

  const std::vector<std::int64_t> prompt = {5, 60, 7};
  std::vector<float> want;
  const std::vector<std::int64_t> want_tokens = nn::load_gpt2(index, 3).value()->generate(prompt, 4, &want);
  constexpr std::size_t world = 3;
  thread_world threads(world);
  std::vector<nn::checkpoint> files;
  std::vector<std::unique_ptr<nn::gpt2_tp>> ranks;
  for (std::size_t r = 0; r < world; ++r) {
    files.push_back(nn::checkpoint::open(index, pread_options()).value());
    REQUIRE(files.back().files().size() == 2);
    const nn::gpt2_config c = nn::gpt2_config_from(files.back(), 3).value();
    nn::gpt2_tp_plan plan;
    auto sum = [&threads, r](float* data, std::size_t count) { threads.sum(r, data, count); };
    ranks.push_back(nn::load_gpt2_tp(files.back(), c, r, world, sum, nn::dtype_policy::keep, &plan).value());
    CHECK(files.back().files()[0].bytes_fetched() > 0);
    CHECK(files.back().files()[0].bytes_fetched() + files.back().files()[1].bytes_fetched() ==
          plan.sharded_bytes + plan.replicated_bytes);
  }
  std::vector<std::vector<float>> logits(world);
  std::vector<std::vector<std::int64_t>> tokens(world);
  std::vector<std::thread> run;
  for (std::size_t r = 0; r < world; ++r)
    run.emplace_back([&, r] { tokens[r] = ranks[r]->generate(prompt, 4, &logits[r]); });
  for (std::thread& t : run) t.join();
  for (std::size_t r = 0; r < world; ++r) {
    CHECK(tokens[r] == want_tokens);
    double diff = 0;
    for (std::size_t i = 0; i < want.size(); ++i) diff = std::max(diff, double(std::abs(logits[r][i] - want[i])));
    CHECK(diff <= 1e-4);
  }
  sw::kernels::set_thread_count(threads_before);
}
