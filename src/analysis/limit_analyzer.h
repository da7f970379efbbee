// Limits against what happened, second by second from the time bins: did the pack current stay
// within the BMS's charge and discharge current limits and the charge enable flag (an inverter
// on the wrong protocol setting runs on voltage alone), and are the limits themselves believable
// against the pack voltage and from one second to the next. Works on the merged bins, so it is
// the same on one pass and on the parallel path.
#pragma once

#include <vector>

#include "analysis/plausibility.h"
#include "analysis/time_bins.h"
#include "bmslink/analysis/evidence.h"

namespace bmslink::analysis::detail {

LimitFollowingEvidence limit_following(const TimeBins& bins);

// invalid_values issues: a discharge voltage limit at or above the pack voltage, a charge voltage
// limit below it while charging is requested, and limits that jump implausibly.
// Voltages are judged at `scales` (a field a scaling issue already explains is read at its
// plausible scale, not reported again).
std::vector<PlausibilityIssue> limit_plausibility(const TimeBins& bins,
                                                  const ValueScales& scales = {});

// The same two voltage checks from the last values alone, for captures without timestamps (a
// paste has no seconds to count).
std::vector<PlausibilityIssue> limit_snapshot(const std::vector<SignalStats>& signals,
                                              const ValueScales& scales = {});

}  // namespace bmslink::analysis::detail
