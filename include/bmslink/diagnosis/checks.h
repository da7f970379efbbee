// bmslink diagnosis: the five-layer field method as a check catalogue. Every check of the field
// guide is data (data/checks/*.json, built into the binary, extensible with the user's own files):
// its layer, minutes, likelihood, the inputs it asks for (typed, with units), its rule and
// thresholds, the cause it confirms, the fix and two explanations (technician, customer). The
// rules are evaluated in checks.cc; docs/diagnose.md documents the schema.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "bmslink/core/error.h"
#include "bmslink/diagnosis/cause.h"

namespace bmslink::diagnosis {

enum class InputType { kText, kNumber, kChoice, kYesNo, kList };
std::string_view input_type_name(InputType type);  // "text", "number", "choice", "yes_no", "list"

struct InputSpec {
  std::string key;
  InputType type = InputType::kText;
  std::string unit;
  std::vector<nlohmann::json> choices;  // numbers or strings
  std::optional<double> min, max;
  std::vector<std::string> allow;  // words a number may also be ("open")
  std::string items;               // for lists: "hex" when every item is a hex id
  bool integer = false;            // whole numbers only
  bool magnitude = false;          // the sign does not matter (a meter's probe polarity)
  nlohmann::json default_value;    // offered when the technician just presses Enter (or null)
  std::string prompt;
  // The prompt worded for what another input was answered: input key -> its value -> prompt.
  std::map<std::string, std::map<std::string, std::string>> prompt_by;
  // A choice's words for people ("master_only" -> "Only the master is cabled to the inverter").
  std::map<std::string, std::string> choice_labels;
  // What a picker offers when the value comes from the knowledge base (the inverter's menu
  // values, the protocols a battery sends): filled in for one session by the guided walk. `other`
  // says free text is still accepted beside them.
  struct Option {
    nlohmann::json value;
    std::string label;
    std::string note;
    bool recommended = false;  // the one this battery needs
  };
  std::vector<Option> options;
  bool other = false;
};

struct LayerInfo {
  Layer layer = Layer::kConfiguration;
  std::string name;
  double budget_minutes = 0;
  // The top of the layer's budget where the field guide gives a range (layer 5: 1 to 3 hours);
  // equal to budget_minutes otherwise. A layer is over budget beyond this.
  double budget_max_minutes = 0;
};

struct Check {
  std::string id;  // "l2.termination"
  Layer layer = Layer::kConfiguration;
  std::string title;
  double minutes = 0;     // what the check takes
  double likelihood = 0;  // calls out of 100 it settles (field guide, or the company's records)
  std::vector<std::string> inputs;           // all needed for the rule
  std::vector<std::string> optional_inputs;  // used when given
  bool capture_only = false;                 // decided from a capture alone
  Cause confirms = Cause::kHealthy;
  std::vector<Cause> capture_confirms;      // capture findings (faults) that fail the check
  std::vector<std::string> capture_clears;  // capture facts that make the check unnecessary
  std::string function;   // a rule in code (protocol_match, pinout, firmware, termination)
  nlohmann::json params;  // the function's thresholds, from the catalogue ("rule" minus "function")
  nlohmann::json outcomes;  // otherwise: the rule's outcomes, first match wins
  // Optional inputs asked before the required ones whenever the check is asked (the meter's
  // setup before its reading); an answers file may still leave them out.
  std::vector<std::string> ask_first;
  // The links the check applies to: "can" and/or "rs485". A pair that talks RS485 skips the rest.
  std::vector<std::string> buses = {"can"};
  // Ids this check had before (a check that moved layer): records and answers files that name
  // the old id still find it.
  std::vector<std::string> former_ids;
  // Checks whose answers must be known before this one is worth taking (a firmware check means
  // little while the protocol setting is unknown): kept ahead of it in any order.
  std::vector<std::string> needs;
  std::string fix, technician, customer, reverify;
};

class CheckCatalogue {
 public:
  // The built-in catalogue (data/checks/*.json).
  static Result<CheckCatalogue> builtin();
  // One catalogue file; errors name the file and the check or key. `base` supplies inputs the
  // file's checks may use without declaring them (a user's file on top of the built-in one).
  static Result<CheckCatalogue> parse(std::string_view json, std::string_view name,
                                      const CheckCatalogue* base = nullptr);
  // A user's file on top: new inputs and checks; a check with a known id replaces it.
  Result<void> add(const CheckCatalogue& more);

  const std::vector<LayerInfo>& layers() const { return layers_; }
  const std::map<std::string, InputSpec>& inputs() const { return inputs_; }
  const std::vector<Check>& checks() const { return checks_; }
  // By id, or by an id the check had before.
  const Check* find(std::string_view id) const;
  const InputSpec* input(std::string_view key) const;
  double budget(Layer layer) const;
  double budget_max(Layer layer) const;

 private:
  std::vector<LayerInfo> layers_;
  std::map<std::string, InputSpec> inputs_;
  std::vector<Check> checks_;
};

// The names capture_clears may use (what a capture can show about a check).
const std::vector<std::string_view>& capture_fact_names();

}  // namespace bmslink::diagnosis
