#include "bmslink/diagnosis/cause.h"

#include <array>

namespace bmslink::diagnosis {
namespace {

using L = Layer;
constexpr std::array<CauseInfo, 25> kCauses = {{
    {Cause::kInverterProtocolMismatch, "inverter_protocol_mismatch", L::kConfiguration,
     "inverter not in the BMS's protocol"},
    {Cause::kBitrateMismatch, "bitrate_mismatch", L::kConfiguration, "bit rate mismatch"},
    {Cause::kBmsSilent, "bms_silent", L::kConfiguration, "BMS not transmitting"},
    {Cause::kCanIdConflict, "can_id_conflict", L::kConfiguration,
     "CAN id sent by two transmitters"},
    {Cause::kDipSwitchWrong, "dip_switch_wrong", L::kConfiguration, "DIP switches wrong"},
    {Cause::kNoAck, "no_ack", L::kConnections, "frames not acknowledged"},
    {Cause::kTerminationFault, "termination_fault", L::kConnections, "termination wrong"},
    {Cause::kConnectionFault, "connection_fault", L::kConnections, "connection fault"},
    {Cause::kBusErrors, "bus_errors", L::kConnections, "bus errors without a single pattern"},
    {Cause::kCableUnsuitable, "cable_unsuitable", L::kCable, "cable unsuitable"},
    {Cause::kEmiPowerCorrelated, "emi_power_correlated", L::kEnvironment,
     "interference rising with power"},
    {Cause::kGroundLoop, "ground_loop", L::kEnvironment, "ground loop"},
    {Cause::kThermalOrTimePattern, "thermal_or_time_pattern", L::kEnvironment,
     "errors follow temperature or time of day"},
    {Cause::kIntermittentDropouts, "intermittent_dropouts", L::kEnvironment, "BMS frames drop out"},
    {Cause::kEndiannessMismatch, "endianness_mismatch", L::kProtocol, "byte order wrong"},
    {Cause::kScalingMismatch, "scaling_mismatch", L::kProtocol, "scaling wrong"},
    {Cause::kInvalidValues, "invalid_values", L::kProtocol, "invalid values"},
    {Cause::kMissingRequiredFrames, "missing_required_frames", L::kProtocol,
     "required frames missing"},
    {Cause::kUnknownProtocol, "unknown_protocol", L::kProtocol, "unknown protocol"},
    {Cause::kFirmwareIncompatibility, "firmware_incompatibility", L::kProtocol,
     "firmware incompatibility"},
    {Cause::kBmsProtectionActive, "bms_protection_active", std::nullopt, "BMS protection active"},
    {Cause::kHealthy, "healthy", std::nullopt, "healthy"},
    {Cause::kNoInverterInExcerpt, "no_inverter_in_excerpt", std::nullopt,
     "no inverter frames in this excerpt"},
    {Cause::kCaptureTooShort, "capture_too_short", std::nullopt, "capture too short to judge"},
    {Cause::kTimestampsBackwards, "timestamps_backwards", std::nullopt, "timestamps run backwards"},
}};

constexpr bool table_in_enum_order() {
  for (std::size_t i = 0; i < kCauses.size(); ++i)
    if (static_cast<std::size_t>(kCauses[i].cause) != i) return false;
  return true;
}
static_assert(table_in_enum_order());

constexpr std::array<std::string_view, 5> kLayerNames = {"configuration", "physical connections",
                                                         "cable", "electrical environment",
                                                         "protocol and firmware"};

}  // namespace

bool is_note(Cause cause) {
  return cause == Cause::kNoInverterInExcerpt || cause == Cause::kCaptureTooShort ||
         cause == Cause::kTimestampsBackwards;
}

int layer_number(Layer layer) { return static_cast<int>(layer); }

std::string_view layer_name(Layer layer) {
  return kLayerNames[static_cast<std::size_t>(layer) - 1];
}

std::optional<Layer> layer_from_number(int number) {
  if (number < 1 || number > 5) return std::nullopt;
  return static_cast<Layer>(number);
}

const CauseInfo& cause_info(Cause cause) { return kCauses[static_cast<std::size_t>(cause)]; }
std::string_view cause_id(Cause cause) { return cause_info(cause).id; }
std::optional<Layer> cause_layer(Cause cause) { return cause_info(cause).layer; }

std::optional<Cause> parse_cause(std::string_view id) {
  for (const auto& c : kCauses)
    if (c.id == id) return c.cause;
  return std::nullopt;
}

std::span<const CauseInfo> cause_catalogue() { return kCauses; }

std::string_view severity_name(Severity s) {
  switch (s) {
    case Severity::kFault:
      return "fault";
    case Severity::kWarning:
      return "warning";
    case Severity::kInfo:
      break;
  }
  return "info";
}

std::optional<Severity> parse_severity(std::string_view name) {
  for (auto s : {Severity::kFault, Severity::kWarning, Severity::kInfo})
    if (severity_name(s) == name) return s;
  return std::nullopt;
}

}  // namespace bmslink::diagnosis
