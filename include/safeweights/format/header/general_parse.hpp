// The general parser: any header, with simdjson On Demand. It is the
// authority on every verdict and every message of rules R4-R15 (the
// canonical scanner only takes the writers' exact form or gives up).
//
// The header is one JSON object. Each key is a tensor name mapping to
// {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, except the
// optional "__metadata__", a map of strings to strings (or null). Fields we do
// not know are allowed, as in the reference, but must still be valid JSON.
#pragma once

#include <simdjson.h>

#include <string>
#include <string_view>

#include "safeweights/format/header/index_builder.hpp"
#include "safeweights/io/platform.hpp"
#include "safeweights/format/printable.hpp"
#include "safeweights/format/read_options.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace detail {

namespace od = simdjson::ondemand;

// One parser per thread: its buffers are reused from one open to the next.
inline od::parser& thread_parser() { return SAFEWEIGHTS_THREAD_CACHED(od::parser); }

class header_parser {
 public:
  // Nested arrays and objects allowed, the root object included: what
  // serde_json's recursion limit of 128 lets the reference accept.
  static constexpr unsigned max_nesting = 127;
  // simdjson reads up to this many bytes past the end of its input, and
  // what they hold matters: its number parser runs on through digits there
  // (a header `[1` followed by `777...` read past a 64-byte padding under
  // ASan, fuzz/corpus/header). So its input is a padded_buffer of zeros.
  static constexpr std::size_t max_overread = simdjson::SIMDJSON_PADDING;

  // `readable_after`: zero bytes after b.text(), at least max_overread.
  header_parser(index_builder& b, std::size_t readable_after, const read_options& options)
      : builder_(b), text_(b.text()), readable_after_(readable_after), options_(options) {}

  // Fills the builder from the whole header, or names the first fault.
  result<void> run() && {
    od::parser& parser = thread_parser();
    struct release_guard {
      od::parser& p;
      ~release_guard() { release_if_huge(p); }
    } guard{parser};
    od::document doc;
    simdjson::padded_string_view json(text_.data(), text_.size(), text_.size() + readable_after_);
    if (auto e = parser.iterate(json).get(doc)) return json_error(e, nullptr);
    od::object root;
    if (auto e = doc.get_object().get(root)) {
      if (e != simdjson::INCORRECT_TYPE) return json_error(e, &doc);
      doc.rewind();
      if (auto e2 = check_root(doc)) return json_error(e2, &doc);
      return make_error(errc::header_not_object, "header JSON is not an object");
    }
    for (auto field : root) {
      std::string_view key;
      if (auto e = field.unescaped_key().get(key)) return json_error(e, &doc);
      od::value value;
      if (auto e = field.value().get(value)) return json_error(e, &doc);
      auto r = key == "__metadata__" ? read_metadata(value, doc) : read_tensor(key, value, doc);
      if (!r) return std::move(r).error_value();
    }
    // Nothing but white space may follow the object.
    auto rest = doc.current_location();
    if (rest.error() != simdjson::OUT_OF_BOUNDS)
      return rest.error() ? json_error(rest.error(), nullptr)
                          : make_error(errc::header_invalid_json,
                                       "text after the JSON object at header byte " + offset_of(rest.value_unsafe()));
    return {};
  }

 private:
  std::string offset_of(const char* p) const { return std::to_string(p - text_.data()); }

  error json_error(simdjson::error_code e, od::document* doc) const {
    if (e == simdjson::UTF8_ERROR) return make_error(errc::header_invalid_utf8, "header is not valid UTF-8");
    // simdjson's fallback kernel (no SIMD: s390x, or SIMDJSON_FORCE_IMPLEMENTATION=fallback)
    // checks UTF-8 only as far as it parses: invalid bytes after the object came back
    // as a JSON error. Rule R4 comes first whatever the kernel.
    if (!simdjson::validate_utf8(text_.data(), text_.size()))
      return make_error(errc::header_invalid_utf8, "header is not valid UTF-8");
    std::string where;
    if (doc) {
      const char* p = nullptr;
      if (!doc->current_location().get(p)) where = " at header byte " + offset_of(p);
    }
    std::string what = e == simdjson::DEPTH_ERROR ? "nesting deeper than " + std::to_string(max_nesting) + " levels"
                       : e == simdjson::TAPE_ERROR ? "a value is missing or malformed"
                                                   : simdjson::error_message(e);
    for (char& c : what) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return make_error(errc::header_invalid_json, "header is not valid JSON" + where + ": " + what);
  }

  // A value of the wrong type is the caller's schema error; anything else,
  // including no value at all (`"shape":}`), is broken JSON.
  error field_error(simdjson::error_code e, od::value& v, errc schema, std::string message, od::document& doc) const {
    if (!starts_a_value(v)) return json_error(simdjson::TAPE_ERROR, &doc);
    if (e == simdjson::INCORRECT_TYPE || e == simdjson::NUMBER_ERROR || e == simdjson::NUMBER_OUT_OF_RANGE)
      return make_error(schema, std::move(message));
    return json_error(e, &doc);
  }

  // On Demand reports `{"a":}` as a type error; its first byte tells.
  static bool starts_a_value(od::value& v) noexcept {
    std::string_view token = v.raw_json_token();
    if (token.empty()) return false;
    switch (token.front()) {
      case '{': case '[': case '"': case '-': case 't': case 'f': case 'n':
        return true;
      default:
        return token.front() >= '0' && token.front() <= '9';
    }
  }

  result<void> read_metadata(od::value value, od::document& doc) {
    if (seen_metadata_) return make_error(errc::duplicate_key, "`__metadata__` appears twice in the header");
    seen_metadata_ = true;
    bool is_null = false;
    if (auto e = value.is_null().get(is_null)) return json_error(e, &doc);
    if (is_null) return {};
    od::object object;
    if (auto e = value.get_object().get(object))
      return field_error(e, value, errc::invalid_metadata, "`__metadata__` is not an object of strings", doc);
    builder_.set_has_metadata();
    for (auto field : object) {
      std::string_view key, text;
      if (auto e = field.unescaped_key().get(key)) return json_error(e, &doc);
      std::string kept_key(key);  // the next unescape may reuse the parser's string buffer
      od::value v;
      if (auto e = field.value().get(v)) return json_error(e, &doc);
      if (auto e = v.get_string().get(text))
        return field_error(e, v, errc::invalid_metadata, "metadata " + quote_name(kept_key) + ": value is not a string",
                           doc);
      if (!builder_.add_metadata(builder_.keep(kept_key), builder_.keep(text)))
        return make_error(errc::duplicate_key, "metadata key " + quote_name(kept_key) + " appears twice");
    }
    return {};
  }

  result<void> read_tensor(std::string_view name, od::value value, od::document& doc) {
    if (builder_.tensor_count() >= options_.max_tensors)
      return make_error(errc::too_many_tensors,
                        "header has more than " + std::to_string(options_.max_tensors) + " tensors");
    builder_.begin_tensor(builder_.keep(name));
    tensor_info& t = builder_.current();
    auto who = [&t] { return "tensor " + quote_name(t.name); };
    od::object entry;
    if (auto e = value.get_object().get(entry))
      return field_error(e, value, errc::invalid_tensor_entry, who() + ": entry is not an object", doc);
    bool has_dtype = false, has_shape = false, has_offsets = false;
    for (auto field : entry) {
      std::string_view key;
      if (auto e = field.unescaped_key().get(key)) return json_error(e, &doc);
      od::value v;
      if (auto e = field.value().get(v)) return json_error(e, &doc);
      if (key == "dtype") {
        if (has_dtype) return make_error(errc::invalid_tensor_entry, who() + ": `dtype` given twice");
        has_dtype = true;
        std::string_view s;
        if (auto e = v.get_string().get(s))
          return field_error(e, v, errc::invalid_tensor_entry, who() + ": dtype is not a string", doc);
        auto type = parse_dtype(s);
        if (!type) return make_error(errc::unknown_dtype, who() + ": unknown dtype " + quote_name(s));
        t.type = *type;
      } else if (key == "shape") {
        if (has_shape) return make_error(errc::invalid_tensor_entry, who() + ": `shape` given twice");
        has_shape = true;
        if (auto r = read_shape(v, doc, who); !r) return r;
      } else if (key == "data_offsets") {
        if (has_offsets) return make_error(errc::invalid_tensor_entry, who() + ": `data_offsets` given twice");
        has_offsets = true;
        if (auto r = read_offsets(v, t, doc, who); !r) return r;
      } else if (auto e = check_value(v, 3)) {  // root, entry, field
        return json_error(e, &doc);
      }
    }
    if (!has_dtype) return make_error(errc::invalid_tensor_entry, who() + ": missing `dtype`");
    if (!has_shape) return make_error(errc::invalid_tensor_entry, who() + ": missing `shape`");
    if (!has_offsets) return make_error(errc::invalid_tensor_entry, who() + ": missing `data_offsets`");
    return {};
  }

  template <class Who>
  result<void> read_shape(od::value v, od::document& doc, const Who& who) {
    od::array dims;
    if (auto e = v.get_array().get(dims))
      return field_error(e, v, errc::invalid_shape, who() + ": shape is not an array", doc);
    for (auto element : dims) {
      od::value x;
      if (auto e = element.get(x)) return json_error(e, &doc);
      std::uint64_t d = 0;
      if (auto e = x.get_uint64().get(d))
        return field_error(e, x, errc::invalid_shape,
                           who() + ": shape[" + std::to_string(builder_.current_rank()) +
                               "] is not an integer in [0, 2^64)",
                           doc);
      if (builder_.current_rank() >= options_.max_rank)
        return make_error(errc::rank_too_large,
                          who() + ": more than " + std::to_string(options_.max_rank) + " dimensions");
      builder_.add_dim(d);
    }
    return {};
  }

  template <class Who>
  result<void> read_offsets(od::value v, tensor_info& t, od::document& doc, const Who& who) {
    od::array pair;
    if (auto e = v.get_array().get(pair))
      return field_error(e, v, errc::invalid_data_offsets, who() + ": data_offsets is not an array", doc);
    std::uint64_t values[2] = {0, 0};
    std::size_t n = 0;
    for (auto element : pair) {
      od::value item;
      if (auto e = element.get(item)) return json_error(e, &doc);
      std::uint64_t x = 0;
      if (auto e = item.get_uint64().get(x))
        return field_error(e, item, errc::invalid_data_offsets,
                           who() + ": data_offsets[" + std::to_string(n) + "] is not an integer in [0, 2^64)", doc);
      if (n < 2) values[n] = x;
      ++n;
    }
    if (n != 2)
      return make_error(errc::invalid_data_offsets,
                        who() + ": data_offsets has " + std::to_string(n) + " values, not 2");
    t.begin = values[0];
    t.end = values[1];
    return {};
  }

  // Walks a value we ignore so that broken JSON inside it is still an error.
  // `depth` counts the containers `v` sits in plus itself if it is one; past
  // max_nesting it is an error (On Demand does not bound it, and each level
  // is a stack frame here).
  static simdjson::error_code check_value(od::value v, unsigned depth) {
    od::json_type type;
    if (auto e = v.type().get(type)) return e;
    switch (type) {
      case od::json_type::array: {
        if (depth > max_nesting) return simdjson::DEPTH_ERROR;
        od::array a;
        if (auto e = v.get_array().get(a)) return e;
        for (auto element : a) {
          od::value x;
          if (auto e = element.get(x)) return e;
          if (auto e = check_value(x, depth + 1)) return e;
        }
        return simdjson::SUCCESS;
      }
      case od::json_type::object: {
        if (depth > max_nesting) return simdjson::DEPTH_ERROR;
        od::object o;
        if (auto e = v.get_object().get(o)) return e;
        for (auto field : o) {
          std::string_view key;
          if (auto e = field.unescaped_key().get(key)) return e;
          od::value x;
          if (auto e = field.value().get(x)) return e;
          if (auto e = check_value(x, depth + 1)) return e;
        }
        return simdjson::SUCCESS;
      }
      case od::json_type::number: {
        od::number n;
        return v.get_number().get(n);
      }
      case od::json_type::string: {
        std::string_view s;
        return v.get_string().get(s);
      }
      case od::json_type::boolean: {
        bool b;
        return v.get_bool().get(b);
      }
      case od::json_type::null: {
        bool is_null = false;
        if (auto e = v.is_null().get(is_null)) return e;
        return is_null ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
      }
    }
    return simdjson::TAPE_ERROR;
  }

  // Tells "valid JSON but not an object" from "not JSON at all".
  static simdjson::error_code check_root(od::document& doc) {
    od::json_type type;
    if (auto e = doc.type().get(type)) return e;
    simdjson::error_code e = simdjson::SUCCESS;
    switch (type) {
      case od::json_type::array: {
        od::value v;
        if ((e = doc.get_value().get(v))) return e;
        e = check_value(v, 1);
        break;
      }
      case od::json_type::number: {
        od::number n;
        e = doc.get_number().get(n);
        break;
      }
      case od::json_type::string: {
        std::string_view s;
        e = doc.get_string().get(s);
        break;
      }
      case od::json_type::boolean: {
        bool b;
        e = doc.get_bool().get(b);
        break;
      }
      case od::json_type::null: {
        bool is_null = false;
        if ((e = doc.is_null().get(is_null))) return e;
        if (!is_null) return simdjson::N_ATOM_ERROR;
        break;
      }
      default:
        return simdjson::TAPE_ERROR;
    }
    if (e) return e;
    auto rest = doc.current_location();
    return rest.error() == simdjson::OUT_OF_BOUNDS ? simdjson::SUCCESS : simdjson::TAPE_ERROR;
  }

  // A 100 MB header grows the thread's parser; do not keep that forever.
  static void release_if_huge(od::parser& parser) {
    if (parser.capacity() > (std::size_t{64} << 20)) parser = od::parser{};
  }

  index_builder& builder_;
  std::string_view text_;
  std::size_t readable_after_;
  const read_options& options_;
  bool seen_metadata_ = false;
};

}  // namespace detail
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
