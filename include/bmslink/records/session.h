// bmslink records: a guided diagnosis session in a case. record_session() writes every check
// taken (with the answers it used, its verdict and minutes), the minutes per layer and a confirmed
// cause with its fix into the case; resume_answers() gives back the answers a case holds so a
// session continues where it stopped.
#pragma once

#include "bmslink/diagnosis/guided.h"
#include "bmslink/records/case.h"

namespace bmslink::records {

void record_session(Case& c, const diagnosis::CheckCatalogue& catalogue,
                    const diagnosis::Answers& answers, const diagnosis::GuidedResult& result);

void resume_answers(const Case& c, diagnosis::Answers& answers);

}  // namespace bmslink::records
