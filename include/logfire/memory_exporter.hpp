// An exporter that keeps copies of every record in memory, for tests of instrumented code.
//
//   auto mem = std::make_shared<logfire::memory_exporter>();
//   auto lf = logfire::configure({.console = {.enabled = false}, .exporters = {mem}});
//   logfire::info("hello {name}", {{"name", "world"}});
//   logfire::force_flush();
//   assert(mem->records().at(0).message == "hello world");
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "logfire/exporter.hpp"

namespace logfire {

// An owned attribute value; arrays hold scalars.
struct stored_value {
  std::variant<std::monostate, bool, std::int64_t, double, std::string, std::vector<stored_value>> v;

  [[nodiscard]] const std::string* string() const noexcept { return std::get_if<std::string>(&v); }
  [[nodiscard]] std::optional<std::int64_t> int64() const noexcept {
    if (auto* p = std::get_if<std::int64_t>(&v)) return *p;
    return std::nullopt;
  }
  [[nodiscard]] std::optional<double> float64() const noexcept {
    if (auto* p = std::get_if<double>(&v)) return *p;
    return std::nullopt;
  }
  [[nodiscard]] std::optional<bool> boolean() const noexcept {
    if (auto* p = std::get_if<bool>(&v)) return *p;
    return std::nullopt;
  }
  [[nodiscard]] const std::vector<stored_value>* array() const noexcept {
    return std::get_if<std::vector<stored_value>>(&v);
  }
};

struct stored_event {
  std::string name;
  std::uint64_t time_unix_nano = 0;
  std::vector<std::pair<std::string, stored_value>> attributes;
  [[nodiscard]] const stored_value* find(std::string_view key) const noexcept;
};

struct stored_link {
  span_context context;
  std::vector<std::pair<std::string, stored_value>> attributes;
};

// An owned copy of a span_record.
struct stored_record {
  record_type type = record_type::span;
  span_context context;
  span_id parent;
  bool parent_is_remote = false;
  std::string trace_state;
  std::string name;
  std::string message;
  span_kind kind = span_kind::internal;
  level lvl = level::info;
  std::uint64_t start_unix_nano = 0;
  std::uint64_t end_unix_nano = 0;
  std::vector<std::pair<std::string, stored_value>> attributes;  // in wire order
  std::vector<stored_event> events;
  std::vector<stored_link> links;
  status_code status = status_code::unset;
  std::string status_message;
  std::uint32_t depth = 0;
  std::uint32_t otlp_flags = 0;
  std::uint32_t dropped_attributes_count = 0;

  [[nodiscard]] const stored_value* find(std::string_view key) const noexcept;
  // The attribute as a string ("" when missing or not a string).
  [[nodiscard]] std::string string_attr(std::string_view key) const;
};

class memory_exporter final : public exporter {
 public:
  // `with_pending`: also keep pending spans (span starts), as Logfire receives them.
  explicit memory_exporter(bool with_pending = false) : with_pending_(with_pending) {}

  [[nodiscard]] std::string name() const override { return "memory"; }
  void export_batch(std::span<const span_record> records) noexcept override;
  [[nodiscard]] bool wants_pending_spans() const noexcept override { return with_pending_; }
  // fork(): the records lock is held across fork() so that a child never inherits it taken.
  void before_fork() noexcept override { mutex_.lock(); }
  void after_fork_in_parent() noexcept override { mutex_.unlock(); }
  void after_fork_in_child() noexcept override { mutex_.unlock(); }

  // A copy of everything received so far (thread-safe).
  [[nodiscard]] std::vector<stored_record> records() const;
  [[nodiscard]] std::size_t size() const;
  void clear();

 private:
  bool with_pending_;
  mutable std::mutex mutex_;
  std::vector<stored_record> records_;
};

}  // namespace logfire
