#include "analysis/plausibility.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string_view>

#include <fmt/format.h>

namespace bmslink::analysis::detail {
namespace {

std::uint16_t u16le(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] | p[1] << 8); }
std::uint16_t u16be(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[1] | p[0] << 8); }

struct Readings {
  std::optional<double> cvl, ccl, dcl, dvl, pack_v;
};

struct Range {
  double lo, hi;
  bool contains(double v) const { return v >= lo && v <= hi; }
};

// Voltages that belong to one pack of the protocol's range: limits and pack voltage in range and
// consistent (a charge limit within 0.85-1.4x the pack voltage).
bool plausible(const Readings& r, Range range) {
  if (r.cvl && !range.contains(*r.cvl)) return false;
  if (r.dvl && !range.contains(*r.dvl)) return false;
  if (r.pack_v && !range.contains(*r.pack_v)) return false;
  if (r.cvl && r.pack_v && (*r.cvl < 0.85 * *r.pack_v || *r.cvl > 1.4 * *r.pack_v)) return false;
  return true;
}

std::string fmt_v(const std::optional<double>& v) {
  return v ? fmt::format("{:.1f} V", *v) : std::string("-");
}

}  // namespace

std::vector<PlausibilityIssue> PlausibilityAnalyzer::finish(const protocol::DeviceLimits* limits,
                                                            const std::vector<SignalStats>& signals,
                                                            const Inventory& inventory,
                                                            std::uint64_t bursts_seen,
                                                            ValueScales* scales) const {
  std::vector<PlausibilityIssue> out;
  if (limits == nullptr) return out;
  using K = PlausibilityKind;

  if (limits->pack_voltage_min_v && limits->pack_voltage_max_v &&
      (limits_.seen || measurements_.seen)) {
    const Range range{*limits->pack_voltage_min_v, *limits->pack_voltage_max_v};
    auto read = [this](bool big_endian) {
      Readings r;
      auto u = [big_endian](const std::uint8_t* p) { return big_endian ? u16be(p) : u16le(p); };
      auto s = [&u](const std::uint8_t* p) { return static_cast<std::int16_t>(u(p)); };
      if (limits_.seen) {
        const auto* d = limits_.data.data();
        if (limits_.len >= 2) r.cvl = u(d) * 0.1;
        if (limits_.len >= 4) r.ccl = s(d + 2) * 0.1;
        if (limits_.len >= 6) r.dcl = s(d + 4) * 0.1;
        if (limits_.len >= 8) r.dvl = u(d + 6) * 0.1;
      }
      if (measurements_.seen && measurements_.len >= 2)
        r.pack_v = s(measurements_.data.data()) * 0.01;
      return r;
    };
    const Readings le = read(false);
    const Readings be = read(true);
    if (!plausible(le, range) && plausible(be, range)) {
      out.push_back({K::kEndianness, limits_.seen ? "0x351" : "0x356",
                     fmt::format("little-endian reading gives charge limit {}, pack {}; "
                                 "big-endian gives {}, pack {}",
                                 fmt_v(le.cvl), fmt_v(le.pack_v), fmt_v(be.cvl), fmt_v(be.pack_v)),
                     true});
    } else if (!plausible(le, range)) {
      // Try one field at another decimal scale.
      for (const double k : {0.1, 10.0}) {
        Readings r = le;
        bool fixed = false;
        std::string what;
        for (auto [field, name] : {std::pair{&Readings::cvl, "charge_voltage_limit"},
                                   std::pair{&Readings::dvl, "discharge_voltage_limit"},
                                   std::pair{&Readings::pack_v, "pack_voltage"}}) {
          if (!(le.*field) || range.contains(*(le.*field))) continue;
          r.*field = *(le.*field) * k;
          if (scales != nullptr) {
            if (field == &Readings::cvl) scales->cvl = k;
            if (field == &Readings::dvl) scales->dvl = k;
            if (field == &Readings::pack_v) scales->pack_v = k;
          }
          what += fmt::format("{}{} reads {:.2f} V, plausible ×{}", what.empty() ? "" : "; ", name,
                              *(le.*field), k);
          fixed = true;
        }
        if (fixed && plausible(r, range)) {
          out.push_back({K::kScaling, "0x351/0x356", what, true});
          break;
        }
        if (scales != nullptr) *scales = ValueScales{};
      }
    }
  }

  auto signal = [&signals](std::string_view name) -> const SignalStats* {
    for (const auto& x : signals)
      if (x.name == name && x.count > 0) return &x;
    return nullptr;
  };
  const bool byte_order_or_scale_wrong = !out.empty();
  if (!byte_order_or_scale_wrong) {
    if (const auto* d = signal("discharge_current_limit"); d && d->min < 0) {
      out.push_back({K::kInvalid, d->name,
                     fmt::format("negative discharge current limit {:.1f} A (limits are "
                                 "magnitudes; inverters ignore or fault on it)",
                                 d->min),
                     true});
    }
    if (const auto* c = signal("charge_current_limit"); c && c->min < 0) {
      out.push_back({K::kInvalid, c->name,
                     fmt::format("negative charge current limit {:.1f} A", c->min), true});
    }
    const auto* cvl = signal("charge_voltage_limit");
    const auto* dvl = signal("discharge_voltage_limit");
    const auto* pv = signal("pack_voltage");
    if (cvl && dvl && dvl->last > 0 && cvl->last <= dvl->last) {
      out.push_back({K::kInvalid, "charge_voltage_limit",
                     fmt::format("charge voltage limit {:.1f} V is not above the discharge "
                                 "voltage limit {:.1f} V",
                                 cvl->last, dvl->last),
                     true});
    }
    if (cvl && pv && pv->last > 5 && (cvl->last < 0.9 * pv->last || cvl->last > 1.35 * pv->last)) {
      out.push_back({K::kInvalid, "charge_voltage_limit",
                     fmt::format("charge voltage limit {:.1f} V is outside the range of a pack "
                                 "at {:.2f} V",
                                 cvl->last, pv->last),
                     true});
    }
    for (const char* n : {"soc", "soh"}) {
      if (const auto* x = signal(n); x && x->max > 100)
        out.push_back({K::kInvalid, n, fmt::format("{} {:.0f} % is above 100 %", n, x->max), true});
    }
    if (const auto* t = signal("pack_temperature"); t && (t->max > 90 || t->min < -40)) {
      out.push_back({K::kInvalid, t->name,
                     fmt::format("pack temperature {:.1f} .. {:.1f} °C is outside -40 .. 90 °C",
                                 t->min, t->max),
                     false});
    }
    const auto* cmin = signal("cell_min_voltage");
    const auto* cmax = signal("cell_max_voltage");
    if (cmin && cmax && pv && cmin->last > 1.5 && cmax->last < 5 && pv->last > 5) {
      const double cells = pv->last / ((cmin->last + cmax->last) / 2);
      const double nearest = std::round(cells);
      // The pack voltage is the sum of cells lying between the min and the max cell.
      const double lo = pv->last / cmax->last - 0.5, hi = pv->last / cmin->last + 0.5;
      if (nearest < 1 || std::floor(hi) < std::ceil(lo)) {
        out.push_back({K::kInvalid, "cell_min_voltage",
                       fmt::format("pack {:.2f} V is not a whole number of cells between {:.3f} "
                                   "and {:.3f} V ({:.1f} cells)",
                                   pv->last, cmin->last, cmax->last, cells),
                       false});
      }
    }
    if (const auto* mc = signal("module_count"); mc && mc->max == 0) {
      const auto* marker = signal("protocol_marker");
      const bool no_marker = marker == nullptr || marker->text.empty();
      out.push_back(
          {K::kInvalid, "0x359",
           fmt::format("0x359 reports 0 modules{}", no_marker ? " and no \"PN\" marker" : ""),
           false});
    }
  }
  // The protocol's required frames (protocol data) the capture never carried.
  for (std::uint32_t id : limits->required_ids) {
    const bool present = std::any_of(inventory.ids.begin(), inventory.ids.end(),
                                     [id](const IdStats& x) { return !x.extended && x.id == id; });
    if (!present) {
      out.push_back({K::kMissing, fmt::format("0x{:03X}", id),
                     fmt::format("0x{:03X} never seen in {} BMS cycles", id, bursts_seen),
                     bursts_seen >= 2});
    }
  }
  return out;
}

}  // namespace bmslink::analysis::detail
