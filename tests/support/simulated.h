// Test helper: the Evidence of a simulated site, through the one analysis path (analysis::analyze
// over the frames in memory), as a capture of it would give.
#pragma once

#include <gtest/gtest.h>

#include <vector>

#include "bmslink/analysis/run.h"
#include "bmslink/sim/site.h"

namespace bmslink::test {

inline analysis::Evidence simulated_evidence(const sim::SiteOptions& options) {
  std::vector<can::Frame> frames;
  EXPECT_TRUE(sim::simulate(options, [&](const can::Frame& f) { frames.push_back(f); }));
  can::SpanSource source(frames);
  NullSink sink;
  auto run = analysis::analyze(analysis::CaptureInput::source(source, "simulated site"), sink);
  EXPECT_TRUE(run) << (run ? "" : run.error().message);
  return run ? std::move(run->evidence) : analysis::Evidence{};
}

}  // namespace bmslink::test
