// Layer 4 (electrical environment): errors that follow the power path, the temperature or the
// clock, and BMS silences longer than the inverter waits. A solar day moves current, temperature
// and hour together, so the three are judged side by side and the one that explains the errors
// best is the fault; the others are named as having moved with it.

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "diagnosis/rules.h"

namespace bmslink::diagnosis::detail {
namespace {

// A band holding at least 80 % of the errors and 40 points more than its share of the time.
constexpr double kBandErrorShare = 0.8;
constexpr double kBandExcess = 0.4;
// A monotonic relation: |Spearman rho| and the quarter-to-quarter error-rate ratio.
constexpr double kRho = 0.4;
constexpr double kQuarterRatio = 3.0;
constexpr double kHourConcentration = 0.6;

bool strong(const std::optional<analysis::ErrorBand>& b) {
  return b && b->error_share >= kBandErrorShare && b->excess() >= kBandExcess;
}

struct Pattern {
  bool fired = false;
  double strength = 0.0;  // how much of the errors it explains (band excess, or |rho|)
  std::vector<std::string> lines;
};

std::string band_text(const analysis::ErrorBand& b, const char* what, const char* unit) {
  std::string range;
  if (b.open_low && !b.open_high)
    range = fmt::format("at or below {:.1f} {}", b.hi, unit);
  else if (b.open_high && !b.open_low)
    range = fmt::format("at or above {:.1f} {}", b.lo, unit);
  else
    range = fmt::format("between {:.1f} and {:.1f} {}", b.lo, b.hi, unit);
  return fmt::format("{:.0f} % of the errors while {} was {}, which was {:.0f} % of the time",
                     b.error_share * 100, what, range, b.time_share * 100);
}

// "2.40 error frames/min in the top quarter of |current| against 0.10 in the bottom (24x)", or
// "... against none in the bottom" when the quiet quarter had no errors: a ratio over nothing
// means nothing.
std::string quarters_text(const std::optional<std::pair<double, double>>& q, const char* what) {
  if (!q) return {};
  const auto [top, bottom] = *q;
  if (bottom <= 0)
    return fmt::format(
        "{:.2f} error frames/min in the top quarter of {}, none in the bottom "
        "quarter",
        top, what);
  if (top <= 0)
    return fmt::format(
        "no error frames in the top quarter of {}, {:.2f}/min in the bottom "
        "quarter",
        what, bottom);
  return fmt::format(
      "{:.2f} error frames/min in the top quarter of {} against {:.2f} in the "
      "bottom quarter ({:.1f}x)",
      top, what, bottom, top / bottom);
}

Pattern current_pattern(const analysis::CorrelationEvidence& c) {
  Pattern p;
  const double rho = c.rho_current.value_or(0);
  const bool rising = rho >= kRho && c.current_rate_ratio.value_or(0) >= kQuarterRatio;
  // Interference grows with current: a band at the lowest currents is not its signature (it is
  // night time on a solar site, and temperature or the hour will say more).
  const bool high_band = strong(c.current_band) && !c.current_band->open_low;
  p.fired = rising || high_band;
  if (!p.fired) return p;
  p.strength = std::max(high_band ? c.current_band->excess() : 0.0, std::fabs(rho) * 0.5);
  if (high_band) p.lines.push_back(band_text(*c.current_band, "|pack current|", "A"));
  if (c.rho_current)
    p.lines.push_back(
        fmt::format("Spearman rho {:.2f} between |current| and errors per minute", rho));
  if (auto q = quarters_text(c.current_quarter_rates, "|current|"); !q.empty())
    p.lines.push_back(q);
  return p;
}

Pattern temperature_pattern(const analysis::CorrelationEvidence& c) {
  Pattern p;
  const double rho = c.rho_temperature.value_or(0);
  const double ratio = c.temperature_rate_ratio.value_or(1);
  const bool rising = rho >= kRho && ratio >= kQuarterRatio;
  const bool falling = rho <= -kRho && ratio > 0 && 1.0 / ratio >= kQuarterRatio;
  p.fired = rising || falling || strong(c.temperature_band);
  if (!p.fired) return p;
  p.strength =
      std::max(c.temperature_band ? c.temperature_band->excess() : 0.0, std::fabs(rho) * 0.5);
  if (c.temperature_band)
    p.lines.push_back(band_text(*c.temperature_band, "the pack temperature", "°C"));
  if (c.rho_temperature)
    p.lines.push_back(
        fmt::format("Spearman rho {:.2f} between pack temperature and errors per "
                    "minute (more errors as it gets {})",
                    rho, rho >= 0 ? "warmer" : "colder"));
  if (auto q = quarters_text(c.temperature_quarter_rates, "temperature"); !q.empty())
    p.lines.push_back(q);
  return p;
}

Pattern hour_pattern(const analysis::CorrelationEvidence& c) {
  Pattern p;
  if (!c.hour_band || !c.busiest_hour) return p;
  const auto& b = *c.hour_band;
  p.fired = c.hour_concentration.value_or(0) >= kHourConcentration && b.excess() >= kBandExcess;
  if (!p.fired) return p;
  p.strength = b.excess();
  p.lines.push_back(fmt::format(
      "{:.0f} % of the errors between {:02d}:00 and {:02d}:00 UTC, which was {:.0f} % of the time",
      b.error_share * 100, *c.busiest_hour, (*c.busiest_hour + 3) % 24, b.time_share * 100));
  return p;
}

}  // namespace

void rule_environment_patterns(const Evidence& e, Findings& r) {
  const auto& c = e.correlation;
  const auto& bus = e.bus;
  if (r.has(Cause::kBitrateMismatch) || r.has(Cause::kNoAck) || r.has(Cause::kCanIdConflict))
    return;
  if (bus.error_frames < 20) return;
  const bool enough_minutes = c.binned_minutes >= 30;
  const Pattern cur = enough_minutes ? current_pattern(c) : Pattern{};
  const Pattern temp = enough_minutes ? temperature_pattern(c) : Pattern{};
  const Pattern hour = hour_pattern(c);
  const bool thermal = temp.fired || hour.fired;
  if (!cur.fired && !thermal) return;
  const double thermal_strength =
      std::max(temp.fired ? temp.strength : 0.0, hour.fired ? hour.strength : 0.0);
  const bool emi_wins = cur.fired && (!thermal || cur.strength >= thermal_strength);

  // One cause: over a solar day current, temperature and the hour move together, so a second
  // "correlated" cause would only repeat the first. The pattern that holds more of the errors
  // in less of the time is the cause; the other is named in it as having moved along.
  if (emi_wins) {
    auto& f =
        r.add(Cause::kEmiPowerCorrelated, Severity::kFault, 0.6 + 0.3 * std::min(1.0, cur.strength),
              "Bus errors rise with pack current: interference from the power path",
              "Route the CAN cable away from DC and AC power cables (cross at right angles), "
              "use shielded twisted pair grounded at one end, add ferrites, keep the run "
              "under 5 m near the inverter, or fit an isolated CAN transceiver.");
    for (const auto& line : cur.lines) f.evidence.push_back({line, std::nullopt, {}, std::nullopt});
    if (thermal) {
      const Pattern& other =
          temp.fired && (!hour.fired || temp.strength >= hour.strength) ? temp : hour;
      f.evidence.push_back(
          {fmt::format("{} moved together with current here but explains the errors less well "
                       "(its errors are spread over more of the time); not a second cause:",
                       &other == &temp ? "Temperature" : "The time of day"),
           std::nullopt,
           {},
           std::nullopt});
      for (const auto& line : other.lines)
        f.evidence.push_back({"  " + line, std::nullopt, {}, std::nullopt});
    }
    return;
  }
  auto& f = r.add(Cause::kThermalOrTimePattern, Severity::kFault,
                  0.6 + 0.3 * std::min(1.0, thermal_strength),
                  "Bus errors follow temperature or the time of day",
                  "Look for what changes at those temperatures or hours: terminals that loosen "
                  "when cold or warm (re-torque), condensation in a connector on cold mornings, "
                  "a connector in the sun, a pump/heater on the same supply; check the "
                  "connections again at that time.");
  const bool temp_first = temp.fired && (!hour.fired || temp.strength >= hour.strength);
  const Pattern& first = temp_first ? temp : hour;
  const Pattern& second = temp_first ? hour : temp;
  // The hour band is given in UTC in the text; its first occurrence carries a time so reports
  // show it in the reader's zone too.
  const auto at_of = [&c](const Pattern& p, const Pattern& h) -> std::optional<std::int64_t> {
    return &p == &h ? c.hour_band_first_ns : std::nullopt;
  };
  for (const auto& line : first.lines)
    f.evidence.push_back({line, at_of(first, hour), {}, std::nullopt});
  if (second.fired) {
    f.evidence.push_back(
        {fmt::format("Temperature and time of day moved together; {} explains the errors "
                     "better (it holds more of them in less of the time)",
                     temp_first ? "temperature" : "the hour"),
         std::nullopt,
         {},
         std::nullopt});
    for (const auto& line : second.lines)
      f.evidence.push_back({"  " + line, at_of(second, hour), {}, std::nullopt});
  }
  if (cur.fired) {
    f.evidence.push_back(
        {std::string("Pack current moved together with it but explains the errors less well "
                     "(its errors are spread over more of the time); not a second cause:"),
         std::nullopt,
         {},
         std::nullopt});
    for (const auto& line : cur.lines)
      f.evidence.push_back({"  " + line, std::nullopt, {}, std::nullopt});
  }
}

void rule_intermittent_dropouts(const Evidence& e, Findings& r) {
  const auto& up = e.uptime;
  if (!e.timed || e.timing.bms_frames == 0 || up.dropout_count == 0) return;
  const bool explained = r.has(Cause::kNoAck) || r.has(Cause::kBitrateMismatch);
  auto& f = r.add(
      Cause::kIntermittentDropouts, explained ? Severity::kWarning : Severity::kFault,
      explained ? 0.4 : std::min(0.9, 0.68 + 0.02 * static_cast<double>(up.dropout_count)),
      fmt::format("The BMS goes silent {} time(s) for longer than the inverter's {:.0f} s timeout",
                  up.dropout_count, static_cast<double>(up.timeout_ns) / 1e9),
      "Layer 4 (electrical environment): compare the dropout times with what happened then "
      "(load or inverter switching, heat, time of day); measure the voltage between battery "
      "negative and inverter chassis under load (over 0.2 V: lift CAN-GND at the battery end, "
      "ground the shield at one end only) and keep the CAN cable 10 cm from power cables. If "
      "nothing lines up, go back to layer 2 with a wiggle test on connectors and terminals "
      "while capturing. Verify with a 24 h capture at 100 % uptime.");
  // The ids of the stream measured: 0x351, or every BMS id when the capture has no 0x351.
  std::vector<std::string> ids =
      up.dropout_stream == "0x351" ? std::vector<std::string>{"0x351"} : hex_all(e.timing.bms_ids);
  for (std::size_t i = 0; i < up.dropouts.size() && i < 5; ++i) {
    f.evidence.push_back(
        {fmt::format("{} silent for {}", up.dropout_stream, seconds(up.dropouts[i].length_ns)),
         up.dropouts[i].start_ns, ids, std::nullopt});
  }
  if (up.share)
    f.evidence.push_back({fmt::format("complete BMS set in {:.2f} % of seconds, longest outage {}",
                                      *up.share * 100, seconds(up.longest_outage_ns)),
                          std::nullopt,
                          {},
                          up.complete_seconds});
}

}  // namespace bmslink::diagnosis::detail
