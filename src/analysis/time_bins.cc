#include "analysis/time_bins.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "bmslink/analysis/capture_analyzer.h"

namespace bmslink::analysis {

std::optional<double> spearman(const std::vector<double>& x, const std::vector<double>& y) {
  const std::size_t n = std::min(x.size(), y.size());
  if (n < 3) return std::nullopt;
  auto ranks = [n](const std::vector<double>& v) {
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&](std::size_t i, std::size_t j) { return v[i] < v[j]; });
    std::vector<double> r(n);
    for (std::size_t i = 0; i < n;) {
      std::size_t j = i;
      while (j + 1 < n && v[order[j + 1]] == v[order[i]]) ++j;
      const double avg = (static_cast<double>(i) + static_cast<double>(j)) / 2.0 + 1.0;
      for (std::size_t k = i; k <= j; ++k) r[order[k]] = avg;
      i = j + 1;
    }
    return r;
  };
  const auto rx = ranks(x), ry = ranks(y);
  const double mean = (static_cast<double>(n) + 1.0) / 2.0;
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < n; ++i) {
    sxy += (rx[i] - mean) * (ry[i] - mean);
    sxx += (rx[i] - mean) * (rx[i] - mean);
    syy += (ry[i] - mean) * (ry[i] - mean);
  }
  if (sxx == 0 || syy == 0) return std::nullopt;
  return sxy / std::sqrt(sxx * syy);
}

}  // namespace bmslink::analysis

namespace bmslink::analysis::detail {

SecondBin* TimeBins::bin_slow(std::int64_t ns) {
  const std::int64_t sec = floor_div(ns, kNsPerS);
  if (!base_second_) base_second_ = sec;
  if (sec < *base_second_) {
    // Earlier than anything seen (a disordered capture, or a later chunk merged first): grow at
    // the front when that stays within the cap.
    const std::int64_t grow = *base_second_ - sec;
    if (static_cast<std::uint64_t>(grow) + bins_.size() > kMaxSeconds) return nullptr;
    bins_.insert(bins_.begin(), static_cast<std::size_t>(grow), SecondBin{});
    base_second_ = sec;
    cache_valid_ = false;
  }
  const auto idx = static_cast<std::uint64_t>(sec - *base_second_);
  if (idx >= kMaxSeconds) return nullptr;
  if (idx >= bins_.size()) bins_.resize(idx + 1);
  cache_valid_ = true;
  cache_idx_ = static_cast<std::size_t>(idx);
  cache_lo_ns_ = (*base_second_ + static_cast<std::int64_t>(idx)) * kNsPerS;
  cache_hi_ns_ = cache_lo_ns_ + kNsPerS;
  return &bins_[cache_idx_];
}

void TimeBins::merge(TimeBins&& b) {
  // Both are indexed by absolute second; b's bins are added into this range.
  if (b.base_second_) {
    for (std::size_t i = 0; i < b.bins_.size(); ++i) {
      const SecondBin& src = b.bins_[i];
      if (src.frames == 0) continue;
      SecondBin* dst = bin_for((*b.base_second_ + static_cast<std::int64_t>(i)) * kNsPerS);
      if (dst == nullptr) {
        unbinned_ += src.frames;
        continue;
      }
      dst->id_mask |= src.id_mask;
      dst->frames += src.frames;
      dst->bits += src.bits;
      dst->errors = static_cast<std::uint16_t>(
          std::min<std::uint32_t>(0xFFFF, std::uint32_t{dst->errors} + std::uint32_t{src.errors}));
      if (!std::isnan(src.current_a)) dst->current_a = src.current_a;
      if (!std::isnan(src.voltage_v)) dst->voltage_v = src.voltage_v;
      if (!std::isnan(src.temperature_c)) dst->temperature_c = src.temperature_c;
      if (src.soc != 0xFF) dst->soc = src.soc;
      if (!std::isnan(src.ccl_a)) dst->ccl_a = src.ccl_a;
      if (!std::isnan(src.dcl_a)) dst->dcl_a = src.dcl_a;
      if (!std::isnan(src.cvl_v)) dst->cvl_v = src.cvl_v;
      if (!std::isnan(src.dvl_v)) dst->dvl_v = src.dvl_v;
      if (src.charge_enable != 0xFF) dst->charge_enable = src.charge_enable;
    }
  }
  unbinned_ += b.unbinned_;
}

std::optional<double> quartile_ratio(const std::vector<double>& key,
                                     const std::vector<double>& err) {
  if (key.size() < 8) return std::nullopt;
  std::vector<std::size_t> order(key.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](std::size_t i, std::size_t j) { return key[i] < key[j]; });
  const std::size_t q = key.size() / 4;
  double low = 0, high = 0;
  for (std::size_t i = 0; i < q; ++i) {
    low += err[order[i]];
    high += err[order[key.size() - 1 - i]];
  }
  return (high + 1.0) / (low + 1.0);  // +1: a quiet bottom quarter does not make it infinite
}

std::optional<std::pair<double, double>> quartile_rates(const std::vector<double>& key,
                                                        const std::vector<double>& err) {
  if (key.size() < 8) return std::nullopt;
  std::vector<std::size_t> order(key.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](std::size_t i, std::size_t j) { return key[i] < key[j]; });
  const std::size_t q = key.size() / 4;
  double low = 0, high = 0;
  for (std::size_t i = 0; i < q; ++i) {
    low += err[order[i]];
    high += err[order[key.size() - 1 - i]];
  }
  return std::pair{high / static_cast<double>(q), low / static_cast<double>(q)};
}

// Mean errors per minute in `bands` equal-width bands of `key` between its extremes.
std::vector<std::pair<double, double>> rate_by_band(const std::vector<double>& key,
                                                    const std::vector<double>& err, int bands,
                                                    double min_width) {
  std::vector<std::pair<double, double>> out;
  if (key.empty()) return out;
  const double lo = *std::min_element(key.begin(), key.end());
  const double hi = *std::max_element(key.begin(), key.end());
  const double width = std::max(min_width, (hi - lo) / bands);
  std::vector<double> e_sum(static_cast<std::size_t>(bands), 0), m_sum(e_sum);
  for (std::size_t i = 0; i < key.size(); ++i) {
    const auto b = std::min<std::size_t>(static_cast<std::size_t>(bands - 1),
                                         static_cast<std::size_t>((key[i] - lo) / width));
    e_sum[b] += err[i];
    m_sum[b] += 1;
  }
  for (std::size_t b = 0; b < e_sum.size(); ++b) {
    if (m_sum[b] > 0)
      out.emplace_back(lo + (static_cast<double>(b) + 0.5) * width, e_sum[b] / m_sum[b]);
  }
  return out;
}

std::optional<ErrorBand> best_error_band(const std::vector<double>& key,
                                         const std::vector<double>& err) {
  const std::size_t n = std::min(key.size(), err.size());
  if (n < 8) return std::nullopt;
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](std::size_t i, std::size_t j) { return key[i] < key[j]; });
  std::vector<double> prefix(n + 1, 0.0);  // errors of the first i minutes in key order
  for (std::size_t i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + err[order[i]];
  const double total = prefix[n];
  if (total <= 0) return std::nullopt;
  // Cut points: quantile positions moved to the end of a run of equal keys, so a band never
  // splits minutes with the same reading.
  std::vector<std::size_t> cuts = {0};
  constexpr std::size_t kCuts = 40;
  for (std::size_t c = 1; c < kCuts; ++c) {
    std::size_t at = n * c / kCuts;
    while (at < n && at > 0 && key[order[at]] == key[order[at - 1]]) ++at;
    if (at > cuts.back() && at < n) cuts.push_back(at);
  }
  cuts.push_back(n);
  std::optional<ErrorBand> best;
  for (std::size_t a = 0; a < cuts.size(); ++a) {
    for (std::size_t b = a + 1; b < cuts.size(); ++b) {
      const std::size_t i = cuts[a], j = cuts[b];
      if (j - i == n) continue;  // the whole range explains nothing
      ErrorBand band;
      band.errors = static_cast<std::uint64_t>(prefix[j] - prefix[i]);
      band.minutes = j - i;
      band.error_share = (prefix[j] - prefix[i]) / total;
      band.time_share = static_cast<double>(j - i) / static_cast<double>(n);
      band.lo = key[order[i]];
      band.hi = key[order[j - 1]];
      band.open_low = i == 0;
      band.open_high = j == n;
      // Ties keep the band found first (the narrower of two with the same start).
      if (!best || band.excess() > best->excess() + 1e-12) best = band;
    }
  }
  return best;
}

TimeBins::Series TimeBins::finish(bool absolute, std::uint64_t error_frames) const {
  Series out;
  if (!base_second_) return out;
  const auto& bins = bins_;
  // Timelines stay drawable: at most ~4000 points, in whole minutes.
  const std::size_t per = bins.size() <= 60 * 4000 ? 60 : (bins.size() / 4000 + 59) / 60 * 60;
  out.minute_width_s = static_cast<std::uint32_t>(per);
  for (std::size_t i = 0; i < bins.size(); i += per) {
    MinuteBin mb;
    mb.start_ns = (*base_second_ + static_cast<std::int64_t>(i)) * kNsPerS;
    double v = 0, c = 0, t = 0, soc = 0, ccl = 0, dcl = 0;
    int nv = 0, nc = 0, nt = 0, ns = 0, nccl = 0, ndcl = 0;
    for (std::size_t k = i; k < std::min(bins.size(), i + per); ++k) {
      const auto& b = bins[k];
      mb.frames += b.frames;
      mb.errors += b.errors;
      mb.id_mask |= b.id_mask;
      if (!std::isnan(b.voltage_v)) v += static_cast<double>(b.voltage_v), ++nv;
      if (!std::isnan(b.current_a)) c += static_cast<double>(b.current_a), ++nc;
      if (!std::isnan(b.temperature_c)) t += static_cast<double>(b.temperature_c), ++nt;
      if (b.soc != 0xFF) soc += b.soc, ++ns;
      if (!std::isnan(b.ccl_a)) ccl += static_cast<double>(b.ccl_a), ++nccl;
      if (!std::isnan(b.dcl_a)) dcl += static_cast<double>(b.dcl_a), ++ndcl;
    }
    if (nccl) mb.ccl_a = ccl / nccl;
    if (ndcl) mb.dcl_a = dcl / ndcl;
    if (nv) mb.voltage_v = v / nv;
    if (nc) mb.current_a = c / nc;
    if (nt) mb.temperature_c = t / nt;
    if (ns) mb.soc = soc / ns;
    out.minutes.push_back(mb);
  }

  // Correlation over minutes of the 60 s grid, whatever the drawing grid.
  CorrelationEvidence& corr = out.correlation;
  std::vector<double> cur, err_c, temp, err_t;
  std::vector<double> by_hour(24, 0.0), minutes_by_hour(24, 0.0);
  for (std::size_t i = 0; i < bins.size(); i += 60) {
    double abs_c = 0, t = 0;
    int nc = 0, nt = 0;
    std::uint32_t errs = 0, frames = 0;
    for (std::size_t k = i; k < std::min(bins.size(), i + 60); ++k) {
      const auto& b = bins[k];
      errs += b.errors;
      frames += b.frames;
      if (!std::isnan(b.current_a)) abs_c += std::fabs(static_cast<double>(b.current_a)), ++nc;
      if (!std::isnan(b.temperature_c)) t += static_cast<double>(b.temperature_c), ++nt;
    }
    if (frames == 0) continue;
    if (nc) {
      cur.push_back(abs_c / nc);
      err_c.push_back(errs);
    }
    if (nt) {
      temp.push_back(t / nt);
      err_t.push_back(errs);
    }
    if (absolute) {
      const std::int64_t sec = *base_second_ + static_cast<std::int64_t>(i);
      const auto hour = static_cast<std::size_t>(floor_div(sec, 3600) % 24 + 24) % 24;
      by_hour[hour] += errs;
      minutes_by_hour[hour] += 1;
    }
  }
  corr.binned_minutes = std::max(cur.size(), temp.size());
  corr.hours_covered = static_cast<double>(bins.size()) / 3600.0;
  if (error_frames > 0) {
    corr.rho_current = spearman(cur, err_c);
    corr.rho_temperature = spearman(temp, err_t);
    corr.current_rate_ratio = quartile_ratio(cur, err_c);
    corr.temperature_rate_ratio = quartile_ratio(temp, err_t);
    corr.current_quarter_rates = quartile_rates(cur, err_c);
    corr.temperature_quarter_rates = quartile_rates(temp, err_t);
    corr.rate_by_temperature = rate_by_band(temp, err_t, 8, 0.5);
    corr.current_band = best_error_band(cur, err_c);
    corr.temperature_band = best_error_band(temp, err_t);
  }
  if (!cur.empty()) {
    const double top = *std::max_element(cur.begin(), cur.end());
    const int bands = 8;
    const double width = std::max(1.0, top / bands);
    std::vector<double> e_sum(bands, 0), m_sum(bands, 0);
    for (std::size_t i = 0; i < cur.size(); ++i) {
      const auto b = std::min<std::size_t>(bands - 1, static_cast<std::size_t>(cur[i] / width));
      e_sum[b] += err_c[i];
      m_sum[b] += 1;
    }
    for (std::size_t b = 0; b < static_cast<std::size_t>(bands); ++b) {
      if (m_sum[b] > 0)
        corr.rate_by_current.emplace_back((static_cast<double>(b) + 0.5) * width,
                                          e_sum[b] / m_sum[b]);
    }
  }
  if (absolute) {
    corr.errors_by_hour = by_hour;
    const double total = std::accumulate(by_hour.begin(), by_hour.end(), 0.0);
    if (total > 0 && corr.hours_covered >= 20) {
      double best = -1;
      for (int h = 0; h < 24; ++h) {
        double w = 0;
        for (int k = 0; k < 3; ++k) w += by_hour[static_cast<std::size_t>((h + k) % 24)];
        if (w > best) {
          best = w;
          corr.busiest_hour = h;
        }
      }
      corr.hour_concentration = best / total;
      const auto h0 = static_cast<std::size_t>(*corr.busiest_hour);
      ErrorBand band;
      band.lo = static_cast<double>(h0);
      band.hi = static_cast<double>((h0 + 3) % 24);
      band.error_share = best / total;
      band.errors = static_cast<std::uint64_t>(best);
      double in = 0;
      for (std::size_t k = 0; k < 3; ++k) in += minutes_by_hour[(h0 + k) % 24];
      const double all = std::accumulate(minutes_by_hour.begin(), minutes_by_hour.end(), 0.0);
      band.minutes = static_cast<std::uint64_t>(in);
      for (std::size_t i = 0; i < bins.size(); i += 60) {
        const std::int64_t sec = *base_second_ + static_cast<std::int64_t>(i);
        const auto hour = static_cast<std::size_t>(floor_div(sec, 3600) % 24 + 24) % 24;
        if ((hour + 24 - h0) % 24 < 3) {
          corr.hour_band_first_ns = sec * kNsPerS;
          break;
        }
      }
      band.time_share = all > 0 ? in / all : 0.0;
      corr.hour_band = band;
    }
  }
  return out;
}

}  // namespace bmslink::analysis::detail
