// Fuzz target: a model signature's untrusted JSON. The input is a Sigstore
// bundle; when it parses, its DSSE payload goes through the statement parser
// too. A bundle of the kinds we write (a key or a certificate chain, no log
// entries) must survive writing and parsing again field for field, and a
// statement must survive the same.
#include <string_view>

#include "fuzz_target.hpp"
#include "safeweights/integrity/model_manifest.hpp"
#include "safeweights/integrity/sigstore_bundle.hpp"

namespace sw = safeweights;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto bundle = sw::parse_sigstore_bundle(text, "fuzz.sig");
  if (!bundle) {
    FUZZ_REQUIRE(bundle.code() == sw::errc::invalid_signature);
    FUZZ_REQUIRE(bundle.error_value().message.starts_with("fuzz.sig: "));
  } else if (bundle->tlog_entries.empty() && bundle->rfc3161_timestamps.empty() &&
             bundle->kind != sw::sigstore_bundle::material::certificate && bundle->public_key_raw.empty()) {
    auto again = sw::parse_sigstore_bundle(sw::sigstore_bundle_json(*bundle), "again");
    FUZZ_REQUIRE(again.has_value());
    FUZZ_REQUIRE(again->kind == bundle->kind);
    FUZZ_REQUIRE(again->public_key_hint == bundle->public_key_hint);
    FUZZ_REQUIRE(again->certificates == bundle->certificates);
    FUZZ_REQUIRE(again->payload == bundle->payload);
    FUZZ_REQUIRE(again->signature == bundle->signature);
    FUZZ_REQUIRE(again->keyid == bundle->keyid);
  }
  // The payload when there is one, else the input itself, as a statement.
  const std::string_view statement_text = bundle ? std::string_view(bundle->payload) : text;
  auto statement = sw::parse_in_toto_statement(statement_text, "fuzz.sig");
  if (!statement) {
    FUZZ_REQUIRE(statement.code() == sw::errc::invalid_signature);
    return 0;
  }
  for (const auto& r : statement->resources) FUZZ_REQUIRE(sw::detail::is_safe_relative_path(r.path));
  auto again = sw::parse_in_toto_statement(sw::in_toto_statement(*statement), "again");
  FUZZ_REQUIRE(again.has_value());
  FUZZ_REQUIRE(again->resources.size() == statement->resources.size());
  for (std::size_t i = 0; i < again->resources.size(); ++i) {
    FUZZ_REQUIRE(again->resources[i].path == statement->resources[i].path);
    FUZZ_REQUIRE(again->resources[i].start == statement->resources[i].start);
    FUZZ_REQUIRE(again->resources[i].digest == statement->resources[i].digest);
  }
  return 0;
}
