// The resource: attributes describing the process that produces telemetry (service, host,
// process, cloud platform). Built once by configure(), read by exporters on their thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace logfire::detail {

struct resource_attribute {
  std::string key;
  std::variant<std::string, std::int64_t, bool, double> value;
};

struct resource {
  std::vector<resource_attribute> attributes;

  // Sets `key` (replacing an existing value).
  void set(std::string_view key, std::variant<std::string, std::int64_t, bool, double> value);
  [[nodiscard]] const resource_attribute* find(std::string_view key) const noexcept;
  [[nodiscard]] std::string service_name() const;
};

}  // namespace logfire::detail
