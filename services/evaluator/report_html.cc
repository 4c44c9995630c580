#include "services/evaluator/report_html.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "re2/re2.h"
#include "services/evaluator/abilities.h"
#include "services/evaluator/report.h"

namespace kvlab {
namespace {

using nlohmann::json;

std::string Escape(const std::string& s) {
  return absl::StrReplaceAll(s, {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}});
}

const char* Color(size_t i) {
  static const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  return kColors[i % 10];
}

struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y), y in [0, 100]
  bool line = true;
};

// One chart: axes, ticks, a polyline (path) and markers per series, legend.
std::string Chart(const std::string& title, const std::string& x_label, const std::string& y_label,
                  const std::vector<Series>& series, bool log_x = false) {
  constexpr double kW = 640, kH = 360, kL = 60, kR = 200, kT = 30, kB = 50;
  double x0 = 1e300, x1 = -1e300;
  for (const auto& s : series) {
    for (const auto& [x, y] : s.points) {
      const double v = log_x ? std::log10(std::max(x, 1e-9)) : x;
      x0 = std::min(x0, v);
      x1 = std::max(x1, v);
    }
  }
  if (x0 > x1) x0 = 0, x1 = 1;
  if (x1 - x0 < 1e-9) x0 -= 0.5, x1 += 0.5;
  auto px = [&](double x) {
    const double v = log_x ? std::log10(std::max(x, 1e-9)) : x;
    return kL + (v - x0) / (x1 - x0) * (kW - kL - kR);
  };
  auto py = [&](double y) { return kT + (1 - y / 100.0) * (kH - kT - kB); };
  std::string svg = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"%.0f\" height=\"%.0f\" "
      "viewBox=\"0 0 %.0f %.0f\"><title>%s</title>"
      "<text x=\"%.0f\" y=\"18\" font-size=\"14\" font-weight=\"bold\">%s</text>",
      kW, kH, kW, kH, Escape(title), kL, Escape(title));
  absl::StrAppend(&svg, absl::StrFormat("<rect class=\"plot\" x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" "
                                        "fill=\"#fafafa\" stroke=\"#999\"/>",
                                        kL, kT, kW - kL - kR, kH - kT - kB));
  for (int i = 0; i <= 4; ++i) {
    const double y = 25.0 * i;
    absl::StrAppend(&svg, absl::StrFormat("<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                                          "<text x=\"%.0f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"end\">%.0f</text>",
                                          kL, kW - kR, py(y), py(y), kL - 4, py(y) + 3, y));
  }
  for (int i = 0; i <= 4; ++i) {
    const double v = x0 + (x1 - x0) * i / 4;
    const double x = log_x ? std::pow(10.0, v) : v;
    absl::StrAppend(&svg, absl::StrFormat("<text x=\"%.1f\" y=\"%.0f\" font-size=\"10\" text-anchor=\"middle\">%.3g"
                                          "</text>",
                                          px(x), kH - kB + 14, x));
  }
  absl::StrAppend(&svg,
                  absl::StrFormat("<text x=\"%.0f\" y=\"%.0f\" font-size=\"12\" text-anchor=\"middle\">%s</text>",
                                  (kL + kW - kR) / 2, kH - 12, Escape(x_label)),
                  absl::StrFormat("<text x=\"14\" y=\"%.0f\" font-size=\"12\" text-anchor=\"middle\" "
                                  "transform=\"rotate(-90 14 %.0f)\">%s</text>",
                                  (kT + kH - kB) / 2, (kT + kH - kB) / 2, Escape(y_label)));
  for (size_t i = 0; i < series.size(); ++i) {
    const Series& s = series[i];
    std::vector<std::pair<double, double>> pts = s.points;
    std::sort(pts.begin(), pts.end());
    if (s.line && !pts.empty()) {
      std::string d;
      for (size_t k = 0; k < pts.size(); ++k) {
        absl::StrAppend(&d, k ? " L" : "M", absl::StrFormat("%.1f %.1f", px(pts[k].first), py(pts[k].second)));
      }
      absl::StrAppend(&svg, "<path class=\"series\" d=\"", d, "\" fill=\"none\" stroke=\"", Color(i),
                      "\" stroke-width=\"2\"/>");
    }
    for (const auto& [x, y] : pts) {
      absl::StrAppend(&svg, absl::StrFormat("<circle class=\"point\" cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\">"
                                            "<title>%s: (%.4g, %.1f)</title></circle>",
                                            px(x), py(y), Color(i), Escape(s.name), x, y));
    }
    const double ly = kT + 14.0 * i + 6;
    std::string label = s.name.size() > 30 ? s.name.substr(0, 29) + "…" : s.name;
    absl::StrAppend(&svg, absl::StrFormat("<rect x=\"%.0f\" y=\"%.0f\" width=\"10\" height=\"10\" fill=\"%s\"/>"
                                          "<text x=\"%.0f\" y=\"%.0f\" font-size=\"10\">%s</text>",
                                          kW - kR + 10, ly - 8, Color(i), kW - kR + 24, ly + 1, Escape(label)));
  }
  return svg + "</svg>\n";
}

double Mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0 : s / v.size();
}

}  // namespace

std::string MethodPolicy(const std::string& method) {
  std::string policy;
  if (RE2::PartialMatch(method, R"((?:^|;)kv=([a-z0-9_]+))", &policy)) return policy;
  return "full";
}

std::optional<double> MethodBudget(const std::string& method) {
  std::string kv;
  if (!RE2::PartialMatch(method, R"((?:^|;)kv=([^;]*))", &kv)) return std::nullopt;
  auto opt = [&](const char* key) -> std::optional<double> {
    std::string v;
    if (RE2::PartialMatch(kv, absl::StrCat(R"([{,])", key, R"(=([0-9.eE+-]+))"), &v)) return std::stod(v);
    return std::nullopt;
  };
  if (auto c = opt("capacity")) return c;
  if (auto r = opt("ratio")) return r;
  if (auto recent = opt("n_recent")) return *recent + opt("n_sink").value_or(0);
  if (auto recent = opt("recent")) return *recent + opt("heavy").value_or(0);
  if (auto bits = opt("bits")) return bits;
  return std::nullopt;
}

std::string ReportHtml(const std::string& title, const std::vector<json>& records) {
  std::string html = absl::StrCat(
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>", Escape(title),
      "</title><style>body{font-family:sans-serif;margin:20px;max-width:1150px}"
      "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:3px 6px}"
      "svg.chart{margin:8px 0;display:block}</style></head><body>\n<h1>",
      Escape(title), "</h1>\n");
  // Modes and methods present.
  std::map<std::string, std::map<std::string, std::map<int, std::vector<double>>>> per_turn;  // mode→method→turn
  for (const auto& r : records) {
    per_turn[r.value("mode", "")][r.value("method", "")][r.value("turn", 0)].push_back(r.value("score", 0.0));
  }
  absl::StrAppend(&html, "<h2>Score per turn</h2>\n");
  for (const auto& [mode, methods] : per_turn) {
    std::vector<Series> series;
    for (const auto& [method, turns] : methods) {
      Series s{method, {}, true};
      for (const auto& [turn, scores] : turns) s.points.emplace_back(turn, 100 * Mean(scores));
      series.push_back(std::move(s));
    }
    absl::StrAppend(&html, Chart(absl::StrCat("Score per turn — ", mode), "turn", "score (%)", series));
  }
  const auto rows = AggregateAbilities(records);
  // Score vs budget: one series per (policy, mode).
  std::map<std::string, Series> by_policy;
  for (const auto& r : rows) {
    const auto budget = MethodBudget(r.method);
    if (!budget) continue;
    const std::string name = absl::StrCat(MethodPolicy(r.method), " (", r.mode, ")");
    by_policy[name].name = name;
    by_policy[name].points.emplace_back(*budget, 100 * r.avg);
  }
  absl::StrAppend(&html, "<h2>Score vs budget</h2>\n");
  if (by_policy.empty()) {
    absl::StrAppend(&html, "<p class=\"empty\">No method in this job has a KV budget.</p>\n");
  } else {
    std::vector<Series> series;
    for (auto& [name, s] : by_policy) series.push_back(s);
    absl::StrAppend(&html, Chart("Score vs budget", "budget (tokens, or ratio of the context)", "AVG score (%)",
                                 series));
  }
  // Score vs KV bytes: one point per (method, mode), one series per mode.
  std::map<std::string, Series> by_mode;
  for (const auto& r : rows) {
    Series& s = by_mode[r.mode];
    s.name = r.mode;
    s.line = false;
    s.points.emplace_back(r.entry_bytes / (1 << 20), 100 * r.avg);
  }
  std::vector<Series> bytes_series;
  for (auto& [mode, s] : by_mode) bytes_series.push_back(s);
  absl::StrAppend(&html, "<h2>Score vs KV bytes</h2>\n",
                  Chart("Score vs KV entry size", "KV entry (MiB)", "AVG score (%)", bytes_series));
  // Tables.
  absl::StrAppend(&html, "<h2>Abilities (SCBench Table 4 layout)</h2>\n<table><tr><th>method</th><th>mode</th>");
  std::vector<std::string> abilities;
  for (const char* a : {"String Retrieval", "Semantic Retrieval", "Global Information", "Multi-task"}) {
    for (const auto& r : rows) {
      if (r.abilities.count(a)) {
        abilities.push_back(a);
        break;
      }
    }
  }
  for (const auto& a : abilities) absl::StrAppend(&html, "<th>", a, "</th>");
  absl::StrAppend(&html, "<th>AVG</th><th>KV MiB</th></tr>\n");
  for (const auto& r : rows) {
    absl::StrAppend(&html, "<tr><td><code>", Escape(r.method), "</code></td><td>", Escape(r.mode), "</td>");
    for (const auto& a : abilities) {
      auto it = r.abilities.find(a);
      absl::StrAppend(&html, "<td>", it == r.abilities.end() ? "" : absl::StrFormat("%.1f", 100 * it->second),
                      "</td>");
    }
    absl::StrAppend(&html, absl::StrFormat("<td>%.1f</td><td>%.2f</td></tr>\n", 100 * r.avg,
                                           r.entry_bytes / (1 << 20)));
  }
  absl::StrAppend(&html, "</table>\n<h2>Per task and turn</h2>\n<pre>", Escape(SummaryMarkdown(records)),
                  "</pre>\n</body></html>\n");
  return html;
}

}  // namespace kvlab
