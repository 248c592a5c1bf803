// libFuzzer target: the model's JSON decoders. Any input: decoding must not
// crash; whatever decodes must encode and decode back to the same value.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <type_traits>

#include "epoch/model.h"

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

template <typename T, typename Decode>
void round_trip(std::string_view text, Decode decode) {
  auto v = decode(text);
  if (!v.ok()) {
    require(!v.status().message().empty());
    return;
  }
  const std::string json = epoch::to_json(*v);
  auto again = decode(json);
  require(again.ok());
  require(*again == *v);
  if constexpr (std::is_same_v<T, epoch::Topology>) (void)epoch::validate(*v);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 8192) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  round_trip<epoch::Topology>(text, epoch::topology_from_json);
  round_trip<epoch::TopologyDetails>(text, epoch::topology_details_from_json);
  round_trip<epoch::RunInfo>(text, epoch::run_info_from_json);
  auto simple = epoch::simple_request_from_json(text);
  if (simple.ok() && epoch::validate(*simple, true).ok()) {
    const epoch::Topology t = epoch::to_topology(*simple, simple->name);
    require(epoch::topology_from_json(epoch::to_json(t)).ok());
  }
  return 0;
}
