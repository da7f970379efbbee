// bmslink diagnosis: the device knowledge base (data/devices/*.json, built into the binary,
// extensible with the user's own files): protocols with the names menus and manuals give them,
// inverters with their battery-menu values, CAN pins and pin traps, bit rates, multi-battery
// support and comms-loss codes, batteries/BMS with protocol, DIP/address notes and known firmware
// issues. Every entry cites its sources and a confidence ("man", "impl", "user", "low"), and
// every entry and menu value a source class: how strong the public material behind it is.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "bmslink/core/error.h"

namespace bmslink::diagnosis {

// How strong a source is, weakest first (docs/diagnose.md). A fact is as strong as the strongest
// source it cites; a verdict is as strong as the weakest fact it rests on.
enum class SourceClass {
  kEmulatorReport,
  kInstallerReport,
  kVendorCompatibilityList,
  kVendorManual
};
// "emulator_report", "installer_report", "vendor_compatibility_list", "vendor_manual"
std::string_view source_class_name(SourceClass c);
std::optional<SourceClass> parse_source_class(std::string_view name);
// How a verdict resting on such a source is to be taken, for a technician ("from the inverter
// maker's manual", "reported by users of an emulator; confirm on the inverter's manual").
std::string_view source_class_caveat(SourceClass c);

struct SourceInfo {
  std::string key, title, url, kind;
  SourceClass source_class = SourceClass::kEmulatorReport;
};

struct ProtocolInfo {
  std::string id;  // "pylon-lv"
  std::string name;
  std::string transport;  // "can", "rs485", "none"
  std::optional<int> bitrate_kbps;
  bool voltage_only = false;  // no communication at all (generic lithium, lead-acid)
  std::vector<std::string> aliases;
  // Protocols whose batteries a device on this protocol also reads (a Victron GX on "CAN-bus
  // BMS" reads Pylontech LV packs).
  std::vector<std::string> interoperates_with;
  std::string note;
  std::vector<std::string> sources;
  std::string confidence;
};

struct MenuValue {
  std::string value;                 // as the menu shows it: "Lithium 00"
  std::string protocol;              // a ProtocolInfo id
  std::vector<std::string> accepts;  // further protocols this setting reads
  std::optional<int> bitrate_kbps;   // when this setting fixes the bus rate (Victron's profiles)
  // Only these models of the family are reported to read it that way (lower-case pieces of the
  // model name, "6000xp"); empty: the whole family.
  std::vector<std::string> models;
  std::string note;
  std::vector<std::string> sources;  // its own, else the entry's
  SourceClass source_class = SourceClass::kEmulatorReport;

  // Whether what this value reads is reported for `model` (true when either is unknown).
  bool reported_for(std::string_view model) const;
};

struct CanPort {
  std::string port;
  std::optional<int> can_h, can_l, gnd;
  std::string note;
};

// A serial (RS485) battery port: the pins of A, B and ground where a source gives them.
struct Rs485Port {
  std::string port;
  std::optional<int> a, b, gnd;
  std::string note;
  bool termination_needed = false;  // the maker asks for 120 Ω at both ends of this bus
};

// Whether a device terminates the bus by itself, from its maker's documents (or reports).
enum class BuiltinTermination { kUnknown, kYes, kNo, kSwitchable };

// The pack's electrical facts for static settings: cells in series and the maker's limits.
struct PackFacts {
  int cells_series = 0;
  std::optional<double> nominal_v, charge_max_v, cutoff_min_v;
  std::vector<std::string> sources;
  SourceClass source_class = SourceClass::kEmulatorReport;
};

struct FirmwareIssue {
  std::string firmware;  // the version(s) concerned; empty for a quirk of every version
  std::string device;    // the other side, when the issue is about a pair
  std::string issue;
  bool breaks_comms = false;  // this version is known to break the BMS-inverter link
  std::vector<std::string> sources;
  std::string confidence;
};

struct DeviceInfo {
  enum class Kind { kInverter, kBattery };
  Kind kind = Kind::kInverter;
  std::string id, brand, family;
  std::vector<std::string> models;
  std::vector<std::string> match;  // lower-case fragments of a model name that identify it
  // Inverters: the battery-type menu and its values.
  std::string menu;
  std::vector<MenuValue> battery_settings;
  // Batteries: the protocol they send on the inverter port, and what else they can send (another
  // jack, a DIP or app setting).
  std::string protocol;
  std::vector<std::string> other_protocols;
  std::optional<PackFacts> pack;
  std::vector<int> bitrate_kbps;
  std::optional<CanPort> can_port;
  std::optional<Rs485Port> rs485_port;
  std::string pin_trap;
  std::optional<bool> multiple_batteries;
  std::string multiple_batteries_note;
  std::vector<std::string> comms_loss_codes;
  std::string comms_loss;
  std::string termination;
  BuiltinTermination termination_builtin = BuiltinTermination::kUnknown;
  // Only these models of the family (lower-case pieces of the name) are said to terminate so;
  // empty: the whole family.
  std::vector<std::string> termination_models;
  std::vector<std::string> termination_sources;
  std::string dip;  // DIP/address notes, as text
  std::optional<int> max_parallel;
  std::vector<FirmwareIssue> firmware_issues;
  std::vector<std::string> sources;
  std::string confidence;
  SourceClass source_class = SourceClass::kEmulatorReport;
  nlohmann::json raw;  // the entry as written, for the API's pickers
};

class KnowledgeBase {
 public:
  static Result<KnowledgeBase> builtin();
  // One file: {"protocols": [...]} and/or {"inverters": [...]} and/or {"batteries": [...]}.
  static Result<KnowledgeBase> parse(std::string_view json, std::string_view name);
  // A user's file on top: entries with a known id replace the built-in ones.
  Result<void> add(const KnowledgeBase& more);

  const std::vector<ProtocolInfo>& protocols() const { return protocols_; }
  const std::map<std::string, SourceInfo>& sources() const { return sources_; }
  const SourceInfo* source(std::string_view key) const;
  // The strongest class among `keys` (the sources a fact cites); nullopt when none is known.
  std::optional<SourceClass> strongest(const std::vector<std::string>& keys) const;
  const std::vector<DeviceInfo>& inverters() const { return inverters_; }
  const std::vector<DeviceInfo>& batteries() const { return batteries_; }

  // An id, a name or an alias ("Pylontech CAN" -> pylon-lv), ignoring case and runs of spaces,
  // nothing else.
  const ProtocolInfo* find_protocol(std::string_view text) const;
  const ProtocolInfo* protocol(std::string_view id) const;
  // The entry whose id, a model or a match fragment best fits what the user typed.
  const DeviceInfo* find_inverter(std::string_view model) const;
  const DeviceInfo* find_battery(std::string_view model) const;
  // Only an entry one of whose own model names (or id) is in what was typed, never a brand or
  // a fragment: for facts that must not be guessed (the cells in series of a pack).
  const DeviceInfo* find_battery_model(std::string_view model) const;
  const DeviceInfo* find_inverter_model(std::string_view model) const;
  // The menu value of `inverter` named like `text` as installers type it: case, spacing and
  // punctuation ignored, and the shorthand of the number or code that tells values apart
  // ("L51", "51", "li+l51" for "LI + L51"; "00" for "Lithium 00"; "PYLON" for "PYL"), when it
  // fits one value only. Null when it fits none, or several.
  static const MenuValue* menu_value(const DeviceInfo& inverter, std::string_view text);
  // Whether an inverter on `inverter_protocol` (through `menu`, when known) reads a battery on
  // `battery_protocol`: the same protocol, or one the setting or the protocol says it reads.
  bool compatible(std::string_view inverter_protocol, std::string_view battery_protocol,
                  const MenuValue* menu = nullptr) const;
  // The same for any protocol the battery sends (its main one first): the one read, or "".
  std::string compatible_with_battery(std::string_view inverter_protocol, const DeviceInfo& battery,
                                      const MenuValue* menu = nullptr) const;

 private:
  Result<void> resolve_classes();

  std::vector<ProtocolInfo> protocols_;
  std::map<std::string, SourceInfo> sources_;
  std::vector<DeviceInfo> inverters_;
  std::vector<DeviceInfo> batteries_;
};

// Lower case with runs of white space collapsed to one space, trimmed. "LFP-CAN" stays apart from
// "LFP CAN": menus that differ by a character are different entries.
std::string normalized_name(std::string_view text);

// Whether `word` stands in `text` as a whole word (not inside another one: "can" is not in
// "cancel").
bool contains_word(std::string_view text, std::string_view word);

// The whole knowledge base for pickers (`bmslink devices --json`, GET /api/devices):
// {"protocols": [{id, name, transport, bitrate_kbps, aliases, sources, confidence}],
//  "inverters": [entries as written], "batteries": [entries as written]}.
nlohmann::json knowledge_json(const KnowledgeBase& kb);

}  // namespace bmslink::diagnosis
