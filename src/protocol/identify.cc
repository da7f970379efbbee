// Identification rules follow the fact sheet's fingerprints: PYLON 1.2 = 0x351/0x355/0x356/0x359/
// 0x35C/0x35E; V1.3/V2 add 0x35A/0x35F/0x370-0x379 (US5000 V1.3 drops 0x359/0x35C); SMA =
// 0x35A/0x35F without Pylon or Victron extras; Victron = 0x35A/0x35F plus 0x372-0x379/0x382/0x360.

#include "bmslink/protocol/identify.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

namespace bmslink::protocol {
namespace {

std::string ascii_of(const std::array<std::uint8_t, 8>& d, std::uint8_t len) {
  std::string s;
  for (std::size_t i = 0; i < len && i < d.size(); ++i) {
    if (d[i] >= 0x20 && d[i] < 0x7F)
      s += static_cast<char>(d[i]);
    else if (d[i] != 0)
      s += '.';
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '.')) s.pop_back();
  return s;
}

std::string hex_list(const std::vector<std::uint32_t>& ids, bool extended) {
  std::string s;
  for (auto id : ids) {
    if (!s.empty()) s += ' ';
    s += extended ? fmt::format("0x{:08X}", id) : fmt::format("0x{:03X}", id);
  }
  return s;
}

template <typename Pred>
std::vector<std::uint32_t> matching(const auto& seen, Pred pred) {
  std::vector<std::uint32_t> out;
  for (const auto& [id, s] : seen) {
    if (pred(id)) out.push_back(id);
  }
  return out;
}

struct Candidate {
  std::string family;
  std::vector<std::uint32_t> ids;
  bool extended = false;
  std::string why;
};

}  // namespace

void Identifier::add(const can::Frame& f) {
  if (f.error || f.rtr) return;
  auto& table = f.extended ? extended_ : standard_;
  auto it = table.find(f.id);
  if (it == table.end()) {
    if (standard_.size() + extended_.size() >= kMaxIds) return;
    it = table.emplace(f.id, Seen{}).first;
  }
  Seen& s = it->second;
  ++s.count;
  s.min_len = std::min(s.min_len, f.len);
  s.max_len = std::max(s.max_len, f.len);
  s.len = std::min<std::uint8_t>(f.len, 8);
  std::memcpy(s.data.data(), f.data.data(), s.len);
  for (std::size_t i = 0; i < f.len; ++i) s.nonzero = s.nonzero || f.data[i] != 0;
}

Identification Identifier::result() const {
  Identification r;
  auto has = [&](std::uint32_t id) { return standard_.count(id) != 0; };
  auto seen = [&](std::uint32_t id) -> const Seen& { return standard_.at(id); };

  // --- Pylon LV family (0x351..0x382) ---
  const std::vector<std::uint32_t> core = matching(standard_, [](std::uint32_t id) {
    return id == 0x351 || id == 0x355 || id == 0x356 || id == 0x35E;
  });
  const bool pylon_only = has(0x359) || has(0x35C);
  const bool v13_ids = has(0x35A) || has(0x35F);
  const std::vector<std::uint32_t> victron_extra = matching(standard_, [](std::uint32_t id) {
    return (id >= 0x372 && id <= 0x379) || id == 0x382 || id == 0x360 || id == 0x370 || id == 0x371;
  });
  if (has(0x35E)) r.manufacturer = ascii_of(seen(0x35E).data, seen(0x35E).len);
  if (has(0x382)) r.product = ascii_of(seen(0x382).data, seen(0x382).len);

  // Inverter side.
  if (has(0x307)) {
    const Seen& s = seen(0x307);
    if (s.len >= 7 && s.data[4] == 'V' && s.data[5] == 'I' && s.data[6] == 'C') {
      r.inverter = "victron-gx";
      r.reasons.push_back("0x307 carries the Victron GX identification \"VIC\"");
    }
  }
  const std::vector<std::uint32_t> sma_si =
      matching(standard_, [](std::uint32_t id) { return id >= 0x300 && id <= 0x309; });
  if (r.inverter.empty() && has(0x305)) {
    if (seen(0x305).nonzero && sma_si.size() >= 3) {
      r.inverter = "sma-sunny-island";
      r.reasons.push_back(
          fmt::format("Sunny Island broadcast ids {} with data in 0x305", hex_list(sma_si, false)));
    } else if (!seen(0x305).nonzero) {
      r.inverter = "pylon-heartbeat";
      r.reasons.push_back("0x305 all zeros: the inverter's heartbeat of the Pylon LV protocol");
    }
  }

  std::vector<Candidate> others;
  auto add_candidate = [&](std::string family, std::vector<std::uint32_t> ids, bool ext,
                           std::string why, std::size_t min_ids) {
    if (ids.size() >= min_ids)
      others.push_back({std::move(family), std::move(ids), ext, std::move(why)});
  };
  add_candidate(
      "pylon-hv",
      matching(extended_,
               [](std::uint32_t id) {
                 return id == 0x4200 || (id >= 0x4210 && id <= 0x4291 && (id & 0xF) <= 1) ||
                        id == 0x7310 || id == 0x7311 || id == 0x7320 || id == 0x7321;
               }),
      true,
      "29-bit ids of the Pylontech HV protocol (0x4200 request, 0x4210-0x4291, 0x7310/0x7320)", 1);
  add_candidate("byd-hvs",
                matching(standard_,
                         [](std::uint32_t id) {
                           static constexpr std::uint32_t kIds[] = {
                               0x110, 0x150, 0x190, 0x1D0, 0x210, 0x250, 0x290,
                               0x2D0, 0x3D0, 0x151, 0x091, 0x0D1, 0x111};
                           return std::find(std::begin(kIds), std::end(kIds), id) != std::end(kIds);
                         }),
                false,
                "ids of the BYD Battery-Box HVS/HVM protocol (0x110, 0x150, 0x190, 0x1D0, ...)", 2);
  add_candidate("pytes-native",
                matching(standard_, [](std::uint32_t id) { return id >= 0x400 && id <= 0x41E; }),
                false, "ids in 0x400-0x41E, the Pytes native protocol", 2);
  add_candidate("growatt-lv",
                matching(standard_, [](std::uint32_t id) { return id >= 0x311 && id <= 0x321; }),
                false, "ids in 0x311-0x321, the native Growatt LV protocol", 2);
  add_candidate("growatt-hv",
                matching(extended_, [](std::uint32_t id) { return id >= 0x3110 && id <= 0x3290; }),
                true, "29-bit ids in 0x3110-0x3290, the Growatt HV protocol", 2);
  add_candidate(
      "solax",
      matching(extended_,
               [](std::uint32_t id) { return (id >= 0x1871 && id <= 0x1879) || id == 0x1801; }),
      true, "29-bit ids 0x1801/0x1871-0x1879 of the Solax protocol", 1);
  add_candidate("sma-hv",
                matching(standard_,
                         [](std::uint32_t id) {
                           static constexpr std::uint32_t kIds[] = {0x158, 0x358, 0x3D8, 0x458,
                                                                    0x4D8, 0x518, 0x558, 0x598,
                                                                    0x5D8, 0x618};
                           return std::find(std::begin(kIds), std::end(kIds), id) != std::end(kIds);
                         }),
                false, "ids of the SMA HV (Sunny Boy Storage) protocol", 2);

  const bool lv = core.size() >= 2 || (!core.empty() && (pylon_only || v13_ids));
  if (lv) {
    r.family = "pylon-lv";
    r.reasons.push_back(
        fmt::format("core ids of the Pylon LV family present: {}", hex_list(core, false)));
    const bool pylon_name = r.manufacturer.rfind("PYLON", 0) == 0;
    const bool byd_name = r.manufacturer.rfind("BYD", 0) == 0;
    const bool deye = r.manufacturer.rfind("DY", 0) == 0 || has(0x361) || has(0x363) || has(0x364);
    bool decided = true;
    if (deye) {
      r.variant = "deye";
      r.reasons.push_back("Deye PCS protocol: 0x35E starting \"DY\" or ids 0x361/0x363/0x364");
    } else if (pylon_only && (v13_ids || !victron_extra.empty())) {
      r.variant = "pylon-1.3";
      r.reasons.push_back(
          "0x359/0x35C of V1.2 together with the extended set (0x35A/0x35F/0x370-0x379): Pylon "
          "V1.3/V2");
    } else if (pylon_only) {
      r.variant = "pylon-1.2";
      r.reasons.push_back("0x359/0x35C present without 0x35A/0x35F: Pylon V1.2");
    } else if (!victron_extra.empty()) {
      r.variant = byd_name ? "byd-lvs" : "victron";
      r.reasons.push_back(fmt::format("Victron CAN-bus BMS extras {} without 0x359/0x35C",
                                      hex_list(victron_extra, false)));
      if (byd_name)
        r.reasons.push_back("manufacturer \"BYD\" with the Victron set: BYD Battery-Box LVS");
    } else if (v13_ids) {
      // A 6-byte 0x355 is Pylontech V1.3's, but only counts when no other maker is named.
      const bool six_byte_soc = r.manufacturer.empty() && has(0x355) && seen(0x355).max_len == 6;
      if (pylon_name || six_byte_soc) {
        r.variant = "pylon-1.3";
        r.reasons.push_back(
            "0x35A/0x35F without 0x359/0x35C from a \"PYLON\" battery (or a 6-byte 0x355): "
            "Pylontech V1.3 firmware");
      } else {
        r.variant = "sma";
        r.reasons.push_back(
            "0x35A/0x35F without Pylon (0x359/0x35C) or Victron (0x372-0x382) extras: SMA set");
        r.ambiguities.push_back(
            "the SMA frame set is also the minimum a Victron GX accepts; the inverter's own frames "
            "tell which one listens");
      }
    } else if (r.inverter == "sma-sunny-island") {
      r.variant = "sma";
    } else {
      decided = false;
      r.reasons.push_back(
          "only core ids: the variant cannot be told apart (V1.2 and V1.3 share them)");
    }
    static const std::map<std::string, std::string> kProtocolOf = {{"pylon-1.2", "pylon_lv_1_2"},
                                                                   {"pylon-1.3", "pylon_lv_1_3"},
                                                                   {"victron", "victron"},
                                                                   {"byd-lvs", "byd_lvs"},
                                                                   {"sma", "sma"},
                                                                   {"deye", "pylon_lv_1_2"}};
    r.protocol = decided ? kProtocolOf.at(r.variant) : "pylon_lv_1_2";
    if (!r.manufacturer.empty())
      r.reasons.push_back(fmt::format("0x35E names the manufacturer \"{}\"", r.manufacturer));
    if (r.manufacturer == "PYTES" || (has(0x359) && seen(0x359).len >= 7 &&
                                      seen(0x359).data[5] == 'P' && seen(0x359).data[6] == 'Y')) {
      r.reasons.push_back("Pytes battery (\"PYTES\" in 0x35E or \"PY\" in 0x359)");
    }
    // Confidence: how much of the core set, a name, and a distinctive id set were seen.
    double c = 0.15 * static_cast<double>(core.size());
    if (!r.manufacturer.empty()) c += 0.2;
    if (decided) c += 0.2;
    r.confidence = std::min(0.99, c);
    // Readings chosen where sources disagree.
    if (has(0x35A))
      r.ambiguities.push_back(
          "0x35A 2-bit fields read as 1 = active, 2 = OK, 0/3 = not supported (what healthy "
          "batteries send); one decoder reads 2 as active");
    if (has(0x359))
      r.ambiguities.push_back(
          "0x359 BMS-internal bit read at byte 1/3 bit 3 (Pylon document); bit 7 "
          "(Battery-Emulator, JK-BMSToPylontechCAN) reported separately as *_bit7");
    if (has(0x370) || has(0x371)) {
      r.ambiguities.push_back(r.variant == "pylon-1.3"
                                  ? "0x370/0x371 read as binary cell extremes (Eco-Worthy/Shoto), "
                                    "not the Victron ASCII BMS name"
                                  : "0x370/0x371 read as the Victron ASCII BMS name, not binary "
                                    "cell extremes (Eco-Worthy/Shoto)");
    }
    if (has(0x351) && seen(0x351).len >= 6) {
      const auto dcl = static_cast<std::int16_t>(seen(0x351).data[4] | (seen(0x351).data[5] << 8));
      if (dcl < 0)
        r.ambiguities.push_back(
            "discharge current limit is negative: sources treat it as a magnitude; inverters "
            "ignore a negative value (vendor bug)");
    }
    if (has(0x373))
      r.ambiguities.push_back(
          "0x373 temperatures are kelvin; 273.15 used as offset (some implementations use 273)");
  }

  // Strongest other family, if it beats (or replaces) the LV reading.
  const Candidate* best = nullptr;
  for (const auto& c : others) {
    if (best == nullptr || c.ids.size() > best->ids.size()) best = &c;
  }
  if (best != nullptr && (!lv || best->ids.size() > core.size())) {
    if (lv)
      r.reasons.push_back(
          fmt::format("Pylon LV ids also present, but fewer than the {} ids", best->family));
    r.family = best->family;
    r.variant.clear();
    r.protocol.clear();
    r.reasons.push_back(fmt::format("{}: {}", best->why, hex_list(best->ids, best->extended)));
    r.confidence = std::min(0.95, 0.4 + 0.15 * static_cast<double>(best->ids.size()));
  } else if (best != nullptr) {
    r.reasons.push_back(
        fmt::format("also seen: {} ({})", best->family, hex_list(best->ids, best->extended)));
  }

  if (r.family.empty() && !extended_.empty()) {
    // J1939 PGN from the 29-bit id: PDU1 (PF < 240) has a destination in the low byte.
    std::vector<std::uint32_t> rvc;
    std::string pgns;
    for (const auto& [id, s] : extended_) {
      const std::uint32_t pf = (id >> 16) & 0xFF;
      const std::uint32_t pgn = pf < 240 ? (id >> 8) & 0x3FF00 : (id >> 8) & 0x3FFFF;
      if (pgn >= 0x1FE00 && pgn <= 0x1FFFF) rvc.push_back(pgn);
      if (pgns.size() < 80) pgns += fmt::format("{}0x{:05X}", pgns.empty() ? "" : " ", pgn);
    }
    r.family = rvc.empty() ? "j1939" : "rv-c";
    r.reasons.push_back(
        rvc.empty()
            ? fmt::format("{} 29-bit ids, none of a known battery protocol: J1939-style",
                          extended_.size())
            : fmt::format("29-bit ids carrying RV-C DGNs (0x1FExx-0x1FFxx), e.g. PGN 0x{:05X}",
                          rvc.front()));
    r.reasons.push_back("PGNs from the ids: " + pgns);
    r.confidence = 0.5;
  }
  if (r.family.empty()) {
    r.family = "unknown";
    r.reasons.push_back(standard_.empty() && extended_.empty()
                            ? "no data frames"
                            : "no id set of a known battery protocol");
    r.confidence = 0.0;
  }
  return r;
}

}  // namespace bmslink::protocol
