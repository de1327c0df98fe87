// JSON documents inside string values, parsed as Python's json.loads accepts them (so the
// scrubber treats the same strings as JSON as Logfire does) into a flat tree the scrubber can
// edit, then written back compactly. Numbers keep the text they were written with; NaN,
// Infinity and -Infinity are accepted, as Python does; a lone surrogate escape becomes U+FFFD.
//
//   json_tree t;
//   if (t.parse(R"({"user": {"password": "x"}})", 64)) { t.node(3).replacement = "..."; t.write(out); }
//
// Background thread only; a tree is reused across documents (no allocation in the steady state).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace logfire::detail {

struct json_node {
  enum class type : std::uint8_t { null, boolean, number, string, array, object };
  enum class edit : std::uint8_t { none, string, list_of_string };

  type kind = type::null;
  bool boolean = false;
  // What the scrubber puts in this node's place: nothing, `replacement` as a JSON string, or a
  // one-element list holding it.
  edit change = edit::none;
  std::uint32_t children = 0;  // array: elements; object: members (each a key node then a value node)
  std::uint32_t size = 1;      // nodes in this subtree, itself included (the next sibling is at +size)
  std::string_view text;       // string: the decoded text; number: as written
  std::string_view raw;        // the node's text in the document
  std::string_view replacement;
};

class json_tree {
 public:
  // Parses `doc`. False when Python's json.loads would reject it, or when arrays and objects
  // nest deeper than `max_depth`. Views in the nodes point into `doc` and into the tree.
  bool parse(std::string_view doc, std::size_t max_depth);

  [[nodiscard]] std::size_t size() const noexcept { return nodes_.size(); }
  [[nodiscard]] json_node& node(std::size_t i) noexcept { return nodes_[i]; }
  [[nodiscard]] const json_node& node(std::size_t i) const noexcept { return nodes_[i]; }

  // Appends the document with every edit applied, compact (no spaces).
  void write(std::string& out) const;

 private:
  class parser;
  void write_node(std::size_t i, std::string& out) const;

  std::vector<json_node> nodes_;
  std::string decoded_;  // decoded strings with escapes; capacity reserved up front, so views stay valid
};

}  // namespace logfire::detail
