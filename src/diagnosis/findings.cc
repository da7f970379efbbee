// Thresholds here are deliberately conservative: a wrong "fault" sends an installer up a ladder
// for nothing, so a rule fires only when the evidence would convince an engineer reading the
// capture, and says so with numbers.

#include "bmslink/diagnosis/findings.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace bmslink::diagnosis {

std::string_view severity_name(Severity s) {
  switch (s) {
    case Severity::kFault:
      return "fault";
    case Severity::kWarning:
      return "warning";
    case Severity::kInfo:
      break;
  }
  return "info";
}

const std::vector<CauseInfo>& cause_catalogue() {
  static const std::vector<CauseInfo> kCauses = {
      {"inverter_protocol_mismatch", 1, "inverter not in the BMS's protocol"},
      {"bitrate_mismatch", 1, "bit rate mismatch"},
      {"bms_silent", 1, "BMS not transmitting"},
      {"can_id_conflict", 1, "CAN id sent by two transmitters"},
      {"dip_switch_wrong", 1, "DIP switches wrong"},
      {"no_ack", 2, "frames not acknowledged"},
      {"termination_fault", 2, "termination wrong"},
      {"connection_fault", 2, "connection fault"},
      {"bus_errors", 2, "bus errors without a single pattern"},
      {"cable_unsuitable", 3, "cable unsuitable"},
      {"emi_power_correlated", 4, "interference rising with power"},
      {"ground_loop", 4, "ground loop"},
      {"thermal_or_time_pattern", 4, "errors follow temperature or time of day"},
      {"intermittent_dropouts", 4, "BMS frames drop out"},
      {"endianness_mismatch", 5, "byte order wrong"},
      {"scaling_mismatch", 5, "scaling wrong"},
      {"invalid_values", 5, "invalid values"},
      {"missing_required_frames", 5, "required frames missing"},
      {"unknown_protocol", 5, "unknown protocol"},
      {"firmware_incompatibility", 5, "firmware incompatibility"},
      {"bms_protection_active", std::nullopt, "BMS protection active"},
      {"healthy", std::nullopt, "healthy"},
  };
  return kCauses;
}

const CauseInfo* find_cause(std::string_view id) {
  for (const auto& c : cause_catalogue())
    if (c.id == id) return &c;
  return nullptr;
}

namespace {

using analysis::Evidence;

std::string hex(std::uint32_t key) { return analysis::key_hex(key); }

std::vector<std::string> hex_all(const std::vector<std::uint32_t>& keys, std::size_t max = 12) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < keys.size() && i < max; ++i) out.push_back(hex(keys[i]));
  return out;
}

std::string seconds(std::int64_t ns) {
  return fmt::format("{:.1f} s", static_cast<double>(ns) / 1e9);
}

class Rules {
 public:
  Finding& add(std::string_view cause, Severity severity, double score, std::string title,
               std::string fix) {
    Finding f;
    f.cause = std::string(cause);
    if (const auto* c = find_cause(cause)) f.layer = c->layer;
    f.severity = severity;
    f.score = std::clamp(score, 0.0, 1.0);
    f.title = std::move(title);
    f.fix = std::move(fix);
    out_.push_back(std::move(f));
    return out_.back();
  }
  bool has(std::string_view cause) const {
    return std::any_of(out_.begin(), out_.end(), [&](const Finding& f) {
      return f.cause == cause && f.severity == Severity::kFault;
    });
  }
  std::vector<Finding> take() { return std::move(out_); }

 private:
  std::vector<Finding> out_;
};

// Long enough to expect several BMS cycles and inverter answers (1 s each).
bool long_enough(const Evidence& e) { return e.timed && e.duration_s >= 5.0; }

}  // namespace

std::vector<Finding> diagnose_capture(const Evidence& e) {
  Rules r;
  const auto& inv = e.inventory;
  const auto& t = e.timing;
  const auto& bus = e.bus;
  const std::uint64_t data = inv.data_frames;

  // Layer 1: bit rate. A receiver at the wrong rate sees nothing but stuff/form/bit errors.
  if (bus.error_frames >= 3 && (data == 0 || (bus.protocol_violations * 2 >= bus.error_frames &&
                                              data * 4 < bus.error_frames))) {
    auto& f = r.add("bitrate_mismatch", Severity::kFault, data == 0 ? 0.97 : 0.85,
                    data == 0 ? "Only error frames on the bus: the bit rates do not match"
                              : "Error frames outnumber valid frames: bit rate mismatch likely",
                    "Set the BMS, the inverter and the analyzer to the same bit rate; Pylon LV, "
                    "SMA and Victron BMS-Can use 500 kbit/s (REC/Victron VE.Can and some Emus "
                    "units 250 kbit/s). Power-cycle both after changing it.");
    f.evidence.push_back(
        {fmt::format("{} error frames, {} valid data frames", bus.error_frames, data),
         bus.first_error_ns,
         {},
         bus.error_frames});
    f.evidence.push_back(
        {fmt::format("{} protocol violations (stuff/form/bit)", bus.protocol_violations),
         std::nullopt,
         {},
         bus.protocol_violations});
  }

  // Who talks.
  if (t.bms_frames == 0 && t.inverter_frames > 0 && t.other_frames == 0) {
    auto& f = r.add("bms_silent", Severity::kFault, 0.92, "The inverter talks, the BMS does not",
                    "Enable the BMS's CAN output (BMS app or DIP switches: CAN, not RS485), plug "
                    "the cable into the battery's CAN port (not RS485 / link port) and check the "
                    "master battery's address.");
    f.evidence.push_back({fmt::format("{} inverter frames ({}), no frame in 0x350-0x382",
                                      t.inverter_frames, fmt::join(hex_all(t.inverter_ids), " ")),
                          std::nullopt, hex_all(t.inverter_ids), t.inverter_frames});
  }
  if (data > 0 && t.bms_frames == 0 && t.other_frames > 0 && !r.has("bitrate_mismatch")) {
    const auto& p = e.protocol;
    const bool other_family = p.family != "unknown" && p.family != "pylon-lv" && !p.family.empty();
    auto& f =
        r.add("unknown_protocol", Severity::kFault, other_family ? 0.85 : 0.8,
              other_family ? fmt::format("The battery speaks {}, not the Pylon LV family", p.family)
                           : std::string("The traffic is not a known battery protocol"),
              "Select the battery's own protocol on the inverter if it supports it, or "
              "switch the BMS to its Pylontech/inverter CAN protocol (BMS app or DIP "
              "switches); check the compatibility list of both makers.");
    f.evidence.push_back({fmt::format("{} frames on ids outside 0x300-0x382: {}", t.other_frames,
                                      fmt::join(hex_all(t.other_ids, 8), " ")),
                          std::nullopt, hex_all(t.other_ids), t.other_frames});
    for (const auto& why : p.reasons) f.evidence.push_back({why, std::nullopt, {}, std::nullopt});
  }

  // Layer 2: acknowledgement.
  const auto& ack = e.ack;
  const bool repeats = ack.back_to_back >= 20 && ack.back_to_back * 20 >= data;
  // Occasional no-ACK errors while the inverter answers mean a disturbed bus, not a deaf one.
  const bool ack_errors =
      ack.no_ack_errors >= 5 && (t.inverter_frames == 0 || ack.no_ack_errors * 100 >= t.bms_frames);
  if (repeats || ack_errors) {
    auto& f = r.add(
        "no_ack", Severity::kFault, 0.93, "Frames are not acknowledged: the BMS keeps re-sending",
        "Nothing on the bus receives the BMS: check the inverter is powered and its "
        "CAN port enabled, CAN-H/CAN-L are not swapped, the RJ45 pinout matches both "
        "ends (pins 4/5 usual) and the bus is terminated (60 Ω across H-L, power off).");
    if (ack.back_to_back > 0) {
      f.evidence.push_back(
          {fmt::format("{} back-to-back retransmissions, longest run {} of {}", ack.back_to_back,
                       ack.longest_repeat_run + 1, hex(ack.repeated_id)),
           ack.first_repeat_ns,
           {hex(ack.repeated_id)},
           ack.back_to_back});
    }
    if (ack.no_ack_errors > 0)
      f.evidence.push_back({fmt::format("{} no-ACK error frames", ack.no_ack_errors),
                            bus.first_error_ns,
                            {},
                            ack.no_ack_errors});
  }

  // Layer 1: the inverter never answers although the BMS is heard.
  if (t.bms_frames > 0 && t.inverter_frames == 0 && !r.has("no_ack") &&
      !r.has("bitrate_mismatch")) {
    if (long_enough(e)) {
      auto& f = r.add(
          "inverter_protocol_mismatch", Severity::kFault, 0.78,
          "The BMS talks, the inverter never answers (no 0x305)",
          "Set the inverter's battery type to the BMS's CAN protocol (e.g. \"Pylontech CAN\", "
          "not generic lithium or \"LFP-CAN\"), enable BMS communication on the inverter and "
          "restart it.");
      f.evidence.push_back(
          {fmt::format("{} BMS frames over {:.0f} s, no inverter frame (0x300-0x30F)", t.bms_frames,
                       e.duration_s),
           inv.first_ns, hex_all(t.bms_ids), t.bms_frames});
      if (!ack.ack_visible) {
        f.evidence.push_back(
            {"This capture cannot show whether the inverter acknowledges: if the "
             "adapter was not listen-only it acknowledged the BMS itself",
             std::nullopt,
             {},
             std::nullopt});
      }
    } else {
      auto& f = r.add("inverter_protocol_mismatch", Severity::kInfo, 0.2,
                      "No inverter frames in this excerpt",
                      "Capture at least 10 s with timestamps to see whether the inverter answers.");
      f.evidence.push_back({fmt::format("{} BMS frames, {} untimed or under 5 s", t.bms_frames,
                                        e.timed ? "capture" : "capture is"),
                            std::nullopt,
                            {},
                            t.bms_frames});
    }
  }

  // Layer 1: one id, two transmitters.
  if (!e.conflicts.empty()) {
    std::vector<std::string> ids;
    for (const auto& c : e.conflicts) ids.push_back(hex(c.key));
    auto& f = r.add("can_id_conflict", Severity::kFault, 0.88,
                    fmt::format("{} sent by two transmitters", fmt::join(ids, ", ")),
                    "Two devices use the same ids: give each battery its own address/id base "
                    "(master/slave DIP switches, link cable between packs rather than each pack "
                    "on the inverter bus) or remove the second transmitter.");
    for (const auto& c : e.conflicts) {
      f.evidence.push_back({fmt::format("{} arrives {:.1f}x per cycle, its payload alternating "
                                        "between two streams in {:.0f} % of frames",
                                        hex(c.key), c.rate_ratio, c.alternation * 100),
                            std::nullopt,
                            {hex(c.key)},
                            std::nullopt});
      if (c.errors_after > 0)
        f.evidence.push_back(
            {fmt::format("{} error frames right after {}", c.errors_after, hex(c.key)),
             std::nullopt,
             {hex(c.key)},
             c.errors_after});
    }
  }

  // Layer 5: values.
  for (const auto& p : e.plausibility) {
    if (p.kind == "endianness") {
      auto& f =
          r.add("endianness_mismatch", Severity::kFault, 0.84,
                "Values are plausible only read big-endian",
                "The BMS (or its emulator) sends multi-byte values high byte first; Pylon LV, "
                "SMA and Victron frames are little-endian. Update the BMS/bridge firmware or "
                "fix its byte order.");
      f.evidence.push_back({p.detail, std::nullopt, {p.subject}, std::nullopt});
    } else if (p.kind == "scaling") {
      auto& f = r.add("scaling_mismatch", Severity::kFault, 0.82,
                      "Values are plausible only at another scale",
                      "The BMS uses a different resolution than the protocol (0.1 V for limits, "
                      "0.01 V for pack voltage): fix the emulator/firmware scaling.");
      f.evidence.push_back({p.detail, std::nullopt, {p.subject}, std::nullopt});
    }
  }
  {
    std::vector<const analysis::PlausibilityIssue*> severe, mild;
    for (const auto& p : e.plausibility) {
      if (p.kind != "invalid") continue;
      (p.severe ? severe : mild).push_back(&p);
    }
    if (!severe.empty() || !mild.empty()) {
      auto& f = r.add("invalid_values", severe.empty() ? Severity::kWarning : Severity::kFault,
                      severe.empty() ? 0.4 : 0.72,
                      severe.empty() ? "Implausible values in the BMS frames"
                                     : "The BMS sends invalid limits or values",
                      "Check the BMS settings (cell count, voltage limits) and update the BMS or "
                      "emulator firmware; inverters ignore or fault on values like these.");
      for (const auto* p : severe)
        f.evidence.push_back({p->detail, std::nullopt, {p->subject}, std::nullopt});
      for (const auto* p : mild)
        f.evidence.push_back({p->detail, std::nullopt, {p->subject}, std::nullopt});
    }
    std::vector<const analysis::PlausibilityIssue*> missing;
    bool missing_severe = false;
    for (const auto& p : e.plausibility) {
      if (p.kind != "missing") continue;
      missing.push_back(&p);
      missing_severe |= p.severe;
    }
    if (!missing.empty() && t.bms_frames > 0) {
      auto& f =
          r.add("missing_required_frames", missing_severe ? Severity::kFault : Severity::kWarning,
                missing_severe ? 0.66 : 0.3,
                missing_severe ? "The BMS does not send the protocol's required frames"
                               : "Required frames not in this excerpt",
                "Select the full protocol in the BMS (e.g. Pylontech V1.2 with 0x351, 0x355, "
                "0x356, 0x359, 0x35C) or update the emulator; capture longer if this was a "
                "partial excerpt.");
      for (const auto* p : missing)
        f.evidence.push_back({p->detail, std::nullopt, {p->subject}, std::nullopt});
    }
  }

  // Layer 4: correlations. Both can fire on a solar day; keep the stronger as the fault.
  const auto& c = e.correlation;
  const bool enough = bus.error_frames >= 20 && c.binned_minutes >= 30;
  const double rho_i = c.rho_current.value_or(0), rho_t = c.rho_temperature.value_or(0);
  const bool emi = enough && rho_i >= 0.4 && c.current_rate_ratio.value_or(0) >= 3;
  const bool thermal_t = enough && rho_t >= 0.4 && c.temperature_rate_ratio.value_or(0) >= 3;
  const bool hourly = bus.error_frames >= 20 && c.hour_concentration.value_or(0) >= 0.6;
  const bool pattern_explained =
      r.has("bitrate_mismatch") || r.has("no_ack") || r.has("can_id_conflict");
  if (emi && !pattern_explained) {
    const bool top = !thermal_t || rho_i >= rho_t;
    auto& f = r.add("emi_power_correlated", top ? Severity::kFault : Severity::kWarning,
                    0.6 + 0.3 * rho_i,
                    "Bus errors rise with pack current: interference from the power path",
                    "Route the CAN cable away from DC and AC power cables (cross at right angles), "
                    "use shielded twisted pair grounded at one end, add ferrites, keep the run "
                    "under 5 m near the inverter, or fit an isolated CAN transceiver.");
    f.evidence.push_back({fmt::format("Spearman rho {:.2f} between |current| and errors per minute "
                                      "over {} minutes",
                                      rho_i, c.binned_minutes),
                          std::nullopt,
                          {},
                          bus.error_frames});
    f.evidence.push_back({fmt::format("error rate {:.1f}x higher in the top quarter of |current|",
                                      c.current_rate_ratio.value_or(0)),
                          std::nullopt,
                          {},
                          std::nullopt});
  }
  if ((thermal_t || hourly) && !pattern_explained) {
    const bool top = !emi || rho_t > rho_i;
    auto& f = r.add("thermal_or_time_pattern", top ? Severity::kFault : Severity::kWarning,
                    0.6 + 0.3 * std::max(rho_t, c.hour_concentration.value_or(0) - 0.3),
                    "Bus errors follow temperature or the time of day",
                    "Look for what heats up or switches on at those times: loose terminals "
                    "(re-torque), a connector in the sun, a pump/heater on the same supply; check "
                    "connections again when warm.");
    if (thermal_t)
      f.evidence.push_back({fmt::format("Spearman rho {:.2f} between pack temperature and errors "
                                        "per minute; {:.1f}x more errors in the warmest quarter",
                                        rho_t, c.temperature_rate_ratio.value_or(0)),
                            std::nullopt,
                            {},
                            bus.error_frames});
    if (hourly && c.busiest_hour)
      f.evidence.push_back({fmt::format("{:.0f} % of errors between {:02d}:00 and {:02d}:00 UTC",
                                        c.hour_concentration.value_or(0) * 100, *c.busiest_hour,
                                        (*c.busiest_hour + 3) % 24),
                            std::nullopt,
                            {},
                            std::nullopt});
  }

  // Layer 4/2: dropouts of the BMS set.
  const auto& up = e.uptime;
  if (e.timed && t.bms_frames > 0 && up.dropout_count > 0) {
    const bool explained = r.has("no_ack") || r.has("bitrate_mismatch");
    auto& f =
        r.add("intermittent_dropouts", explained ? Severity::kWarning : Severity::kFault,
              explained ? 0.4 : std::min(0.9, 0.68 + 0.02 * static_cast<double>(up.dropout_count)),
              fmt::format("The BMS goes silent {} time(s) for longer than the inverter's "
                          "{:.0f} s timeout",
                          up.dropout_count, static_cast<double>(up.timeout_ns) / 1e9),
              "Check connectors and terminals for intermittent contact (wiggle test while "
              "capturing), the BMS supply during load changes, and the BMS's own link timer "
              "(some stop sending without 0x305); verify with a 24 h capture at 100 % uptime.");
    for (std::size_t i = 0; i < up.dropouts.size() && i < 5; ++i) {
      f.evidence.push_back(
          {fmt::format("{} silent for {}", up.dropout_stream, seconds(up.dropouts[i].length_ns)),
           up.dropouts[i].start_ns,
           {"0x351"},
           std::nullopt});
    }
    if (up.share)
      f.evidence.push_back(
          {fmt::format("complete BMS set in {:.2f} % of seconds, longest outage {}",
                       *up.share * 100, seconds(up.longest_outage_ns)),
           std::nullopt,
           {},
           up.complete_seconds});
  }

  // Layer 2: errors no other rule explains.
  const bool errors_explained =
      pattern_explained || r.has("emi_power_correlated") || r.has("thermal_or_time_pattern");
  if (bus.error_frames > 0 && !errors_explained && data > 0) {
    const bool heavy = bus.bus_off > 0 || bus.error_passive > 0 || bus.errors_per_minute >= 10;
    const bool notable = heavy || bus.error_frames >= 3;
    if (notable) {
      auto& f =
          r.add("bus_errors", heavy ? Severity::kFault : Severity::kWarning, heavy ? 0.6 : 0.35,
                heavy ? "Bus errors drive a controller error-passive or bus-off"
                      : "Occasional bus errors",
                "Measure termination with both ends powered off (60 Ω between CAN-H and "
                "CAN-L; 120 Ω = one resistor missing, 40 Ω = one too many), re-torque the "
                "terminals, reseat the connectors and check the cable is 120 Ω twisted pair.");
      f.evidence.push_back({fmt::format("{} error frames ({:.2f} per minute)", bus.error_frames,
                                        bus.errors_per_minute),
                            bus.first_error_ns,
                            {},
                            bus.error_frames});
      std::string kinds;
      for (const auto& [k, n] : bus.by_kind)
        kinds += fmt::format("{}{} {}", kinds.empty() ? "" : ", ", k, n);
      if (!kinds.empty()) f.evidence.push_back({kinds, std::nullopt, {}, std::nullopt});
      if (bus.max_rec || bus.max_tec)
        f.evidence.push_back({fmt::format("error counters up to TEC {} / REC {}",
                                          bus.max_tec.value_or(0), bus.max_rec.value_or(0)),
                              std::nullopt,
                              {},
                              std::nullopt});
    }
  }

  // State: the link works, the battery refuses.
  if (!e.state.active.empty()) {
    bool refusing = false;
    for (const auto& a : e.state.active) {
      if (a.level == "protection" || a.level == "disabled" ||
          (a.level == "alarm" && a.key == 0x35A))
        refusing = true;
    }
    auto& f = r.add("bms_protection_active", refusing ? Severity::kFault : Severity::kWarning,
                    refusing ? 0.7 : 0.35,
                    refusing ? "Communication works; the BMS reports a protection and refuses"
                             : "Communication works; the BMS reports alarms or requests",
                    "Not a link fault: read the BMS's alarm (cell voltage, temperature, current) "
                    "in its app or display, fix that condition (charge a flat pack, let it cool "
                    "or warm, reduce current) and the inverter resumes on its own.");
    for (std::size_t i = 0; i < e.state.active.size() && i < 8; ++i) {
      const auto& a = e.state.active[i];
      f.evidence.push_back({fmt::format("{} {} ({}) in {} frames", hex(a.key), a.signal,
                                        a.level == "disabled" ? "disabled" : a.level, a.frames),
                            a.first_ns,
                            {hex(a.key)},
                            a.frames});
    }
  }

  std::vector<Finding> out = r.take();
  const bool any = std::any_of(out.begin(), out.end(),
                               [](const Finding& f) { return f.severity != Severity::kInfo; });
  if (!any) {
    Finding h;
    h.cause = "healthy";
    h.severity = Severity::kInfo;
    h.score = 1.0;
    h.title = "Nothing wrong found";
    h.fix =
        "No action needed. To verify a fix, capture 24 h: the BMS set should be complete in "
        "100 % of seconds with no error frames.";
    h.evidence.push_back({fmt::format("{} frames, {} error frames", inv.frames, bus.error_frames),
                          std::nullopt,
                          {},
                          inv.frames});
    if (e.uptime.share)
      h.evidence.push_back(
          {fmt::format("complete BMS set in {:.2f} % of seconds", *e.uptime.share * 100),
           std::nullopt,
           {},
           e.uptime.complete_seconds});
    out.insert(out.begin(), std::move(h));
  }
  std::stable_sort(out.begin(), out.end(), [](const Finding& a, const Finding& b) {
    if (a.severity != b.severity) return a.severity < b.severity;
    return a.score > b.score;
  });
  return out;
}

}  // namespace bmslink::diagnosis
