// nlohmann's macros write and read every member by name; the enums go through their name tables.
// nlohmann reports a wrong type with an exception: caught here, at the edge of this module, and
// returned as an Error.

#include "bmslink/diagnosis/serialize.h"

#include <cmath>
#include <optional>
#include <string_view>

#include <fmt/format.h>

namespace nlohmann {
template <typename T>
struct adl_serializer<std::optional<T>> {
  static void to_json(json& j, const std::optional<T>& v) {
    if (v)
      j = *v;
    else
      j = nullptr;
  }
  static void from_json(const json& j, std::optional<T>& v) {
    if (j.is_null())
      v.reset();
    else
      v = j.get<T>();
  }
};
}  // namespace nlohmann

namespace bmslink {

NLOHMANN_JSON_SERIALIZE_ENUM(TimeKind, {{TimeKind::kNone, "none"},
                                        {TimeKind::kAbsolute, "absolute"},
                                        {TimeKind::kRelative, "relative"}})

namespace protocol {
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Identification, family, variant, manufacturer,
                                                product, inverter, confidence, reasons, ambiguities,
                                                protocol)
}  // namespace protocol

namespace analysis {

NLOHMANN_JSON_SERIALIZE_ENUM(PlausibilityKind, {{PlausibilityKind::kEndianness, "endianness"},
                                                {PlausibilityKind::kScaling, "scaling"},
                                                {PlausibilityKind::kInvalid, "invalid"},
                                                {PlausibilityKind::kMissing, "missing"}})
NLOHMANN_JSON_SERIALIZE_ENUM(StateLevel, {{StateLevel::kNone, ""},
                                          {StateLevel::kProtection, "protection"},
                                          {StateLevel::kAlarm, "alarm"},
                                          {StateLevel::kWarning, "warning"},
                                          {StateLevel::kDisabled, "disabled"},
                                          {StateLevel::kRequest, "request"}})

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(IdStats, id, extended, count, period_ms, jitter_ms,
                                                max_gap_ms, min_len, max_len, payload_changes,
                                                last_data, last_len, per_cycle)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Talker, ids, period_ms, burst_span_ms)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Inventory, frames, data_frames, remote_frames,
                                                error_frames, fd_frames, extended_frames,
                                                untimed_frames, ids_beyond_cap, time_kind, first_ns,
                                                last_ns, ids, talkers, errors, channels,
                                                backward_steps, largest_backward_ns,
                                                first_backward_ns)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Gap, start_ns, length_ns)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(TimingEvidence, bms_ids, inverter_ids, other_ids,
                                                bms_frames, inverter_frames, other_frames,
                                                bms_period_ms)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(AckEvidence, no_ack_errors, back_to_back,
                                                longest_repeat_run, repeated_id, first_repeat_ns,
                                                ack_visible)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(BusErrorEvidence, error_frames, by_kind, bus_off,
                                                error_passive, error_warning, protocol_violations,
                                                max_tec, max_rec, errors_per_minute,
                                                peak_errors_per_minute, bus_load, mean_bus_load,
                                                first_error_ns, bitrate_bps)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(IdConflict, key, rate_ratio, alternation,
                                                errors_after, doubled_ids, doubled_errors_after)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(PlausibilityIssue, kind, subject, detail, severe)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(StateEvidence::Active, key, signal, level, frames,
                                                first_ns, last_ns)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(StateEvidence, active, state_frames)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ErrorBand, lo, hi, error_share, time_share, errors,
                                                minutes, open_low, open_high)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(
    CorrelationEvidence, binned_minutes, rho_current, rho_temperature, current_rate_ratio,
    temperature_rate_ratio, hour_concentration, busiest_hour, hours_covered, temperature_band,
    current_band, hour_band, rate_by_current, errors_by_hour, current_quarter_rates,
    temperature_quarter_rates, rate_by_temperature, hour_band_first_ns)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(UptimeEvidence, set, seconds, complete_seconds,
                                                share, timeout_ns, dropouts, dropout_stream,
                                                dropout_count, longest_outage_ns, open_silence,
                                                not_judged)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(SignalStats, name, unit, key, count, min, max, last,
                                                text, min_label, last_label, max_label)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(MinuteBin, start_ns, frames, errors, id_mask,
                                                voltage_v, current_a, temperature_c, soc, ccl_a,
                                                dcl_a)
NLOHMANN_JSON_SERIALIZE_ENUM(LimitBreachKind,
                             {{LimitBreachKind::kChargeOverLimit, "charge_over_limit"},
                              {LimitBreachKind::kDischargeOverLimit, "discharge_over_limit"},
                              {LimitBreachKind::kChargeWhileDisabled, "charge_while_disabled"}})
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(LimitBreach, kind, seconds, longest_s,
                                                longest_start_ns, worst_current_a, limit_a,
                                                worst_ns)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(LimitFollowingEvidence, judged_seconds, breaches)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Evidence, inventory, protocol, timed, absolute_time,
                                                duration_s, timing, ack, bus, conflicts,
                                                plausibility, limit_following, state, correlation,
                                                uptime, signals, minutes, minute_width_s,
                                                bursts_seen)

}  // namespace analysis

namespace diagnosis {

// Layers travel as their number (1-5), as in the analyze JSON.
void to_json(nlohmann::json& j, const Layer& layer) { j = layer_number(layer); }
void from_json(const nlohmann::json& j, Layer& layer) {
  const auto l = layer_from_number(j.get<int>());
  if (!l) throw nlohmann::json::other_error::create(501, "layer must be 1-5", &j);
  layer = *l;
}
void to_json(nlohmann::json& j, const Cause& cause) { j = std::string(cause_id(cause)); }
void from_json(const nlohmann::json& j, Cause& cause) {
  const auto c = parse_cause(j.get<std::string>());
  if (!c) throw nlohmann::json::other_error::create(501, "unknown cause id", &j);
  cause = *c;
}
void to_json(nlohmann::json& j, const Severity& s) { j = std::string(severity_name(s)); }
void from_json(const nlohmann::json& j, Severity& s) {
  const auto v = parse_severity(j.get<std::string>());
  if (!v)
    throw nlohmann::json::other_error::create(501, "severity must be fault, warning or info", &j);
  s = *v;
}

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(EvidenceItem, text, at_ns, ids, count)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Finding, cause, layer, severity, score, title,
                                                evidence, fix)

namespace {

// nlohmann converts a JSON float to an integer member with a plain cast, which is undefined
// behaviour when the value does not fit (found by fuzzing: a layer of 2e127). bmslink writes
// integers as JSON integers, so a float is only accepted where the member is a double, or where
// it is a whole number inside the member's range.
bool is_double_key(std::string_view k) {
  static constexpr std::string_view kDoubles[] = {"confidence",
                                                  "period_ms",
                                                  "jitter_ms",
                                                  "max_gap_ms",
                                                  "burst_span_ms",
                                                  "bms_period_ms",
                                                  "errors_per_minute",
                                                  "peak_errors_per_minute",
                                                  "bus_load",
                                                  "mean_bus_load",
                                                  "rate_ratio",
                                                  "alternation",
                                                  "lo",
                                                  "hi",
                                                  "error_share",
                                                  "worst_current_a",
                                                  "ccl_a",
                                                  "dcl_a",
                                                  "current_quarter_rates",
                                                  "temperature_quarter_rates",
                                                  "rate_by_temperature",
                                                  "limit_a",
                                                  "time_share",
                                                  "rho_current",
                                                  "rho_temperature",
                                                  "current_rate_ratio",
                                                  "temperature_rate_ratio",
                                                  "hour_concentration",
                                                  "hours_covered",
                                                  "rate_by_current",
                                                  "errors_by_hour",
                                                  "share",
                                                  "min",
                                                  "max",
                                                  "last",
                                                  "voltage_v",
                                                  "current_a",
                                                  "temperature_c",
                                                  "soc",
                                                  "duration_s",
                                                  "score"};
  for (auto d : kDoubles)
    if (d == k) return true;
  return false;
}

struct IntRange {
  double lo, hi;  // inclusive lower, exclusive upper
};

IntRange int_range(std::string_view k) {
  for (auto b : {"min_len", "max_len", "last_len", "max_tec", "max_rec", "last_data"})
    if (k == b) return {0.0, 256.0};
  if (k == "busiest_hour" || k == "layer") return {-2147483648.0, 2147483648.0};
  if (k.ends_with("_ns")) return {-9223372036854775808.0, 9223372036854775808.0};
  return {0.0, 4294967296.0};  // uint32 members; uint64 counters never need a float
}

std::optional<std::string> check_numbers(const nlohmann::json& j, std::string_view key) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items())
      if (auto bad = check_numbers(v, k)) return bad;
  } else if (j.is_array()) {
    for (const auto& v : j)
      if (auto bad = check_numbers(v, key)) return bad;
  } else if (j.is_number_float()) {
    const double v = j.get<double>();
    if (!std::isfinite(v)) return fmt::format("\"{}\": {} is not a finite number", key, v);
    if (is_double_key(key)) return std::nullopt;
    const IntRange r = int_range(key);
    if (v != std::trunc(v) || v < r.lo || v >= r.hi)
      return fmt::format("\"{}\": expected a whole number in range, got {}", key, v);
  }
  return std::nullopt;
}

template <typename T>
Result<T> read(const nlohmann::json& j, const char* what) {
  if (auto bad = check_numbers(j, ""))
    return make_error(ErrorCode::kMalformed, fmt::format("{}: {}", what, *bad));
  try {
    return j.get<T>();
  } catch (const nlohmann::json::exception& e) {
    return make_error(ErrorCode::kMalformed, fmt::format("{}: {}", what, e.what()));
  }
}

}  // namespace

nlohmann::json evidence_to_json(const analysis::Evidence& e) { return e; }
Result<analysis::Evidence> evidence_from_json(const nlohmann::json& j) {
  return read<analysis::Evidence>(j, "evidence");
}
nlohmann::json findings_to_json(const std::vector<Finding>& f) { return f; }
Result<std::vector<Finding>> findings_from_json(const nlohmann::json& j) {
  return read<std::vector<Finding>>(j, "findings");
}
nlohmann::json identification_to_json(const protocol::Identification& i) { return i; }
Result<protocol::Identification> identification_from_json(const nlohmann::json& j) {
  return read<protocol::Identification>(j, "identification");
}

}  // namespace diagnosis
}  // namespace bmslink
