// Test tool: writes cases to a store as fast as it can, so tests can kill it mid-burst or run two
// at once. `records_writer URL each PREFIX N` commits one case per transaction and prints
// "committed ID" after each commit; `records_writer URL import PREFIX FIRST LAST` commits cases
// FIRST..LAST-1 in one transaction and prints "committed all"; `records_writer URL create PREFIX
// FIRST LAST TAG` creates cases FIRST..LAST-1 one by one (fix = TAG) and prints "created ID" for
// each it stored and "taken ID" for each whose id was already taken.
#include <cstdio>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

#include "bmslink/records/store.h"

namespace {

bmslink::records::Case make(const std::string& id, int i) {
  using bmslink::diagnosis::Cause;
  bmslink::records::Case c;
  c.id = id;
  c.opened = fmt::format("2026-{:02d}-{:02d}T{:02d}:00:00Z", 1 + i % 12, 1 + i % 28, i % 24);
  c.site.name = fmt::format("site {}", i);
  c.symptom = "BMS communication fault";
  static const Cause causes[] = {Cause::kInverterProtocolMismatch, Cause::kTerminationFault,
                                 Cause::kCableUnsuitable};
  c.root_cause = causes[i % 3];
  c.layer = i % 3 + 1;
  c.outcome = bmslink::records::Outcome::kFixed;
  c.minutes_by_layer[0] = 5;
  c.notes = std::string(200, 'x');  // some bulk per write
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr,
                 "usage: records_writer URL each PREFIX N | URL import PREFIX FIRST LAST\n");
    return 2;
  }
  auto store = bmslink::records::open_store(argv[1]);
  if (!store) {
    std::fprintf(stderr, "%s\n", store.error().message.c_str());
    return 1;
  }
  const std::string mode = argv[2], prefix = argv[3];
  if (mode == "each") {
    const int n = std::atoi(argv[4]);
    for (int i = 0; i < n; ++i) {
      const std::string id = fmt::format("{}{}", prefix, i);
      if (auto ok = (*store)->put(make(id, i)); !ok) {
        std::fprintf(stderr, "%s\n", ok.error().message.c_str());
        return 1;
      }
      std::printf("committed %s\n", id.c_str());
      std::fflush(stdout);
    }
    return 0;
  }
  if (mode == "create" && argc >= 7) {
    for (int i = std::atoi(argv[4]); i < std::atoi(argv[5]); ++i) {
      auto c = make(fmt::format("{}{}", prefix, i), i);
      c.fix = argv[6];
      auto created = (*store)->create(c);
      if (!created) {
        std::fprintf(stderr, "%s\n", created.error().message.c_str());
        return 1;
      }
      std::printf("%s %s\n", *created ? "created" : "taken", c.id.c_str());
    }
    return 0;
  }
  if (mode == "import" && argc >= 6) {
    std::vector<bmslink::records::Case> cases;
    for (int i = std::atoi(argv[4]); i < std::atoi(argv[5]); ++i)
      cases.push_back(make(fmt::format("{}{}", prefix, i), i));
    if (auto ok = (*store)->put_all(cases); !ok) {
      std::fprintf(stderr, "%s\n", ok.error().message.c_str());
      return 1;
    }
    std::printf("committed all\n");
    return 0;
  }
  return 2;
}
