// What every command says when it is given something other than a
// safetensors file (file_kind.hpp): NumPy files, pickles, torch.save zips,
// shard indexes, JSON, directories; the commands that accept a shard index
// (inspect, validate, stats, merge); and
// --json on validate and verify. The hostile inputs are built here, by hand.
#include <simdjson.h>

#include <string>
#include <vector>

#include "cli_support.hpp"
#include "safeweights/safeweights.hpp"

namespace fs = std::filesystem;
using cli_test::lines_of;
using cli_test::run;
using cli_test::run_result;
using cli_test::valid;
using test_support::scratch_dir;

namespace {

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

void write(const fs::path& p, const std::string& bytes) {
  test_support::write_bytes(p, std::as_bytes(std::span(bytes.data(), bytes.size())));
}

// A .npy file of two F32 zeros.
std::string npy_bytes() {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  header.resize(117, ' ');
  header += '\n';
  return std::string("\x93NUMPY\x01\x00", 8) + std::string("\x76\x00", 2) + header + std::string(8, '\0');
}

// The start of a zip: one local file header for `member` (no data). What
// identifies a file is its first member's name; nothing reads further.
std::string zip_bytes(const std::string& member) {
  std::string b = "PK\x03\x04";
  b += std::string(22, '\0');  // version, flags, method, time, date, CRC, sizes
  b += static_cast<char>(member.size());
  b += '\0';
  b += std::string(2, '\0');  // extra length
  return b + member;
}

const std::string pickle_bytes = std::string("\x80\x02}q\x00.", 6);  // pickle.dumps({}, protocol=2)

// A sharded copy of mixed_dtypes (22 tensors, one per shard) in `dir`; the index's path.
fs::path sharded(const fs::path& dir) {
  run_result r = run({"shard", valid("mixed_dtypes.safetensors").string(), "--max-size", "1", dir.string()});
  REQUIRE(r.status == 0);
  return dir / "model.safetensors.index.json";
}

struct hostile {
  fs::path path;
  std::string says;  // a part of the message every command gives
};

// Every command that reads a safetensors input, its arguments around the input.
struct command_case {
  std::string name;
  std::vector<std::string> before, after;
  bool takes_index = false;
};

std::vector<command_case> commands(const fs::path& out) {
  const std::string o = out.string();
  return {
      {"inspect", {}, {}, true},
      {"inspect", {"--sha256"}, {}},
      {"validate", {}, {}, true},
      {"repack", {}, {o}},
      {"digest", {}, {}},
      {"seal", {}, {o}},
      {"verify", {}, {}},
      {"diff", {}, {valid("metadata.safetensors").string()}},
      {"diff", {valid("metadata.safetensors").string()}, {}},
      {"shard", {}, {"--max-size", "1", (out.parent_path() / "shards").string()}},
      {"cast", {"--dtype", "f16"}, {o}},
      {"rename", {}, {o, "--add-prefix", "x."}},
      {"extract", {}, {o, "t_f32"}},
      {"metadata", {}, {}},
      {"stats", {}, {}, true},
      {"convert", {}, {(out.parent_path() / "out.npz").string()}},
  };
}

}  // namespace

TEST_CASE("cli inputs: every command names a NumPy file, a pickle, a torch.save zip, an index, JSON, a directory") {
  scratch_dir dir;
  fs::path index = sharded(dir / "model");
  write(dir / "a.npy", npy_bytes());
  write(dir / "a.npz", zip_bytes("x.npy"));
  write(dir / "model.pt", zip_bytes("archive/data.pkl"));
  write(dir / "legacy.pt", pickle_bytes);
  write(dir / "other.zip", zip_bytes("readme.txt"));
  write(dir / "config.json", "{\"hidden_size\": 768}\n");
  fs::create_directory(dir / "empty");
  const std::vector<hostile> inputs = {
      {dir / "a.npy", ": a NumPy .npy array, not safetensors (use `safeweights convert`)"},
      {dir / "a.npz", ": a NumPy .npz archive, not safetensors (use `safeweights convert`)"},
      {dir / "model.pt", ": a PyTorch checkpoint (torch.save): its tensors sit behind a pickle (data.pkl)"},
      {dir / "legacy.pt", ": a Python pickle (pickle.dump, joblib, or torch.save's legacy format)"},
      {dir / "other.zip", ": a zip archive, not safetensors"},
      {dir / "config.json", ": a JSON file, not safetensors"},
      {index, ": a shard index, not a safetensors file (use `merge`, or pass it to `inspect`, `validate` or `stats`"},
      {dir / "model", ": a directory, not a file (did you mean " + index.string() + "?)"},
      {dir / "empty", ": a directory, not a file"},
  };
  for (const command_case& c : commands(dir / "out.safetensors")) {
    for (const hostile& h : inputs) {
      std::vector<std::string> args = {c.name};
      args.insert(args.end(), c.before.begin(), c.before.end());
      args.push_back(h.path.string());
      args.insert(args.end(), c.after.begin(), c.after.end());
      run_result r = run(args);
      INFO(c.name, " ", h.path.string(), ": ", r.out, r.err);
      if (h.path == index && c.takes_index) {
        CHECK(r.status == 0);
        continue;
      }
      CHECK(r.status == (c.name == "diff" ? 3 : 1));  // diff: 3, could not compare
      const std::string text = r.err + r.out;  // validate reports on stdout
      if (c.name == "convert" && (h.path.extension() == ".npy" || h.path.extension() == ".npz" ||
                                  h.path.extension() == ".zip")) {
        CHECK(has(text, "NumPy already; to make safetensors, give an OUT ending in .safetensors"));
      } else if (c.name == "inspect" && c.before.size() == 1 && h.path == index) {
        CHECK(has(text, "a shard index: --sha256 takes one safetensors file"));
      } else if (c.name == "validate") {
        CHECK(has(text, h.path.string() + ": invalid: "));
        CHECK(has(text, h.says.substr(2)));
      } else {
        CHECK(has(text, "safeweights: " + h.path.string() + h.says));
      }
    }
  }
  CHECK(!fs::exists(dir / "out.safetensors"));
}

TEST_CASE("cli inputs: a damaged safetensors file keeps the reader's error, whatever its first bytes") {
  // Length 640 (0x80 0x02: a pickle's first bytes), then '{': safetensors with a short header.
  scratch_dir dir;
  std::string bytes("\x80\x02\0\0\0\0\0\0", 8);
  bytes += "{\"t\": {\"dtype\": \"F32\"";
  bytes.resize(8 + 640, ' ');
  write(dir / "damaged.safetensors", bytes);
  run_result r = run({"inspect", (dir / "damaged.safetensors").string()});
  CHECK(r.status == 1);
  CHECK(!has(r.err, "pickle"));
}

TEST_CASE("cli inputs: merge takes a checkpoint's directory, and says what else it was given") {
  scratch_dir dir;
  fs::path index = sharded(dir / "model");
  run_result r = run({"merge", (dir / "model").string(), (dir / "whole.safetensors").string()});
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(run({"inspect", (dir / "whole.safetensors").string()}).out.find(": 22 tensors, ") != std::string::npos);
  fs::create_directory(dir / "empty");
  run_result empty = run({"merge", (dir / "empty").string(), (dir / "x.safetensors").string()});
  CHECK(empty.status == 1);
  CHECK(has(empty.err, "a directory without exactly one *.safetensors.index.json"));
  run_result file = run({"merge", valid("metadata.safetensors").string(), (dir / "x.safetensors").string()});
  CHECK(file.status == 1);
  CHECK(has(file.err, "a safetensors file, not a shard index"));
  write(dir / "a.npz", zip_bytes("x.npy"));
  run_result npz = run({"merge", (dir / "a.npz").string(), (dir / "x.safetensors").string()});
  CHECK(npz.status == 1);
  CHECK(has(npz.err, "a NumPy .npz archive"));
}

TEST_CASE("cli inputs: inspect, validate and stats over a shard index") {
  scratch_dir dir;
  fs::path index = sharded(dir / "model");
  const std::string whole = valid("mixed_dtypes.safetensors").string();

  run_result table = run({"inspect", index.string()});
  REQUIRE(table.status == 0);
  CHECK(table.out.starts_with(index.string() + ": 22 tensors in 22 shards, 496 bytes of tensor data\n"));
  CHECK(has(table.out, "SHARD"));
  CHECK(has(table.out, "model-00005-of-00022.safetensors"));

  run_result json = run({"inspect", "--json", index.string()});
  REQUIRE(json.status == 0);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE(!parser.parse(json.out).get(doc));
  CHECK(doc["total_size"].get_uint64().value() == 496);
  CHECK(doc["shards"].get_array().size() == 22);
  CHECK(doc["tensors"].get_array().size() == 22);
  for (auto t : doc["tensors"].get_array()) CHECK(std::string_view(t["shard"].get_string()).ends_with(".safetensors"));

  run_result v = run({"validate", index.string()});
  CHECK(v.status == 0);
  auto lines = lines_of(v.out);
  REQUIRE(lines.size() == 23);
  CHECK(lines.back() == index.string() + ": ok (index of 22 shards, 22 tensors)");

  // stats over the shards gives what it gives over the whole file (its rows sorted by the index's order).
  run_result s = run({"stats", "--json", index.string(), "t_f32", "t_i8"});
  CHECK(s.status == 0);
  CHECK(s.out == run({"stats", "--json", whole, "t_f32", "t_i8"}).out);
  CHECK(run({"stats", index.string(), "nope"}).status == 1);

  // The index promises a tensor no shard holds: every one of them says so.
  std::string text = test_support::read_text(index);
  text.replace(text.find("\"weight_map\": {"), 15, "\"weight_map\": {\n    \"ghost\": \"model-00001-of-00022.safetensors\",");
  write(index, text);
  for (const char* command : {"inspect", "validate", "stats"}) {
    run_result bad = run({command, index.string()});
    INFO(command, ": ", bad.out, bad.err);
    CHECK(bad.status == 1);
    CHECK(has(bad.out + bad.err, "tensor `ghost` is mapped to `model-00001-of-00022.safetensors`, which does not hold it"));
  }
  auto bad_lines = lines_of(run({"validate", index.string()}).out);
  REQUIRE(bad_lines.size() == 1);
  CHECK(bad_lines[0].starts_with(index.string() + ": invalid: tensor_not_found: "));
}

TEST_CASE("cli inputs: inspect --sha256 without --json: a SHA256 column and the file's digest") {
  const std::string f = valid("mixed_dtypes.safetensors").string();
  run_result r = run({"inspect", "--sha256", f});
  REQUIRE(r.status == 0);
  auto digest = lines_of(run({"digest", f}).out);  // "HEX  FILE", then "HEX  TENSOR" in offset order
  auto lines = lines_of(r.out);
  REQUIRE(lines.size() > 3);
  CHECK(lines[1] == "sha256 " + digest[0].substr(0, 64));
  CHECK(lines[3].ends_with("SHA256"));
  for (std::size_t i = 1; i < digest.size(); ++i) CHECK(lines[3 + i].ends_with(digest[i].substr(0, 64)));
}

TEST_CASE("cli inputs: validate --json") {
  scratch_dir dir;
  write(dir / "a.npz", zip_bytes("x.npy"));
  const std::string good = valid("metadata.safetensors").string();
  const std::string npz = (dir / "a.npz").string();
  run_result r = run({"validate", "--json", good, npz});
  CHECK(r.status == 1);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE(!parser.parse(r.out).get(doc));
  auto files = doc["files"].get_array();
  REQUIRE(files.size() == 2);
  CHECK(std::string_view(files.at(0)["file"].get_string()) == good);
  CHECK(files.at(0)["ok"].get_bool().value());
  CHECK(!files.at(1)["ok"].get_bool().value());
  CHECK(std::string_view(files.at(1)["code"].get_string()) == "header_length_exceeds_file");  // the format's complaint
  CHECK(has(std::string(files.at(1)["error"].get_string().value()), "a NumPy .npz archive"));
  CHECK(run({"validate", "--json", good}).status == 0);
}

TEST_CASE("cli inputs: verify --json") {
  scratch_dir dir;
  const std::string sealed = (dir / "sealed.safetensors").string();
  REQUIRE(run({"seal", valid("mixed_dtypes.safetensors").string(), sealed}).status == 0);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;

  run_result ok = run({"verify", "--json", sealed});
  CHECK(ok.status == 0);
  REQUIRE(!parser.parse(ok.out).get(doc));
  CHECK(doc["ok"].get_bool().value());
  CHECK(std::string_view(doc["seal"].get_string()) == "ok");
  CHECK(doc["tensors"].get_uint64().value() == 22);
  CHECK(doc["error"].is_null());

  run_result none = run({"verify", "--json", valid("metadata.safetensors").string()});
  CHECK(none.status == 1);
  REQUIRE(!parser.parse(none.out).get(doc));
  CHECK(!doc["ok"].get_bool().value());
  CHECK(std::string_view(doc["seal"].get_string()) == "none");
  CHECK(has(std::string(doc["error"].get_string().value()), "nothing to verify"));

  // One flipped byte in the last tensor's data.
  auto bytes = test_support::read_bytes(sealed);
  bytes.back() ^= std::byte{1};
  test_support::write_bytes(dir / "flipped.safetensors", bytes);
  run_result bad = run({"verify", "--json", (dir / "flipped.safetensors").string()});
  CHECK(bad.status == 1);
  REQUIRE(!parser.parse(bad.out).get(doc));
  CHECK(std::string_view(doc["seal"].get_string()) == "bad");
  CHECK(doc["failures"].get_array().size() == 1);
}
