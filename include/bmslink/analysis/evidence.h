// bmslink analysis: the typed facts a capture yields, for the diagnosis to reason over.
//
// Evidence is what the streaming analyzers (capture_analyzer.h) leave behind once the last frame
// is read: plain data, no thresholds applied beyond what defines a measurement (a gap "longer than
// the inverter timeout"). The diagnosis module turns it into findings; the report module draws it.
// Every time is in ns on the capture's clock; every list is bounded.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bmslink/analysis/inventory.h"
#include "bmslink/capture/reader.h"
#include "bmslink/protocol/identify.h"

namespace bmslink::analysis {

// Which side of the battery-inverter conversation an id belongs to. The protocol definition says
// it (the transmitter of each DBC message, see SideMap); side_by_range() is the fallback for ids a
// definition does not list: the fact sheet's BMS (0x350-0x382) and inverter (0x300-0x30F) ranges.
enum class Side : std::uint8_t { kOther, kBms, kInverter };
std::string_view side_name(Side side);  // "other", "bms", "inverter"
Side side_by_range(std::uint32_t id, bool extended);

// What a plausibility check found wrong with the values (the diagnosis maps each to a cause).
enum class PlausibilityKind : std::uint8_t { kEndianness, kScaling, kInvalid, kMissing };
std::string_view plausibility_kind_name(PlausibilityKind kind);  // "endianness", ...

// How serious an active BMS state flag is.
enum class StateLevel : std::uint8_t { kNone, kProtection, kAlarm, kWarning, kDisabled, kRequest };
std::string_view state_level_name(StateLevel level);  // "protection", "alarm", ...

struct Gap {
  std::int64_t start_ns = 0;  // last frame before the silence
  std::int64_t length_ns = 0;
};

struct TimingEvidence {
  std::vector<std::uint32_t> bms_ids;       // keys seen, BMS side (0x350-0x382)
  std::vector<std::uint32_t> inverter_ids;  // keys seen, inverter side (0x300-0x30F)
  std::vector<std::uint32_t> other_ids;
  std::uint64_t bms_frames = 0;
  std::uint64_t inverter_frames = 0;
  std::uint64_t other_frames = 0;
  std::optional<double> bms_period_ms;  // median period of the BMS ids
};

struct AckEvidence {
  std::uint64_t no_ack_errors = 0;  // error frames of class "no ACK"
  std::uint64_t back_to_back = 0;   // data frames repeating the previous frame within 2 ms
  std::uint32_t longest_repeat_run = 0;
  std::uint32_t repeated_id = 0;  // key of the id repeated most
  std::optional<std::int64_t> first_repeat_ns;
  // The capture cannot show missing ACKs when every frame comes from one node and none repeats:
  // an adapter that is not listen-only acknowledges that node itself.
  bool ack_visible = true;
};

struct BusErrorEvidence {
  std::uint64_t error_frames = 0;
  std::map<std::string, std::uint64_t> by_kind;  // "no-ack", "bus-off", "stuff", "form", ...
  std::uint64_t bus_off = 0;
  std::uint64_t error_passive = 0;
  std::uint64_t error_warning = 0;
  std::uint64_t protocol_violations = 0;  // stuff/form/bit errors: what a wrong bit rate makes
  std::optional<std::uint8_t> max_tec;
  std::optional<std::uint8_t> max_rec;
  double errors_per_minute = 0.0;  // over the timed span
  std::optional<double> peak_errors_per_minute;
  std::optional<double> bus_load;  // 0..1 at the assumed bit rate, busiest second
  std::optional<double> mean_bus_load;
  std::optional<std::int64_t> first_error_ns;
  std::uint32_t bitrate_bps = 500000;  // the bit rate bus load was computed at
};

struct IdConflict {
  std::uint32_t key = 0;
  double rate_ratio = 0.0;         // frames against cycles: 2 when every cycle carries it twice
  double alternation = 0.0;        // share of payloads equal to the one two frames back, not one
  std::uint64_t errors_after = 0;  // error frames right behind a frame of this id
  // Every id arriving twice per cycle (the second sender's whole set, most with identical
  // payloads), and the error frames right behind any of them: the conflict's collisions.
  std::vector<std::uint32_t> doubled_ids;
  std::uint64_t doubled_errors_after = 0;
};

struct PlausibilityIssue {
  PlausibilityKind kind = PlausibilityKind::kInvalid;
  std::string subject;  // signal or id, e.g. "discharge_current_limit", "0x355"
  std::string detail;   // human-readable: the value and what was expected
  bool severe = true;   // false: worth a look, the inverter is unlikely to misbehave
};

// How the pack current followed the BMS's limits, second by second: the field guide's sign of an
// inverter set to the wrong protocol ("connects but ignores all dynamic limits").
enum class LimitBreachKind : std::uint8_t {
  kChargeOverLimit,     // charging above the charge current limit (0x351)
  kDischargeOverLimit,  // discharging above the discharge current limit
  kChargeWhileDisabled  // charging while 0x35C says charge disabled
};
std::string_view limit_breach_name(LimitBreachKind kind);  // "charge_over_limit", ...

struct LimitBreach {
  LimitBreachKind kind = LimitBreachKind::kChargeOverLimit;
  std::uint64_t seconds = 0;  // seconds beyond the limit and the tolerance
  std::uint64_t longest_s = 0;
  std::int64_t longest_start_ns = 0;
  double worst_current_a = 0.0;  // magnitude of the pack current at the worst second
  double limit_a = 0.0;          // the limit in force then (0 when charge is disabled)
  std::int64_t worst_ns = 0;
};

struct LimitFollowingEvidence {
  static constexpr double kToleranceA = 5.0;        // shunt error and regulation overshoot
  static constexpr double kToleranceShare = 0.10;   // of the limit, when that is larger
  static constexpr std::uint64_t kPersistS = 30;    // an inverter settles within seconds
  static constexpr std::int64_t kLimitStaleS = 60;  // a limit older than this is not in force
  std::uint64_t judged_seconds = 0;   // seconds with a current reading and a limit in force
  std::vector<LimitBreach> breaches;  // kinds with any second over, in enum order
};

struct StateEvidence {
  struct Active {
    std::uint32_t key = 0;  // message id
    std::string signal;     // "protection_cell_over_voltage", "charge_enable" (disabled) ...
    StateLevel level = StateLevel::kNone;
    std::uint64_t frames = 0;
    std::optional<std::int64_t> first_ns;
    std::optional<std::int64_t> last_ns;
  };
  std::vector<Active> active;      // most frames first
  std::uint64_t state_frames = 0;  // frames of the messages carrying state
};

// A range of one variable (temperature °C, |current| A, hour of day) that holds a larger share of
// the errors than of the time: [lo, hi] inclusive over per-minute means (hours: from lo for 3 h).
struct ErrorBand {
  double lo = 0.0;
  double hi = 0.0;
  double error_share = 0.0;  // errors in the band / all errors
  double time_share = 0.0;   // minutes in the band / all minutes with a reading
  std::uint64_t errors = 0;
  std::uint64_t minutes = 0;
  bool open_low = false;   // starts at the lowest reading: "at or below hi"
  bool open_high = false;  // ends at the highest reading: "at or above lo"
  // error_share - time_share: 0 when errors ignore the variable, near 1 when they all fall in a
  // small band.
  double excess() const { return error_share - time_share; }
};

struct CorrelationEvidence {
  std::uint64_t binned_minutes = 0;          // minutes with both errors counted and a reading
  std::optional<double> rho_current;         // Spearman: errors per minute vs mean |pack current|
  std::optional<double> rho_temperature;     // vs mean pack temperature
  std::optional<double> current_rate_ratio;  // error rate, top vs bottom quarter of |current|
  std::optional<double> temperature_rate_ratio;  // same by temperature
  // The rates behind those ratios (errors per minute in the top and bottom quarter), so a quiet
  // bottom quarter reads "none" rather than as a huge ratio.
  std::optional<std::pair<double, double>> current_quarter_rates;
  std::optional<std::pair<double, double>> temperature_quarter_rates;
  std::optional<double> hour_concentration;  // share of errors in the busiest 3-hour window
  std::optional<int> busiest_hour;           // UTC hour the window starts at
  double hours_covered = 0.0;
  // The band of each variable where errors concentrate most (threshold or middle band, either
  // direction): cold mornings, hot afternoons, high current.
  std::optional<ErrorBand> temperature_band;
  std::optional<ErrorBand> current_band;
  std::optional<ErrorBand> hour_band;  // the busiest 3-hour window
  // Error rate (per minute) by |current| band and by hour of day, for the report.
  std::vector<std::pair<double, double>> rate_by_current;      // (band centre A, errors/min)
  std::vector<std::pair<double, double>> rate_by_temperature;  // (band centre °C, errors/min)
  std::optional<std::int64_t> hour_band_first_ns;  // first time the capture is in the hour band
  std::vector<double> errors_by_hour;              // 24 entries when absolute time
};

struct UptimeEvidence {
  std::vector<std::uint32_t> set;  // ids that make a complete BMS set
  std::uint64_t seconds = 0;       // seconds of the timed span
  std::uint64_t complete_seconds = 0;
  std::optional<double> share;  // complete / seconds; none when it cannot be judged:
  std::string not_judged;       // why not, in words (empty when judged or untimed)
  std::int64_t timeout_ns = 0;  // the inverter timeout gaps are measured against
  std::vector<Gap> dropouts;    // gaps of the limits frame (or the BMS set) over the timeout
  std::string dropout_stream;   // "0x351", or "BMS frames" when the capture has no 0x351
  std::uint64_t dropout_count = 0;
  std::int64_t longest_outage_ns = 0;
  std::vector<Gap> longest_silences;  // the few longest silences of any length, longest first
  // A silence still going on at the last clock tick (live sources): from the last frame of the
  // stream to the tick. Counted among the dropouts when longer than the timeout.
  std::optional<Gap> open_silence;
};

struct SignalStats {
  std::string name;
  std::string unit;
  std::uint32_t key = 0;
  std::uint64_t count = 0;
  double min = 0.0;
  double max = 0.0;
  double last = 0.0;
  std::string text;  // text signals: the last text
  // Names of min, last and max in the signal's value table (VAL_: "ok", "active", "not
  // supported"); empty when it has none or the value is not in it.
  std::string min_label, last_label, max_label;
};

// Per-minute series for timelines: mean values where the BMS reported them.
struct MinuteBin {
  std::int64_t start_ns = 0;
  std::uint32_t frames = 0;
  std::uint32_t errors = 0;
  std::uint64_t id_mask = 0;  // tracked ids present (see tracked_id_bit)
  std::optional<double> voltage_v;
  std::optional<double> current_a;
  std::optional<double> temperature_c;
  std::optional<double> soc;
  // The BMS's current limits (0x351) in the minute, for drawing the current against them.
  std::optional<double> ccl_a;
  std::optional<double> dcl_a;
};

struct Evidence {
  Inventory inventory;
  protocol::Identification protocol;
  bool timed = false;
  bool absolute_time = false;
  double duration_s = 0.0;
  TimingEvidence timing;
  AckEvidence ack;
  BusErrorEvidence bus;
  std::vector<IdConflict> conflicts;
  std::vector<PlausibilityIssue> plausibility;
  LimitFollowingEvidence limit_following;
  StateEvidence state;
  CorrelationEvidence correlation;
  UptimeEvidence uptime;
  std::vector<SignalStats> signals;  // in message then signal order
  std::vector<MinuteBin> minutes;    // bounded: coarsened beyond kMaxMinuteBins
  std::uint32_t minute_width_s = 60;
  std::uint64_t bursts_seen = 0;  // BMS bursts (cycles) observed, for "is this capture partial"
  // Several files read as one capture: the time between files no file covers. The not-recorded
  // ones are taken out of the dropouts and of the uptime's seconds (apply_file_gaps).
  std::vector<capture::FileGap> file_gaps;
};

// Takes the not-recorded gaps between files out of the uptime: a silence that spans one is
// shortened by it (and no longer a dropout if what is left is within the timeout), and its
// seconds are not counted as seconds without a complete BMS set.
void apply_file_gaps(Evidence& evidence, const std::vector<capture::FileGap>& gaps);

// Ids drawn in the report's presence chart: BMS 0x350-0x35F, 0x370-0x37F, 0x360, 0x380-0x382,
// inverter 0x300-0x30F. Returns the bit in MinuteBin::id_mask, or -1.
int tracked_id_bit(std::uint32_t id, bool extended);
std::uint32_t tracked_bit_id(int bit);

}  // namespace bmslink::analysis
