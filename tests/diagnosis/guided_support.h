// Test helpers shared by the guided-diagnosis tests: the built-in catalogue and knowledge base
// (read once), and one check's verdict out of a result.
#pragma once

#include <gtest/gtest.h>

#include <string_view>

#include "bmslink/diagnosis/guided.h"

namespace bmslink::diagnosis::support {

inline const CheckCatalogue& catalogue() {
  static const CheckCatalogue c = [] {
    auto r = CheckCatalogue::builtin();
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    return r ? *r : CheckCatalogue{};
  }();
  return c;
}

inline const KnowledgeBase& kb() {
  static const KnowledgeBase k = [] {
    auto r = KnowledgeBase::builtin();
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    return r ? *r : KnowledgeBase{};
  }();
  return k;
}

inline const CheckVerdict& verdict(const GuidedResult& r, std::string_view id) {
  for (const auto& v : r.verdicts)
    if (v.check == id) return v;
  static CheckVerdict none;
  ADD_FAILURE() << "no verdict for " << id;
  return none;
}

}  // namespace bmslink::diagnosis::support
