// The web UI's files, compiled into epochd (generated ui_assets.cpp, from
// epochd/ui by cmake/EmbedAssets.cmake).
#pragma once

#include <string_view>
#include <vector>

namespace epochd {

struct EmbeddedAsset {
  std::string_view path;   // "/index.html", "/app.js", ...
  std::string_view bytes;  // static storage
};

const std::vector<EmbeddedAsset>& ui_assets();

}  // namespace epochd
