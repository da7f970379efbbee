// libFuzzer target for what people hand to `bmslink diagnose`: any bytes as an answers file, as
// their own check catalogue and as their own knowledge-base file. Each either reads or gives an
// Error naming what was wrong — never a crash; what reads runs through the guided engine, and an
// answers file that reads writes out and reads again to the same answers.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "bmslink/diagnosis/guided.h"
#include "bmslink/diagnosis/hardcode.h"

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace bmslink::diagnosis;
  static const CheckCatalogue catalogue = *CheckCatalogue::builtin();
  static const KnowledgeBase kb = *KnowledgeBase::builtin();
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  if (auto a = parse_answers(text, "fuzz", catalogue)) {
    const auto r = run_guided(catalogue, kb, *a);
    (void)guided_json(r).dump();
    require(r.confirmed || r.next || r.escalate);
    const auto again = parse_answers(a->to_json().dump(), "again", catalogue);
    require(again && again->to_json() == a->to_json());
  } else {
    require(!a.error().message.empty());
  }

  if (auto more = CheckCatalogue::parse(text, "fuzz", &catalogue)) {
    CheckCatalogue mine = catalogue;
    (void)mine.add(*more);
    const auto r = run_guided(mine, kb, Answers{});
    (void)guided_json(r).dump();
  } else {
    require(!more.error().message.empty());
  }

  if (auto more = KnowledgeBase::parse(text, "fuzz")) {
    KnowledgeBase mine = kb;
    if (mine.add(*more)) {
      for (const auto& d : mine.inverters()) (void)mine.find_inverter(d.id);
      (void)mine.find_protocol("Pylontech CAN");
      // The user's devices through the engine: a setting on each inverter, each battery's pack.
      for (const auto& d : mine.inverters()) {
        Answers a;
        a.inverter_model = d.id;
        a.values["inverter_battery_setting"] = "Lithium 00";
        (void)guided_json(run_guided(catalogue, mine, a)).dump();
      }
      for (const auto& b : mine.batteries()) {
        HardcodeInput in;
        in.battery = b.id;
        in.capacity_ah = 100;
        (void)advise_hardcode(in, &mine);
      }
    }
  } else {
    require(!more.error().message.empty());
  }

  // Any text as a menu value typed on every known inverter, and as a battery to hardcode for.
  if (size < 200) {
    const std::string typed(text);
    for (const auto& d : kb.inverters()) (void)KnowledgeBase::menu_value(d, typed);
    HardcodeInput in;
    in.battery = typed;
    in.capacity_ah = 50;
    if (auto advice = advise_hardcode(in, &kb)) {
      require(advice->cells > 0 &&
              (!advice->charge_max_v || advice->charge_voltage_v <= *advice->charge_max_v + 1e-9));
    }
  }
  return 0;
}
