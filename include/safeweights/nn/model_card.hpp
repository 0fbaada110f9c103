// What people keep beside a model, as documented keys in `__metadata__`
// (every value is a string, as the format requires; structured values are
// compact JSON):
//
//   format            "pt": what Hugging Face writes for PyTorch state dicts
//   feature_names     JSON array of strings: the model's inputs, in order
//   training_date     ISO 8601 date or date-time, e.g. "2024-05-01T12:00:00Z"
//   scores            JSON object of numbers: {"test_accuracy":0.97,...}
//   library_versions  JSON object of strings: {"torch":"1.13.0",...}
//   data_sha256       64 lowercase hex digits: SHA-256 of the training data's
//                     bytes, in a layout the producer documents
//   n_head            decimal integer: attention heads (not in the weights' shapes)
//
// model_card reads and writes these; any other key is the caller's.
// model_card::check_value is the one check of a value against its key's rule
// (`safeweights metadata --set` refuses what it refuses).
#pragma once

#include <simdjson.h>

#include <charconv>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "safeweights/detail/padded_buffer.hpp"
#include "safeweights/error.hpp"
#include "safeweights/util/json_text.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace nn {

namespace metadata_keys {
inline constexpr std::string_view format = "format";
inline constexpr std::string_view feature_names = "feature_names";
inline constexpr std::string_view training_date = "training_date";
inline constexpr std::string_view scores = "scores";
inline constexpr std::string_view library_versions = "library_versions";
inline constexpr std::string_view data_sha256 = "data_sha256";
inline constexpr std::string_view n_head = "n_head";
}  // namespace metadata_keys

// "2024-05-01", "2024-05-01T12:00", "2024-05-01T12:00:00.5Z", "2024-05-01T12:00:00+02:00": an
// ISO 8601 calendar date in extended form, optionally with a time (seconds, fraction) and a zone.
inline bool is_iso8601_date_time(std::string_view s) {
  auto number = [&](std::size_t at, std::size_t digits, int low, int high) -> std::optional<int> {
    if (at + digits > s.size()) return std::nullopt;
    int v = 0;
    for (std::size_t i = at; i < at + digits; ++i) {
      if (s[i] < '0' || s[i] > '9') return std::nullopt;
      v = v * 10 + (s[i] - '0');
    }
    if (v < low || v > high) return std::nullopt;
    return v;
  };
  auto at = [&](std::size_t i, char c) { return i < s.size() && s[i] == c; };
  auto year = number(0, 4, 0, 9999), month = number(5, 2, 1, 12);
  if (!year || !month || !at(4, '-') || !at(7, '-')) return false;
  static constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (*year % 4 == 0 && *year % 100 != 0) || *year % 400 == 0;
  if (!number(8, 2, 1, days[*month - 1] + (*month == 2 && leap))) return false;
  if (s.size() == 10) return true;
  if (!at(10, 'T') || !number(11, 2, 0, 23) || !at(13, ':') || !number(14, 2, 0, 59)) return false;
  std::size_t i = 16;
  if (at(i, ':')) {
    if (!number(i + 1, 2, 0, 60)) return false;  // 60: a leap second
    i += 3;
    if (at(i, '.') || at(i, ',')) {
      std::size_t digits = 0;
      while (i + 1 + digits < s.size() && s[i + 1 + digits] >= '0' && s[i + 1 + digits] <= '9') ++digits;
      if (digits == 0) return false;
      i += 1 + digits;
    }
  }
  if (i == s.size()) return true;
  if (at(i, 'Z')) return i + 1 == s.size();
  if (!at(i, '+') && !at(i, '-')) return false;
  if (!number(i + 1, 2, 0, 23)) return false;  // +hh, +hh:mm or +hhmm
  i += 3;
  if (i == s.size()) return true;
  if (at(i, ':')) ++i;
  return number(i, 2, 0, 59) && i + 2 == s.size();
}

// The head count an n_head value holds: a decimal integer of at least 1, nothing else.
inline std::optional<std::size_t> parse_n_head(std::string_view s) {
  std::size_t n = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), n);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || n == 0) return std::nullopt;
  return n;
}

struct model_card {
  std::optional<std::vector<std::string>> feature_names;
  std::optional<std::string> training_date;
  std::optional<std::vector<std::pair<std::string, double>>> scores;
  std::optional<std::vector<std::pair<std::string, std::string>>> library_versions;
  std::optional<std::string> data_sha256;

  // The keys that are set, as metadata pairs ("format":"pt" first).
  std::vector<std::pair<std::string, std::string>> to_metadata() const {
    std::vector<std::pair<std::string, std::string>> out;
    out.emplace_back(metadata_keys::format, "pt");
    if (feature_names) {
      std::string json = "[";
      for (std::size_t i = 0; i < feature_names->size(); ++i) {
        if (i) json += ',';
        safeweights::append_json_string(json, (*feature_names)[i]);
      }
      out.emplace_back(metadata_keys::feature_names, json + "]");
    }
    if (training_date) out.emplace_back(metadata_keys::training_date, *training_date);
    if (scores) {
      std::string json = "{";
      for (std::size_t i = 0; i < scores->size(); ++i) {
        if (i) json += ',';
        safeweights::append_json_string(json, (*scores)[i].first);
        char number[32];
        auto r = std::to_chars(number, number + sizeof number, (*scores)[i].second);  // shortest round trip
        json += ':';
        json.append(number, r.ptr);
      }
      out.emplace_back(metadata_keys::scores, json + "}");
    }
    if (library_versions) {
      std::string json = "{";
      for (std::size_t i = 0; i < library_versions->size(); ++i) {
        if (i) json += ',';
        safeweights::append_json_string(json, (*library_versions)[i].first);
        json += ':';
        safeweights::append_json_string(json, (*library_versions)[i].second);
      }
      out.emplace_back(metadata_keys::library_versions, json + "}");
    }
    if (data_sha256) out.emplace_back(metadata_keys::data_sha256, *data_sha256);
    return out;
  }

  // Reads the documented keys through `lookup(key) -> optional<string_view>`
  // (e.g. a reader's or checkpoint's metadata_value); a key with a malformed
  // value is errc::invalid_metadata naming the key.
  template <class Lookup>
  static result<model_card> from_metadata(Lookup&& lookup) {
    model_card card;
    auto bad = [](std::string_view key, const char* what) {
      return make_error(errc::invalid_metadata, "metadata `" + std::string(key) + "`: " + what);
    };
    if (auto v = lookup(metadata_keys::feature_names)) {
      auto parsed = parse(*v, [&](simdjson::ondemand::value& root, model_card& c) {
        simdjson::ondemand::array a;
        if (root.get_array().get(a)) return false;
        std::vector<std::string> names;
        for (auto item : a) {
          std::string_view s;
          if (item.get_string().get(s)) return false;
          names.emplace_back(s);
        }
        c.feature_names = std::move(names);
        return true;
      }, card);
      if (!parsed) return bad(metadata_keys::feature_names, "not a JSON array of strings");
    }
    if (auto v = lookup(metadata_keys::training_date)) {
      if (!is_iso8601_date_time(*v))
        return bad(metadata_keys::training_date,
                   "not an ISO 8601 date or date-time (2024-05-01, 2024-05-01T12:00:00Z, 2024-05-01T12:00:00+02:00)");
      card.training_date = std::string(*v);
    }
    if (auto v = lookup(metadata_keys::scores)) {
      auto parsed = parse(*v, [&](simdjson::ondemand::value& root, model_card& c) {
        simdjson::ondemand::object o;
        if (root.get_object().get(o)) return false;
        std::vector<std::pair<std::string, double>> s;
        for (auto field : o) {
          std::string_view k;
          double x;
          if (field.unescaped_key().get(k)) return false;
          std::string key(k);
          if (field.value().get_double().get(x)) return false;
          s.emplace_back(std::move(key), x);
        }
        c.scores = std::move(s);
        return true;
      }, card);
      if (!parsed) return bad(metadata_keys::scores, "not a JSON object of numbers");
    }
    if (auto v = lookup(metadata_keys::library_versions)) {
      auto parsed = parse(*v, [&](simdjson::ondemand::value& root, model_card& c) {
        simdjson::ondemand::object o;
        if (root.get_object().get(o)) return false;
        std::vector<std::pair<std::string, std::string>> s;
        for (auto field : o) {
          std::string_view k, x;
          if (field.unescaped_key().get(k)) return false;
          std::string key(k);
          if (field.value().get_string().get(x)) return false;
          s.emplace_back(std::move(key), std::string(x));
        }
        c.library_versions = std::move(s);
        return true;
      }, card);
      if (!parsed) return bad(metadata_keys::library_versions, "not a JSON object of strings");
    }
    if (auto v = lookup(metadata_keys::data_sha256)) {
      bool hex = v->size() == 64;
      for (char ch : *v) hex = hex && ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'));
      if (!hex) return bad(metadata_keys::data_sha256, "not 64 lowercase hex digits");
      card.data_sha256 = std::string(*v);
    }
    return card;
  }

  // Whether `value` meets the rule of `key` when it is one of the documented
  // keys above (any value is fine for another key); errc::invalid_metadata,
  // naming the key and what is wrong, when not. `format` must be one of the
  // values transformers' from_pretrained accepts: pt, tf, flax, mlx.
  static result<void> check_value(std::string_view key, std::string_view value) {
    if (key == metadata_keys::format) {
      if (value == "pt" || value == "tf" || value == "flax" || value == "mlx") return {};
      return make_error(errc::invalid_metadata,
                        "metadata `format`: not pt, tf, flax or mlx (what transformers' from_pretrained accepts)");
    }
    if (key == metadata_keys::n_head) {
      if (parse_n_head(value)) return {};
      return make_error(errc::invalid_metadata, "metadata `n_head`: not a decimal integer of at least 1");
    }
    auto card = from_metadata([&](std::string_view k) -> std::optional<std::string_view> {
      if (k == key) return value;
      return std::nullopt;
    });
    if (!card) return std::move(card).error_value();
    return {};
  }

 private:
  // Runs `read` on the JSON in `text`; false if it is not valid or `read` refuses it.
  template <class Read>
  static bool parse(std::string_view text, Read&& read, model_card& card) {
    detail::padded_buffer buffer(text.size());
    if (!text.empty()) std::memcpy(buffer.data(), text.data(), text.size());
    simdjson::ondemand::parser parser;
    simdjson::ondemand::document doc;
    if (parser.iterate(buffer.view()).get(doc)) return false;
    simdjson::ondemand::value root;
    if (doc.get_value().get(root)) return false;
    if (!read(root, card)) return false;
    return doc.current_location().error() == simdjson::OUT_OF_BOUNDS;  // nothing after the value
  }
};

}  // namespace nn
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
