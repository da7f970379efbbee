// The three case reports, written once as a list of blocks (headings, paragraphs, lists, tables,
// a chart, a signature field) and rendered to HTML or Markdown, so both say the same.

#include "bmslink/report/records_report.h"

#include <cstdio>
#include <ctime>

#include <algorithm>
#include <array>
#include <iterator>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "bmslink/core/text.h"
#include "bmslink/diagnosis/hardcode.h"

namespace bmslink::report {
namespace {

std::string html(std::string_view s) { return html_escape(s); }
std::string md(std::string_view s) { return markdown_escape(s); }

struct Block {
  enum class Kind { kTitle, kHeading, kText, kList, kTable, kChart, kSignature } kind;
  std::string text;
  std::vector<std::string> items;              // list items
  std::vector<std::vector<std::string>> rows;  // table rows, first is the header
  std::vector<std::string> labels;             // chart bars
  std::vector<double> values;
  std::string unit;
};

class Doc {
 public:
  void title(std::string t) { add(Block::Kind::kTitle).text = std::move(t); }
  void heading(std::string t) { add(Block::Kind::kHeading).text = std::move(t); }
  void text(std::string t) {
    if (!t.empty()) add(Block::Kind::kText).text = std::move(t);
  }
  void list(std::vector<std::string> items) {
    if (!items.empty()) add(Block::Kind::kList).items = std::move(items);
  }
  void table(std::vector<std::vector<std::string>> rows) {
    if (rows.size() > 1) add(Block::Kind::kTable).rows = std::move(rows);
  }
  // Horizontal bars, one per label; `unit` follows each value ("min", "%").
  void chart(std::string caption, std::vector<std::string> labels, std::vector<double> values,
             std::string unit) {
    if (labels.empty()) return;
    auto& b = add(Block::Kind::kChart);
    b.text = std::move(caption);
    b.labels = std::move(labels);
    b.values = std::move(values);
    b.unit = std::move(unit);
  }
  // Lines to sign: `label` says who signs ("Customer"), `who` the name when known.
  void signature(std::string label, std::string who) {
    auto& b = add(Block::Kind::kSignature);
    b.text = std::move(who);
    b.unit = std::move(label);
  }

  std::string to_html() const {
    std::string out =
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>";
    out += html(blocks_.empty() ? "bmslink" : blocks_.front().text);
    out +=
        "</title><style>"
        "body{font:16px/1.5 system-ui,sans-serif;max-width:780px;margin:0 auto;padding:10px "
        "14px;color:#111;overflow-wrap:anywhere}h1{font-size:1.4em}h2{font-size:1.15em;border-"
        "bottom:1px solid #999;"
        "margin-top:1.4em}table{border-collapse:collapse;width:100%;font-size:14px}"
        "td,th{border:1px solid #bbb;padding:4px 6px;text-align:left;vertical-align:top;"
        "overflow-wrap:break-word}th{background:#eee}.tw{overflow-x:auto}svg{width:100%;max-width:"
        "480px;height:auto}figure{margin:1em 0}"
        "figcaption{font-weight:600}.sig{margin-top:2em}.sig div{border-bottom:1px solid "
        "#000;height:2.4em;"
        "margin:.4em 0 1em}"
        "@page{margin:15mm}@media print{body{max-width:none;padding:0}h2{break-after:avoid}"
        "table,svg,.sig{break-inside:avoid}}"
        "@media screen and (max-width:560px){table.cards,table.cards tbody,table.cards tr,"
        "table.cards td{display:block;width:100%}table.cards tr:first-child{display:none}"
        "table.cards tr{border:1px solid #bbb;margin:.5em 0;padding:.3em .5em}table.cards td{"
        "border:none;padding:1px 0}table.cards td::before{content:attr(data-label) \": \";"
        "font-weight:600}}.from{color:#333}</style></head><body>\n";
    for (const auto& b : blocks_) {
      switch (b.kind) {
        case Block::Kind::kTitle:
          out += "<h1>" + html(b.text) + "</h1>\n";
          break;
        case Block::Kind::kHeading:
          out += "<h2>" + html(b.text) + "</h2>\n";
          break;
        case Block::Kind::kText:
          out += "<p>" + html(b.text) + "</p>\n";
          break;
        case Block::Kind::kList:
          out += "<ul>";
          for (const auto& i : b.items) out += "<li>" + html(i) + "</li>";
          out += "</ul>\n";
          break;
        case Block::Kind::kTable:
          // A table wider than a phone scrolls inside its frame, never the page.
          // Three columns or more: on a phone each row becomes a card, each cell named by its
          // column (data-label), so nothing is cut off.
          out += b.rows.front().size() >= 3 ? "<div class=\"tw\"><table class=\"cards\">"
                                            : "<div class=\"tw\"><table>";
          for (std::size_t r = 0; r < b.rows.size(); ++r) {
            out += "<tr>";
            for (std::size_t k = 0; k < b.rows[r].size(); ++k) {
              const auto& cell = b.rows[r][k];
              if (r == 0)
                out += "<th>" + html(cell) + "</th>";
              else
                out += "<td data-label=\"" + html(b.rows[0][k]) + "\">" + html(cell) + "</td>";
            }
            out += "</tr>";
          }
          out += "</table></div>\n";
          break;
        case Block::Kind::kChart: {
          double top = 0;
          for (double v : b.values) top = std::max(top, v);
          if (top <= 0) top = 1;
          // The label above its bar, so long cause names fit a phone's width.
          constexpr double kRow = 40, kBar = 270;
          std::string bars;
          for (std::size_t i = 0; i < b.labels.size(); ++i) {
            const double y = static_cast<double>(i) * kRow;
            const double w = b.values[i] / top * kBar;
            bars += fmt::format(
                "<text x=\"0\" y=\"{:.0f}\">{}</text>"
                "<rect x=\"0\" y=\"{:.0f}\" width=\"{:.1f}\" height=\"14\" fill=\"#1f5f99\"/>"
                "<text x=\"{:.1f}\" y=\"{:.0f}\">{}</text>",
                y + 14, html(b.labels[i]), y + 20, std::max(w, 1.0), std::max(w, 1.0) + 5, y + 32,
                html(fmt::format("{:.3g} {}", b.values[i], b.unit)));
          }
          out += fmt::format(
              "<figure><figcaption>{}</figcaption><svg viewBox=\"0 0 360 {:.0f}\" role=\"img\" "
              "aria-label=\"{}\" font-size=\"14\">{}</svg></figure>\n",
              html(b.text), static_cast<double>(b.labels.size()) * kRow + 4, html(b.text), bars);
          break;
        }
        case Block::Kind::kSignature:
          out += "<div class=\"sig\">" +
                 (b.unit.empty() ? std::string() : "<p><strong>" + html(b.unit) + "</strong></p>") +
                 "<p>Name: " + html(b.text) +
                 "</p><p>Date:</p><div></div><p>Signature:</p><div></div></div>\n";
          break;
      }
    }
    out += "</body></html>\n";
    return out;
  }

  std::string to_markdown() const {
    std::string out;
    for (const auto& b : blocks_) {
      switch (b.kind) {
        case Block::Kind::kTitle:
          out += "# " + md(b.text) + "\n\n";
          break;
        case Block::Kind::kHeading:
          out += "## " + md(b.text) + "\n\n";
          break;
        case Block::Kind::kText:
          out += md(b.text) + "\n\n";
          break;
        case Block::Kind::kList:
          for (const auto& i : b.items) out += "- " + md(i) + "\n";
          out += "\n";
          break;
        case Block::Kind::kTable:
          for (std::size_t r = 0; r < b.rows.size(); ++r) {
            out += "|";
            for (const auto& cell : b.rows[r]) out += " " + md(cell) + " |";
            out += "\n";
            if (r == 0) {
              out += "|";
              for (std::size_t k = 0; k < b.rows[r].size(); ++k) out += "---|";
              out += "\n";
            }
          }
          out += "\n";
          break;
        case Block::Kind::kChart:
          out += md(b.text) + ": ";
          for (std::size_t i = 0; i < b.labels.size(); ++i)
            out +=
                (i ? ", " : "") + md(fmt::format("{} {:.3g} {}", b.labels[i], b.values[i], b.unit));
          out += "\n\n";
          break;
        case Block::Kind::kSignature:
          out += (b.unit.empty() ? std::string() : "**" + md(b.unit) + "**\n\n") +
                 "Name: " + md(b.text) +
                 "\n\nDate: ______________________\n\nSignature: "
                 "______________________\n\n";
          break;
      }
    }
    return out;
  }

 private:
  Block& add(Block::Kind kind) {
    blocks_.push_back(Block{kind, {}, {}, {}, {}, {}, {}});
    return blocks_.back();
  }
  std::vector<Block> blocks_;
};

std::vector<std::string> layer_labels() {
  std::vector<std::string> out;
  for (int l = 1; l <= 5; ++l)
    out.push_back(fmt::format("{} {}", l, diagnosis::layer_name(static_cast<diagnosis::Layer>(l))));
  return out;
}

// A cause id in words ("termination_fault" -> "Termination wrong"); an unknown id as it is.
std::string cause_name(const std::string& id) {
  const auto cause = diagnosis::parse_cause(id);
  if (!cause) return id;
  std::string name(diagnosis::cause_info(*cause).name);
  if (!name.empty() && name[0] >= 'a' && name[0] <= 'z') name[0] = static_cast<char>(name[0] - 32);
  return name;
}

std::string cause_words(const records::Case& c) {
  if (!c.root_cause) return "not found";
  std::string name(diagnosis::cause_info(*c.root_cause).name);
  if (!name.empty() && name[0] >= 'a' && name[0] <= 'z') name[0] = static_cast<char>(name[0] - 32);
  return name;
}

// The check that confirmed the root cause, for its plain-words explanation: a failed check of
// the case that stands for that cause, else the catalogue's check for it.
const diagnosis::Check* confirming(const records::Case& c, const diagnosis::CheckCatalogue* cat) {
  if (cat == nullptr || !c.root_cause) return nullptr;
  for (const auto& ch : c.checks)
    if (ch.verdict == diagnosis::Verdict::kFail)
      if (const auto* found = cat->find(ch.check); found && found->confirms == *c.root_cause)
        return found;
  for (const auto& ch : cat->checks())
    if (ch.confirms == *c.root_cause) return &ch;
  return nullptr;
}

// "1 hour", "0.5 hours", "24 hours".
std::string hours_words(double h) { return fmt::format("{:g} hour{}", h, h == 1 ? "" : "s"); }

// " over 24 hours" when the hours are known.
std::string over_hours(const records::Case& c) {
  return c.verification.hours ? " over " + hours_words(*c.verification.hours) : "";
}

// An answer as people read it: the question, short ("Resistance between CAN-H and CAN-L"), and
// the value in words ("Both devices connected", "yes", "120 Ω", "can't tell").
std::string answer_words(const diagnosis::CheckCatalogue* cat, const std::string& key,
                         const nlohmann::json& v) {
  const diagnosis::InputSpec* spec = cat ? cat->input(key) : nullptr;
  std::string question = key;
  if (spec && !spec->prompt.empty()) {
    question = spec->prompt;
    const auto cut = question.find_first_of("(?:");
    if (cut != std::string::npos && cut > 12) question.resize(cut);
    while (!question.empty() && question.back() == ' ') question.pop_back();
  }
  std::string value;
  if (v.is_null())
    value = "can't tell";
  else if (v.is_boolean())
    value = v.get<bool>() ? "yes" : "no";
  else if (v.is_string()) {
    value = v.get<std::string>();
    if (spec)
      if (const auto it = spec->choice_labels.find(value); it != spec->choice_labels.end())
        value = it->second;
  } else {
    value = fmt::format("{:g}", v.is_number() ? v.get<double>() : 0.0);
    if (spec && !spec->unit.empty()) value += " " + spec->unit;
    if (!v.is_number()) value = v.dump();
  }
  return question + ": " + value;
}

std::string_view verdict_words(diagnosis::Verdict v) {
  switch (v) {
    case diagnosis::Verdict::kPass:
      return "passed";
    case diagnosis::Verdict::kFail:
      return "fault found";
    case diagnosis::Verdict::kUnknown:
      return "not decided";
    case diagnosis::Verdict::kMarginal:
      return "marginal";
    case diagnosis::Verdict::kSuspect:
      return "suspect";
    case diagnosis::Verdict::kSkipped:
      return "skipped";
  }
  return "";
}

// The company's name and how to reach it, on one line each.
void company_lines(const ReportContext& ctx, Doc& d) {
  std::vector<std::string> contact;
  for (const auto* part : {&ctx.phone, &ctx.email, &ctx.website})
    if (!part->empty()) contact.push_back(*part);
  if (!ctx.company.empty()) d.text(ctx.company);
  if (!ctx.address.empty()) d.text(ctx.address);
  if (!contact.empty()) d.text(fmt::format("{}", fmt::join(contact, " · ")));
}

std::string show_value(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_null()) return "not known";
  return v.dump();
}

// A string member of a stored finding; findings come from older versions too, so nothing is
// assumed.
std::string field(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || !j[key].is_string()) return "";
  return j[key].get<std::string>();
}

std::string stays_fixed(const records::Case& c) {
  if (!c.layer) return "";
  switch (*c.layer) {
    case 1:
      return "The corrected setting is stored in the equipment and stays unless someone changes "
             "it.";
    case 2:
      return "The connection is now measured and tight; connections can loosen again over years "
             "of heating and cooling, so it is worth a look at the next service.";
    case 3:
      return "The cable now suits the length and the electrical noise around it.";
    case 4:
      return "The source of the disturbance was removed or the cable protected from it.";
    default:
      return "The software versions now work together; keep them unless the installer advises an "
             "update.";
  }
}

// "charge_voltage_v" -> "charge voltage (V)": the keys are whatever the installer recorded.
std::string setting_words(std::string key) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 6> kUnits = {
      {{"_v", " (V)"},
       {"_a", " (A)"},
       {"_kwh", " (kWh)"},
       {"_pct", " (%)"},
       {"_ah", " (Ah)"},
       {"_c", " (°C)"}}};
  std::string unit;
  for (const auto& [suffix, words] : kUnits)
    if (key.size() > suffix.size() && key.ends_with(suffix)) {
      key.resize(key.size() - suffix.size());
      unit = words;
      break;
    }
  std::replace(key.begin(), key.end(), '_', ' ');
  return key + unit;
}

void hardcoded_blocks(const records::Case& c, Doc& d, bool customer) {
  const auto terms = diagnosis::hardcode_terms();
  d.heading(customer ? "Fixed settings instead of communication" : "Hardcoded settings");
  std::vector<std::vector<std::string>> rows = {{"setting", "value"}};
  if (c.hardcoded.is_object())
    for (const auto& [k, v] : c.hardcoded.items())
      rows.push_back({setting_words(k), show_value(v)});
  d.table(rows);
  d.text("What this gives up:");
  d.list(terms.lost_protection);
  d.text("Maintenance: " + terms.maintenance);
  d.text("Expected battery life: " + terms.expected_life);
}

}  // namespace

std::string local_time(std::string_view iso, int offset_minutes) {
  if (!records::is_iso_utc(iso) || iso.size() < 19) return std::string(iso);
  std::tm t{};
  const std::string s(iso.substr(0, 19));
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &t.tm_year, &t.tm_mon, &t.tm_mday,
                  &t.tm_hour, &t.tm_min, &t.tm_sec) != 6)
    return std::string(iso);
  t.tm_year -= 1900;
  t.tm_mon -= 1;
  const std::time_t utc = timegm(&t) + static_cast<std::time_t>(offset_minutes) * 60;
  std::tm local{};
  gmtime_r(&utc, &local);
  static constexpr std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const int off = offset_minutes < 0 ? -offset_minutes : offset_minutes;
  return fmt::format("{} {} {}, {:02d}:{:02d} (UTC{}{:02d}:{:02d})", local.tm_mday,
                     kMonths[static_cast<std::size_t>(local.tm_mon)], local.tm_year + 1900,
                     local.tm_hour, local.tm_min, offset_minutes < 0 ? '-' : '+', off / 60,
                     off % 60);
}

std::string case_report(const records::Case& c, CaseReportKind kind, CaseReportFormat format,
                        const diagnosis::CheckCatalogue* cat, const ReportContext& ctx) {
  Doc d;
  const std::string site = c.site.name.empty() ? c.id : c.site.name;
  const auto when = [&](const std::string& iso) { return local_time(iso, ctx.utc_offset_minutes); };
  if (kind == CaseReportKind::kTechnician) {
    d.title("Technician report: " + site);
    // One fact per row: reads on a phone, prints on paper.
    d.table({{"Case", c.id},
             {"Outcome", std::string(records::outcome_name(c.outcome))},
             {"Technician", c.installer.empty() ? std::string("-") : c.installer},
             {"Opened", when(c.opened)},
             {"Closed", c.closed ? when(*c.closed) : std::string("still open")},
             {"Site", c.site.name},
             {"Customer", c.site.customer},
             {"Address", c.site.address},
             {"Battery (BMS)", fmt::format("{} {}", c.bms.model, c.bms.firmware)},
             {"Batteries",
              fmt::format("{}{}", c.bms.count ? fmt::format("{}", *c.bms.count) : "-",
                          c.bms.energy_kwh ? fmt::format(", {:g} kWh", *c.bms.energy_kwh) : "")},
             {"Inverter", fmt::format("{} {}", c.inverter.model, c.inverter.firmware)}});
    d.text("Symptom reported: " + (c.symptom.empty() ? std::string("-") : c.symptom));
    for (int l = 1; l <= 5; ++l) {
      std::vector<std::vector<std::string>> rows = {{"Check", "Answers", "Verdict", "Minutes"}};
      for (const auto& ch : c.checks) {
        if (ch.layer != l) continue;
        std::vector<std::string> inputs;
        if (ch.inputs.is_object())
          for (const auto& [k, v] : ch.inputs.items()) inputs.push_back(answer_words(cat, k, v));
        const auto* check = cat ? cat->find(ch.check) : nullptr;
        rows.push_back({check ? check->title : ch.check, fmt::format("{}", fmt::join(inputs, "; ")),
                        std::string(verdict_words(ch.verdict)), fmt::format("{:g}", ch.minutes)});
      }
      if (rows.size() == 1 && c.minutes_by_layer[static_cast<std::size_t>(l - 1)] == 0) continue;
      d.heading(fmt::format("Layer {} \u2014 {} ({:g} min)", l,
                            diagnosis::layer_name(static_cast<diagnosis::Layer>(l)),
                            c.minutes_by_layer[static_cast<std::size_t>(l - 1)]));
      if (rows.size() == 1) d.text("No individual checks recorded in this layer.");
      d.table(rows);
      for (const auto& ch : c.checks) {
        if (ch.layer != l) continue;
        const auto* check = cat ? cat->find(ch.check) : nullptr;
        if (check == nullptr) continue;
        if (ch.verdict == diagnosis::Verdict::kFail) {
          d.text(check->title + ": " + check->technician);
          d.text("Re-verify: " + check->reverify);
        } else if (ch.verdict == diagnosis::Verdict::kMarginal) {
          // Marginal does not stop the method, but belongs in the record: the first suspect if
          // errors come back.
          d.text("Marginal — " + check->title + ": " + check->technician);
          d.text("If errors come back: " + check->fix);
        } else if (ch.verdict == diagnosis::Verdict::kSuspect) {
          d.text("Suspect — " + check->title + ": " + check->fix);
        }
      }
    }
    d.chart(fmt::format("Minutes per layer (total {:g})", c.total_minutes()), layer_labels(),
            {c.minutes_by_layer.begin(), c.minutes_by_layer.end()}, "min");
    if (!c.captures.empty()) {
      d.heading("Captures");
      for (const auto& cap : c.captures) {
        std::vector<std::string> items;
        for (const auto& f : cap.findings)
          if (f.is_object()) {
            std::vector<std::string> evidence;
            if (f.contains("evidence") && f["evidence"].is_array())
              for (const auto& e : f["evidence"]) {
                if (e.is_string()) evidence.push_back(e.get<std::string>());
                if (e.is_object() && !field(e, "text").empty())
                  evidence.push_back(field(e, "text"));
              }
            const auto cause = diagnosis::parse_cause(field(f, "cause"));
            std::string item = fmt::format(
                "{} \u2014 {}: {}", field(f, "severity"),
                cause ? std::string(diagnosis::cause_info(*cause).name) : field(f, "cause"),
                field(f, "title"));
            if (!evidence.empty()) item += fmt::format(" \u2014 {}", fmt::join(evidence, "; "));
            if (!field(f, "fix").empty()) item += ". Fix: " + field(f, "fix");
            items.push_back(std::move(item));
          }
        d.text(fmt::format("{} (sha256 {})", cap.file, cap.sha256.substr(0, 16)));
        d.list(items);
      }
    }
    d.heading("Result");
    d.text("Root cause: " + cause_words(c) +
           (c.layer ? fmt::format(", layer {}", *c.layer) : std::string()) +
           (c.root_cause_reason.empty() ? std::string()
                                        : " (set by hand: " + c.root_cause_reason + ")"));
    d.text("Fix: " + (c.fix.empty() ? std::string("-") : c.fix));
    if (c.verification.uptime_share)
      d.text(fmt::format("Verification: complete BMS set in {:.2f} % of the time{}",
                         *c.verification.uptime_share * 100, over_hours(c)));
    if (c.outcome == records::Outcome::kHardcoded) hardcoded_blocks(c, d, false);
    d.text(c.notes.empty() ? "" : "Notes: " + c.notes);
    if (!c.history.empty()) {
      d.heading("Changes to the record");
      std::vector<std::string> items;
      for (const auto& h : c.history) {
        // "Battery type ...: Lithium 01 -> Lithium 00"; "Root cause set to Connection fault".
        const auto cause_of = [](const nlohmann::json& v) {
          return v.is_string() ? cause_name(v.get<std::string>()) : std::string("none");
        };
        std::string what = h.field;
        if (h.field == "root_cause")
          what = h.to.is_null()
                     ? "Root cause left to the checks"
                     : "Root cause set to " + cause_of(h.to) + " (was " + cause_of(h.from) + ")";
        else if (h.field == "outcome")
          what = "Outcome " + show_value(h.from) + " \u2192 " + show_value(h.to);
        else if (h.field == "restored")
          what = "Restored the version saved " + when(show_value(h.to));
        if (h.field == "answer") {
          const auto to = answer_words(cat, h.key, h.to);
          what = answer_words(cat, h.key, h.from) + " \u2192 " + to.substr(to.find(": ") + 2);
        }
        items.push_back(fmt::format("{}{}: {}{}", when(h.at), h.by.empty() ? "" : ", " + h.by, what,
                                    h.reason.empty() ? "" : " (" + h.reason + ")"));
      }
      d.list(items);
    }
  } else if (kind == CaseReportKind::kCustomer) {
    d.title("Your battery and inverter: service report");
    company_lines(ctx, d);
    d.table({{"Site", site},
             {"Date", when(c.closed.value_or(c.opened))},
             {"Technician", c.installer.empty() ? std::string("-") : c.installer},
             {"Customer", c.site.customer.empty() ? std::string("-") : c.site.customer}});
    const auto* check = confirming(c, cat);
    d.heading("What was wrong");
    if (c.outcome == records::Outcome::kEscalated)
      d.text(
          "We checked the settings, the connections, the cable, the electrical surroundings and "
          "the communication itself, and could not find a fault we can fix on site. The case "
          "is with the manufacturer.");
    else
      d.text(check ? check->customer
                   : "The battery and the inverter were not exchanging their messages reliably.");
    d.heading("What was done");
    if (!c.fix.empty())
      d.text(c.fix);
    else if (c.outcome == records::Outcome::kEscalated)
      d.text(
          "Our measurements and recordings went to the manufacturer; we will contact you with "
          "their answer.");
    else
      d.text("The work is still in progress.");
    if (c.outcome == records::Outcome::kFixed && c.layer) {
      d.heading("Why it should not come back");
      d.text(stays_fixed(c));
    }
    d.heading("Warning signs to watch for");
    if (c.outcome == records::Outcome::kHardcoded)
      d.list({"the charge level the inverter shows drifts away from what the battery shows",
              "the battery shows an alarm or fault light, or shuts itself off",
              "the battery gets noticeably warm while charging",
              "the quarterly balancing charge is due (see Maintenance below)"});
    else
      d.list({"the inverter shows a battery or BMS communication fault again",
              "the battery's charge level on the inverter stops changing or jumps",
              "the system stops charging or discharging although the battery is neither full nor "
              "empty"});
    if (c.verification.uptime_share) {
      d.heading("What the monitoring showed");
      d.text(c.verification.hours
                 ? fmt::format("Over {} after the work, the battery's messages reached "
                               "the inverter {:.1f} % of the time.",
                               hours_words(*c.verification.hours),
                               *c.verification.uptime_share * 100)
                 : fmt::format("After the work, the battery's messages reached the inverter "
                               "{:.1f} % of the time.",
                               *c.verification.uptime_share * 100));
    }
    if (c.outcome == records::Outcome::kHardcoded) hardcoded_blocks(c, d, true);
    if (!ctx.company.empty() || !ctx.phone.empty() || !ctx.email.empty()) {
      d.heading("Questions");
      d.text(fmt::format(
          "Call or write to {}{}{}.", ctx.company.empty() ? std::string("us") : ctx.company,
          ctx.phone.empty() ? "" : ", " + ctx.phone, ctx.email.empty() ? "" : ", " + ctx.email));
    }
    d.signature("Work done by", c.installer);
    d.signature("Customer", c.site.customer);
  } else {
    d.title("Acknowledgment: fixed settings without battery communication");
    company_lines(ctx, d);
    d.text(fmt::format("Site: {}. Case {}. BMS {} {}, inverter {} {}.", site, c.id, c.bms.model,
                       c.bms.firmware, c.inverter.model, c.inverter.firmware));
    hardcoded_blocks(c, d, true);
    d.heading("I acknowledge");
    d.text(
        "I understand that the battery and the inverter could not be made to communicate after "
        "a full diagnosis of the settings, connections, cable, electrical surroundings and "
        "protocol, and that the inverter now runs on the fixed settings above instead of the "
        "battery's own limits. This gives up the protection listed above, may affect the "
        "warranty, and needs the maintenance described above; the battery may not last as long.");
    d.signature("Customer", c.acknowledged_by.empty() ? "" : c.acknowledged_by);
    if (c.acknowledged_at) d.text("Acknowledged at " + when(*c.acknowledged_at));
  }
  return format == CaseReportFormat::kHtml ? d.to_html() : d.to_markdown();
}

namespace {
double num(const nlohmann::json& j) { return j.is_number() ? j.get<double>() : 0.0; }
std::string minutes_text(const nlohmann::json& j) {
  return j.is_number() ? fmt::format("{:.1f}", j.get<double>()) : "-";
}
}  // namespace

std::string stats_report(const nlohmann::json& s, std::string_view scope,
                         const diagnosis::CheckCatalogue* cat) {
  Doc d;
  d.title("Service statistics");
  d.text(fmt::format("{:.0f} case(s){}{}", num(s["cases"]), scope.empty() ? "" : ": ", scope));

  // Closed cases only: an open case's cause is not settled yet.
  const auto& closed_causes = s.contains("by_cause_closed") ? s["by_cause_closed"] : s["by_cause"];
  std::vector<std::pair<double, std::string>> causes;
  for (const auto& [k, v] : closed_causes.items()) causes.emplace_back(num(v), k);
  std::sort(causes.begin(), causes.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  std::vector<std::string> labels;
  std::vector<double> values;
  const double total = num(s.contains("closed_cases") ? s["closed_cases"] : s["cases"]);
  for (const auto& [n, k] : causes) {
    labels.push_back(cause_name(k));
    values.push_back(total > 0 ? n / total * 100 : 0);
  }
  d.heading("Root causes");
  d.chart("Share of closed cases by root cause", labels, values, "%");
  if (s.contains("by_cause_open") && !s["by_cause_open"].empty()) {
    std::string open;
    for (const auto& [k, v] : s["by_cause_open"].items())
      open += fmt::format("{}{} ({:.0f})", open.empty() ? "" : ", ", cause_name(k), num(v));
    d.text("Open cases, cause not settled yet: " + open);
  }

  d.heading("Layers");
  std::vector<std::vector<std::string>> rows = {
      {"layer", "cases", "solved here", "solved by here", "minutes mean", "minutes median"}};
  std::vector<double> yield, cumulative, mean;
  for (int l = 1; l <= 5; ++l) {
    const std::string k = std::to_string(l);
    yield.push_back(num(s["layer_yield"][k]) * 100);
    cumulative.push_back(num(s["cumulative_yield"][k]) * 100);
    mean.push_back(num(s["minutes_by_layer"][k]["mean"]));
    rows.push_back(
        {layer_labels()[static_cast<std::size_t>(l - 1)],
         fmt::format("{:.0f}", num(s["by_layer"][k])), fmt::format("{:.1f} %", yield.back()),
         fmt::format("{:.1f} %", cumulative.back()), minutes_text(s["minutes_by_layer"][k]["mean"]),
         minutes_text(s["minutes_by_layer"][k]["median"])});
  }
  d.chart("Share of cases solved in each layer", layer_labels(), yield, "%");
  d.chart("Share solved by this layer or an earlier one", layer_labels(), cumulative, "%");
  d.chart("Mean minutes spent in each layer", layer_labels(), mean, "min");
  d.table(rows);

  d.heading("Minutes");
  labels.clear();
  values.clear();
  rows = {{"root cause", "cases", "mean total minutes", "median total minutes"}};
  for (const auto& [n, k] : causes) {
    const auto& m = s["minutes_by_cause"][k];
    labels.push_back(cause_name(k));
    values.push_back(num(m["median"]));
    rows.push_back({cause_name(k), fmt::format("{:.0f}", n), minutes_text(m["mean"]),
                    minutes_text(m["median"])});
  }
  d.chart("Median total minutes by root cause", labels, values, "min");
  d.table(rows);
  const auto& w = s["solved_within_minutes"];
  d.chart("Cases fixed within", {"15 min", "30 min", "50 min"},
          {num(w["15"]) * 100, num(w["30"]) * 100, num(w["50"]) * 100}, "%");
  const auto& o = s["outcomes"];
  d.table({{"fixed", "hardcoded", "escalated", "open"},
           {fmt::format("{:.0f}", num(o["fixed"])), fmt::format("{:.0f}", num(o["hardcoded"])),
            fmt::format("{:.0f}", num(o["escalated"])), fmt::format("{:.0f}", num(o["open"]))}});

  // The order's saving on these calls (issue 23): expected minutes to the cause per call.
  const auto& ord = s["order"];
  if (ord.is_object() && ord["learned_minutes"].is_number() && ord["guide_minutes"].is_number()) {
    d.heading("Minutes to the cause per call, by check order");
    d.table({{"your company's order", "the field guide's order", "saved a call"},
             {fmt::format("{:.1f} min", num(ord["learned_minutes"])),
              fmt::format("{:.1f} min", num(ord["guide_minutes"])),
              fmt::format("{:.1f} min", num(ord["guide_minutes"]) - num(ord["learned_minutes"]))}});
    if (!ord.value("learns", false))
      d.text(
          fmt::format("{:.0f} closed case(s) with a root cause: from 20 on, the checks "
                      "follow this company's own calls; until then the field guide's "
                      "order.",
                      num(ord["closed_cases"])));
    std::vector<std::vector<std::string>> own = {{"group of calls", "closed cases"}};
    for (const auto& g : ord.value("groups", nlohmann::json::array()))
      own.push_back({g.value("name", ""), fmt::format("{:.0f}", num(g["closed_cases"]))});
    if (own.size() > 1) {
      d.text("Calls on these devices follow their own group's order:");
      d.table(own);
    }
    std::vector<std::vector<std::string>> bad = {{"known-bad pair", "cause", "closed cases"}};
    for (const auto& k : ord.value("known_bad_pairs", nlohmann::json::array()))
      bad.push_back({k.value("pair", ""), cause_name(k.value("cause", "")),
                     fmt::format("{:.0f} of {:.0f}", num(k["cases"]), num(k["closed_cases"]))});
    if (bad.size() > 1) {
      d.text("For these pairs the check of their usual cause comes first:");
      d.table(bad);
    }
  }

  rows = {{"check", "confirmed", "done", "minutes", "confirmed per hour"}};
  for (const auto& t : s["check_order"]) {
    const std::string id = t["check"].is_string() ? t["check"].get<std::string>() : "";
    const auto* check = cat ? cat->find(id) : nullptr;
    rows.push_back({check ? check->title : id, fmt::format("{:.0f}", num(t["confirmed"])),
                    fmt::format("{:.0f}", num(t["done"])), fmt::format("{:.0f}", num(t["minutes"])),
                    fmt::format("{:.2f}", num(t["confirmed_per_minute"]) * 60)});
  }
  if (rows.size() > 1) {
    // Shown, not used to order: a late check runs only where earlier ones passed, so its rate
    // per run flatters it.
    d.heading("Confirmations per hour spent on each check");
    d.table(rows);
  }
  return d.to_html();
}

namespace {
constexpr std::array<std::pair<CaseReportKind, std::string_view>, 3> kReportKinds{{
    {CaseReportKind::kTechnician, "technician"},
    {CaseReportKind::kCustomer, "customer"},
    {CaseReportKind::kAcknowledgment, "acknowledgment"},
}};
}  // namespace

std::string_view case_report_kind_name(CaseReportKind kind) {
  for (const auto& [k, name] : kReportKinds)
    if (k == kind) return name;
  return "customer";
}

std::optional<CaseReportKind> parse_case_report_kind(std::string_view name) {
  for (const auto& [k, n] : kReportKinds)
    if (n == name) return k;
  return std::nullopt;
}

}  // namespace bmslink::report
