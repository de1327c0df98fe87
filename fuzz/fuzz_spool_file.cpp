// Fuzzes reading a spool file, whose bytes are untrusted (another process, an operator or a
// full disk wrote them). Each input is one file in a fresh spool folder. Properties: claiming
// never crashes or throws; a file is either claimed — and then it is exactly a valid header
// followed by the body it describes — or deleted as corrupt with one loss that names it, whose
// record count is known exactly when the header decodes; either way the folder ends empty.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "export/spool.hpp"

namespace {

const std::string& folder() {
  static const std::string dir = [] {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/logfire-fuzz-spool-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    return tmpl;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace logfire::detail;
  const std::string name = "00000000000000000001-0000000001-0000000001.lfspool";
  const std::string path = folder() + "/" + name;
  // The spool removes its folder once it is empty (the previous input left it so).
  if (::mkdir(folder().c_str(), 0700) != 0 && errno != EEXIST) std::abort();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) std::abort();
  if (size > 0 && ::write(fd, data, size) != static_cast<ssize_t>(size)) std::abort();
  ::close(fd);

  std::string error;
  // A small per-file bound, so that inputs can exceed it.
  auto sp = spool::open({.directory = folder(), .max_bytes = 1u << 20, .max_file_bytes = 4096}, error);
  if (!sp) std::abort();
  std::vector<spool_loss> corrupt;
  auto claim = sp->claim_oldest(corrupt);
  const auto header = decode_spool_header(data, size);
  if (claim) {
    if (!corrupt.empty() || !header) std::abort();
    if (size != k_spool_header_bytes + claim->body.size()) std::abort();
    if (std::memcmp(data + k_spool_header_bytes, claim->body.data(), claim->body.size()) != 0) std::abort();
    if (crc32_of(claim->body) != header->body_crc || claim->meta.records != header->meta.records) std::abort();
    sp->remove(*claim);
  } else {
    if (corrupt.size() != 1) std::abort();
    if (corrupt[0].records_known != header.has_value()) std::abort();
    if (header && corrupt[0].records != header->meta.records) std::abort();
    if (corrupt[0].detail.find(name) == std::string::npos) std::abort();
  }
  if (::access(path.c_str(), F_OK) == 0) std::abort();  // sent or deleted: never left behind
  return 0;
}
