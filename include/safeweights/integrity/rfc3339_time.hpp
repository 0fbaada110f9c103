// RFC 3339 UTC times as protobuf's JSON mapping writes a Timestamp
// ("2021-01-12T11:53:27.000Z", 0 to 9 fraction digits, always 'Z'): the
// validity periods of a Sigstore trust root. Only that one spelling is read.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "safeweights/version.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN

struct utc_time {
  std::int64_t seconds = 0;  // since the epoch, UTC
  std::int32_t nanos = 0;    // [0, 1e9)
};

namespace detail {
// Days from 1970-01-01 to year-month-day in the proleptic Gregorian calendar (Howard Hinnant's days_from_civil).
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}
}  // namespace detail

// "YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z", or nullopt. No leap seconds (protobuf has none).
inline std::optional<utc_time> parse_rfc3339(std::string_view s) noexcept {
  auto digits = [&](std::size_t at, std::size_t n) -> std::optional<unsigned> {
    if (at + n > s.size()) return std::nullopt;
    unsigned v = 0;
    for (std::size_t i = at; i < at + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return std::nullopt;
      v = v * 10 + static_cast<unsigned>(s[i] - '0');
    }
    return v;
  };
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':') return std::nullopt;
  auto year = digits(0, 4), month = digits(5, 2), day = digits(8, 2);
  auto hour = digits(11, 2), minute = digits(14, 2), second = digits(17, 2);
  if (!year || !month || !day || !hour || !minute || !second) return std::nullopt;
  static constexpr unsigned month_days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (*month < 1 || *month > 12 || *day < 1 || *day > month_days[*month - 1] || *hour > 23 || *minute > 59 || *second > 59)
    return std::nullopt;
  const bool leap = (*year % 4 == 0 && *year % 100 != 0) || *year % 400 == 0;
  if (*month == 2 && *day == 29 && !leap) return std::nullopt;
  std::size_t at = 19;
  std::int32_t nanos = 0;
  if (s[at] == '.') {
    std::size_t n = 0;
    while (at + 1 + n < s.size() && s[at + 1 + n] >= '0' && s[at + 1 + n] <= '9') ++n;
    if (n == 0 || n > 9) return std::nullopt;
    auto f = digits(at + 1, n);
    nanos = static_cast<std::int32_t>(*f);
    for (std::size_t i = n; i < 9; ++i) nanos *= 10;
    at += 1 + n;
  }
  if (at + 1 != s.size() || s[at] != 'Z') return std::nullopt;
  const std::int64_t days = detail::days_from_civil(*year, *month, *day);
  return utc_time{days * 86400 + *hour * 3600 + *minute * 60 + *second, nanos};
}

SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
