#include "http.h"

#include <boost/json/serialize.hpp>
#include <boost/json/string_view.hpp>
#include <cctype>

namespace epochd {

std::string_view HttpRequest::header(std::string_view name) const {
  const auto same = [](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(a[i])) !=
          std::tolower(static_cast<unsigned char>(b[i])))
        return false;
    }
    return true;
  };
  for (const auto& [n, v] : headers)
    if (same(n, name)) return v;
  return {};
}

HttpResponse envelope(int status, bool success, std::string_view message, std::string_view data) {
  const std::string safe = utf8_safe(message);
  HttpResponse r;
  r.status = status;
  r.body.reserve(48 + data.size() + safe.size());
  r.body += success ? R"({"status":"SUCCESS","data":)" : R"({"status":"FAILED","data":)";
  r.body += data;
  r.body += R"(,"message":)";
  r.body += boost::json::serialize(boost::json::string_view(safe.data(), safe.size()));
  r.body += '}';
  return r;
}

}  // namespace epochd
