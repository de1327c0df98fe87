#include "export/delivery_report.hpp"

#include "export/rpc_status.hpp"

namespace logfire::detail {
namespace {

// Counter used until the pipeline calls start() (tests may drive an exporter without one).
class null_counter final : public delivery_counter {
 public:
  void delivered(std::uint64_t) noexcept override {}
  void dropped(drop_reason, std::uint64_t, std::string_view) noexcept override {}
  void count(event_counter, std::uint64_t) noexcept override {}
};
null_counter g_null_counter;

}  // namespace

delivery_counter& delivery_report::counter() noexcept {
  delivery_counter* c = counter_.load();
  return c != nullptr ? *c : g_null_counter;
}

void delivery_report::success(const body_meta& meta, origin from) {
  if (from == origin::foreign_file) {
    counter().replay_delivered(meta.records);
  } else {
    counter().delivered(meta.records);
    if (from == origin::own_file) counter().unspooled(meta.records);
  }
  if (from != origin::memory) counter().count(event_counter::records_replayed, meta.records);
  if (meta.maybe_duplicate) counter().count(event_counter::duplicates, meta.records);
}

void delivery_report::loss(drop_reason reason, std::uint32_t records, origin from, std::string_view detail) {
  if (from == origin::foreign_file) {
    counter().replay_dropped(reason, records, detail);
    return;
  }
  counter().dropped(reason, records, detail);
  if (from == origin::own_file) counter().unspooled(records);
}

void delivery_report::file_loss(drop_reason reason, const spool_loss& loss, const std::string& spool_directory) {
  if (!loss.records_known) {  // a foreign file whose header was unreadable: a line, no count
    counter().count_with_detail(event_counter::spool_files_unreadable, 1, loss.detail);
    return;
  }
  std::string detail = loss.detail;
  if (detail.empty() && reason == drop_reason::spool_full)
    detail = "the spool " + spool_directory + " reached its cap of " + human_bytes(cfg_.spool_max_bytes) +
             " (LOGFIRE_SPOOL_MAX_BYTES) while " + cfg_.url + " was unreachable: its oldest batches were dropped";
  this->loss(reason, loss.records, loss.own ? origin::own_file : origin::foreign_file, detail);
}

void delivery_report::recovered(int failed_attempts) noexcept {
  if (failed_attempts <= 0) return;
  try {
    counter().count_with_detail(event_counter::export_recovered, 1,
                                cfg_.url + " answered again after " + std::to_string(failed_attempts) +
                                    (failed_attempts == 1 ? " failed attempt" : " failed attempts"));
  } catch (...) {
    counter().count(event_counter::export_recovered, 1);
  }
}

std::string delivery_report::failure_detail(const http_response& r) const noexcept {
  if (r.cut_by_deadline) return {};
  try {
    if (r.status != 0) return rejection_detail(r);
    return cfg_.url + ": " + (r.error.empty() ? std::string("no answer") : printable(r.error));
  } catch (...) {
    return {};
  }
}

std::string delivery_report::rejection_detail(const http_response& r) const {
  std::string d = "HTTP " + std::to_string(r.status) + " from " + cfg_.url;
  if (r.body_prefix.empty()) return d;
  // A protobuf request gets its error as a google.rpc.Status: its message, not its bytes.
  auto status = decode_rpc_status(r.body_prefix);
  d += ": " + (status ? *status : printable(r.body_prefix));
  return d;
}

std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) out.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? ' ' : c);
  return out;
}

std::string human_bytes(std::uint64_t b) {
  if (b % (1ull << 30) == 0 && b > 0) return std::to_string(b >> 30) + " GiB";
  if (b % (1ull << 20) == 0 && b > 0) return std::to_string(b >> 20) + " MiB";
  return std::to_string(b) + " bytes";
}

}  // namespace logfire::detail
