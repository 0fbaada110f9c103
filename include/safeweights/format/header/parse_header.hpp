// The one door to header parsing: JSON text in, a validated header_index
// out. Headers in the writers' exact form go through the canonical scanner
// (canonical_scan.hpp); anything it gives up on, through the general parser
// (general_parse.hpp), the authority on every verdict. Both fill the same
// index_builder, and the same duplicate check and validation walk finish it.
#pragma once

#include <cstring>
#include <memory>
#include <optional>
#include <string_view>

#include "safeweights/detail/padded_buffer.hpp"
#include "safeweights/format/header/canonical_scan.hpp"
#include "safeweights/format/header/general_parse.hpp"
#include "safeweights/format/header/index_builder.hpp"
#include "safeweights/format/validate.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

// An owner for parse_header that owns nothing: the caller keeps `text`
// alive for as long as the index lives (reader::from_buffer does, by its contract).
inline std::shared_ptr<const void> caller_keeps_alive(const void* text) noexcept {
  return std::shared_ptr<const void>(std::shared_ptr<const void>(), text);
}

namespace detail {

// A padded copy of a header's text, for the index to own.
struct header_copy {
  std::string_view text;
  std::size_t readable_after = 0;
  std::shared_ptr<const void> owner;

  explicit header_copy(std::string_view original) {
    auto copy = std::make_shared<padded_buffer>(original.size());
    if (!original.empty()) std::memcpy(copy->data(), original.data(), original.size());
    text = std::string_view(copy->data(), original.size());
    readable_after = copy->readable_after();
    owner = std::move(copy);
  }
};

// Names repeated, then the validation walk: the index is ready.
inline result<header_index> finish(index_builder& b, std::uint64_t data_bytes, const read_options& options,
                                   const running_walk& walked) {
  b.index_names();
  if (auto repeated = b.repeated_name())
    return make_error(errc::duplicate_key, "tensor " + quote_name(*repeated) + " appears twice in the header");
  if (auto r = validate(b, data_bytes, options, walked); !r) return std::move(r).error_value();
  return std::move(b).take();
}

// The canonical scanner alone: nullopt where it gives up.
inline std::optional<result<header_index>> parse_canonical(std::string_view text, std::uint64_t data_bytes,
                                                          const read_options& options,
                                                          std::shared_ptr<const void> text_owner) {
  index_builder b(text, std::move(text_owner));
  canonical_scanner scanner(b, options);
  if (!scanner.run()) return std::nullopt;
  return finish(b, data_bytes, options, scanner.walk());
}

// The general parser alone: `text` followed by at least header_parser::max_overread zero bytes.
inline result<header_index> parse_general(std::string_view text, std::size_t readable_after,
                                          std::uint64_t data_bytes, const read_options& options,
                                          std::shared_ptr<const void> text_owner) {
  index_builder b(text, std::move(text_owner));
  if (auto r = header_parser(b, readable_after, options).run(); !r) return std::move(r).error_value();
  return finish(b, data_bytes, options, running_walk{});
}

}  // namespace detail

// Parses and validates a header: `text` is the JSON (no length prefix),
// `data_bytes` how many bytes follow it in the file or buffer.
// With `text_owner`, which keeps `text` alive, and at least
// canonical_scanner::max_overread bytes readable after the text (whatever
// they hold), a header in the writers' form is scanned where it lies: the
// index points into the text and shares its ownership. Otherwise, and for
// the general parser always, it parses a zero-padded copy it owns.
inline result<header_index> parse_header(std::string_view text, std::size_t readable_after, std::uint64_t data_bytes,
                                         const read_options& options = {},
                                         std::shared_ptr<const void> text_owner = {}) {
  // One zero-padded copy at most: the scanner reads it when it may not read
  // in place, and the general parser always reads it (see header_parser::run).
  // `text_owner` stays held until then: it may be all that keeps `text` alive.
  std::optional<detail::header_copy> copy;
  const bool in_place = text_owner && readable_after >= detail::canonical_scanner::max_overread;
  if (!in_place) copy.emplace(text);
  if (auto fast = in_place ? detail::parse_canonical(text, data_bytes, options, text_owner)
                           : detail::parse_canonical(copy->text, data_bytes, options, copy->owner))
    return std::move(*fast);
  if (!copy) copy.emplace(text);
  return detail::parse_general(copy->text, copy->readable_after, data_bytes, options, std::move(copy->owner));
}

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
