// RenderHtmlReport: markup for the numbers of internal/report_stats.h. Plain HTML, inline CSS and
// inline SVG; no scripts.
#include "audit/report.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "audit/internal/report_stats.h"
#include "common/utf8.h"

namespace parapet::audit {
namespace {

using internal::DecisionCounts;
using internal::ReportStats;

// Colours of the decisions, shared by the legend, the bars and the cards.
constexpr const char* kBlockColor = "#d93025";
constexpr const char* kRedactColor = "#8e44ad";
constexpr const char* kFlagColor = "#f29900";
constexpr const char* kAllowColor = "#8ab4f8";

constexpr const char* kStyle = R"css(
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;
max-width:1100px;color:#202124;background:#fff;padding:0 16px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 10px}
.meta{color:#5f6368;margin:0 0 16px}code{font-family:ui-monospace,Menlo,Consolas,monospace}
.box{border:2px solid;border-radius:8px;padding:12px 16px;margin:12px 0}
.box h2{margin:0 0 6px}.box p{margin:4px 0}
.ok{background:#e6f4ea;border-color:#137333;color:#0d652d}
.bad{background:#fce8e6;border-color:#c5221f;color:#a50e0e}
.none{background:#fef7e0;border-color:#f29900;color:#7a4f00}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{border:1px solid #dadce0;border-radius:8px;padding:10px 14px;min-width:120px}
.card .n{font-size:24px;font-weight:600}.card .l{color:#5f6368;font-size:13px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid #e8eaed;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f1f3f4}td.num,th.num{text-align:right}td.t{white-space:nowrap}
.legend span{display:inline-block;margin-right:14px;font-size:13px}
.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-1px}
svg text{font-size:11px;fill:#3c4043}.note{color:#5f6368;font-size:13px}
)css";

// ---- escaping ----

// `s` as HTML text or attribute value: markup characters as entities; control characters and
// bytes that are not UTF-8 as U+FFFD.
std::string Esc(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const size_t len = Utf8SequenceLength(s.substr(i));
    if (len == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    const char c = s[i];
    if (len == 1) {
      switch (c) {
        case '&':
          out += "&amp;";
          break;
        case '<':
          out += "&lt;";
          break;
        case '>':
          out += "&gt;";
          break;
        case '"':
          out += "&quot;";
          break;
        case '\'':
          out += "&#39;";
          break;
        default:
          if ((static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') || c == 0x7f) {
            out += "\xEF\xBF\xBD";
          } else {
            out += c;
          }
      }
    } else {
      out.append(s.substr(i, len));
    }
    i += len;
  }
  return out;
}

// The first `n` code points of `s`, with "…" when cut.
std::string Clip(std::string_view s, size_t n) {
  size_t i = 0;
  for (size_t cps = 0; i < s.size() && cps < n; ++cps) {
    i += std::max<size_t>(1, Utf8SequenceLength(s.substr(i)));
  }
  return i >= s.size() ? std::string(s) : std::string(s.substr(0, i)) + "\xE2\x80\xA6";
}

std::string Num(int64_t v) { return std::to_string(v); }

std::string Fixed(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string Plural(int64_t n, const std::string& noun) {
  return Num(n) + " " + noun + (n == 1 ? "" : "s");
}

std::string OrNone(const std::string& s) { return s.empty() ? "(none)" : s; }

// ---- page parts ----

void Header(const AuditLog& log, const ReportStats& s, const ReportOptions& o, std::string* out) {
  *out += "<h1>" + Esc(o.title) + "</h1>\n<p class=\"meta\">Generated " +
          Esc(FormatTime(o.generated_at)) + " &middot; log <code>" + Esc(log.log_id) +
          "</code> in <code>" + Esc(log.dir) + "</code> &middot; " +
          Plural(static_cast<int64_t>(log.files.size()), "file") + " &middot; " +
          Plural(s.records, "record");
  if (s.has_records) {
    *out += " &middot; " + Esc(FormatTime(s.first_ts)) + " to " + Esc(FormatTime(s.last_ts));
  }
  *out += "</p>\n";
}

void Verification(const VerificationSummary& v, std::string* out) {
  const char* cls = !v.ran ? "none" : v.valid ? "ok" : "bad";
  const char* heading = !v.ran    ? "Verification: not run"
                        : v.valid ? "Verification: the log verifies"
                                  : "Verification: FAILED";
  *out += std::string("<section class=\"box ") + cls + "\" id=\"verification\"><h2>" + heading +
          "</h2>\n";
  if (!v.text.empty()) *out += "<p>" + Esc(v.text) + "</p>\n";
  if (!v.ran) {
    *out +=
        "<p>The counts below come from the log as it is; run <code>parapet audit verify"
        "</code> to check it was not altered.</p>\n";
  }
  if (!v.problems.empty()) {
    *out += "<ul>\n";
    for (const std::string& p : v.problems) *out += "<li>" + Esc(p) + "</li>\n";
    *out += "</ul>\n";
  }
  *out += "</section>\n";
}

void Issues(const AuditLog& log, size_t max_rows, std::string* out) {
  if (log.issues.empty()) return;
  *out += "<section class=\"box bad\" id=\"issues\"><h2>" +
          Plural(static_cast<int64_t>(log.issues.size()), "line") +
          " could not be read</h2>\n<p>They are not counted below.</p>\n<table><tr><th>File"
          "</th><th class=\"num\">Line</th><th>Problem</th></tr>\n";
  for (size_t i = 0; i < log.issues.size() && i < max_rows; ++i) {
    const ReadIssue& issue = log.issues[i];
    *out += "<tr><td><code>" + Esc(issue.file) + "</code></td><td class=\"num\">" +
            Num(static_cast<int64_t>(issue.line)) + "</td><td>" + Esc(issue.message) +
            "</td></tr>\n";
  }
  *out += "</table>\n";
  if (log.issues.size() > max_rows) {
    *out += "<p>" + Num(log.issues.size() - max_rows) + " more not shown.</p>\n";
  }
  *out += "</section>\n";
}

void Card(const char* key, const char* label, int64_t n, const char* color, std::string* out) {
  *out += "<div class=\"card\"";
  if (color != nullptr) *out += std::string(" style=\"border-left:6px solid ") + color + "\"";
  *out += std::string("><div class=\"n\" data-count=\"") + key + "\">" + Num(n) +
          "</div><div class=\"l\">" + label + "</div></div>\n";
}

void Counts(const ReportStats& s, std::string* out) {
  *out += "<section id=\"counts\"><h2>Requests</h2>\n<div class=\"cards\">\n";
  Card("requests", "Requests", s.requests, nullptr, out);
  Card("input-block", "Input blocked", s.input.block, kBlockColor, out);
  Card("input-redact", "Input redacted", s.input.redact, kRedactColor, out);
  Card("input-flag", "Input flagged", s.input.flag, kFlagColor, out);
  Card("output-block", "Output blocked", s.output.block, kBlockColor, out);
  Card("output-redact", "Output redacted", s.output.redact, kRedactColor, out);
  Card("output-flag", "Output flagged", s.output.flag, kFlagColor, out);
  Card("errors", "Errors", s.errors, nullptr, out);
  Card("unfinished", "Unfinished", s.unfinished, nullptr, out);
  Card("prompt-tokens", "Prompt tokens", s.prompt_tokens, nullptr, out);
  Card("completion-tokens", "Completion tokens", s.completion_tokens, nullptr, out);
  *out +=
      "</div>\n<p class=\"note\">Errors: completions that ended in error or timeout, or with "
      "HTTP status 500 or above. Unfinished: admissions with no completion in the log.</p>\n"
      "</section>\n";
}

std::string BucketLabel(const std::string& unit, TimeUs t) {
  const std::string text = FormatTime(t);  // 2026-11-30T01:02:03Z
  if (unit == "minute") return text.substr(11, 5);
  if (unit == "hour") return text.substr(5, 5) + " " + text.substr(11, 2) + "h";
  return text.substr(0, 10);
}

void Legend(std::string* out) {
  *out += "<p class=\"legend\">";
  for (auto [color, name] : {std::pair{kBlockColor, "block"},
                             {kRedactColor, "redact"},
                             {kFlagColor, "flag"},
                             {kAllowColor, "allow"}}) {
    *out += std::string("<span><i style=\"background:") + color + "\"></i>" + name + "</span>";
  }
  *out += "</p>\n";
}

void Rect(double x, double y, double w, double h, const char* color, std::string* out) {
  *out += "<rect x=\"" + Fixed(x) + "\" y=\"" + Fixed(y) + "\" width=\"" + Fixed(w) +
          "\" height=\"" + Fixed(h) + "\" fill=\"" + color + "\"/>";
}

void Bar(const DecisionCounts& c, double x, double w, double bottom, double scale,
         std::string* out) {
  double y = bottom;
  for (auto [n, color] : {std::pair{c.allow, kAllowColor},
                          {c.flag, kFlagColor},
                          {c.redact, kRedactColor},
                          {c.block, kBlockColor}}) {
    if (n == 0) continue;
    const double h = static_cast<double>(n) * scale;
    y -= h;
    Rect(x, y, w, h, color, out);
  }
}

void TimeChart(const ReportStats& s, std::string* out) {
  const internal::TimeSeries& ts = s.series;
  *out += "<section id=\"timeline\"><h2>Requests over time</h2>\n";
  if (s.requests == 0) {
    *out += "<p class=\"note\">No requests in the log.</p></section>\n";
    return;
  }
  const int64_t units = ts.width / (ts.unit == "minute" ? kMicrosPerMinute
                                    : ts.unit == "hour" ? kMicrosPerHour
                                                        : kMicrosPerDay);
  *out += "<p class=\"note\">Requests per " +
          (units > 1 ? Num(units) + " " + ts.unit + "s" : ts.unit) +
          " (UTC), by their most severe decision, input or output.</p>\n";
  Legend(out);
  int64_t max = 1;
  for (const DecisionCounts& c : ts.buckets) max = std::max(max, c.total());
  constexpr double kW = 1000, kH = 260, kLeft = 48, kTop = 10, kBottom = 30;
  const double plot_w = kW - kLeft - 10, plot_h = kH - kTop - kBottom;
  const double bar_w = plot_w / static_cast<double>(ts.buckets.size());
  const double scale = plot_h / static_cast<double>(max);
  *out +=
      "<svg viewBox=\"0 0 1000 260\" width=\"100%\" role=\"img\" aria-label=\"Requests over "
      "time\">\n";
  for (int64_t tick : {int64_t{0}, max / 2, max}) {
    if (tick == max / 2 && (tick == 0 || tick == max)) continue;  // no repeated labels
    const double y = kTop + plot_h - static_cast<double>(tick) * scale;
    *out += "<line x1=\"" + Fixed(kLeft) + "\" x2=\"" + Fixed(kW - 10) + "\" y1=\"" + Fixed(y) +
            "\" y2=\"" + Fixed(y) + "\" stroke=\"#dadce0\"/><text x=\"" + Fixed(kLeft - 6) +
            "\" y=\"" + Fixed(y + 4) + "\" text-anchor=\"end\">" + Num(tick) + "</text>\n";
  }
  const size_t label_every = std::max<size_t>(1, ts.buckets.size() / 6);
  for (size_t i = 0; i < ts.buckets.size(); ++i) {
    const DecisionCounts& c = ts.buckets[i];
    const TimeUs start = ts.start + static_cast<int64_t>(i) * ts.width;
    const double x = kLeft + static_cast<double>(i) * bar_w;
    *out += "<g><title>" + Esc(FormatTime(start)) + ": " + Plural(c.total(), "request") + " (" +
            Num(c.block) + " block, " + Num(c.redact) + " redact, " + Num(c.flag) + " flag, " +
            Num(c.allow) + " allow)</title>";
    Bar(c, x + bar_w * 0.1, bar_w * 0.8, kTop + plot_h, scale, out);
    *out += "</g>\n";
    if (i % label_every == 0) {
      *out += "<text x=\"" + Fixed(x + bar_w / 2) + "\" y=\"" + Fixed(kH - 10) +
              "\" text-anchor=\"middle\">" + Esc(BucketLabel(ts.unit, start)) + "</text>\n";
    }
  }
  *out += "</svg>\n</section>\n";
}

void TopRules(const ReportStats& s, size_t max_rules, std::string* out) {
  *out += "<section id=\"rules\"><h2>Top rules</h2>\n";
  if (s.rules.empty()) {
    *out += "<p class=\"note\">No findings in the log.</p></section>\n";
    return;
  }
  const size_t n = std::min(max_rules, s.rules.size());
  const double max = static_cast<double>(s.rules.front().total());
  constexpr double kRow = 22, kLabel = 300, kBarMax = 600;
  *out += "<svg viewBox=\"0 0 1000 " + Fixed(kRow * static_cast<double>(n) + 8) +
          "\" width=\"100%\" role=\"img\" aria-label=\"Findings per rule\">\n";
  for (size_t i = 0; i < n; ++i) {
    const internal::RuleCount& r = s.rules[i];
    const double y = 4 + kRow * static_cast<double>(i);
    const double w = kBarMax * static_cast<double>(r.total()) / max;
    *out += "<text x=\"" + Fixed(kLabel - 8) + "\" y=\"" + Fixed(y + 14) +
            "\" text-anchor=\"end\">" + Esc(Clip(r.rule, 44)) + "</text>";
    Rect(kLabel, y + 2, w, kRow - 6, kBlockColor, out);
    *out += "<text x=\"" + Fixed(kLabel + w + 6) + "\" y=\"" + Fixed(y + 14) + "\">" +
            Num(r.total()) + "</text>\n";
  }
  *out +=
      "</svg>\n<table><tr><th>Rule</th><th class=\"num\">Input</th><th class=\"num\">Output"
      "</th><th class=\"num\">Shadow</th><th class=\"num\">Total</th></tr>\n";
  for (size_t i = 0; i < n; ++i) {
    const internal::RuleCount& r = s.rules[i];
    *out += "<tr><td><code>" + Esc(r.rule) + "</code></td><td class=\"num\">" + Num(r.input) +
            "</td><td class=\"num\">" + Num(r.output) + "</td><td class=\"num\">" + Num(r.shadow) +
            "</td><td class=\"num\">" + Num(r.total()) + "</td></tr>\n";
  }
  *out += "</table>\n";
  if (s.rules.size() > n) {
    *out += "<p class=\"note\">" + Num(s.rules.size() - n) + " more rules not shown.</p>\n";
  }
  *out += "</section>\n";
}

void MoreRows(size_t total, size_t shown, std::string* out) {
  if (total > shown) *out += "<p class=\"note\">" + Num(total - shown) + " more not shown.</p>\n";
}

void Tenants(const ReportStats& s, size_t max_rows, std::string* out) {
  *out +=
      "<section id=\"tenants\"><h2>Tenants</h2>\n<table><tr><th>Tenant</th><th class=\"num\">"
      "Requests</th><th class=\"num\">Blocked</th><th class=\"num\">Redacted</th><th "
      "class=\"num\">Flagged</th><th class=\"num\">Errors</th></tr>\n";
  const size_t n = std::min(max_rows, s.tenants.size());
  for (size_t i = 0; i < n; ++i) {
    const internal::TenantCount& t = s.tenants[i];
    *out += "<tr><td>" + Esc(OrNone(t.tenant)) + "</td><td class=\"num\">" + Num(t.requests) +
            "</td><td class=\"num\">" + Num(t.worst.block) + "</td><td class=\"num\">" +
            Num(t.worst.redact) + "</td><td class=\"num\">" + Num(t.worst.flag) +
            "</td><td class=\"num\">" + Num(t.errors) + "</td></tr>\n";
  }
  *out +=
      "</table>\n<p class=\"note\">Blocked, redacted, flagged: requests by their most severe "
      "decision, input or output.</p>\n";
  MoreRows(s.tenants.size(), n, out);
  *out += "</section>\n";
}

void PolicyVersions(const ReportStats& s, size_t max_rows, std::string* out) {
  *out +=
      "<section id=\"policies\"><h2>Policy versions</h2>\n<table><tr><th>Policy</th><th>"
      "Version (sha256)</th><th>First seen</th><th>Last seen</th><th>First seen in</th><th "
      "class=\"num\">Admissions</th></tr>\n";
  const size_t n = std::min(max_rows, s.policy_versions.size());
  for (size_t i = 0; i < n; ++i) {
    const internal::PolicyVersionSeen& v = s.policy_versions[i];
    *out += "<tr><td>" + Esc(OrNone(v.policy)) + "</td><td><code>" + Esc(v.version) +
            "</code></td><td class=\"t\">" + Esc(FormatTime(v.first)) + "</td><td class=\"t\">" +
            Esc(FormatTime(v.last)) + "</td><td>" + Esc(v.source) + "</td><td class=\"num\">" +
            Num(v.admissions) + "</td></tr>\n";
  }
  *out += "</table>\n";
  MoreRows(s.policy_versions.size(), n, out);
  *out += "</section>\n";
}

void Lifecycle(const ReportStats& s, size_t max_rows, std::string* out) {
  *out +=
      "<section id=\"lifecycle\"><h2>Lifecycle events</h2>\n<table><tr><th class=\"num\">Seq"
      "</th><th>Time</th><th>Event</th><th>Details</th></tr>\n";
  const size_t n = std::min(max_rows, s.lifecycle.size());
  for (size_t i = 0; i < n; ++i) {
    const LogRecord& r = *s.lifecycle[i];
    std::string details;
    for (const LogField& f : r.details) {
      details += (details.empty() ? "" : "<br>") + std::string("<code>") + Esc(f.key) + "</code> " +
                 Esc(Clip(f.text, 200));
    }
    *out += "<tr><td class=\"num\">" + Num(static_cast<int64_t>(r.seq)) + "</td><td class=\"t\">" +
            Esc(r.ts) + "</td><td>" + Esc(r.type) + "</td><td>" + details + "</td></tr>\n";
  }
  *out += "</table>\n";
  MoreRows(s.lifecycle.size(), n, out);
  *out += "</section>\n";
}

}  // namespace

std::string RenderHtmlReport(const AuditLog& log, const ReportOptions& options) {
  const ReportStats s = internal::ComputeReportStats(log);
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta "
      "name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" +
      Esc(options.title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n";
  Header(log, s, options, &out);
  Verification(options.verification, &out);
  Issues(log, options.max_table_rows, &out);
  Counts(s, &out);
  TimeChart(s, &out);
  TopRules(s, options.max_rules, &out);
  Tenants(s, options.max_table_rows, &out);
  PolicyVersions(s, options.max_table_rows, &out);
  Lifecycle(s, options.max_table_rows, &out);
  out += "</body>\n</html>\n";
  return out;
}

}  // namespace parapet::audit
