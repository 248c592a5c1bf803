#include "http.h"

#include <boost/beast/core/string.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string_view.hpp>

namespace epochd {

std::string_view HttpRequest::header(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (boost::beast::iequals(n, name)) return v;
  return {};
}

std::string json_quote(std::string_view text) {
  const std::string safe = utf8_safe(text);
  return boost::json::serialize(boost::json::string_view(safe.data(), safe.size()));
}

HttpResponse envelope(int status, bool success, std::string_view message, std::string_view data) {
  const std::string quoted = json_quote(message);
  HttpResponse r;
  r.status = status;
  r.body.reserve(48 + data.size() + quoted.size());
  r.body += success ? R"({"status":"SUCCESS","data":)" : R"({"status":"FAILED","data":)";
  r.body += data;
  r.body += R"(,"message":)";
  r.body += quoted;
  r.body += '}';
  return r;
}

}  // namespace epochd
