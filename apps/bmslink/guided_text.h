// What `diagnose`, `hardcode` and `devices` share: their arguments, the catalogue and knowledge
// base (built in, plus the user's own files), and the guided result as text (guided_text.cc).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "bmslink/diagnosis/checks.h"
#include "bmslink/diagnosis/devices.h"
#include "bmslink/diagnosis/guided.h"
#include "bmslink/diagnosis/hardcode.h"

namespace bmslink::app {

struct GuidedArgs {
  std::string answers;  // answers file (read; and saved to in interactive mode)
  std::string capture;
  std::string save;
  bool json = false;
  bool interactive = false;               // force the prompts even without a terminal
  std::vector<std::string> check_files;   // the user's own catalogue files
  std::vector<std::string> device_files;  // the user's own knowledge-base files
  std::string case_id;                    // record the session in this case (resumable)
  std::string db;                 // records store for --case and for the company's own check order
  std::string order = "learned";  // "learned" or "guide" (--order)
};

// The catalogue and knowledge base: built in, plus the user's own files; prints why not.
bool load(const GuidedArgs& args, diagnosis::CheckCatalogue& cat, diagnosis::KnowledgeBase& kb);
std::string layer_label(diagnosis::Layer l);
// The guided result for people: verdicts by layer, the cause and fix, or the next check.
std::string guided_text(const diagnosis::GuidedResult& r, const diagnosis::CheckCatalogue& cat);
// "1) a  2) b" for a question with choices.
std::string choices_text(const diagnosis::InputSpec& s);

}  // namespace bmslink::app
