// The `safeweights` commands that compare, summarise and rewrite files:
// diff, stats, shard, merge, cast, rename, extract, metadata, and the
// progress bar, through the real binary.
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <set>

#include "cli_support.hpp"
#include "safeweights/safeweights.hpp"

namespace sw = safeweights;
namespace fs = std::filesystem;
using cli_test::lines_of;
using cli_test::run;
using cli_test::run_result;
using cli_test::valid;
using test_support::read_bytes;
using test_support::scratch_dir;

namespace {

struct spec {
  std::string name;
  sw::dtype type;
  std::vector<std::uint64_t> shape;
  std::vector<std::byte> bytes;
};

template <class T>
spec tensor(std::string name, std::vector<std::uint64_t> shape, const std::vector<T>& values,
            sw::dtype type = sw::dtype_of_v<T>) {
  spec s{std::move(name), type, std::move(shape), std::vector<std::byte>(values.size() * sizeof(T))};
  if (!values.empty()) std::memcpy(s.bytes.data(), values.data(), s.bytes.size());
  return s;
}

// An F32 tensor of `bytes` bytes, values 0, 1, 2, ...
spec sized(std::string name, std::size_t bytes) {
  std::vector<float> v(bytes / 4);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
  return tensor(std::move(name), {v.size()}, v);
}

fs::path write(const fs::path& path, const std::vector<spec>& tensors,
               const std::vector<std::pair<std::string, std::string>>& metadata = {}) {
  sw::writer w;
  for (const spec& t : tensors) REQUIRE(w.add(t.name, t.type, t.shape, t.bytes));
  for (const auto& [k, v] : metadata) w.set_metadata(k, v);
  REQUIRE(w.write_file(path.string()));
  return path;
}

sw::reader open(const fs::path& p) { return sw::reader::open(p.string()).value(); }

std::vector<std::byte> bytes_of(const sw::reader& r, std::string_view name) {
  auto v = r.tensor(name);
  REQUIRE_MESSAGE(v, "no tensor ", name);
  return {v->bytes().begin(), v->bytes().end()};
}

std::vector<std::string> names_in_order(const sw::reader& r) {
  std::vector<std::string> names;
  for (const sw::tensor_info& t : r.tensors()) names.emplace_back(t.name);
  return names;
}

std::vector<std::pair<std::string, std::string>> metadata_of(const sw::reader& r) {
  std::vector<std::pair<std::string, std::string>> m;
  for (const sw::metadata_entry& e : r.metadata()) m.emplace_back(e.key, e.value);
  return m;
}

simdjson::dom::element parse(simdjson::dom::parser& p, const std::string& text) {
  simdjson::dom::element doc;
  auto error = p.parse(text).get(doc);
  REQUIRE_MESSAGE(!error, "not JSON: ", text);
  return doc;
}

void check_usage_error(const std::vector<std::string>& args, const std::string& says) {
  run_result r = run(args);
  INFO(args[0], ": ", r.err);
  CHECK(r.status == 2);
  CHECK(r.out.empty());
  CHECK(r.err.find(says) != std::string::npos);
}

}  // namespace

// ---------------------------------------------------------------- diff

TEST_CASE("diff: a file equals itself and its repack; every conformance file") {
  scratch_dir dir;
  for (auto& e : fs::directory_iterator(test_support::conformance_dir() / "valid")) {
    if (e.path().extension() != ".safetensors") continue;
    run_result r = run({"diff", e.path().string(), e.path().string()});
    INFO(e.path().string(), ": ", r.out, r.err);
    CHECK(r.status == 0);
    CHECK(r.out.starts_with("identical: "));
    CHECK(r.err.empty());
  }
  // Layout does not matter: a non-canonical file against its canonical rewrite.
  fs::path canonical = dir / "canonical.safetensors";
  REQUIRE(run({"repack", cli_test::malformed("unordered_entries.safetensors").string(), canonical.string()}).status == 0);
  CHECK(run({"diff", cli_test::malformed("unordered_entries.safetensors").string(), canonical.string()}).status == 0);
}

TEST_CASE("diff --json: tensors only on one side, dtype and shape changes, value differences, metadata") {
  scratch_dir dir;
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  fs::path a = write(dir / "a.safetensors",
                     {tensor<float>("same", {2}, {1, 2}), tensor<float>("values", {4}, {1, 2, 4, nan}),
                      tensor<float>("nonfinite", {3}, {inf, nan, 1}), tensor<float>("reshaped", {2, 2}, {1, 2, 3, 4}),
                      tensor<float>("recast", {2}, {1.5f, -2}), tensor<float>("gone", {1}, {0}),
                      tensor<std::int32_t>("ints", {3}, {1, 5, -3})},
                     {{"format", "pt"}, {"author", "a"}, {"old", "x"}});
  fs::path b = write(dir / "b.safetensors",
                     {tensor<float>("same", {2}, {1, 2}), tensor<float>("values", {4}, {1, 2.5f, 3, nan}),
                      tensor<float>("nonfinite", {3}, {1, 2, 1}), tensor<float>("reshaped", {4}, {1, 2, 3, 4}),
                      tensor<double>("recast", {2}, {1.5, -2}), tensor<float>("new", {1}, {0}),
                      tensor<std::int32_t>("ints", {3}, {1, 7, -3})},
                     {{"format", "pt"}, {"author", "b"}, {"added", "y"}});
  run_result r = run({"diff", "--json", a.string(), b.string()});
  REQUIRE_MESSAGE(r.status == 1, r.err);
  CHECK(r.err.empty());
  simdjson::dom::parser p;
  simdjson::dom::element doc = parse(p, r.out);
  CHECK(bool(doc["identical"]) == false);
  CHECK(std::uint64_t(doc["identical_tensors"]) == 1);
  CHECK(std::string_view(doc["only_in_a"].at(0)["name"]) == "gone");
  CHECK(std::string_view(doc["only_in_b"].at(0)["name"]) == "new");
  std::map<std::string, simdjson::dom::element> diffs;
  for (simdjson::dom::element t : simdjson::dom::array(doc["different_tensors"])) diffs[std::string(std::string_view(t["name"]))] = t;
  REQUIRE(diffs.size() == 5);

  simdjson::dom::element values = diffs["values"];
  CHECK(bool(values["compared"]));
  CHECK(std::uint64_t(values["values_differing"]) == 2);  // NaN == NaN
  CHECK(std::uint64_t(values["nonfinite_mismatches"]) == 0);
  CHECK(double(values["max_abs_diff"]) == 1.0);
  CHECK(double(values["max_rel_diff"]) == 0.25);  // |4 - 3| / 4

  simdjson::dom::element nonfinite = diffs["nonfinite"];
  CHECK(std::uint64_t(nonfinite["values_differing"]) == 2);
  CHECK(std::uint64_t(nonfinite["nonfinite_mismatches"]) == 2);
  CHECK(double(nonfinite["max_abs_diff"]) == 0.0);

  CHECK_FALSE(bool(diffs["reshaped"]["compared"]));
  CHECK(std::string_view(diffs["recast"]["a"]["dtype"]) == "F32");
  CHECK(std::string_view(diffs["recast"]["b"]["dtype"]) == "F64");
  CHECK(std::uint64_t(diffs["recast"]["values_differing"]) == 0);  // same values, other dtype
  CHECK(double(diffs["ints"]["max_abs_diff"]) == 2.0);

  simdjson::dom::element meta = doc["metadata"];
  CHECK(std::string_view(meta["only_in_a"]["old"]) == "x");
  CHECK(std::string_view(meta["only_in_b"]["added"]) == "y");
  CHECK(std::string_view(meta["different"]["author"].at(0)) == "a");
  CHECK(std::string_view(meta["different"]["author"].at(1)) == "b");

  // The text form says the same, one line per difference, and a summary.
  run_result text = run({"diff", a.string(), b.string()});
  CHECK(text.status == 1);
  auto lines = lines_of(text.out);
  CHECK(std::count_if(lines.begin(), lines.end(), [](auto& l) { return l.starts_with("values: 2 of 4 values differ"); }) == 1);
  CHECK(std::count_if(lines.begin(), lines.end(), [](auto& l) { return l.starts_with("reshaped: shape differs"); }) == 1);
  CHECK(lines.back().starts_with("differ: 1 tensors identical, 5 different, 1 only in"));
}

TEST_CASE("diff: an F32 file against its BF16 cast differs by at most BF16's rounding") {
  scratch_dir dir;
  std::vector<float> values(1000);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = std::sin(static_cast<float>(i)) * 100.0f;  // normal floats
  fs::path f32 = write(dir / "f32.safetensors", {tensor("w", {1000}, values)}), bf16 = dir / "bf16.safetensors";
  REQUIRE(run({"cast", "--dtype", "bf16", f32.string(), bf16.string()}).status == 0);
  run_result r = run({"diff", "--json", f32.string(), bf16.string()});
  CHECK(r.status == 1);
  simdjson::dom::parser p;
  simdjson::dom::element t = parse(p, r.out)["different_tensors"].at(0);
  CHECK(bool(t["compared"]));
  CHECK(double(t["max_rel_diff"]) > 0);
  CHECK(double(t["max_rel_diff"]) <= 0x1p-8);  // half a unit in BF16's 8-bit significand
}

TEST_CASE("diff: invalid files exit 3 (could not compare) with the error; usage errors exit 2") {
  run_result r = run({"diff", valid("scalar.safetensors").string(), cli_test::malformed("hole.safetensors").string()});
  CHECK(r.status == 3);
  CHECK(r.out.empty());
  CHECK(r.err.find("hole.safetensors") != std::string::npos);
  check_usage_error({"diff", valid("scalar.safetensors").string()}, "needs A and B");
  check_usage_error({"diff", "--fast", "a", "b"}, "unknown option `--fast`");
}

TEST_CASE("diff --atol/--rtol: the same when every |a - b| <= atol + rtol * |b| (numpy.allclose), B the reference") {
  scratch_dir dir;
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  // w differs by 2^-10 at 1 and by exactly 1 at 100 (both exact in F32 and F64).
  fs::path a = write(dir / "a.safetensors",
                     {tensor<float>("w", {4}, {1, 2, 100, nan}), tensor<std::int32_t>("i", {2}, {1, 2})});
  fs::path b = write(dir / "b.safetensors",
                     {tensor<float>("w", {4}, {1.0009765625f, 2, 101, nan}), tensor<std::int32_t>("i", {2}, {1, 2})});
  auto status = [&](std::vector<std::string> flags, const fs::path& x, const fs::path& y) {
    flags.insert(flags.begin(), "diff");
    flags.push_back(x.string());
    flags.push_back(y.string());
    run_result r = run(flags);
    INFO(r.out, r.err);
    CHECK(r.err.empty());
    return r.status;
  };
  CHECK(status({}, a, b) == 1);                     // exact by default, as before
  CHECK(status({"--atol", "1"}, a, b) == 0);        // |101 - 100| = 1 <= 1: the bound is inclusive
  CHECK(status({"--atol", "0.5"}, a, b) == 1);      // 1 > 0.5
  CHECK(status({"--rtol", "0.00995"}, a, b) == 0);  // 1 <= 0.00995 * 101
  CHECK(status({"--rtol", "0.00995"}, b, a) == 1);  // 1 > 0.00995 * 100: |b| is B's
  CHECK(status({"--atol=0.5", "--rtol=0.005"}, a, b) == 0);  // 1 <= 0.5 + 0.505
  CHECK(status({"--atol", "0.0009765625"}, a, b) == 1);       // the 2^-10 passes, the 1 does not

  // A NaN or infinity facing anything else is outside any tolerance.
  fs::path c = write(dir / "c.safetensors",
                     {tensor<float>("w", {4}, {1, 2, 100, inf}), tensor<std::int32_t>("i", {2}, {1, 2})});
  CHECK(status({"--atol", "1e300"}, c, a) == 1);
  // With a tolerance, dtypes may differ: F32 against the same values in F64.
  fs::path d = write(dir / "d.safetensors",
                     {tensor<double>("w", {4}, {1, 2, 100, nan}), tensor<std::int32_t>("i", {2}, {1, 2})});
  CHECK(status({}, a, d) == 1);
  CHECK(status({"--atol", "0"}, a, d) == 0);

  // --json: the tolerances, and per tensor whether it is within them.
  run_result j = run({"diff", "--json", "--atol", "0.5", a.string(), b.string()});
  CHECK(j.status == 1);
  simdjson::dom::parser p;
  simdjson::dom::element doc = parse(p, j.out);
  CHECK(double(doc["atol"]) == 0.5);
  CHECK(double(doc["rtol"]) == 0.0);
  CHECK_FALSE(bool(doc["same"]));
  simdjson::dom::element w = doc["different_tensors"].at(0);
  CHECK(std::string_view(w["name"]) == "w");
  CHECK_FALSE(bool(w["within_tolerance"]));
  CHECK(std::uint64_t(w["values_outside_tolerance"]) == 1);
  CHECK(std::uint64_t(w["values_differing"]) == 2);
  run_result within = run({"diff", "--json", "--atol", "1", a.string(), b.string()});
  CHECK(within.status == 0);
  simdjson::dom::element wdoc = parse(p, within.out);
  CHECK(bool(wdoc["same"]));
  CHECK_FALSE(bool(wdoc["identical"]));
  CHECK(bool(wdoc["different_tensors"].at(0)["within_tolerance"]));
  CHECK(std::uint64_t(wdoc["different_tensors"].at(0)["values_outside_tolerance"]) == 0);
  // Without a tolerance: null, and no per-tensor verdict.
  run_result exact = run({"diff", "--json", a.string(), b.string()});
  simdjson::dom::element edoc = parse(p, exact.out);
  CHECK(edoc["atol"].is_null());
  CHECK(edoc["rtol"].is_null());
  CHECK(edoc["different_tensors"].at(0)["within_tolerance"].error() == simdjson::NO_SUCH_FIELD);

  // The text form says so, per tensor and in the last line.
  run_result text = run({"diff", "--atol", "1", a.string(), b.string()});
  CHECK(text.out.find(", within tolerance\n") != std::string::npos);
  CHECK(lines_of(text.out).back() == "same within atol 1, rtol 0: 1 tensors identical, 1 within tolerance, same metadata");
  run_result outside = run({"diff", "--atol", "0.5", a.string(), b.string()});
  CHECK(outside.out.find(", 1 outside tolerance\n") != std::string::npos);
  CHECK(lines_of(outside.out).back().starts_with("differ: 1 tensors identical, 1 different (0 within tolerance), "));

  for (const char* bad : {"-1", "abc", "", "nan", "inf", "1e400", "0.5x"}) {
    check_usage_error({"diff", "--atol", bad, a.string(), b.string()}, "--atol wants a number >= 0");
    check_usage_error({"diff", "--rtol", bad, a.string(), b.string()}, "--rtol wants a number >= 0");
  }
  check_usage_error({"diff", a.string(), b.string(), "--atol"}, "`--atol` needs a value");
}

TEST_CASE("diff: exit 3 when a file is missing, unreadable or invalid, whichever side, whatever the tolerance") {
  scratch_dir dir;
  const std::string good = valid("scalar.safetensors").string();
  fs::path unreadable = dir / "unreadable.safetensors";
  fs::copy_file(good, unreadable);
  fs::permissions(unreadable, fs::perms::none);
  const bool root = ::geteuid() == 0;  // root reads it anyway
  std::vector<std::pair<std::string, std::string>> cases = {
      {good, (dir / "missing.safetensors").string()},
      {(dir / "missing.safetensors").string(), good},
      {cli_test::malformed("hole.safetensors").string(), good},
      {good, cli_test::malformed("too_short.safetensors").string()},
      {good, dir.path().string()},  // a directory
  };
  if (!root) cases.emplace_back(good, unreadable.string());
  for (const auto& [x, y] : cases) {
    for (bool tolerance : {false, true}) {
      std::vector<std::string> args = {"diff"};
      if (tolerance) args.insert(args.end(), {"--json", "--rtol", "0.1"});
      args.push_back(x);
      args.push_back(y);
      run_result r = run(args);
      INFO(x, " ", y, ": ", r.err);
      CHECK(r.status == 3);
      CHECK(r.out.empty());
      CHECK(r.err.starts_with("safeweights: "));
      CHECK(lines_of(r.err).size() == 1);
    }
  }
}

// ---------------------------------------------------------------- stats

TEST_CASE("stats --json: PyTorch's own statistics of a real state dict") {
  scratch_dir dir;
  fs::path sd = dir / "sd.safetensors";
  REQUIRE(run({"convert", cli_test::torch_file("state_dict.npz").string(), sd.string()}).status == 0);
  run_result r = run({"stats", "--json", sd.string()});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  simdjson::dom::parser p, q;
  simdjson::dom::element doc = parse(p, r.out);
  simdjson::dom::element want = q.load(cli_test::torch_file("torch_stats.json").string());
  std::size_t checked = 0;
  for (simdjson::dom::element t : simdjson::dom::array(doc["tensors"])) {
    std::string_view name = t["name"];
    INFO(name);
    simdjson::dom::element w = want[name];
    for (const char* key : {"count", "nan", "inf", "zeros"}) CHECK(std::uint64_t(t[key]) == std::uint64_t(w[key]));
    for (const char* key : {"min", "max"}) CHECK(double(t[key]) == double(w[key]));
    for (const char* key : {"mean", "std"})
      CHECK(std::fabs(double(t[key]) - double(w[key])) <= 1e-12 * std::max(1.0, std::fabs(double(w[key]))));
    ++checked;
  }
  CHECK(checked == 12);
}

TEST_CASE("stats: NaN, infinities and zeros are counted; the rest is over finite values") {
  scratch_dir dir;
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  fs::path f = write(dir / "s.safetensors", {tensor<float>("x", {7}, {1, 2, nan, inf, -inf, 0, -0.0f}),
                                            tensor<float>("all_nan", {1}, {nan}), sized("other", 8)});
  run_result r = run({"stats", "--json", f.string(), "x", "all_nan"});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  simdjson::dom::parser p;
  simdjson::dom::array tensors = parse(p, r.out)["tensors"];
  REQUIRE(tensors.size() == 2);  // only the names given, in that order
  simdjson::dom::element x = tensors.at(0);
  CHECK(std::string_view(x["name"]) == "x");
  CHECK(std::uint64_t(x["count"]) == 7);
  CHECK(std::uint64_t(x["nan"]) == 1);
  CHECK(std::uint64_t(x["inf"]) == 2);
  CHECK(std::uint64_t(x["zeros"]) == 2);
  CHECK(double(x["min"]) == 0.0);
  CHECK(double(x["max"]) == 2.0);
  CHECK(double(x["mean"]) == 0.75);
  CHECK(double(x["std"]) == doctest::Approx(std::sqrt(0.6875)));
  CHECK(tensors.at(1)["min"].is_null());
  CHECK(tensors.at(1)["mean"].is_null());

  run_result table = run({"stats", valid("mixed_dtypes.safetensors").string()});
  REQUIRE(table.status == 0);
  auto lines = lines_of(table.out);
  CHECK(lines[0].starts_with("NAME "));
  const sw::reader mixed = sw::open(valid("mixed_dtypes.safetensors").string());
  CHECK(lines.size() == 1 + mixed.tensors().size());
  CHECK(std::count_if(lines.begin(), lines.end(), [](auto& l) { return l.starts_with("t_f4 ") && l.ends_with(" -"); }) == 1);

  run_result missing = run({"stats", f.string(), "nope"});
  CHECK(missing.status == 1);
  CHECK(missing.out.empty());
  CHECK(missing.err.find("`nope`") != std::string::npos);
}

// ---------------------------------------------------------------- shard, merge

// a(100) B(300) c(52) d(60) z😀(12) é"\DEL(40) in file order, max 200: the
// hub's algorithm puts B alone first (it is met while a's shard is open),
// then [a, c], then [d, z😀, é...].
fs::path write_shard_input(const fs::path& path, std::vector<std::pair<std::string, std::string>> metadata) {
  return write(path, {sized("a", 100), sized("b", 300), sized("c", 52), sized("d", 60), sized("z\xf0\x9f\x98\x80", 12),
                      sized("\xc3\xa9\"\\\x7f", 40)},
               metadata);
}

TEST_CASE("shard: Hugging Face's shards and index, byte for byte") {
  scratch_dir dir;
  fs::path in = write_shard_input(dir / "in.safetensors", {{"format", "pt"}});
  fs::path out = dir / "out";
  run_result r = run({"shard", in.string(), "--max-size", "200", out.string()});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(r.out.starts_with("wrote " + out.string() + ": 6 tensors in 3 shards, "));
  CHECK(r.out.ends_with(" kB (index model.safetensors.index.json)\n"));  // about 1.7 kB
  CHECK(r.err.empty());
  const std::string want_index = R"({
  "metadata": {
    "total_parameters": 141,
    "total_size": 564
  },
  "weight_map": {
    "a": "model-00002-of-00003.safetensors",
    "b": "model-00001-of-00003.safetensors",
    "c": "model-00002-of-00003.safetensors",
    "d": "model-00003-of-00003.safetensors",
    "z\ud83d\ude00": "model-00003-of-00003.safetensors",
    "\u00e9\"\\\u007f": "model-00003-of-00003.safetensors"
  }
}
)";
  CHECK(cli_test::read_text(out / "model.safetensors.index.json") == want_index);
  std::set<std::string> files;
  for (auto& e : fs::directory_iterator(out)) files.insert(e.path().filename().string());
  CHECK(files == std::set<std::string>{"model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                                       "model-00003-of-00003.safetensors", "model.safetensors.index.json"});
  sw::reader original = open(in);
  const std::vector<std::vector<std::string>> want = {{"b"}, {"a", "c"}, {"d", "z\xf0\x9f\x98\x80", "\xc3\xa9\"\\\x7f"}};
  for (std::size_t k = 0; k < 3; ++k) {
    sw::reader shard = open(out / ("model-0000" + std::to_string(k + 1) + "-of-00003.safetensors"));
    CHECK(names_in_order(shard) == want[k]);
    CHECK(metadata_of(shard) == std::vector<std::pair<std::string, std::string>>{{"format", "pt"}});
    for (const std::string& n : want[k]) CHECK(bytes_of(shard, n) == bytes_of(original, n));
    // What safetensors' own writer would write for these tensors: canonical.
    fs::path again = dir / "again.safetensors";
    REQUIRE(run({"repack", (out / ("model-0000" + std::to_string(k + 1) + "-of-00003.safetensors")).string(),
                 again.string()}).status == 0);
    CHECK(read_bytes(again) == read_bytes(out / ("model-0000" + std::to_string(k + 1) + "-of-00003.safetensors")));
  }
}

TEST_CASE("shard then merge gives the input back byte for byte") {
  scratch_dir dir;
  for (const char* size : {"200", "1KB", "40", "5GB"}) {
    INFO("--max-size ", size);
    fs::path in = write_shard_input(dir / "in.safetensors", {{"format", "pt"}});
    fs::path out = dir / ("out-" + std::string(size));
    REQUIRE(run({"shard", in.string(), "--max-size", size, out.string()}).status == 0);
    fs::path merged = dir / "merged.safetensors";
    if (fs::exists(out / "model.safetensors.index.json")) {
      run_result m = run({"merge", (out / "model.safetensors.index.json").string(), merged.string()});
      REQUIRE_MESSAGE(m.status == 0, m.err);
      CHECK(m.err.empty());
      CHECK(read_bytes(merged) == read_bytes(in));
    } else {  // everything fits one shard: a plain model.safetensors, the input itself
      CHECK(read_bytes(out / "model.safetensors") == read_bytes(in));
    }
  }
  // The transformer-sized conformance file: 148 tensors, its metadata kept, "format" added.
  fs::path out = dir / "gpt2";
  REQUIRE(run({"shard", valid("gpt2_like_bf16.safetensors").string(), "--max-size", "0.3MB", out.string()}).status == 0);
  fs::path merged = dir / "gpt2.safetensors";
  REQUIRE(run({"merge", (out / "model.safetensors.index.json").string(), merged.string()}).status == 0);
  run_result d = run({"diff", "--json", valid("gpt2_like_bf16.safetensors").string(), merged.string()});
  simdjson::dom::parser p;
  simdjson::dom::element doc = parse(p, d.out);
  CHECK(std::uint64_t(doc["identical_tensors"]) == 148);
  CHECK(simdjson::dom::array(doc["different_tensors"]).size() == 0);
  // Each shard within the size, unless it is one tensor larger than it.
  std::size_t shards = 0;
  for (auto& e : fs::directory_iterator(out)) {
    if (e.path().extension() != ".safetensors") continue;
    ++shards;
    sw::reader s = open(e.path());
    CHECK((s.index().data_size() <= 300000 || s.tensors().size() == 1));
  }
  CHECK(shards >= 5);  // 1,280,256 bytes
}

TEST_CASE("shard: a tensor larger than SIZE gets a shard of its own; one shard is a plain model.safetensors") {
  scratch_dir dir;
  fs::path in = write(dir / "in.safetensors", {sized("a", 40), sized("big", 400), sized("c", 40)});
  fs::path out = dir / "out";
  REQUIRE(run({"shard", in.string(), "--max-size", "100", out.string()}).status == 0);
  CHECK(names_in_order(open(out / "model-00001-of-00002.safetensors")) == std::vector<std::string>{"big"});
  CHECK(names_in_order(open(out / "model-00002-of-00002.safetensors")) == std::vector<std::string>{"a", "c"});
  // Sharding the same directory again into one file removes the old shards and index.
  REQUIRE(run({"shard", in.string(), "--max-size", "1MB", out.string()}).status == 0);
  std::set<std::string> files;
  for (auto& e : fs::directory_iterator(out)) files.insert(e.path().filename().string());
  CHECK(files == std::set<std::string>{"model.safetensors"});
  sw::reader single = open(out / "model.safetensors");
  CHECK(metadata_of(single) == std::vector<std::pair<std::string, std::string>>{{"format", "pt"}});
  CHECK(names_in_order(single) == names_in_order(open(in)));
}

TEST_CASE("shard --max-size reads sizes as Hugging Face does") {
  scratch_dir dir;
  std::vector<spec> four;
  for (int i = 0; i < 4; ++i) four.push_back(sized("t" + std::to_string(i), 1000));
  fs::path in = write(dir / "in.safetensors", four);
  // SIZE -> tensors per shard (1000 bytes each)
  for (auto [size, per_shard] : {std::pair{"2KB", 2}, std::pair{"2kb", 2}, std::pair{"1.5KB", 1}, std::pair{"3000", 3},
                                 std::pair{"2KiB", 2}, std::pair{"0.004MB", 4}, std::pair{" 3 KB ", 3}}) {
    INFO(size);
    fs::path out = dir / "out";
    fs::remove_all(out);
    REQUIRE(run({"shard", in.string(), "--max-size", size, out.string()}).status == 0);
    std::size_t shards = 0;
    for (auto& e : fs::directory_iterator(out)) shards += e.path().extension() == ".safetensors";
    CHECK(shards == (4 + per_shard - 1) / per_shard);
  }
  for (const char* bad : {"5XB", "", "-1GB", "0", "GB", "1e400GB", "nanGB"})
    check_usage_error({"shard", in.string(), "--max-size", bad, (dir / "never").string()}, "--max-size");
  check_usage_error({"shard", in.string(), (dir / "never").string()}, "missing --max-size");
  CHECK_FALSE(fs::exists(dir / "never"));
}

TEST_CASE("shard --num-shards N: exactly N shards in file order, the largest as small as can be; merge gives IN back") {
  scratch_dir dir;
  fs::path in = write_shard_input(dir / "in.safetensors", {{"format", "pt"}});
  // a(100) b(300) c(52) d(60) z(12) e(40): N -> the shards' tensors.
  const std::vector<std::pair<std::size_t, std::vector<std::vector<std::string>>>> cases = {
      {2, {{"a", "b"}, {"c", "d", "z\xf0\x9f\x98\x80", "\xc3\xa9\"\\\x7f"}}},  // 400 + 164, not 100 + 464
      {3, {{"a"}, {"b"}, {"c", "d", "z\xf0\x9f\x98\x80", "\xc3\xa9\"\\\x7f"}}},
      {6, {{"a"}, {"b"}, {"c"}, {"d"}, {"z\xf0\x9f\x98\x80"}, {"\xc3\xa9\"\\\x7f"}}},
  };
  for (const auto& [n, want] : cases) {
    INFO("--num-shards ", n);
    fs::path out = dir / ("out-" + std::to_string(n));
    run_result r = run({"shard", in.string(), "--num-shards", std::to_string(n), out.string()});
    REQUIRE_MESSAGE(r.status == 0, r.err);
    CHECK(r.out.starts_with("wrote " + out.string() + ": 6 tensors in " + std::to_string(n) + " shards, "));
    std::set<std::string> files;
    for (auto& e : fs::directory_iterator(out)) files.insert(e.path().filename().string());
    CHECK(files.size() == n + 1);
    CHECK(files.count("model.safetensors.index.json") == 1);
    for (std::size_t k = 0; k < n; ++k) {
      char name[64];
      std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", k + 1, n);
      REQUIRE(files.count(name) == 1);
      sw::reader shard = open(out / name);
      CHECK(names_in_order(shard) == want[k]);
      CHECK(metadata_of(shard) == std::vector<std::pair<std::string, std::string>>{{"format", "pt"}});
    }
    fs::path merged = dir / "merged.safetensors";
    run_result m = run({"merge", (out / "model.safetensors.index.json").string(), merged.string()});
    REQUIRE_MESSAGE(m.status == 0, m.err);
    CHECK(read_bytes(merged) == read_bytes(in));
  }
  // One shard is a plain model.safetensors, as with --max-size.
  REQUIRE(run({"shard", in.string(), "--num-shards", "1", (dir / "one").string()}).status == 0);
  CHECK(read_bytes(dir / "one" / "model.safetensors") == read_bytes(in));
  CHECK_FALSE(fs::exists(dir / "one" / "model.safetensors.index.json"));

  // Ten equal tensors in 3 and in 4: no shard above the smallest possible largest one.
  std::vector<spec> ten;
  for (int i = 0; i < 10; ++i) ten.push_back(sized("t" + std::to_string(i), 100));
  fs::path even = write(dir / "even.safetensors", ten);
  for (auto [n, largest] : {std::pair{3, 400}, std::pair{4, 300}}) {
    fs::path out = dir / ("even-" + std::to_string(n));
    REQUIRE(run({"shard", even.string(), "--num-shards", std::to_string(n), out.string()}).status == 0);
    std::size_t shards = 0, tensors = 0;
    for (auto& e : fs::directory_iterator(out)) {
      if (e.path().extension() != ".safetensors") continue;
      ++shards;
      sw::reader s = open(e.path());
      tensors += s.tensors().size();
      CHECK(s.index().data_size() <= static_cast<std::uint64_t>(largest));
      CHECK(s.tensors().size() >= 1);
    }
    CHECK(shards == static_cast<std::size_t>(n));
    CHECK(tensors == 10);
  }

  // More shards than tensors, bad counts, both options: usage errors, nothing written.
  check_usage_error({"shard", in.string(), "--num-shards", "7", (dir / "never").string()},
                    "--num-shards 7 but " + in.string() + " holds 6 tensors, and each shard needs at least one");
  for (const char* bad : {"0", "-1", "2.5", "two", "", "99999999999999999999999"})
    check_usage_error({"shard", in.string(), "--num-shards", bad, (dir / "never").string()},
                      "--num-shards wants a whole number of at least 1");
  check_usage_error({"shard", in.string(), "--num-shards", "2", "--max-size", "1KB", (dir / "never").string()},
                    "--max-size and --num-shards exclude each other");
  CHECK_FALSE(fs::exists(dir / "never"));
}

TEST_CASE("merge refuses an index and shards that disagree, and writes nothing") {
  scratch_dir dir;
  fs::path in = write_shard_input(dir / "in.safetensors", {{"format", "pt"}});
  fs::path out = dir / "out";
  REQUIRE(run({"shard", in.string(), "--max-size", "200", out.string()}).status == 0);
  const std::string index = cli_test::read_text(out / "model.safetensors.index.json");
  auto with_index = [&](const std::string& text) {
    test_support::write_text(out / "bad.index.json", text);
    return (out / "bad.index.json").string();
  };
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string t = index;
    auto at = t.find(from);
    REQUIRE(at != std::string::npos);
    return t.replace(at, from.size(), to);
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {replaced("\"a\": \"model-00002", "\"a\": \"model-00003"),
       "tensor `a` is mapped to `model-00003-of-00003.safetensors`, which does not hold it"},
      {replaced("    \"c\": \"model-00002-of-00003.safetensors\",\n", ""),
       "shard `model-00002-of-00003.safetensors` holds tensor `c`, which the index does not list"},
      {replaced("\"d\": \"model-00003", "\"d\": \"../model-00003"), "has a `..` part"},
      {replaced("\"d\": \"model-00003", "\"d\": \"model-00003\\\\"), "holds a `\\`"},
      {replaced("564", "565"), "metadata `total_size` is 565 but the tensors the index lists hold 564 bytes"},
      {replaced("564", "\"564\""), "metadata `total_size` is not a non-negative integer"},
      {replaced("\"b\": \"model-00001-of-00003.safetensors\"", "\"b\": \"model-00001-of-00003.safetensors\", \"b\": \"x\""),
       "appears twice"},
      {replaced("\"b\": \"model-00001-of-00003.safetensors\"", "\"b\": \"missing.safetensors\""), "missing.safetensors"},
      {"[1, 2]", "not a JSON object"},
      {"{\"weight_map\": ", "not valid JSON"},
  };
  fs::path merged = dir / "merged.safetensors";
  for (const auto& [text, says] : cases) {
    run_result r = run({"merge", with_index(text), merged.string()});
    INFO(says, ": ", r.err);
    CHECK(r.status == 1);
    CHECK(r.err.find(says) != std::string::npos);
    CHECK_FALSE(fs::exists(merged));
  }
  // A tensor in two shards: shard 2 rewritten with a copy of shard 1's `b`.
  write(out / "model-00002-of-00003.safetensors",
        {sized("a", 100), sized("c", 52), sized("b", 4)}, {{"format", "pt"}});
  run_result twice = run({"merge", (out / "model.safetensors.index.json").string(), merged.string()});
  CHECK(twice.status == 1);
  CHECK(twice.err.find("tensor `b` is in both `model-00002-of-00003.safetensors` and "
                       "`model-00001-of-00003.safetensors`") != std::string::npos);  // shards in order of first use
  CHECK_FALSE(fs::exists(merged));
}

TEST_CASE("an index over 100,000,000 bytes is refused unread by every command that reads indexes") {
  scratch_dir dir;
  const fs::path index = dir / "model.safetensors.index.json";
  test_support::write_text(index, "{\"weight_map\": {}}");
  fs::resize_file(index, 100'000'001);  // sparse
  for (const char* command : {"merge", "inspect", "validate", "stats"}) {
    std::vector<std::string> args = {command, index.string()};
    if (args[0] == "merge") args.push_back((dir / "merged.safetensors").string());
    run_result r = run(args);
    INFO(command, ": ", r.out, r.err);
    CHECK(r.status == 1);
    const std::string text = r.out + r.err;  // validate reports on stdout
    CHECK(text.find(index.string() + ": ") != std::string::npos);
    CHECK(text.find("an index of 100000001 bytes is over the limit of 100,000,000") != std::string::npos);
  }
  CHECK_FALSE(fs::exists(dir / "merged.safetensors"));
}

TEST_CASE("merge quotes and escapes the shard and tensor names an index gives (issue 13)") {
  // A name that would turn a terminal red and break the line, as a shard file and a tensor.
  const std::string evil = "sh\x1b[31m\nard.safetensors", evil_tensor = "t\x1b[31m\nx";
  const std::string evil_json = "sh\\u001b[31m\\nard.safetensors", evil_tensor_json = "t\\u001b[31m\\nx";
  const std::string evil_shown = "`sh\\x1b[31m\\nard.safetensors`", evil_tensor_shown = "`t\\x1b[31m\\nx`";
  scratch_dir dir;
  write(dir / evil, {sized(evil_tensor, 4)}, {{"k", "1"}});
  write(dir / "plain.safetensors", {sized("p", 4)}, {{"k", "2"}});
  write(dir / "twin.safetensors", {sized(evil_tensor, 4)});
  write(dir / ("2" + evil), {sized("p2", 4), sized(evil_tensor, 4)});
  auto index = [&](const std::string& weight_map) {
    test_support::write_text(dir / "model.safetensors.index.json", "{\"weight_map\": {" + weight_map + "}}");
    return (dir / "model.safetensors.index.json").string();
  };
  struct bad_index {
    std::string weight_map, says;
    std::vector<std::string> shown;
  };
  const std::vector<bad_index> cases = {
      {"\"p\": \"missing" + evil_json + "\"", "cannot open", {"`missing" + evil_shown.substr(1)}},
      {"\"" + evil_tensor_json + "\": \"" + evil_json + "\", \"x\": \"twin.safetensors\"", "is in both",
       {evil_tensor_shown, evil_shown, "`twin.safetensors`"}},
      {"\"" + evil_tensor_json + "\": \"plain.safetensors\", \"p\": \"plain.safetensors\", \"q\": \"" + evil_json +
           "\"",
       "which does not hold it (it is in", {evil_tensor_shown, evil_shown, "`plain.safetensors`"}},
      {"\"" + evil_tensor_json + "\": \"" + evil_json + "\", \"gh\\u001bost\": \"" + evil_json + "\"",
       "which does not hold it", {"`gh\\x1bost`", evil_shown}},
      {"\"p2\": \"2" + evil_json + "\"", "which the index does not list",
       {evil_tensor_shown, "`2" + evil_shown.substr(1)}},
  };
  fs::path merged = dir / "merged.safetensors";
  for (const bad_index& c : cases) {
    run_result r = run({"merge", index(c.weight_map), merged.string()});
    INFO(c.says, ": ", r.err);
    CHECK(r.status == 1);
    CHECK(r.err.find(c.says) != std::string::npos);
    CHECK(r.err.find('\x1b') == std::string::npos);
    CHECK(lines_of(r.err).size() == 1);
    for (const std::string& s : c.shown) CHECK(r.err.find(s) != std::string::npos);
    CHECK_FALSE(fs::exists(merged));
  }
  // A metadata value that differs between shards is a warning naming the shard.
  const std::string both = "\"p\": \"plain.safetensors\", \"" + evil_tensor_json + "\": \"" + evil_json + "\"";
  run_result warned = run({"merge", index(both), merged.string()});
  INFO(warned.err);
  CHECK(warned.status == 0);
  CHECK(warned.err.find('\x1b') == std::string::npos);
  CHECK(lines_of(warned.err).size() == 1);
  CHECK(warned.err.find("warning: ") != std::string::npos);
  CHECK(warned.err.find(evil_shown) != std::string::npos);
}

TEST_CASE("convert to a directory quotes and escapes a tensor name it cannot make a file of (issue 13)") {
  scratch_dir dir;
  fs::path in = write(dir / "in.safetensors", {sized("esc\x1b[31m\n" + std::string(300, 'z'), 4)});
  run_result r = run({"convert", in.string(), (dir / "arrays").string() + "/"});
  INFO(r.err);
  CHECK(r.status == 1);
  CHECK(r.err.find('\x1b') == std::string::npos);
  CHECK(lines_of(r.err).size() == 1);
  CHECK(r.err.find(": tensor `esc\\x1b[31m\\nzzz") != std::string::npos);
  CHECK(r.err.find("File name too long") != std::string::npos);
}

TEST_CASE("merge: metadata from the shards; a wrong total_size is an error, as everywhere") {
  scratch_dir dir;
  fs::path in = write_shard_input(dir / "in.safetensors", {{"author", "me"}});
  fs::path out = dir / "out";
  REQUIRE(run({"shard", in.string(), "--max-size", "200", out.string()}).status == 0);
  // IN's metadata is in every shard, "format": "pt" after it.
  CHECK(metadata_of(open(out / "model-00001-of-00003.safetensors")) ==
        std::vector<std::pair<std::string, std::string>>{{"author", "me"}, {"format", "pt"}});
  const fs::path index_path = out / "model.safetensors.index.json";
  const std::string index = cli_test::read_text(index_path);
  std::string wrong = index;
  wrong.replace(wrong.find("564"), 3, "999");
  test_support::write_text(index_path, wrong);
  fs::path merged = dir / "merged.safetensors";
  for (const char* command : {"merge", "inspect", "validate", "stats"}) {
    std::vector<std::string> args = {command, index_path.string()};
    if (args[0] == "merge") args.push_back(merged.string());
    run_result bad = run(args);
    INFO(command, ": ", bad.out, bad.err);
    CHECK(bad.status == 1);
    const std::string text = bad.out + bad.err;  // validate reports on stdout
    CHECK(text.find(index_path.string() + ": ") != std::string::npos);
    CHECK(text.find("metadata `total_size` is 999 but the tensors the index lists hold 564 bytes") !=
          std::string::npos);
  }
  CHECK_FALSE(fs::exists(merged));
  test_support::write_text(index_path, index);
  run_result r = run({"merge", index_path.string(), merged.string()});
  REQUIRE(r.status == 0);
  CHECK(r.err.empty());
  sw::reader m = open(merged);
  CHECK(metadata_of(m) == std::vector<std::pair<std::string, std::string>>{{"author", "me"}, {"format", "pt"}});
  CHECK(run({"diff", in.string(), merged.string()}).status == 1);  // only the added "format" differs
  run_result d = run({"diff", "--json", in.string(), merged.string()});
  simdjson::dom::parser p;
  simdjson::dom::element doc = parse(p, d.out);
  CHECK(std::uint64_t(doc["identical_tensors"]) == 6);
  CHECK(std::string_view(doc["metadata"]["only_in_b"]["format"]) == "pt");
}

// ---------------------------------------------------------------- cast, rename, extract, metadata

TEST_CASE("cast: float tensors become the dtype asked for, rounded to nearest even; the rest is kept") {
  scratch_dir dir;
  const std::vector<float> f = {1.0f, 1.00390625f, 1.01171875f, -3.14159f, 65504.0f, 70000.0f, 1e-8f};
  const std::vector<double> d = {0.1, -2.5, 1e300};
  fs::path in = write(dir / "in.safetensors",
                      {tensor("f", {7}, f), tensor("d", {3}, d), tensor<std::int64_t>("i", {2}, {5, -6}),
                       tensor<std::uint16_t>("h", {2}, {0x3c00, 0xc000}, sw::dtype::F16)},
                      {{"format", "pt"}});
  for (auto [flag, type] : {std::pair{"bf16", sw::dtype::BF16}, std::pair{"f16", sw::dtype::F16},
                            std::pair{"F32", sw::dtype::F32}}) {
    INFO(flag);
    fs::path out = dir / "out.safetensors";
    run_result r = run({"cast", "--dtype", flag, in.string(), out.string()});
    REQUIRE_MESSAGE(r.status == 0, r.err);
    sw::reader c = open(out);
    CHECK(metadata_of(c) == std::vector<std::pair<std::string, std::string>>{{"format", "pt"}});
    CHECK(c.find("i")->type == sw::dtype::I64);
    CHECK(bytes_of(c, "i") == bytes_of(open(in), "i"));
    for (auto [name, values] : {std::pair{"f", std::vector<double>(f.begin(), f.end())}, std::pair{"d", d}}) {
      CHECK(c.find(name)->type == type);
      auto got = bytes_of(c, name);
      for (std::size_t k = 0; k < values.size(); ++k) {
        float x = static_cast<float>(values[k]);
        if (type == sw::dtype::F32) {
          float y;
          std::memcpy(&y, got.data() + 4 * k, 4);
          CHECK(y == x);
        } else {
          std::uint16_t y;
          std::memcpy(&y, got.data() + 2 * k, 2);
          CHECK(y == (type == sw::dtype::BF16 ? sw::float_to_bf16(x) : sw::float_to_f16(x)));
        }
      }
    }
  }
  // In place, and a packed tensor is refused.
  fs::path copy = dir / "copy.safetensors";
  fs::copy_file(in, copy);
  REQUIRE(run({"cast", "--dtype", "bf16", copy.string(), copy.string()}).status == 0);
  CHECK(open(copy).tensor("f").value().type() == sw::dtype::BF16);
  run_result packed = run({"cast", "--dtype", "f32", valid("dtype_F4.safetensors").string(), (dir / "p.safetensors").string()});
  CHECK(packed.status == 1);
  CHECK(packed.err.find("packed") != std::string::npos);
  CHECK_FALSE(fs::exists(dir / "p.safetensors"));
  check_usage_error({"cast", in.string(), (dir / "x.safetensors").string()}, "missing --dtype");
  check_usage_error({"cast", "--dtype", "int8", in.string(), (dir / "x.safetensors").string()}, "`int8`");
}

TEST_CASE("rename: prefixes stripped and added; a collision is an error") {
  scratch_dir dir;
  fs::path in = write(dir / "in.safetensors",
                      {sized("model.embed.weight", 8), sized("model.norm.weight", 4), sized("lm_head.weight", 4)},
                      {{"format", "pt"}});
  fs::path out = dir / "out.safetensors";
  REQUIRE(run({"rename", in.string(), out.string(), "--strip-prefix", "model.", "--add-prefix", "transformer."}).status == 0);
  sw::reader r = open(out);
  CHECK(names_in_order(r) == std::vector<std::string>{"transformer.embed.weight", "transformer.lm_head.weight",
                                                      "transformer.norm.weight"});
  CHECK(bytes_of(r, "transformer.embed.weight") == bytes_of(open(in), "model.embed.weight"));
  CHECK(metadata_of(r) == metadata_of(open(in)));

  fs::path clash_in = write(dir / "clash.safetensors", {sized("model.w", 4), sized("w", 4)});
  fs::path clash_out = dir / "clash-out.safetensors";
  run_result clash = run({"rename", "--strip-prefix=model.", clash_in.string(), clash_out.string()});
  CHECK(clash.status == 1);
  CHECK(clash.err.find("`model.w` and `w` would both be named `w`") != std::string::npos);
  CHECK_FALSE(fs::exists(clash_out));
  check_usage_error({"rename", in.string(), out.string()}, "--strip-prefix");
  check_usage_error({"rename", in.string(), out.string(), "--add-prefix"}, "`--add-prefix` needs a value");
}

TEST_CASE("extract: only the named tensors, bytes and metadata kept") {
  scratch_dir dir;
  fs::path out = dir / "sub.safetensors";
  run_result r = run({"extract", valid("gpt2_like_bf16.safetensors").string(), out.string(), "wte.weight", "h.3.ln_1.bias", "wte.weight"});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  sw::reader sub = open(out), full = open(valid("gpt2_like_bf16.safetensors"));
  CHECK(names_in_order(sub) == std::vector<std::string>{"h.3.ln_1.bias", "wte.weight"});
  CHECK(bytes_of(sub, "wte.weight") == bytes_of(full, "wte.weight"));
  CHECK(metadata_of(sub) == metadata_of(full));
  run_result missing = run({"extract", valid("gpt2_like_bf16.safetensors").string(), (dir / "m.safetensors").string(), "wte.weight", "nope"});
  CHECK(missing.status == 1);
  CHECK(missing.err.find("`nope`") != std::string::npos);
  CHECK_FALSE(fs::exists(dir / "m.safetensors"));
  check_usage_error({"extract", valid("scalar.safetensors").string(), out.string()}, "at least one NAME");
}

TEST_CASE("metadata: shown as a table or JSON, edited in place atomically") {
  scratch_dir dir;
  fs::path f = dir / "m.safetensors";
  fs::copy_file(valid("metadata.safetensors"), f);
  run_result shown = run({"metadata", f.string()});
  REQUIRE(shown.status == 0);
  CHECK(lines_of(shown.out)[1] == "format = pt");
  run_result json = run({"metadata", "--json", f.string()});
  simdjson::dom::parser p;
  CHECK(std::string_view(parse(p, json.out)["trained_at"]) == "2026-01-15T10:00:00Z");
  CHECK(run({"metadata", "--json", valid("scalar.safetensors").string()}).out == "null\n");

  const auto before = metadata_of(open(f));
  run_result edit = run({"metadata", f.string(), "--set", "format=tf", "--set", "note=a=b", "--delete", "trained_at",
                         "--set", "new=1"});
  REQUIRE_MESSAGE(edit.status == 0, edit.err);
  auto after = metadata_of(open(f));
  std::vector<std::pair<std::string, std::string>> want;
  for (auto [k, v] : before) {
    if (k == "trained_at") continue;
    if (k == "format") v = "tf";
    want.emplace_back(k, v);
  }
  want.emplace_back("note", "a=b");
  want.emplace_back("new", "1");
  CHECK(after == want);
  CHECK(bytes_of(open(f), "w") == bytes_of(open(valid("metadata.safetensors")), "w"));

  const auto bytes = read_bytes(f);
  run_result missing = run({"metadata", f.string(), "--set", "x=1", "--delete", "absent"});
  CHECK(missing.status == 1);
  CHECK(missing.err.find("`absent`") != std::string::npos);
  CHECK(read_bytes(f) == bytes);  // nothing written
  CHECK(dir.entries() == 1);
  check_usage_error({"metadata", f.string(), "--set", "novalue"}, "K=V");
  check_usage_error({"metadata", "--json", f.string(), "--delete", "x"}, "--json");
}

TEST_CASE("metadata --set checks the model-card keys (model_card::check_value); --force stores anything") {
  scratch_dir dir;
  fs::path f = dir / "m.safetensors";
  fs::copy_file(valid("metadata.safetensors"), f);
  const std::vector<std::pair<std::string, std::string>> good = {
      {"format", "pt"},
      {"format", "mlx"},
      {"feature_names", R"(["age", "income"])"},
      {"training_date", "2024-05-01"},
      {"training_date", "2024-02-29T23:59:60.123456+05:30"},
      {"training_date", "2024-05-01T12:00Z"},
      {"scores", R"({"accuracy": 0.97, "loss": 1e-3})"},
      {"library_versions", R"({"torch": "1.13.0"})"},
      {"data_sha256", std::string(64, 'a')},
      {"n_head", "12"},
      {"anything_else", "not json"},
  };
  for (const auto& [key, value] : good) {
    run_result r = run({"metadata", f.string(), "--set", key + "=" + value});
    INFO(key, " = ", value, ": ", r.err);
    CHECK(r.status == 0);
    sw::reader edited = open(f);
    CHECK(edited.metadata_value(key) == value);
  }
  struct bad_value {
    std::string key, value, says;
  };
  const std::vector<bad_value> bad = {
      {"format", "np", "not pt, tf, flax or mlx"},
      {"feature_names", "[1, 2]", "not a JSON array of strings"},
      {"feature_names", "age,income", "not a JSON array of strings"},
      {"training_date", "yesterday", "not an ISO 8601 date"},
      {"training_date", "2023-02-29", "not an ISO 8601 date"},
      {"training_date", "2024-13-01", "not an ISO 8601 date"},
      {"training_date", "2024-05-01 12:00", "not an ISO 8601 date"},
      {"training_date", "2024-05-01T25:00", "not an ISO 8601 date"},
      {"scores", "not-json", "not a JSON object of numbers"},
      {"scores", R"({"a": "b"})", "not a JSON object of numbers"},
      {"library_versions", "[]", "not a JSON object of strings"},
      {"data_sha256", "ABC", "not 64 lowercase hex digits"},
      {"data_sha256", std::string(64, 'A'), "not 64 lowercase hex digits"},
      {"n_head", "0", "not a decimal integer of at least 1"},
      {"n_head", "twelve", "not a decimal integer of at least 1"},
  };
  const auto bytes = read_bytes(f);
  for (const bad_value& c : bad) {
    run_result r = run({"metadata", f.string(), "--set", "ok=1", "--set", c.key + "=" + c.value});
    INFO(c.key, " = ", c.value, ": ", r.err);
    CHECK(r.status == 2);
    CHECK(r.out.empty());
    CHECK(r.err.find("metadata `" + c.key + "`: " + c.says) != std::string::npos);
    CHECK(r.err.find("--force") != std::string::npos);
    CHECK(read_bytes(f) == bytes);  // nothing written
  }
  CHECK(dir.entries() == 1);
  run_result forced = run({"metadata", f.string(), "--set", "scores=not-json", "--force"});
  REQUIRE_MESSAGE(forced.status == 0, forced.err);
  sw::reader stored = open(f);
  CHECK(stored.metadata_value("scores") == "not-json");
  check_usage_error({"metadata", "--force", f.string()}, "--force and --quiet go with --set or --delete");
  check_usage_error({"metadata", "-q", f.string()}, "--force and --quiet go with --set or --delete");
}

TEST_CASE("every command that writes prints one `wrote OUT: ...` line on stdout; --quiet and -q silence it") {
  scratch_dir dir;
  fs::path in = write(dir / "in.safetensors", {tensor<float>("w", {2}, {1, 2}), tensor<float>("b", {1}, {3})},
                      {{"format", "pt"}});
  const std::string out = (dir / "out.safetensors").string(), shards = (dir / "shards").string();
  // The format once, exactly: a small file's size is in bytes.
  run_result cast = run({"cast", "--dtype", "bf16", in.string(), out});
  REQUIRE_MESSAGE(cast.status == 0, cast.err);
  CHECK(cast.out == "wrote " + out + ": 2 tensors, " + std::to_string(fs::file_size(out)) + " B (2 cast F32 -> BF16)\n");
  CHECK(cast.err.empty());

  struct command {
    std::vector<std::string> args;
    std::string says;  // what follows "wrote PATH: "
    std::string path;
  };
  const std::string index = shards + "/model.safetensors.index.json", npz = (dir / "x.npz").string();
  const std::vector<command> commands = {
      {{"cast", "--dtype", "f16", in.string(), out}, "2 tensors, ", out},
      {{"shard", in.string(), "--num-shards", "2", shards}, "2 tensors in 2 shards, ", shards},
      {{"merge", index, out}, "2 tensors, ", out},
      {{"repack", in.string(), out}, "2 tensors, ", out},
      {{"rename", in.string(), out, "--add-prefix", "m."}, "2 tensors, ", out},
      {{"extract", in.string(), out, "w"}, "1 tensor, ", out},
      {{"metadata", out, "--set", "k=v", "--delete", "k"}, "1 tensor, ", out},
      {{"seal", in.string(), out}, "2 tensors, ", out},
      {{"convert", in.string(), npz}, "2 arrays, ", npz},
      {{"convert", npz, out}, "2 tensors, ", out},
  };
  const std::vector<std::string> notes = {"(2 cast F32 -> F16)", "(index model.safetensors.index.json)",
                                          "(from 2 shards)",     "",
                                          "(2 renamed)",         "",
                                          "(metadata: 1 set, 1 deleted)", "(sealed)",
                                          "",                    ""};
  for (std::size_t i = 0; i < commands.size(); ++i) {
    const command& c = commands[i];
    INFO(c.args[0]);
    for (const char* quiet : {"", "--quiet", "-q"}) {
      std::vector<std::string> args = c.args;
      if (*quiet) args.insert(args.begin() + 1, quiet);
      run_result r = run(args);
      INFO(quiet, ": ", r.err);
      REQUIRE(r.status == 0);
      if (*quiet) {
        CHECK(r.out.empty());
        CHECK(r.err.empty());
        continue;
      }
      CHECK(r.out.starts_with("wrote " + c.path + ": " + c.says));
      CHECK(r.out.ends_with(notes[i].empty() ? "B\n" : "B " + notes[i] + "\n"));
      CHECK(lines_of(r.out).size() == 1);
    }
  }
  // --quiet silences the summary, never an error.
  run_result failed = run({"cast", "-q", "--dtype", "bf16", (dir / "missing.safetensors").string(), out});
  CHECK(failed.status == 1);
  CHECK(failed.out.empty());
  CHECK(failed.err.find("missing.safetensors") != std::string::npos);
  // The commands that only read take no --quiet.
  check_usage_error({"stats", "--quiet", in.string()}, "unknown option `--quiet`");
}

// ---------------------------------------------------------------- progress, help

TEST_CASE("progress: a bar on a terminal, erased at the end; nothing when stderr is a file") {
  scratch_dir dir;
  fs::path in = write(dir / "big.safetensors", {sized("w", 8 << 20)}), out = dir / "out.safetensors";
  run_result tty = cli_test::run_on_terminal({"cast", "--dtype", "bf16", in.string(), out.string()},
                                             {"SAFEWEIGHTS_PROGRESS_DELAY_MS=0"});
  REQUIRE(tty.status == 0);
  CHECK(tty.out.find("writing ") != std::string::npos);
  CHECK(tty.out.find("] ") != std::string::npos);
  CHECK(tty.out.find('%') != std::string::npos);
  CHECK(tty.out.find("\r\x1b[Kwrote ") != std::string::npos);  // the bar is erased before the summary
  run_result file = run({"cast", "--dtype", "bf16", in.string(), out.string()}, {"SAFEWEIGHTS_PROGRESS_DELAY_MS=0"});
  REQUIRE(file.status == 0);
  CHECK(file.err.empty());
}

TEST_CASE("every new command has --help on stdout and exits 0") {
  for (std::string cmd : {"diff", "convert", "shard", "merge", "cast", "rename", "extract", "metadata", "stats"}) {
    run_result r = run({cmd, "--help"});
    INFO(cmd);
    CHECK(r.status == 0);
    CHECK(r.out.starts_with("usage: safeweights " + cmd));
    CHECK(r.err.empty());
    run_result top = run({"--help"});
    CHECK(top.out.find("  " + cmd + " ") != std::string::npos);
  }
}
