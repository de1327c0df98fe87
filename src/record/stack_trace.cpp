#include "record/stack_trace.hpp"

#include <cxxabi.h>
#include <dlfcn.h>
#include <elf.h>
#include <execinfo.h>
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

namespace logfire::detail {

void capture_stack(stack_capture& out, int skip) noexcept {
  void* raw[k_max_stack_frames + 8];
  const int want = static_cast<int>(std::min<std::size_t>(k_max_stack_frames + static_cast<std::size_t>(skip), 40));
  const int got = ::backtrace(raw, want);
  out.size = 0;
  for (int i = skip; i < got && out.size < k_max_stack_frames; ++i)
    out.pc[out.size++] = reinterpret_cast<std::uintptr_t>(raw[i]);
}

void elf_symbols::read_file(const char* path) {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_size < static_cast<off_t>(sizeof(Elf64_Ehdr))) {
    ::close(fd);
    return;
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) return;
  parse(static_cast<const unsigned char*>(map), size);
  ::munmap(map, size);
}

// Every offset and count is checked against the size: a module on disk may have been replaced
// since it was loaded.
void elf_symbols::parse(const unsigned char* f, std::size_t size) {
  if (size < sizeof(Elf64_Ehdr)) return;
  Elf64_Ehdr eh;
  std::memcpy(&eh, f, sizeof eh);
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64) return;
  if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shoff > size ||
      eh.e_shnum > (size - eh.e_shoff) / sizeof(Elf64_Shdr))
    return;
  pie_ = eh.e_type == ET_DYN;
  auto section = [&](std::size_t i) {
    Elf64_Shdr sh;
    std::memcpy(&sh, f + eh.e_shoff + i * sizeof(Elf64_Shdr), sizeof sh);
    return sh;
  };
  for (std::size_t i = 0; i < eh.e_shnum; ++i) {
    const Elf64_Shdr symtab = section(i);
    if (symtab.sh_type != SHT_SYMTAB || symtab.sh_link >= eh.e_shnum) continue;
    const Elf64_Shdr strtab = section(symtab.sh_link);
    if (symtab.sh_offset > size || symtab.sh_size > size - symtab.sh_offset || strtab.sh_offset > size ||
        strtab.sh_size > size - strtab.sh_offset)
      return;
    const std::string_view strings(reinterpret_cast<const char*>(f + strtab.sh_offset), strtab.sh_size);
    const std::size_t n = symtab.sh_size / sizeof(Elf64_Sym);
    for (std::size_t k = 0; k < n; ++k) {
      Elf64_Sym es;
      std::memcpy(&es, f + symtab.sh_offset + k * sizeof(Elf64_Sym), sizeof es);
      if (ELF64_ST_TYPE(es.st_info) != STT_FUNC || es.st_shndx == SHN_UNDEF || es.st_value == 0 ||
          es.st_name >= strings.size())
        continue;
      const std::string_view rest = strings.substr(es.st_name);
      const std::string_view name = rest.substr(0, rest.find('\0'));
      if (name.empty()) continue;
      syms_.push_back({es.st_value, es.st_size, names_.size(), name.size()});
      names_.append(name);
    }
    break;  // one symbol table per module
  }
  std::sort(syms_.begin(), syms_.end(), [](const sym& a, const sym& b) { return a.value < b.value; });
}

std::string_view elf_symbols::find(std::uintptr_t address, std::uintptr_t& start) const {
  auto it =
      std::upper_bound(syms_.begin(), syms_.end(), address, [](std::uintptr_t a, const sym& s) { return a < s.value; });
  if (it == syms_.begin()) return {};
  --it;
  if (address - it->value >= std::max<std::uint64_t>(it->size, 1)) return {};
  start = it->value;
  return std::string_view(names_).substr(it->name, it->name_size);
}

namespace {

void append_hex(std::string& out, std::uintptr_t v, int width) {
  char buf[24];
  const int n = std::snprintf(buf, sizeof buf, "0x%0*llx", width, static_cast<unsigned long long>(v));
  if (n > 0) out.append(buf, static_cast<std::size_t>(n));
}

// Modules read so far, by path (bounded: a process that loads and unloads many libraries keeps
// the first ones).
class symbol_cache {
 public:
  const elf_symbols* get(const char* path) {
    std::lock_guard lock(mutex_);
    auto it = modules_.find(path);
    if (it != modules_.end()) return it->second.get();
    if (modules_.size() >= 64) return nullptr;
    auto m = std::make_unique<elf_symbols>();
    m->read_file(path);
    return modules_.emplace(path, std::move(m)).first->second.get();
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<elf_symbols>, std::less<>> modules_;
};

symbol_cache& symbols() {
  static auto* cache = new symbol_cache;  // never destroyed: a late exit may still format a trace
  return *cache;
}

// The main program's load base: dladdr() names it by the path it was started with, which is
// relative, or gone, once the program changes directory; /proc/self/exe is always it.
std::uintptr_t main_program_base() {
  static const std::uintptr_t base = [] {
    std::uintptr_t b = 0;
    ::dl_iterate_phdr(
        [](dl_phdr_info* info, std::size_t, void* out) {
          *static_cast<std::uintptr_t*>(out) = info->dlpi_addr;
          return 1;  // the first is the main program
        },
        &b);
    return b;
  }();
  return base;
}

std::string demangled(const char* mangled) {
  int status = 0;
  char* d = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string out = (status == 0 && d) ? std::string(d) : std::string(mangled);
  std::free(d);
  return out;
}

// A function of the SDK's own (logfire::span::~span, logfire::exception, an instrument
// wrapper): inlined into the caller when optimised, a frame of its own when not.
bool is_sdk_function(std::string_view name) {
  const std::size_t paren = name.find('(');
  const std::string_view head = name.substr(0, paren);
  return head.starts_with("logfire::") || head.find(" logfire::") != std::string_view::npos;
}

}  // namespace

void format_stack_trace(std::span<const std::uintptr_t> frames, std::string& out) {
  std::size_t line = 0;
  bool leading = true;  // the SDK's own frames before the first of the application's are left out
  for (const std::uintptr_t pc : frames) {
    // A return address points after its call: look up the call itself, which may be the last
    // instruction of a function (a call to a function that does not return).
    Dl_info info{};
    const bool found = pc != 0 && ::dladdr(reinterpret_cast<void*>(pc - 1), &info) != 0;
    std::string name;
    std::uintptr_t start = 0;
    if (found && info.dli_fname && info.dli_fname[0]) {
      const bool main_program = reinterpret_cast<std::uintptr_t>(info.dli_fbase) == main_program_base();
      if (const elf_symbols* m = symbols().get(main_program ? "/proc/self/exe" : info.dli_fname)) {
        const std::uintptr_t base = m->position_independent() ? reinterpret_cast<std::uintptr_t>(info.dli_fbase) : 0;
        std::uintptr_t sym_start = 0;
        const std::string_view mangled = m->find(pc - 1 - base, sym_start);
        if (!mangled.empty()) {
          name = demangled(std::string(mangled).c_str());
          start = sym_start + base;
        }
      }
    }
    if (name.empty() && found && info.dli_sname && info.dli_saddr) {
      name = demangled(info.dli_sname);
      start = reinterpret_cast<std::uintptr_t>(info.dli_saddr);
    }
    if (leading && is_sdk_function(name)) continue;
    leading = false;
    out += '#';
    out += std::to_string(line++);
    out += ' ';
    append_hex(out, pc, 16);
    out += ' ';
    if (!name.empty()) {
      out += name;
      out += '+';
      append_hex(out, pc - start, 0);
      out += " (";
      out += info.dli_fname ? info.dli_fname : "?";
      out += ')';
    } else {
      out += "?? (";
      if (found && info.dli_fname) {
        out += info.dli_fname;
        out += '+';
        append_hex(out, pc - reinterpret_cast<std::uintptr_t>(info.dli_fbase), 0);
      } else {
        out += '?';
      }
      out += ')';
    }
    out += '\n';
  }
  if (line > 0) out.pop_back();  // lines are separated, not ended
}

}  // namespace logfire::detail
