// Owned copies of attributes, shared by the in-memory exporters of records and of metrics.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "logfire/memory_exporter.hpp"

namespace logfire::detail {

stored_value copy_value(const attribute_value& v);
std::vector<std::pair<std::string, stored_value>> copy_attributes(std::span<const attribute> attrs);
const stored_value* find_in(const std::vector<std::pair<std::string, stored_value>>& attrs, std::string_view key);

}  // namespace logfire::detail
