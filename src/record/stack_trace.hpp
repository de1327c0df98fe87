// Stack traces of exception events: captured as return addresses on the caller's thread (one
// backtrace() call, no symbol lookup, no allocation after the first call), carried in the ring
// record, and turned into text on the background thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace logfire::detail {

// Frames kept per exception event: the innermost ones.
inline constexpr std::size_t k_max_stack_frames = 32;

struct stack_capture {
  std::uintptr_t pc[k_max_stack_frames];  // the first `size` are set (no zeroing on the hot path)
  std::uint8_t size = 0;

  [[nodiscard]] std::span<const std::uintptr_t> frames() const noexcept { return {pc, size}; }
};

// Fills `out` with the return addresses of the calling thread's stack, leaving out the `skip`
// innermost frames (capture_stack itself is frame 0, its caller frame 1). Never inlined, so that
// the frames to skip are the same at every optimisation level.
[[gnu::noinline]] void capture_stack(stack_capture& out, int skip) noexcept;

// The functions of one module (executable or shared library) from its ELF symbol table, which
// holds what dladdr() cannot see: static functions, functions of an executable linked without
// -rdynamic, and the `.cold` parts compilers split out of functions (catch blocks among them).
// Read once per module, on the background thread; a stripped module has none.
class elf_symbols {
 public:
  void read_file(const char* path);
  // Reads the ELF image in `bytes` (every offset checked: the file may be anything).
  void parse(const unsigned char* bytes, std::size_t size);

  // The (mangled) name of the function holding `address` (an offset from the load base for
  // position-independent modules, else absolute), and its start in `start`; "" when none does.
  [[nodiscard]] std::string_view find(std::uintptr_t address, std::uintptr_t& start) const;
  [[nodiscard]] bool position_independent() const noexcept { return pie_; }
  [[nodiscard]] std::size_t size() const noexcept { return syms_.size(); }

 private:
  struct sym {
    std::uint64_t value, size;
    std::size_t name, name_size;
  };
  std::vector<sym> syms_;
  std::string names_;
  bool pie_ = false;
};

// Appends one line per frame to `out`, innermost first, the SDK's own leading frames left out
// (logfire::exception, a span's destructor or instrument wrapper when they were not inlined):
//   #0 0x000055e1c2a4b3c5 process_order(int)+0x45 (/srv/app/orders)
//   #1 0x00007f3a1c02924a ?? (/lib/x86_64-linux-gnu/libc.so.6+0x2724a)
// A function's name comes from its module's ELF symbol table (static functions and `.cold`
// parts included), else from the dynamic symbol table (dladdr); in a stripped module without
// either, the module and the offset are given, for `addr2line -f -C -e <module> <offset>`.
void format_stack_trace(std::span<const std::uintptr_t> frames, std::string& out);

}  // namespace logfire::detail
