// The web view's files (tools/web/*), embedded into the binary at build time by
// tools/cmake/embed_files.cmake, so `serve` needs no files on disk and no network.
#pragma once

#include <cstddef>
#include <string_view>

namespace logfire::backend {

struct web_asset {
  std::string_view path;          // "/index.html", "/app.js", ...
  std::string_view content_type;  // from the file's extension
  std::string_view body;
};

// All embedded files; the array lives for the whole program.
const web_asset* web_assets(std::size_t& count);

}  // namespace logfire::backend
