// bmslink diagnosis: the results of an analysis as JSON and back — the Evidence, the findings and
// the protocol identification — so service records can store them and the server can send them.
// Keys are the C++ member names (snake_case), times in ns as integers, enums by their name-table
// names (causes by id, layers by number). Reading tolerates missing keys (defaults) and fails with
// an Error naming what was wrong on a value of the wrong type. Pure functions, thread-safe.
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "bmslink/analysis/evidence.h"
#include "bmslink/core/error.h"
#include "bmslink/diagnosis/findings.h"
#include "bmslink/protocol/identify.h"

namespace bmslink::diagnosis {

nlohmann::json evidence_to_json(const analysis::Evidence& evidence);
Result<analysis::Evidence> evidence_from_json(const nlohmann::json& json);

nlohmann::json findings_to_json(const std::vector<Finding>& findings);
Result<std::vector<Finding>> findings_from_json(const nlohmann::json& json);

nlohmann::json identification_to_json(const protocol::Identification& identification);
Result<protocol::Identification> identification_from_json(const nlohmann::json& json);

}  // namespace bmslink::diagnosis
