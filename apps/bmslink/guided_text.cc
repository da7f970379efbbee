// The guided diagnosis for people (`diagnose` without --json) and the data it runs on.

#include "guided_text.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli.h"

namespace bmslink::app {

using diagnosis::CheckCatalogue;
using diagnosis::GuidedResult;
using diagnosis::KnowledgeBase;

// The catalogue and knowledge base: built in, plus the user's own files.
bool load(const GuidedArgs& args, CheckCatalogue& cat, KnowledgeBase& kb) {
  auto c = CheckCatalogue::builtin();
  auto k = KnowledgeBase::builtin();
  if (!c || !k) {
    fmt::print(stderr, "bmslink: built-in data: {}\n", !c ? c.error().message : k.error().message);
    return false;
  }
  cat = std::move(*c);
  kb = std::move(*k);
  std::string error;
  for (const auto& f : args.check_files) {
    auto text = read_text(f, error);
    if (!text) {
      fmt::print(stderr, "bmslink: {}\n", error);
      return false;
    }
    auto more = CheckCatalogue::parse(*text, f, &cat);
    if (!more) {
      fmt::print(stderr, "bmslink: {}\n", more.error().message);
      return false;
    }
    (void)cat.add(*more);
  }
  for (const auto& f : args.device_files) {
    auto text = read_text(f, error);
    if (!text) {
      fmt::print(stderr, "bmslink: {}\n", error);
      return false;
    }
    auto more = KnowledgeBase::parse(*text, f);
    if (!more) {
      fmt::print(stderr, "bmslink: {}\n", more.error().message);
      return false;
    }
    (void)kb.add(*more);
  }
  return true;
}

std::string layer_label(diagnosis::Layer l) {
  return fmt::format("layer {} \u2014 {}", diagnosis::layer_number(l), diagnosis::layer_name(l));
}

std::string guided_text(const GuidedResult& r, const CheckCatalogue& cat) {
  std::string out;
  auto it = std::back_inserter(out);
  // An RS485 pair is said first: the CAN checks do not apply to it.
  if (r.link.bus == "rs485")
    fmt::format_to(
        it, "LINK  RS485, not CAN: {}{}{}\n  CAN-only checks are skipped.\n", r.link.reason,
        r.link.port.empty() ? "" : "\n  port: " + r.link.port,
        r.link.source_class
            ? fmt::format("\n  source: {}", diagnosis::source_class_caveat(*r.link.source_class))
            : "");
  std::optional<diagnosis::Layer> shown;
  std::size_t stopped = 0;
  for (const auto& v : r.verdicts) {
    // After the confirmed cause the method stops: one line for all of those, below.
    if (r.confirmed && v.verdict == diagnosis::Verdict::kSkipped && !v.from_capture) {
      ++stopped;
      continue;
    }
    if (!shown || *shown != v.layer) {
      const auto li = static_cast<std::size_t>(diagnosis::layer_number(v.layer) - 1);
      const double top = std::max(r.budget[li], r.budget_max[li]);
      fmt::format_to(it, "\n{} ({:.0f} of {}{})\n", layer_label(v.layer), r.minutes[li],
                     top > r.budget[li] ? fmt::format("{:.0f}-{:.0f} min", r.budget[li], top)
                                        : fmt::format("{:.0f} min", r.budget[li]),
                     r.minutes[li] > top ? ", over budget" : "");
      shown = v.layer;
    }
    const auto* c = cat.find(v.check);
    std::string verdict(diagnosis::verdict_name(v.verdict));
    for (char& ch : verdict) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    fmt::format_to(it, "  {:<8} {}{}\n", verdict, c ? c->title : v.check,
                   v.reason.empty() ? "" : ": " + v.reason);
  }
  if (stopped > 0)
    fmt::format_to(it,
                   "\n  ({} later check(s) not needed: the method stops at the first confirmed "
                   "cause)\n",
                   stopped);
  fmt::format_to(it, "\n");
  for (const auto& v : r.suspects)
    fmt::format_to(it, "SUSPECT  {} ({}): {}\n  try:    {}\n", diagnosis::cause_id(*v.cause),
                   v.check, v.reason, v.fix);
  for (const auto& v : r.marginal)
    fmt::format_to(it, "MARGINAL {}: {}\n  if errors show: {}\n", v.check, v.reason, v.fix);
  if (r.confirmed) {
    fmt::format_to(it, "CONFIRMED  {} ({}) by {}\n", diagnosis::cause_id(*r.confirmed),
                   layer_label(*r.layer), r.confirmed_by);
    fmt::format_to(it, "  why:    {}\n  fix:    {}\n", r.reason, r.fix);
    if (!r.reverify.empty()) fmt::format_to(it, "  verify: {}\n", r.reverify);
    if (!r.customer.empty()) fmt::format_to(it, "  for the customer: {}\n", r.customer);
    if (!r.still_open.empty())
      fmt::format_to(it, "  not yet checked before it: {}\n", fmt::join(r.still_open, ", "));
  } else if (r.next) {
    fmt::format_to(it, "NEXT  {} ({}): {}\n", r.next->check, layer_label(r.next->layer),
                   r.next->title);
    if (!r.next->why.empty()) fmt::format_to(it, "  {}\n", r.next->why);
    for (const auto& a : r.next->asks)
      fmt::format_to(it, "  - {}: {}{}\n", a.key, a.prompt,
                     a.unit.empty() ? "" : " [" + a.unit + "]");
  } else if (r.escalate) {
    fmt::format_to(it,
                   "ESCALATE  all five layers checked without a cause: consider hardcoding "
                   "(bmslink hardcode) or the manufacturer\n");
    if (r.hardcode)
      fmt::format_to(it,
                     "  the battery has {} cells in series ({}): bmslink hardcode --battery {} "
                     "--capacity-ah AH\n",
                     r.hardcode->cells_series,
                     r.hardcode->source_class
                         ? diagnosis::source_class_caveat(*r.hardcode->source_class)
                         : "knowledge base",
                     r.hardcode->battery);
    else
      fmt::format_to(it,
                     "  count the battery's cells in series for it: bmslink hardcode --cells N "
                     "(never a default)\n");
  }
  fmt::format_to(it, "time: {:.0f} min\n", r.total_minutes);
  return out;
}

std::string choices_text(const diagnosis::InputSpec& s) {
  std::vector<std::string> c;
  int i = 1;
  for (const auto& v : s.choices) {
    const std::string id = v.is_string() ? v.get<std::string>() : v.dump();
    const auto label = s.choice_labels.find(id);
    // The words, and the id a file or a script would write.
    c.push_back(label == s.choice_labels.end()
                    ? fmt::format("{}) {}", i++, id)
                    : fmt::format("{}) {} ({})", i++, label->second, id));
  }
  return fmt::format("{}", fmt::join(c, "  "));
}

}  // namespace bmslink::app
