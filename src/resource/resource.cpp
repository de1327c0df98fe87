#include "resource/resource.hpp"

namespace logfire::detail {

void resource::set(std::string_view key, std::variant<std::string, std::int64_t, bool, double> value) {
  for (auto& a : attributes) {
    if (a.key == key) {
      a.value = std::move(value);
      return;
    }
  }
  attributes.push_back({std::string(key), std::move(value)});
}

const resource_attribute* resource::find(std::string_view key) const noexcept {
  for (const auto& a : attributes)
    if (a.key == key) return &a;
  return nullptr;
}

std::string resource::service_name() const {
  const auto* a = find("service.name");
  if (a && std::holds_alternative<std::string>(a->value)) return std::get<std::string>(a->value);
  return "unknown_service";
}

}  // namespace logfire::detail
