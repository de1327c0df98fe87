// Fuzzes the ELF symbol table reader of exception stack traces (src/record/stack_trace.cpp):
// it reads module files from disk, which may have been replaced by anything since they were
// loaded. Properties: every function it found is found again at its own start, with the same
// name, and that name is a non-empty piece of the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "record/stack_trace.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  logfire::detail::elf_symbols syms;
  syms.parse(data, size);
  if (syms.size() == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  for (std::uintptr_t probe : {std::uintptr_t{0}, std::uintptr_t{1}, std::uintptr_t{0x1000}, ~std::uintptr_t{0}}) {
    std::uintptr_t start = 0;
    const std::string_view name = syms.find(probe, start);
    if (name.empty()) continue;
    if (start > probe) std::abort();
    if (input.find(name) == std::string_view::npos) std::abort();
    std::uintptr_t again = 0;
    if (syms.find(start, again).empty()) std::abort();
  }
  return 0;
}
