// Frames of one simulated second are collected, sorted by time and emitted, so emulators can be
// written independently (BMS burst, inverter answer, fault side effects) and still interleave.

#include "bmslink/sim/site.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <numbers>
#include <optional>
#include <random>

#include <fmt/format.h>

#include "bmslink/can/error_frame.h"
#include "bmslink/protocol/builtin.h"
#include "bmslink/protocol/decoder.h"

namespace bmslink::sim {

std::string_view variant_name(Variant v) {
  switch (v) {
    case Variant::kVictron:
      return "victron";
    case Variant::kSma:
      return "sma";
    case Variant::kPylon:
      break;
  }
  return "pylon";
}

const std::vector<std::string_view>& fault_names() {
  static const std::vector<std::string_view> kNames = {
      "healthy",
      "inverter_protocol_mismatch",
      "bitrate_mismatch",
      "bms_silent",
      "can_id_conflict",
      "no_ack",
      "bus_errors",
      "emi_power_correlated",
      "thermal_or_time_pattern",
      "intermittent_dropouts",
      "endianness_mismatch",
      "scaling_mismatch",
      "invalid_values",
      "missing_required_frames",
      "unknown_protocol",
      "bms_protection_active",
      "limits_ignored",
  };
  return kNames;
}

std::string_view fault_cause(std::string_view fault) {
  if (fault == "limits_ignored") return "inverter_protocol_mismatch";
  return fault;
}

namespace {

constexpr std::int64_t kNsPerS = 1'000'000'000;
constexpr std::int64_t kFrameGapNs = 260'000;  // one 8-byte frame at 500 kbit/s plus a little

struct Pack {
  double soc = 55.0;
  double current_a = 0.0;
  double temperature_c = 20.0;
  double voltage_v = 52.0;
  double load_until_s = -1.0;
  double load_a = 0.0;
};

class Site {
 public:
  Site(const SiteOptions& o, const protocol::Database& db)
      : o_(o), rng_(o.seed * 0x9E3779B97F4A7C15ULL + 17), decoder_(db) {
    pack_.soc = std::uniform_real_distribution<double>(40, 70)(rng_);
    pack2_.soc = pack_.soc - 12.0;
    // Fault windows that depend on the seed but always fall inside the capture.
    const double d = o.duration_s;
    std::uniform_real_distribution<double> u(0.1, 0.6);
    protect_from_ = d * u(rng_);
    protect_to_ = protect_from_ + std::max(30.0, d * 0.15);
    const int n_drop = 2 + static_cast<int>(rng_() % 3);
    for (int i = 0; i < n_drop; ++i) {
      const double at = d * (0.1 + 0.8 * (i + 0.5) / n_drop);
      // 5-25 s at strength 1; the fault strength scales the length.
      drops_.emplace_back(
          at, at + std::uniform_real_distribution<double>(5, 25)(rng_) * o.fault_strength);
    }
    ack_errors_ = (o.seed % 2) == 1;
  }

  // The frames of the next simulated second, in time order; false after the last second.
  bool next_second(std::vector<can::Frame>& out) {
    const auto seconds = static_cast<std::int64_t>(std::ceil(o_.duration_s));
    out.clear();
    if (at_second_ >= seconds) return false;
    const std::int64_t s = at_second_++;
    step(static_cast<double>(s));
    second(s, out);
    std::stable_sort(out.begin(), out.end(), [](const can::Frame& a, const can::Frame& b) {
      return a.timestamp_ns < b.timestamp_ns;
    });
    const std::int64_t end = o_.start_ns + static_cast<std::int64_t>(o_.duration_s * 1e9);
    while (!out.empty() && out.back().timestamp_ns >= end) out.pop_back();
    return true;
  }
  // The simulated clock: the end of the last second produced.
  std::int64_t clock_ns() const { return o_.start_ns + at_second_ * kNsPerS; }

  void run(const std::function<void(const can::Frame&)>& emit, std::uint64_t& count) {
    std::vector<can::Frame> out;
    while (next_second(out)) {
      for (const auto& f : out) {
        emit(f);
        ++count;
      }
    }
  }

 private:
  double gauss(double sd) { return std::normal_distribution<double>(0.0, sd)(rng_); }
  double uniform(double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng_); }
  bool chance(double p) { return uniform(0, 1) < p; }

  double hour_of_day(double s) const {
    const double abs_s = static_cast<double>(o_.start_ns / kNsPerS) + s;
    return std::fmod(abs_s / 3600.0, 24.0);
  }

  // Solar charging by day, household load events (kettle, oven, pump) at random, noise.
  void step(double s) {
    const double h = hour_of_day(s);
    const double solar = std::max(0.0, std::sin(std::numbers::pi * (h - 7.0) / 12.0)) * 40.0;
    if (s >= pack_.load_until_s && chance(1.0 / 1800.0)) {
      pack_.load_until_s = s + uniform(180, 720);
      pack_.load_a = uniform(70, 130);
    }
    const double load = s < pack_.load_until_s ? pack_.load_a : 6.0;
    double cur = solar - load + gauss(1.5);
    if (pack_.soc > 98 && cur > 0) cur = 0.5;
    if (pack_.soc < 8 && cur < 0) cur = -0.5;
    const Limits lim = limits_at(s);
    if (o_.fault == "limits_ignored") {
      // Set to a voltage-only battery type, the inverter bulk-charges whatever 0x351 and 0x35C
      // say: 20 A beyond the limit in force (0 when charge is disabled) at strength 1.
      cur = (lim.charge_enabled ? lim.ccl_a : 0.0) + 20.0 * o_.fault_strength + gauss(1.5);
    } else {
      cur = std::clamp(cur, -lim.dcl_a, lim.charge_enabled ? lim.ccl_a : 0.0);
    }
    pack_.current_a = cur;
    pack_.soc = std::clamp(pack_.soc + cur / 3600.0 / 200.0 * 100.0, 5.0, 100.0);
    // 16S LFP: ~50 V empty .. ~54.4 V full, IR rise while charging.
    pack_.voltage_v = 49.6 + 0.046 * pack_.soc + 0.01 * cur + gauss(0.01);
    const double ambient = 19.0 + o_.ambient_offset_c +
                           11.0 * std::max(0.0, std::sin(std::numbers::pi * (h - 9.0) / 12.0));
    pack_.temperature_c += (ambient - pack_.temperature_c) * 0.01 + gauss(0.02);
    pack2_.current_a = cur * 0.9 + gauss(1.0);
    pack2_.voltage_v = pack_.voltage_v - 0.3;
    pack2_.temperature_c = pack_.temperature_c + 1.5;
  }

  can::Frame encode(std::uint32_t id, const std::vector<protocol::SignalInput>& in,
                    std::int64_t t) {
    const auto* md = decoder_.find(id, false);
    can::Frame f;
    if (md == nullptr) {
      if (!error_)
        error_ = Error{ErrorCode::kInvalidArgument, fmt::format("no definition for 0x{:03X}", id)};
    } else if (auto r = md->encode(in)) {
      f = *r;
    } else if (!error_) {
      error_ = r.error();
    }
    f.id = id;
    f.timestamp_ns = t;
    f.time_kind = TimeKind::kAbsolute;
    f.channel = "can0";
    return f;
  }

  static void swap16(can::Frame& f, std::size_t first, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) {
      const std::size_t at = first + 2 * i;
      if (at + 1 < f.len) std::swap(f.data[at], f.data[at + 1]);
    }
  }

  struct Limits {
    double ccl_a = 100.0;
    double dcl_a = 100.0;
    bool charge_enabled = true;
  };
  // What the BMS allows at second s. The limits_ignored site's BMS is derated to 25 A charge and
  // stops charging (pack full) in one window; the inverter ignores both.
  Limits limits_at(double s) const {
    Limits l;
    if (o_.fault == "limits_ignored") {
      const bool full = s >= protect_from_ && s < protect_to_;
      l.ccl_a = full ? 0.0 : 25.0;
      l.charge_enabled = !full;
      return l;
    }
    if (protecting(s)) {
      l.ccl_a = 0.0;
      l.charge_enabled = false;
    }
    return l;
  }

  bool protecting(double s) const {
    return o_.fault == "bms_protection_active" && s >= protect_from_ && s < protect_to_;
  }
  bool dropped(double s) const {
    if (o_.fault != "intermittent_dropouts") return false;
    return std::any_of(drops_.begin(), drops_.end(),
                       [s](const auto& w) { return s >= w.first && s < w.second; });
  }

  // The BMS's set for one cycle, in the order the real device sends it.
  std::vector<can::Frame> bms_set(const Pack& p, double s, std::int64_t t) {
    const bool protect = protecting(s);
    const bool invalid = o_.fault == "invalid_values";
    const bool scaled = o_.fault == "scaling_mismatch";
    const double cvl = 55.2, dvl = 48.0;
    const Limits lim = limits_at(s);
    const double ccl = lim.ccl_a;
    const double dcl = invalid ? -10.0 : lim.dcl_a;
    std::vector<protocol::SignalInput> limits = {
        {"charge_voltage_limit", scaled ? cvl * 10 : cvl, {}},
        {"charge_current_limit", ccl, {}},
        {"discharge_current_limit", dcl, {}},
        {"discharge_voltage_limit", scaled ? dvl * 10 : dvl, {}}};
    const double soc = std::round(p.soc);
    std::vector<protocol::SignalInput> socs = {{"soc", soc, {}}, {"soh", 98, {}}};
    if (o_.variant != Variant::kPylon)
      socs.push_back({"soc_high_resolution", std::round(p.soc * 100) / 100, {}});
    const std::vector<protocol::SignalInput> meas = {
        {"pack_voltage", std::round(p.voltage_v * 100) / 100, {}},
        {"pack_current", std::round(p.current_a * 10) / 10, {}},
        {"pack_temperature", std::round(p.temperature_c * 10) / 10, {}}};
    std::vector<can::Frame> set;
    std::int64_t at = t;
    auto push = [&](can::Frame f) {
      f.timestamp_ns = at;
      at += kFrameGapNs + static_cast<std::int64_t>(uniform(0, 40'000));
      set.push_back(f);
    };
    const bool missing = o_.fault == "missing_required_frames";
    if (o_.variant == Variant::kPylon) {
      push(encode(0x359,
                  {{"protection_cell_over_voltage", protect ? 1.0 : 0.0, {}},
                   {"alarm_cell_high_voltage", protect ? 1.0 : 0.0, {}},
                   {"module_count", 4, {}},
                   {"protocol_marker", 0, "PN"}},
                  at));
      push(encode(0x351, limits, at));
      if (!missing) push(encode(0x355, socs, at));
      push(encode(0x356, meas, at));
      push(encode(
          0x35C,
          {{"charge_enable", lim.charge_enabled ? 1.0 : 0.0, {}}, {"discharge_enable", 1, {}}},
          at));
      push(encode(0x35E, {{"manufacturer", 0, "PYLON"}}, at));
    } else {
      push(encode(0x351, limits, at));
      if (!missing) push(encode(0x355, socs, at));
      push(encode(0x356, meas, at));
      std::vector<protocol::SignalInput> alarms;
      for (const char* n : {"alarm_general", "alarm_high_voltage", "alarm_low_voltage",
                            "alarm_high_temperature", "warning_general", "warning_high_voltage"}) {
        const bool on = protect && std::string_view(n) == "alarm_high_voltage";
        alarms.push_back({n, on ? 1.0 : 2.0, {}});
      }
      push(encode(0x35A, alarms, at));
      if (o_.variant == Variant::kSma) push(encode(0x35B, {}, at));
      push(
          encode(0x35E, {{"manufacturer", 0, o_.variant == Variant::kSma ? "BYD" : "SIMBMS"}}, at));
      push(encode(0x35F, {{"capacity", 200, {}}}, at));
      if (o_.variant == Variant::kVictron) {
        push(encode(0x372, {{"modules_online", 4, {}}}, at));
        const double cell = p.voltage_v / 16.0;
        push(encode(0x373,
                    {{"cell_min_voltage", std::round((cell - 0.004) * 1000) / 1000, {}},
                     {"cell_max_voltage", std::round((cell + 0.004) * 1000) / 1000, {}},
                     {"cell_min_temperature", std::round(p.temperature_c - 1), {}},
                     {"cell_max_temperature", std::round(p.temperature_c + 1), {}}},
                    at));
        push(encode(0x379, {{"installed_capacity", 200, {}}}, at));
      }
    }
    if (o_.fault == "endianness_mismatch") {
      for (auto& f : set) {
        if (f.id == 0x351) swap16(f, 0, 4);
        if (f.id == 0x356) swap16(f, 0, 3);
        if (f.id == 0x355) swap16(f, 0, 2);
      }
    }
    return set;
  }

  can::Frame error_frame(std::uint32_t cls, std::array<std::uint8_t, 8> d, std::int64_t t) {
    can::Frame f = can::make_error_frame(cls, d);
    f.timestamp_ns = t;
    f.time_kind = TimeKind::kAbsolute;
    f.channel = "can0";
    return f;
  }

  can::Frame bus_error(std::int64_t t) {
    static constexpr std::uint8_t kKinds[] = {can::err::kProtStuff, can::err::kProtForm,
                                              can::err::kProtBit0, can::err::kProtBit1};
    const std::uint8_t kind = kKinds[rng_() % 4];
    return error_frame(can::err::kProtocol | can::err::kBusError,
                       {0, 0, kind, can::err::kLocData, 0, 0, 0, 0}, t);
  }

  void second(std::int64_t s, std::vector<can::Frame>& out) {
    const double sd = static_cast<double>(s);
    const std::int64_t base = o_.start_ns + s * kNsPerS;
    const std::string& fault = o_.fault;
    const std::int64_t burst_at = base + 100'000'000 + static_cast<std::int64_t>(gauss(3e6));
    const bool bms_on = fault != "bms_silent" && fault != "unknown_protocol" &&
                        fault != "bitrate_mismatch" && !dropped(sd);
    const int cycles = o_.variant == Variant::kSma ? 10 : 1;

    if (fault == "bitrate_mismatch") {
      // Every frame anyone sends is seen as a stuff/form/bit error at the wrong rate.
      for (int k = 0; k < 7; ++k) out.push_back(bus_error(burst_at + k * kFrameGapNs));
      out.push_back(bus_error(base + 600'000'000 + static_cast<std::int64_t>(gauss(5e6))));
      return;
    }
    // no_ack at strength s: that share of the cycles goes unacknowledged (1 = every cycle).
    if (fault == "no_ack" && (o_.fault_strength >= 1.0 || chance(o_.fault_strength))) {
      // Nobody acknowledges: the first frame of the burst goes out again and again until the
      // controller gives up (error passive, then bus-off recovery), once per cycle.
      auto set = bms_set(pack_, sd, burst_at);
      can::Frame first = set.front();
      const int repeats = 24 + static_cast<int>(rng_() % 16);
      for (int k = 0; k < repeats; ++k) {
        first.timestamp_ns = burst_at + k * kFrameGapNs;
        out.push_back(first);
      }
      if (ack_errors_) {
        out.push_back(error_frame(can::err::kNoAck | can::err::kController,
                                  {0, can::err::kCtrlTxPassive, 0, 0, 0, 0, 136, 0},
                                  burst_at + repeats * kFrameGapNs));
      }
      return;
    }

    if (bms_on) {
      for (int c = 0; c < cycles; ++c) {
        const std::int64_t t0 = burst_at + c * 100'000'000;
        auto set = bms_set(pack_, sd, t0);
        for (auto& f : set) out.push_back(f);
        if (fault == "can_id_conflict") {
          // A second pack on the same ids, its burst a few ms later, different readings; when
          // the two collide the bus shows a bit error right behind the frame.
          // Strength s puts it 2-3 ms / s behind: at 0.05 it is 40-60 ms, a separate burst.
          const double lag_ns = (2e6 + uniform(0, 1e6)) / std::max(o_.fault_strength, 1e-3);
          auto other = bms_set(pack2_, sd, t0 + static_cast<std::int64_t>(lag_ns));
          for (auto& f : other) out.push_back(f);
          if (chance(0.2)) out.push_back(bus_error(other[1].timestamp_ns + 150'000));
        }
      }
    }
    if (fault == "unknown_protocol") {
      // A high-voltage Pylontech pack: 29-bit ids, nothing the LV inverter setting understands.
      std::int64_t at = burst_at;
      for (std::uint32_t id : {0x4210U, 0x4220U, 0x4230U, 0x4240U, 0x4250U, 0x4260U, 0x4270U}) {
        can::Frame f;
        f.id = id;
        f.extended = true;
        f.len = f.dlc = 8;
        for (std::size_t i = 0; i < 8; ++i) f.data[i] = static_cast<std::uint8_t>(rng_());
        f.timestamp_ns = at;
        f.time_kind = TimeKind::kAbsolute;
        f.channel = "can0";
        out.push_back(f);
        at += kFrameGapNs + 20'000;
      }
    }

    // The inverter answers about once per second.
    const bool inverter_on = fault != "inverter_protocol_mismatch";
    if (inverter_on) {
      const std::int64_t t = base + 600'000'000 + static_cast<std::int64_t>(gauss(8e6));
      auto frame = [&](std::uint32_t id, std::array<std::uint8_t, 8> d, std::int64_t at) {
        can::Frame f;
        f.id = id;
        f.len = f.dlc = 8;
        std::copy(d.begin(), d.end(), f.data.begin());
        f.timestamp_ns = at;
        f.time_kind = TimeKind::kAbsolute;
        f.channel = "can0";
        out.push_back(f);
      };
      if (o_.variant == Variant::kSma) {
        const auto v = static_cast<std::uint16_t>(pack_.voltage_v * 10);
        frame(0x300, {1, 2, 3, 4, 0, 0, 0, 0}, t);
        frame(0x305,
              {static_cast<std::uint8_t>(v), static_cast<std::uint8_t>(v >> 8), 0x10, 0, 0x2C, 1,
               0x55, 0},
              t + kFrameGapNs);
        frame(0x306, {0x32, 0, 0x64, 0, 0, 0, 0, 0}, t + 2 * kFrameGapNs);
        frame(0x307, {0x01, 0x02, 0, 0, 0, 0, 0, 0}, t + 3 * kFrameGapNs);
      } else {
        frame(0x305, {0, 0, 0, 0, 0, 0, 0, 0}, t);
        if (o_.variant == Variant::kVictron)
          frame(0x307, {0x12, 0x34, 0x56, 0x78, 'V', 'I', 'C', 0}, t + kFrameGapNs);
      }
    }

    // Error patterns of the physical and electrical layers.
    double rate = 0.0;  // expected error frames this second
    if (fault == "bus_errors") rate = 0.05;
    if (fault == "emi_power_correlated")
      rate = std::max(0.0, std::fabs(pack_.current_a) - 45.0) / 40.0 * 0.5;
    if (fault == "thermal_or_time_pattern")
      rate = o_.cold_errors ? (pack_.temperature_c < 8.0 ? 0.4 : 0.0)
                            : std::max(0.0, pack_.temperature_c - 25.0) / 4.0 * 0.4;
    rate *= o_.fault_strength;
    if (rate > 0) {
      const int n = std::poisson_distribution<int>(rate)(rng_);
      for (int k = 0; k < n; ++k) {
        out.push_back(bus_error(burst_at + static_cast<std::int64_t>(uniform(0, 2e6))));
      }
    }
  }

  SiteOptions o_;
  std::mt19937_64 rng_;
  protocol::Decoder decoder_;
  Pack pack_, pack2_;
  double protect_from_ = 0, protect_to_ = 0;
  std::vector<std::pair<double, double>> drops_;
  bool ack_errors_ = false;
  std::int64_t at_second_ = 0;

 public:
  std::optional<Error> error_;  // first frame the protocol definition could not encode
};

}  // namespace

namespace {

Result<const protocol::Database*> checked_database(const SiteOptions& options) {
  const auto& names = fault_names();
  if (std::find(names.begin(), names.end(), options.fault) == names.end()) {
    std::string known;
    for (auto n : names) known += fmt::format("{}{}", known.empty() ? "" : ", ", n);
    return tl::unexpected(
        Error{ErrorCode::kInvalidArgument,
              fmt::format("unknown fault '{}'; one of: {}", options.fault, known)});
  }
  if (!(options.duration_s > 0) || options.duration_s > 31 * 86400.0) {
    return tl::unexpected(
        Error{ErrorCode::kInvalidArgument,
              fmt::format("duration {} s is outside (0, 2678400]", options.duration_s)});
  }
  const char* db_name = options.variant == Variant::kPylon     ? "pylon_lv_1_2"
                        : options.variant == Variant::kVictron ? "victron"
                                                               : "sma";
  return protocol::builtin_database(db_name);
}

}  // namespace

Result<std::uint64_t> simulate(const SiteOptions& options,
                               const std::function<void(const can::Frame&)>& emit) {
  auto db = checked_database(options);
  if (!db) return tl::unexpected(db.error());
  Site site(options, **db);
  std::uint64_t count = 0;
  site.run(emit, count);
  if (site.error_) return tl::unexpected(*site.error_);
  return count;
}

struct SiteSource::Impl {
  Impl(const SiteOptions& o, const protocol::Database& db) : site(o, db) {}
  Site site;
  std::vector<can::Frame> second;
  std::size_t at = 0;
};

Result<std::unique_ptr<SiteSource>> SiteSource::open(const SiteOptions& options) {
  auto db = checked_database(options);
  if (!db) return tl::unexpected(db.error());
  return std::unique_ptr<SiteSource>(new SiteSource(std::make_unique<Impl>(options, **db)));
}

SiteSource::SiteSource(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SiteSource::~SiteSource() = default;

bool SiteSource::next(can::Frame& frame) {
  while (impl_->at >= impl_->second.size()) {
    impl_->at = 0;
    if (!impl_->site.next_second(impl_->second) || impl_->site.error_) return false;
  }
  frame = impl_->second[impl_->at++];
  return true;
}

std::optional<std::int64_t> SiteSource::now_ns() const { return impl_->site.clock_ns(); }

const std::optional<Error>& SiteSource::failure() const { return impl_->site.error_; }

}  // namespace bmslink::sim
