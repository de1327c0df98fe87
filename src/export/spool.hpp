// The disk spool: encoded OTLP bodies that could not be delivered, kept in a directory until
// the backend answers again (in this process or the next one of the same service).
// One file per body, written crash-safely, named so that names sort by time, bounded in bytes.
//
//   std::string err;
//   auto sp = logfire::detail::spool::open({.directory = dir, .max_bytes = 512 << 20}, err);
//   auto w = sp->write(body, {.format = body_format::protobuf, .gzip = true, .records = 512});
//   while (auto f = sp->claim_oldest(corrupt)) { send(f->body); sp->remove(*f); }
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace logfire::detail {

enum class body_format : std::uint8_t { protobuf = 0, json = 1 };

// What a stored body is: how to send it again and how many records it carries.
struct body_meta {
  body_format format = body_format::protobuf;
  bool gzip = false;
  std::uint32_t records = 0;
  // An earlier attempt may have reached the backend (it timed out after sending): counted as
  // duplicates if it is delivered later.
  bool maybe_duplicate = false;
};

// Layout of a spool file (all integers little-endian):
//   0  "LFSP"        4  u16 version (1)   6  u8 format   7  u8 flags (bit 0 gzip, bit 1 maybe duplicate)
//   8  u32 records   12 u32 CRC-32 of the body   16 u64 body bytes
//   24 u32 zero      28 u32 CRC-32 of bytes 0..27
//   32 body
inline constexpr std::size_t k_spool_header_bytes = 32;
inline constexpr std::string_view k_spool_suffix = ".lfspool";

// A file lost because of the byte cap or corruption: its records and whether this process
// wrote it (the others were produced by an earlier or a sibling process).
struct spool_loss {
  std::uint32_t records = 0;
  bool records_known = true;  // false: even the header was unreadable (a foreign file)
  bool own = false;
  std::string detail;  // corruption: which file and what was wrong
};

// A body taken from the spool for sending. Holds an exclusive flock on the file so that no
// other process sends it at the same time; remove() or release() ends the claim.
struct spool_claim {
  std::string name;
  int fd = -1;
  body_meta meta;
  std::string body;
  bool own = false;
};

class spool {
 public:
  struct options {
    // Created (mode 0700, with its parents) when the first file is written, and removed when
    // the last file leaves it: a spool that never held anything leaves no folder behind.
    std::string directory;
    std::uint64_t max_bytes = 512ull << 20;
    // The largest body a file may hold: larger files were not written by this SDK's exporter
    // (its bodies are at most its max_body_bytes, 5 MiB by default) and are deleted as corrupt
    // without being read. Bounds the memory a claim takes.
    std::uint64_t max_file_bytes = 16ull << 20;
  };

  // Opens the directory if it exists (files of earlier processes), else checks that it could be
  // created; on failure returns null and a message naming the path.
  static std::unique_ptr<spool> open(const options& opts, std::string& error);
  ~spool();
  spool(const spool&) = delete;
  spool& operator=(const spool&) = delete;

  struct write_result {
    bool ok = false;
    std::string error;                // why the body was not written (disk full, permissions...)
    bool too_large = false;           // the body alone exceeds the byte cap
    std::vector<spool_loss> evicted;  // oldest files dropped to make room
  };
  // Writes `body` as a new file (temp file, fsync, rename, fsync of the directory), first
  // dropping the oldest files while the cap would be exceeded. `stem` names the file (without
  // the suffix) so that the halves of a split file keep its place in the order ("<stem>a",
  // "<stem>b"); empty = a new name that sorts after everything written so far. `own`: the
  // records were produced by this process (see own_records()).
  write_result write(std::string_view body, const body_meta& meta, std::string_view stem = {}, bool own = true);

  // Claims the oldest complete file that no one else holds. Corrupt files met on the way are
  // deleted and appended to `corrupt`. Returns nullopt when there is nothing to take (or no
  // memory to read it now: it stays for later). Reads the header first and the body in
  // chunks, never more than max_file_bytes; a huge or sparse file costs no memory.
  std::optional<spool_claim> claim_oldest(std::vector<spool_loss>& corrupt);
  // Deletes a claimed file (sent, or rejected for good).
  void remove(spool_claim& c);
  // Gives a claimed file back, untouched (it will be sent later, maybe by another process).
  void release(spool_claim& c);

  // In a forked child: closes the inherited descriptors that hold flocks (a lock belongs to the
  // open file description that fork() shares, so the child would pin the parent's claims).
  // Async-signal-safe; for every spool of the process at once.
  static void close_inherited_locks() noexcept;

  // Files present (by any process) and their total size, from the last directory scan.
  [[nodiscard]] std::size_t file_count();
  [[nodiscard]] std::uint64_t total_bytes();
  // Records in files this process wrote and has not yet sent or dropped (rescans the folder
  // first, so that files other processes took are no longer counted).
  [[nodiscard]] std::uint64_t own_records();
  // Records of files this process wrote that disappeared without this process sending or
  // dropping them (another process of the service sent or evicted them), since the last call.
  [[nodiscard]] std::uint64_t take_taken_over();
  [[nodiscard]] const std::string& directory() const noexcept { return dir_; }

 private:
  spool(std::string dir, int dirfd, std::uint64_t max_bytes, std::uint64_t max_file_bytes);
  void rescan_locked(bool force);
  void scan_folder_locked(bool force, std::map<std::string, std::uint64_t>& seen);
  bool attach_locked();
  bool create_locked(std::string& error);
  void remove_dir_if_empty_locked();
  std::optional<spool_claim> claim_oldest_locked(std::vector<spool_loss>& corrupt);  // may throw bad_alloc
  bool evict_oldest_locked(std::vector<spool_loss>& out);
  std::string next_stem_locked();

  std::mutex mu_;
  std::string dir_;
  int dirfd_ = -1;  // -1 while there is no folder
  std::uint64_t max_bytes_;
  std::uint64_t max_file_bytes_;
  std::uint64_t taken_over_ = 0;                        // records of own files gone elsewhere
  std::map<std::string, std::uint64_t> files_;          // name -> bytes, sorted oldest first
  std::unordered_map<std::string, std::uint32_t> own_;  // files written here -> records
  std::unordered_set<std::string> claimed_;             // names this process holds a claim on
  std::chrono::steady_clock::time_point last_scan_{};
  std::uint64_t seq_ = 0;
};

// The file name without k_spool_suffix.
[[nodiscard]] std::string_view spool_stem(std::string_view name) noexcept;

// CRC-32 (zlib's polynomial) of `data`.
[[nodiscard]] std::uint32_t crc32_of(std::string_view data) noexcept;

// Encodes / checks the 32-byte header; decode returns nullopt for a bad magic, version or CRC.
void encode_spool_header(const body_meta& meta, std::string_view body,
                         unsigned char out[k_spool_header_bytes]) noexcept;
struct spool_header {
  body_meta meta;
  std::uint32_t body_crc = 0;
  std::uint64_t body_bytes = 0;
};
[[nodiscard]] std::optional<spool_header> decode_spool_header(const unsigned char* in, std::size_t n) noexcept;

}  // namespace logfire::detail
