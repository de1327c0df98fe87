// Disk spool. Runs on an exporter's sender and spool threads (one mutex serialises them);
// other processes of the same service may use the same directory at the same time:
//   - files appear complete or not at all (written under a ".tmp-" name, fsynced, renamed,
//     directory fsynced), and never change afterwards;
//   - whoever sends or deletes a file first takes an exclusive flock on it and checks that it
//     is still linked, so a file is sent by one process only and counted once.
#include "export/spool.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

namespace logfire::detail {
namespace {

constexpr unsigned char k_magic[4] = {'L', 'F', 'S', 'P'};
constexpr std::uint16_t k_version = 1;
// Temp files older than this are leftovers of a crash and are removed.
constexpr auto k_stale_tmp = std::chrono::minutes(10);
// How often the directory is re-read to see files written by other processes.
constexpr auto k_rescan_interval = std::chrono::milliseconds(250);

void put_u16(unsigned char* p, std::uint16_t v) noexcept {
  p[0] = static_cast<unsigned char>(v);
  p[1] = static_cast<unsigned char>(v >> 8);
}
void put_u32(unsigned char* p, std::uint32_t v) noexcept {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
void put_u64(unsigned char* p, std::uint64_t v) noexcept {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
std::uint16_t get_u16(const unsigned char* p) noexcept {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
std::uint32_t get_u32(const unsigned char* p) noexcept {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
std::uint64_t get_u64(const unsigned char* p) noexcept {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

std::string errno_text(int err) {
  return std::strerror(err);
}

// mkdir -p with mode 0700 for the parts it creates.
bool make_dirs(const std::string& path, std::string& error) {
  std::string partial;
  std::size_t pos = 0;
  while (pos <= path.size()) {
    std::size_t next = path.find('/', pos);
    if (next == std::string::npos) next = path.size();
    partial = path.substr(0, next);
    pos = next + 1;
    if (partial.empty()) continue;
    if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
      error = "cannot create spool directory " + partial + ": " + errno_text(errno);
      return false;
    }
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    error = "spool path is not a directory: " + path;
    return false;
  }
  return true;
}

bool write_all(int fd, const void* data, std::size_t n) noexcept {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

bool read_at(int fd, char* out, std::size_t n, std::uint64_t offset) noexcept {
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::pread(fd, out + got, n - got, static_cast<off_t>(offset + got));
    if (r < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (r == 0) {
      errno = 0;  // shorter than expected
      return false;
    }
    got += static_cast<std::size_t>(r);
  }
  return true;
}

// Descriptors holding an flock, so that a forked child can close its copies: a lock belongs to
// the open file description, which fork() shares, so a child would otherwise keep the parent's
// claim alive for as long as it runs. Slots hold fd + 1 (0 = free); lock-free for use after fork.
constexpr int k_tracked_slots = 64;
std::atomic<int> g_locked_fds[k_tracked_slots];

void track_lock(int fd) noexcept {
  for (auto& slot : g_locked_fds) {
    int expected = 0;
    if (slot.compare_exchange_strong(expected, fd + 1)) return;
  }
}

// Untracks and closes (which releases the flock).
void close_locked(int fd) noexcept {
  for (auto& slot : g_locked_fds) {
    int expected = fd + 1;
    if (slot.compare_exchange_strong(expected, 0)) break;
  }
  ::close(fd);
}

bool is_spool_name(std::string_view n) noexcept {
  return !n.empty() && n.front() != '.' && n.ends_with(k_spool_suffix);
}

}  // namespace

std::string_view spool_stem(std::string_view name) noexcept {
  if (name.ends_with(k_spool_suffix)) name.remove_suffix(k_spool_suffix.size());
  return name;
}

std::uint32_t crc32_of(std::string_view data) noexcept {
  uLong crc = ::crc32(0L, Z_NULL, 0);
  const auto* p = reinterpret_cast<const Bytef*>(data.data());
  std::size_t n = data.size();
  while (n > 0) {
    auto chunk = static_cast<uInt>(std::min<std::size_t>(n, 1u << 30));
    crc = ::crc32(crc, p, chunk);
    p += chunk;
    n -= chunk;
  }
  return static_cast<std::uint32_t>(crc);
}

void encode_spool_header(const body_meta& meta, std::string_view body,
                         unsigned char out[k_spool_header_bytes]) noexcept {
  std::memset(out, 0, k_spool_header_bytes);
  std::memcpy(out, k_magic, 4);
  put_u16(out + 4, k_version);
  out[6] = static_cast<unsigned char>(meta.format);
  out[7] = static_cast<unsigned char>((meta.gzip ? 1 : 0) | (meta.maybe_duplicate ? 2 : 0));
  put_u32(out + 8, meta.records);
  put_u32(out + 12, crc32_of(body));
  put_u64(out + 16, body.size());
  put_u32(out + 28, crc32_of(std::string_view(reinterpret_cast<const char*>(out), 28)));
}

std::optional<spool_header> decode_spool_header(const unsigned char* in, std::size_t n) noexcept {
  if (n < k_spool_header_bytes) return std::nullopt;
  if (std::memcmp(in, k_magic, 4) != 0 || get_u16(in + 4) != k_version) return std::nullopt;
  if (get_u32(in + 28) != crc32_of(std::string_view(reinterpret_cast<const char*>(in), 28))) return std::nullopt;
  if (in[6] > 1 || (in[7] & ~3u) != 0) return std::nullopt;
  spool_header h;
  h.meta.format = static_cast<body_format>(in[6]);
  h.meta.gzip = (in[7] & 1u) != 0;
  h.meta.maybe_duplicate = (in[7] & 2u) != 0;
  h.meta.records = get_u32(in + 8);
  h.body_crc = get_u32(in + 12);
  h.body_bytes = get_u64(in + 16);
  return h;
}

namespace {
// Whether `dir` could be a spool folder, creating nothing: it is a writable directory, or it is
// missing and its nearest existing ancestor is one (so a later make_dirs() should work).
bool check_spool_path(const std::string& dir, std::string& error) {
  std::string path = dir;
  for (bool leaf = true;; leaf = false) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode)) {
        error = "cannot create spool directory " + dir + ": " + path + " is not a directory";
        return false;
      }
      if (::access(path.c_str(), W_OK) != 0) {
        error = leaf ? "spool directory is not writable: " + dir + ": " + errno_text(errno)
                     : "cannot create spool directory " + dir + ": " + path + ": " + errno_text(errno);
        return false;
      }
      return true;
    }
    if (errno != ENOENT) {
      error = "cannot create spool directory " + dir + ": " + errno_text(errno);
      return false;
    }
    const std::size_t slash = path.find_last_of('/');
    if (slash == std::string::npos) return true;  // a relative path: its first part goes in the working directory
    path = slash == 0 ? "/" : path.substr(0, slash);
  }
}
}  // namespace

std::unique_ptr<spool> spool::open(const options& opts, std::string& error) {
  std::string dir = opts.directory;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (dir.empty()) {
    error = "no spool directory";
    return nullptr;
  }
  if (!check_spool_path(dir, error)) return nullptr;
  std::unique_ptr<spool> s(new spool(dir, -1, opts.max_bytes, opts.max_file_bytes));
  std::lock_guard lock(s->mu_);
  s->rescan_locked(true);  // opens the folder if it is there (files of an earlier process)
  s->remove_dir_if_empty_locked();
  return s;
}

spool::spool(std::string dir, int dirfd, std::uint64_t max_bytes, std::uint64_t max_file_bytes)
    : dir_(std::move(dir)), dirfd_(dirfd), max_bytes_(max_bytes), max_file_bytes_(max_file_bytes) {}

spool::~spool() {
  if (dirfd_ >= 0) ::close(dirfd_);
}

// The folder is opened when there is one at the path, and reopened when the one held was
// removed (by another process of the service that emptied it) or replaced.
bool spool::attach_locked() {
  struct stat at_path {};
  const bool exists = ::stat(dir_.c_str(), &at_path) == 0 && S_ISDIR(at_path.st_mode);
  if (dirfd_ >= 0) {
    struct stat held {};
    if (exists && ::fstat(dirfd_, &held) == 0 && held.st_dev == at_path.st_dev && held.st_ino == at_path.st_ino)
      return true;
    ::close(dirfd_);
    dirfd_ = -1;
  }
  if (!exists) return false;
  dirfd_ = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  return dirfd_ >= 0;
}

bool spool::create_locked(std::string& error) {
  if (attach_locked()) return true;
  if (!make_dirs(dir_, error)) return false;
  if (!attach_locked()) {
    error = "cannot open spool directory " + dir_ + ": " + errno_text(errno);
    return false;
  }
  return true;
}

// An empty folder is removed (only the folder of this destination, not its parents): a spool
// that never held anything leaves nothing behind. rmdir() refuses a folder another process has
// just written into, and that process recreates the folder if it finds it gone.
void spool::remove_dir_if_empty_locked() {
  if (dirfd_ < 0 || !files_.empty() || !claimed_.empty()) return;
  if (::rmdir(dir_.c_str()) == 0) {
    ::close(dirfd_);
    dirfd_ = -1;
  }
}

void spool::rescan_locked(bool force) {
  auto now = std::chrono::steady_clock::now();
  // Without a folder a scan is one stat(): done every time, so a folder another process of the
  // service creates is seen at once.
  if (!force && dirfd_ >= 0 && now - last_scan_ < k_rescan_interval) return;
  last_scan_ = now;
  std::map<std::string, std::uint64_t> seen;
  if (attach_locked()) scan_folder_locked(force, seen);  // no folder: no files
  files_ = std::move(seen);
  // Files this process wrote that are gone, though this process neither sent nor dropped them:
  // another process of the service took them (it counts them in its own replay ledger).
  for (auto it = own_.begin(); it != own_.end();) {
    if (files_.count(it->first) == 0 && claimed_.count(it->first) == 0) {
      taken_over_ += it->second;
      it = own_.erase(it);
    } else {
      ++it;
    }
  }
}

void spool::scan_folder_locked(bool force, std::map<std::string, std::uint64_t>& seen) {
  int fd = ::openat(dirfd_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  DIR* d = ::fdopendir(fd);
  if (d == nullptr) {
    ::close(fd);
    return;
  }
  auto wall_now = std::chrono::system_clock::now();
  while (dirent* e = ::readdir(d)) {
    std::string_view n(e->d_name);
    if (is_spool_name(n)) {
      auto it = files_.find(std::string(n));
      if (it != files_.end()) {
        seen.emplace(it->first, it->second);  // files never change once renamed into place
        continue;
      }
      struct stat st {};
      if (::fstatat(dirfd_, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
        seen.emplace(std::string(n), static_cast<std::uint64_t>(st.st_size));
    } else if (force && n.starts_with(".tmp-")) {
      // A temp file left by a crash (a live writer renames its file within milliseconds).
      struct stat st {};
      if (::fstatat(dirfd_, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
          std::chrono::system_clock::from_time_t(st.st_mtime) + k_stale_tmp < wall_now)
        ::unlinkat(dirfd_, e->d_name, 0);
    }
  }
  ::closedir(d);
}

std::string spool::next_stem_locked() {
  // Wall-clock time first so that files of several processes sort by age, then pid and a
  // sequence number so that names are unique and ordered within a process.
  auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  char buf[64];
  std::snprintf(buf, sizeof buf, "%020lld-%010d-%010llu", static_cast<long long>(ns), static_cast<int>(::getpid()),
                static_cast<unsigned long long>(++seq_));
  return buf;
}

bool spool::evict_oldest_locked(std::vector<spool_loss>& out) {
  for (auto it = files_.begin(); it != files_.end(); ++it) {
    if (claimed_.count(it->first) != 0) continue;  // being sent by this process
    int fd = ::openat(dirfd_, it->first.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      files_.erase(it);  // gone (sent by another process)
      return true;
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {  // another process is sending it
      ::close(fd);
      continue;
    }
    track_lock(fd);
    struct stat st {};
    bool linked = ::fstat(fd, &st) == 0 && st.st_nlink > 0;
    spool_loss loss;
    if (linked) {
      unsigned char h[k_spool_header_bytes];
      std::optional<spool_header> hd;
      if (read_at(fd, reinterpret_cast<char*>(h), sizeof h, 0)) hd = decode_spool_header(h, sizeof h);
      if (hd) loss.records = hd->meta.records;
      ::unlinkat(dirfd_, it->first.c_str(), 0);
      auto own = own_.find(it->first);
      if (own != own_.end()) {
        loss.own = true;
        loss.records = own->second;
        own_.erase(own);
      } else if (!hd) {
        loss.records_known = false;
        loss.detail = "spool file " + dir_ + "/" + it->first + " has an unreadable header and was deleted to make room";
      }
    }
    close_locked(fd);
    files_.erase(it);
    if (linked) out.push_back(std::move(loss));
    return true;
  }
  return false;
}

spool::write_result spool::write(std::string_view body, const body_meta& meta, std::string_view stem, bool own) {
  write_result res;
  std::lock_guard lock(mu_);
  const std::uint64_t size = k_spool_header_bytes + body.size();
  if (size > max_bytes_) {
    res.too_large = true;
    res.error = "a batch of " + std::to_string(size) + " bytes is larger than the spool's cap of " +
                std::to_string(max_bytes_) + " bytes";
    return res;
  }
  rescan_locked(false);
  auto total = [&] {
    std::uint64_t t = 0;
    for (const auto& [n, b] : files_) t += b;
    return t;
  };
  for (std::uint64_t t = total(); t + size > max_bytes_; t = total()) {
    if (!evict_oldest_locked(res.evicted)) break;  // everything left is being sent right now
  }

  std::string name = stem.empty() ? next_stem_locked() : std::string(stem);
  name += k_spool_suffix;
  if (files_.count(name) != 0) name = next_stem_locked() + std::string(k_spool_suffix);
  char tmp[96];
  std::snprintf(tmp, sizeof tmp, ".tmp-%d-%llu", static_cast<int>(::getpid()), static_cast<unsigned long long>(++seq_));

  unsigned char header[k_spool_header_bytes];
  encode_spool_header(meta, body, header);
  // The folder is created with the first file; another process may remove it when it empties
  // it between our scan and this write (ENOENT in the folder held): created again, once.
  int fd = -1;
  for (int attempt = 0; attempt < 2 && fd < 0; ++attempt) {
    if (!create_locked(res.error)) return res;
    fd = ::openat(dirfd_, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && (errno != ENOENT || attempt == 1)) {
      res.error = "cannot create a file in " + dir_ + ": " + errno_text(errno);
      return res;
    }
  }
  bool ok = write_all(fd, header, sizeof header) && write_all(fd, body.data(), body.size()) && ::fsync(fd) == 0;
  int err = errno;
  ok = (::close(fd) == 0) && ok;
  if (ok && ::renameat(dirfd_, tmp, dirfd_, name.c_str()) != 0) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    ::unlinkat(dirfd_, tmp, 0);
    res.error = "cannot write to " + dir_ + ": " + errno_text(err != 0 ? err : EIO);
    return res;
  }
  // The rename is durable only once the directory itself is synced.
  ::fsync(dirfd_);
  files_.emplace(name, size);
  if (own) own_.emplace(name, meta.records);
  res.ok = true;
  return res;
}

std::optional<spool_claim> spool::claim_oldest(std::vector<spool_loss>& corrupt) {
  std::lock_guard lock(mu_);
  try {
    return claim_oldest_locked(corrupt);
  } catch (...) {
    // Out of memory: the file being examined stays for a later try; the corrupt files deleted
    // before it are in `corrupt`, for the caller to report.
    return std::nullopt;
  }
}

std::optional<spool_claim> spool::claim_oldest_locked(std::vector<spool_loss>& corrupt) {
  rescan_locked(false);
  for (auto it = files_.begin(); it != files_.end();) {
    if (claimed_.count(it->first) != 0) {
      ++it;
      continue;
    }
    int fd = ::openat(dirfd_, it->first.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      it = files_.erase(it);
      continue;
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd);
      ++it;
      continue;
    }
    track_lock(fd);
    struct stat st {};
    if (::fstat(fd, &st) != 0 || st.st_nlink == 0) {  // sent and deleted by another process meanwhile
      close_locked(fd);
      it = files_.erase(it);
      continue;
    }
    // From here on the descriptor is closed (releasing the flock) on every way out but a claim,
    // also when an allocation fails (the file then stays for a later try).
    struct closer {
      int fd;
      bool armed = true;
      ~closer() {
        if (armed) close_locked(fd);
      }
    } close_on_exit{fd};
    spool_claim c;
    c.name = it->first;
    c.fd = fd;
    auto own = own_.find(c.name);
    c.own = own != own_.end();
    // The header first; the body only when the header, the file's size and the spool's limits
    // agree, read in chunks into memory of exactly the size the header gives.
    std::string problem;
    std::optional<spool_header> hd;
    unsigned char header[k_spool_header_bytes];
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (size < k_spool_header_bytes) {
      problem = "shorter than a header (" + std::to_string(size) + " bytes)";
    } else if (!read_at(fd, reinterpret_cast<char*>(header), sizeof header, 0)) {
      problem = "unreadable: " + (errno != 0 ? errno_text(errno) : std::string("short read"));
    } else if (!(hd = decode_spool_header(header, sizeof header))) {
      problem = "bad header";
    } else if (hd->body_bytes > max_file_bytes_) {
      problem = "its body of " + std::to_string(hd->body_bytes) + " bytes is larger than any this SDK writes (" +
                std::to_string(max_file_bytes_) + ")";
    } else if (size - k_spool_header_bytes != hd->body_bytes) {
      problem = "truncated or extended (" + std::to_string(size - k_spool_header_bytes) +
                " body bytes, the header says " + std::to_string(hd->body_bytes) + ")";
    } else {
      std::string body;
      body.resize(static_cast<std::size_t>(hd->body_bytes));  // at most max_file_bytes
      constexpr std::size_t k_chunk = 1u << 20;
      uLong crc = ::crc32(0L, Z_NULL, 0);
      for (std::size_t at = 0; at < body.size() && problem.empty(); at += k_chunk) {
        const std::size_t n = std::min(k_chunk, body.size() - at);
        if (!read_at(fd, body.data() + at, n, k_spool_header_bytes + at))
          problem = "unreadable: " + (errno != 0 ? errno_text(errno) : std::string("short read"));
        else
          crc = ::crc32(crc, reinterpret_cast<const Bytef*>(body.data() + at), static_cast<uInt>(n));
      }
      if (problem.empty() && static_cast<std::uint32_t>(crc) != hd->body_crc) problem = "body checksum mismatch";
      if (problem.empty()) {
        claimed_.insert(c.name);
        c.meta = hd->meta;
        c.body = std::move(body);
        close_on_exit.armed = false;  // the claim holds it now
        return c;
      }
    }
    spool_loss loss;
    loss.own = c.own;
    if (c.own) {
      loss.records = own->second;  // this process knows what it wrote
    } else if (hd) {
      loss.records = hd->meta.records;
    } else {
      loss.records_known = false;
    }
    loss.detail = "spool file " + dir_ + "/" + c.name + " is corrupt (" + problem + ") and was deleted";
    if (!loss.records_known) loss.detail += "; its record count is unknown";
    corrupt.reserve(corrupt.size() + 1);  // may throw: before the file goes, so it is never lost uncounted
    ::unlinkat(dirfd_, c.name.c_str(), 0);
    if (c.own) own_.erase(own);
    it = files_.erase(it);
    corrupt.push_back(std::move(loss));
  }
  return std::nullopt;
}

void spool::remove(spool_claim& c) {
  std::lock_guard lock(mu_);
  if (c.fd < 0) return;
  ::unlinkat(dirfd_, c.name.c_str(), 0);
  close_locked(c.fd);  // releases the flock
  c.fd = -1;
  files_.erase(c.name);
  own_.erase(c.name);
  claimed_.erase(c.name);
  remove_dir_if_empty_locked();
}

void spool::release(spool_claim& c) {
  std::lock_guard lock(mu_);
  if (c.fd < 0) return;
  close_locked(c.fd);
  c.fd = -1;
  claimed_.erase(c.name);
}

void spool::close_inherited_locks() noexcept {
  for (auto& slot : g_locked_fds) {
    int v = slot.exchange(0);
    if (v > 0) ::close(v - 1);
  }
}

std::size_t spool::file_count() {
  std::lock_guard lock(mu_);
  rescan_locked(false);
  return files_.size();
}

std::uint64_t spool::total_bytes() {
  std::lock_guard lock(mu_);
  rescan_locked(false);
  std::uint64_t t = 0;
  for (const auto& [n, b] : files_) t += b;
  return t;
}

std::uint64_t spool::own_records() {
  std::lock_guard lock(mu_);
  rescan_locked(true);  // flush and shutdown ask: an up-to-date answer is worth a directory read
  std::uint64_t t = 0;
  for (const auto& [n, r] : own_) t += r;
  return t;
}

std::uint64_t spool::take_taken_over() {
  std::lock_guard lock(mu_);
  return std::exchange(taken_over_, 0);
}

}  // namespace logfire::detail
