// bmslink diagnosis: the guided five-layer diagnosis. Given the check catalogue, the knowledge
// base, what the technician answered and (optionally) a capture's result, it orders the checks
// (layer first, then likelihood per minute), decides each from the capture where it can (and says
// so) or from the answers, stops at the first confirmed cause with its fix and re-verification,
// otherwise names the next check and what it asks, and counts minutes per layer against the
// budget. A pair the knowledge base knows to talk RS485 is said to first and walked only through
// the checks that apply to it. A marginal verdict (the guide's "marginal") and a suspect one (a
// setting the knowledge base does not list, where it knows the right one) do not stop the walk
// but are carried into the result. Every verdict that rests on the knowledge base says how strong
// its source is. Escalation (hardcoding) only when all five layers are exhausted. Pure and
// thread-safe.
#pragma once

#include <array>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "bmslink/analysis/evidence.h"
#include "bmslink/core/error.h"
#include "bmslink/diagnosis/checks.h"
#include "bmslink/diagnosis/devices.h"
#include "bmslink/diagnosis/findings.h"
#include "bmslink/diagnosis/order.h"

namespace bmslink::diagnosis {

// The answers file (docs/diagnose.md): {"answers": {...}, "bms_model", "inverter_model",
// "bms_firmware", "inverter_firmware", "capture"}; the device fields may also sit inside
// "answers". Values are normalised: yes/no -> bool, numbers -> double, lists -> strings.
struct Answers {
  std::map<std::string, nlohmann::json> values;
  std::map<std::string, double> minutes;  // per check id, what the technician spent
  // Asked, but the technician could not say ("null" in the file, "-" at the prompt): the checks
  // that need them stay unknown and are not asked again.
  std::set<std::string> not_known;
  std::string bms_model, inverter_model, bms_firmware, inverter_firmware, capture;

  bool has(std::string_view key) const { return values.count(std::string(key)) > 0; }
  nlohmann::json to_json() const;
};

// Parses and checks an answers file against the catalogue: an unknown key or a value of the
// wrong type (or out of range, or not one of the choices) is an error naming the key.
Result<Answers> parse_answers(std::string_view text, std::string_view name,
                              const CheckCatalogue& catalogue);
// One value typed by a person for `spec` ("yes", "120", "open", "0x350 0x360"): the normalised
// JSON value or an error saying what was expected.
Result<nlohmann::json> parse_input_text(const InputSpec& spec, std::string_view text);

enum class Verdict { kPass, kFail, kSkipped, kUnknown, kMarginal, kSuspect };
// "pass", "fail", "skipped", "unknown", "marginal", "suspect"
std::string_view verdict_name(Verdict verdict);
std::optional<Verdict> parse_verdict(std::string_view name);
// Whether the check was decided from what was answered or captured (its minutes count).
bool decided(Verdict verdict);

struct CheckVerdict {
  std::string check;
  Layer layer = Layer::kConfiguration;
  Verdict verdict = Verdict::kUnknown;
  std::string reason;
  bool from_capture = false;
  std::optional<Cause> cause;  // for a fail (and a suspect): the cause it confirms
  std::string fix;             // for a suspect or marginal verdict: what to do about it
  // The weakest class of the knowledge-base facts the verdict rests on; none when it rests on
  // the technician's answers or a capture alone.
  std::optional<SourceClass> source_class;
};

// What carries the battery's data to the inverter for this pair, and why bmslink thinks so.
struct LinkInfo {
  std::string bus;       // "can", "rs485"; "" when not known
  std::string protocol;  // the protocol id the link runs
  std::string reason;
  std::string port;  // the inverter's port and pins, where known
  std::optional<SourceClass> source_class;
  // RS485: the inverter's maker asks for 120 Ω at both ends (else terminators matter only on long
  // or fast runs).
  bool termination_needed = false;
};

// The cells and maker's limits the hardcode advisor takes from the case's battery.
struct HardcodeHint {
  std::string battery;  // the knowledge-base entry
  int cells_series = 0;
  std::optional<double> charge_max_v, cutoff_min_v;
  std::optional<SourceClass> source_class;
};

struct NextStep {
  std::string check;
  Layer layer = Layer::kConfiguration;
  std::string title;
  std::vector<InputSpec> asks;  // "capture" (a file) for the capture-only checks
  std::string how;              // the technician's explanation of the check
  // Why this check comes now, in the technician's words ("termination fault: 45 % of your
  // company's calls, 3 min"), with the numbers it says: the probability that this check confirms
  // the cause given the checks passed so far, and what it takes.
  std::string why;
  double probability = 0;
  double minutes = 0;
};

struct GuidedResult {
  std::optional<Cause> confirmed;
  std::optional<Layer> layer;
  std::string confirmed_by;  // check id
  std::string reason;
  std::string fix, reverify, technician, customer;
  std::vector<CheckVerdict> verdicts;  // in the order the method takes them
  std::optional<NextStep> next;
  OrderBasis order;                 // which order the walk took, and its probabilities
  std::array<double, 5> minutes{};  // spent per layer
  std::array<double, 5> budget{};
  std::array<double, 5> budget_max{};  // the top of a layer's range (layer 5: 180 min)
  LinkInfo link;
  // Verdicts that did not stop the walk but belong in the report, in the method's order.
  std::vector<CheckVerdict> marginal, suspects;
  std::optional<HardcodeHint> hardcode;  // with escalate, when the battery's cells are known
  double total_minutes = 0;
  bool escalate = false;  // all five layers exhausted: time to consider hardcoding
  // The walk stopped at a suspect setting (not a proven fault): the cause to try first.
  bool tentative = false;
  std::vector<std::string> still_open;  // earlier checks not decided when a later one confirmed
  // The knowledge-base entries the models were matched to ("" when none): shown so a wrong
  // match is seen.
  std::string inverter_entry, battery_entry;
};

struct GuidedOptions {
  // A capture's result, when one was analysed: pre-decides checks.
  const analysis::Evidence* evidence = nullptr;
  const std::vector<Finding>* findings = nullptr;
  // The company's closed cases (records::case_history) and the order asked for: learned from
  // them across layers once there are enough, else the field guide's (order.h).
  CaseHistory history;
  OrderMode order = OrderMode::kLearned;
  // No capture can be taken (no adapter on site): the walk does not ask for one and escalates
  // when only a capture could decide.
  bool no_capture = false;
};

// The checks in the field guide's order: layer, then likelihood per minute (guide_order()).
std::vector<const Check*> ordered_checks(const CheckCatalogue& catalogue);

GuidedResult run_guided(const CheckCatalogue& catalogue, const KnowledgeBase& kb,
                        const Answers& answers, const GuidedOptions& options = {});

nlohmann::json guided_json(const GuidedResult& result);

}  // namespace bmslink::diagnosis
