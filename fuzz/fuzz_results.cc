// libFuzzer target for reading stored results (diagnosis/serialize.h): any bytes either fail to
// parse as JSON, or read as Evidence / findings / identification, or give an Error — never a
// crash; what reads back writes out and reads again to the same JSON.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "bmslink/diagnosis/serialize.h"

namespace {

template <typename Read, typename Write>
void round_trip(const nlohmann::json& j, Read read, Write write) {
  const auto first = read(j);
  if (!first) {
    if (first.error().message.empty()) std::abort();
    return;
  }
  const nlohmann::json out = write(*first);
  const auto second = read(nlohmann::json::parse(out.dump()));
  if (!second || write(*second) != out) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  using namespace bmslink::diagnosis;
  round_trip(j, evidence_from_json, evidence_to_json);
  round_trip(j, findings_from_json, findings_to_json);
  round_trip(j, identification_from_json, identification_to_json);
  return 0;
}
