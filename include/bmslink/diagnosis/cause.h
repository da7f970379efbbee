// bmslink diagnosis: the vocabulary shared by analysis, diagnosis, records and statistics — the
// five layers of the field method, the cause catalogue of ARCHITECTURE.md and finding severities.
// Each is an enum with one name table; the names are the JSON contract and never change (records
// and statistics store them). Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace bmslink::diagnosis {

// The field method's layers, cheapest first; the value is the layer number.
enum class Layer : std::uint8_t {
  kConfiguration = 1,
  kConnections = 2,
  kCable = 3,
  kEnvironment = 4,
  kProtocol = 5,
};
int layer_number(Layer layer);
std::string_view layer_name(Layer layer);  // "configuration", "physical connections", ...
std::optional<Layer> layer_from_number(int number);

enum class Cause : std::uint8_t {
  kInverterProtocolMismatch,
  kBitrateMismatch,
  kBmsSilent,
  kCanIdConflict,
  kDipSwitchWrong,
  kNoAck,
  kTerminationFault,
  kConnectionFault,
  kBusErrors,
  kCableUnsuitable,
  kEmiPowerCorrelated,
  kGroundLoop,
  kThermalOrTimePattern,
  kIntermittentDropouts,
  kEndiannessMismatch,
  kScalingMismatch,
  kInvalidValues,
  kMissingRequiredFrames,
  kUnknownProtocol,
  kFirmwareIncompatibility,
  kBmsProtectionActive,
  kHealthy,
  // Notes: statements about the capture, not causes. Own ids so that no note carries a fault's id.
  kNoInverterInExcerpt,
  kCaptureTooShort,
  kTimestampsBackwards,
};

struct CauseInfo {
  Cause cause;
  std::string_view id;         // "no_ack": the JSON and database name
  std::optional<Layer> layer;  // none for state (protection) and healthy
  std::string_view name;       // a few words for people
};
const CauseInfo& cause_info(Cause cause);
// True for the notes (no_inverter_in_excerpt, capture_too_short, timestamps_backwards): never a
// root cause, never counted in statistics.
bool is_note(Cause cause);
std::string_view cause_id(Cause cause);
std::optional<Layer> cause_layer(Cause cause);
std::optional<Cause> parse_cause(std::string_view id);
std::span<const CauseInfo> cause_catalogue();

enum class Severity : std::uint8_t { kFault, kWarning, kInfo };
std::string_view severity_name(Severity severity);  // "fault", "warning", "info"
std::optional<Severity> parse_severity(std::string_view name);

}  // namespace bmslink::diagnosis
