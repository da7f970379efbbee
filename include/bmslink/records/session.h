// bmslink records: a guided diagnosis session in a case. record_session() writes every check
// taken (with the answers it used, its verdict and minutes), the minutes per layer and a confirmed
// cause with its fix into the case; resume_answers() gives back the answers a case holds so a
// session continues where it stopped.
// record_guided() is the one way the CLI and the server record a session: it loads the case,
// resumes its answers, runs the method, records the result and writes with a conditional write,
// again from the top when another writer changed the case in between, so nothing either wrote is
// lost.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bmslink/core/error.h"
#include "bmslink/diagnosis/findings.h"
#include "bmslink/diagnosis/guided.h"
#include "bmslink/records/case.h"
#include "bmslink/records/store.h"

namespace bmslink::records {

// A new case id: the UTC date and time and a random suffix ("20261206-231500-3f2a").
std::string new_case_id();

// Adds a kept capture to the case once (by its SHA-256); false when it was there already.
bool attach_capture(Case& c, std::string name, std::string sha256,
                    const std::vector<diagnosis::Finding>& findings);

struct SessionCapture {
  std::string name, sha256;
  const std::vector<diagnosis::Finding>* findings = nullptr;
};

struct RecordedSession {
  Case the_case;               // as written
  diagnosis::Answers answers;  // the given answers with the case's own
  diagnosis::GuidedResult result;
};

// Whether the answers given are merged with the case's own (a request that carries only the new
// answers) or are the whole session already (a CLI session resumed when it started).
enum class Resume { kYes, kNo };

// Records a guided session into case `id`: kNotFound when there is no such case, kConflict when it
// kept changing for `attempts` tries. `run` runs the method on the merged answers.
Result<RecordedSession> record_guided(
    Store& store, std::string_view id, const diagnosis::Answers& answers,
    const diagnosis::CheckCatalogue& catalogue,
    const std::function<diagnosis::GuidedResult(const diagnosis::Answers&)>& run,
    const std::optional<SessionCapture>& capture = std::nullopt, Resume resume = Resume::kYes,
    int attempts = 5, const std::string& by = "");

// `corrected`: an answer the case held was changed in this session (note_corrections), so a
// cause the walk no longer confirms is taken away.
void record_session(Case& c, const diagnosis::CheckCatalogue& catalogue,
                    const diagnosis::Answers& answers, const diagnosis::GuidedResult& result,
                    bool corrected = false);

// Appends to the case's history every answer `given` changes against what its checks recorded
// (a value for another, "can't tell" for a value, or back); true when there was one.
bool note_corrections(Case& c, const diagnosis::Answers& given, const std::string& by);

// An update of a whole case (the web console's PUT) keeps the history stored, whatever the body
// says, and adds what changed: the root cause (with its reason) and the outcome.
void carry_history(const Case& stored, Case& incoming, const std::string& by);

void resume_answers(const Case& c, diagnosis::Answers& answers);

}  // namespace bmslink::records
