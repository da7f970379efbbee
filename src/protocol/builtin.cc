#include "bmslink/protocol/builtin.h"

#include <algorithm>

#include <map>
#include <memory>
#include <mutex>

#include <fmt/format.h>

namespace bmslink::protocol {

// Generated at configure time from data/protocols/*.dbc (cmake/EmbedDbc.cmake).
namespace generated {
extern const std::vector<BuiltinProtocol> kProtocols;
}

const std::vector<BuiltinProtocol>& builtin_protocols() { return generated::kProtocols; }

Result<const Database*> builtin_database(std::string_view name) {
  static std::mutex mutex;
  static std::map<std::string, std::unique_ptr<Database>, std::less<>> parsed;
  const std::lock_guard lock(mutex);
  if (const auto it = parsed.find(name); it != parsed.end()) return it->second.get();
  for (const auto& p : builtin_protocols()) {
    if (p.name != name) continue;
    auto db = parse_dbc(p.dbc, fmt::format("{}.dbc", p.name));
    if (!db) return tl::unexpected(db.error());
    auto owned = std::make_unique<Database>(std::move(*db));
    const Database* raw = owned.get();
    parsed.emplace(std::string(name), std::move(owned));
    return raw;
  }
  std::string known;
  for (const auto& p : builtin_protocols())
    known += (known.empty() ? "" : ", ") + std::string(p.name);
  return make_error(ErrorCode::kInvalidArgument,
                    fmt::format("no built-in protocol '{}'; known: {}", name, known));
}

DeviceLimits device_limits(const Database& db) {
  DeviceLimits out;
  if (auto it = db.attributes.find("BmslinkPackVoltageMin"); it != db.attributes.end())
    out.pack_voltage_min_v = it->second;
  if (auto it = db.attributes.find("BmslinkPackVoltageMax"); it != db.attributes.end())
    out.pack_voltage_max_v = it->second;
  for (const auto& m : db.messages) {
    const auto it = m.attributes.find("BmslinkRequired");
    if (it != m.attributes.end() && it->second == 1.0 && !m.extended)
      out.required_ids.push_back(m.id);
  }
  std::sort(out.required_ids.begin(), out.required_ids.end());
  return out;
}

}  // namespace bmslink::protocol
