#include "audit/query.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "audit/internal/report_stats.h"
#include "audit/log_reader.h"
#include "audit/report.h"
#include "audit/timestamp.h"
#include "common/json_writer.h"

namespace parapet::audit {
namespace {

namespace fs = std::filesystem;

// ---- writing logs by hand ----

const std::string kLogId = "0123456789abcdef0123456789abcdef";
const std::string kVersionA(64, 'a');
const std::string kVersionB(64, 'b');

std::string Quote(std::string_view s) {
  std::string out;
  AppendJsonString(s, &out);
  return out;
}

// Audit lines in FORMAT.md's key order. `prev` and `hash` are placeholders: verification is not
// what these tests are about.
class LogBuilder {
 public:
  void Lifecycle(const std::string& ts, const std::string& type, const std::string& fields) {
    lines_.push_back(Head(ts, type) + fields + Tail());
  }
  void Admission(const std::string& ts, const std::string& id, const std::string& tenant,
                 const std::string& decision, const std::string& version,
                 const std::string& findings = "") {
    lines_.push_back(
        Head(ts, "admission") + ",\"request_id\":" + Quote(id) + ",\"tenant\":" + Quote(tenant) +
        ",\"key_id\":\"sha256:00\",\"route\":\"/v1/chat/completions\",\"model\":\"mixtral\","
        "\"model_sha256\":\"" +
        std::string(64, 'c') +
        "\",\"params\":{\"max_tokens\":256,\"temperature\":0.7,\"top_p\":1,\"top_k\":0,"
        "\"seed\":-1,\"stream\":true},\"policy\":\"default\",\"policy_version\":\"" +
        version +
        "\",\"prompt\":{\"hmac\":\"hmac-sha256:0011aabb:00\",\"chars\":40,\"tokens\":10,"
        "\"messages\":1},\"decision\":\"" +
        decision + "\",\"stages_us\":11.4,\"findings\":[" + findings + "]" + Tail());
  }
  void Completion(const std::string& ts, const std::string& id, const std::string& decision,
                  const std::string& finish_reason, int status, const std::string& findings = "") {
    lines_.push_back(Head(ts, "completion") + ",\"request_id\":" + Quote(id) + ",\"status\":" +
                     std::to_string(status) + ",\"finish_reason\":\"" + finish_reason +
                     "\",\"error\":\"\",\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":5},"
                     "\"ttft_ms\":41.2,\"duration_ms\":1310.5,\"output\":{\"hmac\":\"hmac-sha256:"
                     "0011aabb:00\",\"chars\":20},\"decision\":\"" +
                     decision + "\",\"findings\":[" + findings + "]" + Tail());
  }
  void Raw(const std::string& line) { lines_.push_back(line); }

  const std::vector<std::string>& lines() const { return lines_; }

 private:
  std::string Head(const std::string& ts, const std::string& type) {
    return "{\"v\":1,\"log_id\":\"" + kLogId + "\",\"seq\":" + std::to_string(seq_++) +
           ",\"ts\":\"" + ts + "\",\"type\":\"" + type + "\",\"prev\":\"" + std::string(64, '0') +
           "\"";
  }
  static std::string Tail() { return ",\"hash\":\"" + std::string(64, 'f') + "\"}"; }

  std::vector<std::string> lines_;
  uint64_t seq_ = 0;
};

std::string Finding(const std::string& stage, const std::string& rule, const std::string& action,
                    const std::string& mode = "enforce") {
  return "{\"stage\":" + Quote(stage) + ",\"rule\":" + Quote(rule) + ",\"type\":\"X\"," +
         "\"action\":" + Quote(action) + ",\"mode\":" + Quote(mode) +
         ",\"score\":1,\"message\":0,\"begin\":1,\"end\":4}";
}

std::string FileName(uint64_t first_seq) {
  char seq[32];
  std::snprintf(seq, sizeof seq, "%020llu", static_cast<unsigned long long>(first_seq));
  return "audit-" + kLogId + "-" + seq + ".jsonl";
}

// A fresh, empty directory per test, removed afterwards.
class AuditDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("parapet-audit-qr-" + std::to_string(::getpid()) + "-" +
                                        info->test_suite_name() + "-" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  void WriteFile(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }
  // Lines [begin, end) of `b` as the file that starts at seq `begin`.
  void WriteLines(const LogBuilder& b, size_t begin, size_t end) {
    std::string text;
    for (size_t i = begin; i < end; ++i) text += b.lines()[i] + "\n";
    WriteFile(FileName(begin), text);
  }
  void WriteLog(const LogBuilder& b) { WriteLines(b, 0, b.lines().size()); }

  AuditLog Read() {
    Result<AuditLog> log = ReadAuditLog(dir_.string());
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    return log.ok() ? std::move(log).value() : AuditLog{};
  }

  fs::path dir_;
};

// The log most tests use: a start, two reloads (one failed), seven requests, a suspension and
// a stop, over two hours of 2026-11-30.
LogBuilder SampleLog() {
  LogBuilder b;
  b.Lifecycle("2026-11-30T00:59:00.000000Z", "start",
              ",\"version\":\"0.9.0\",\"pid\":42,\"host\":\"gw1\",\"model\":\"mixtral\","
              "\"model_sha256\":\"" +
                  std::string(64, 'c') +
                  "\",\"policy_file\":\"/etc/parapet/policy.yaml\",\"policy_versions\":{"
                  "\"default\":\"" +
                  kVersionA +
                  "\"},\"on_failure\":\"reject\",\"hmac_key_id\":\"0011aabb\","
                  "\"signing_key\":\"parapet+01020304+AQ==\"");
  b.Admission("2026-11-30T01:00:00.000000Z", "r1", "acme", "allow", kVersionA);
  b.Completion("2026-11-30T01:00:01.000000Z", "r1", "allow", "stop", 200);
  b.Admission("2026-11-30T01:10:00.000000Z", "r2", "acme", "block", kVersionA,
              Finding("injection", "injection.ignore_previous", "block"));
  b.Completion("2026-11-30T01:10:00.100000Z", "r2", "allow", "policy_block", 403);
  b.Lifecycle("2026-11-30T01:15:00.000000Z", "policy_reload",
              ",\"ok\":true,\"old\":{\"default\":\"" + kVersionA + "\"},\"new\":{\"default\":\"" +
                  kVersionB + "\"},\"error\":\"\"");
  b.Lifecycle("2026-11-30T01:16:00.000000Z", "policy_reload",
              ",\"ok\":false,\"old\":{\"default\":\"" + kVersionB +
                  "\"},\"new\":{},\"error\":\"line 3: bad regex\"");
  b.Admission("2026-11-30T01:20:00.000000Z", "r3", "globex", "redact", kVersionB,
              Finding("pii", "pii.email", "redact"));
  b.Completion("2026-11-30T01:20:02.000000Z", "r3", "allow", "stop", 200);
  b.Admission("2026-11-30T01:30:00.000000Z", "r4", "globex", "allow", kVersionB);
  b.Completion("2026-11-30T01:30:03.000000Z", "r4", "block", "content_filter", 200,
               Finding("secrets", "output.secret", "block"));
  b.Admission("2026-11-30T02:00:00.500000Z", "r5", "acme", "flag", kVersionB,
              Finding("regex", "topic.finance", "flag", "shadow"));
  b.Completion("2026-11-30T02:00:04.000000Z", "r5", "redact", "stop", 200,
               Finding("pii", "pii.phone", "redact") + "," + Finding("pii", "pii.email", "redact"));
  b.Lifecycle("2026-11-30T02:10:00.000000Z", "audit_suspended",
              ",\"reason\":\"disk full\",\"on_failure\":\"degrade\"");
  b.Lifecycle("2026-11-30T02:11:00.000000Z", "audit_resumed", ",\"lost_writes\":0");
  b.Admission("2026-11-30T02:30:00.000000Z", "r6", "initech", "allow", kVersionB);
  b.Admission("2026-11-30T02:40:00.000000Z", "r7", "acme", "allow", kVersionB);
  b.Completion("2026-11-30T02:40:09.000000Z", "r7", "allow", "error", 500);
  b.Lifecycle("2026-11-30T03:00:00.000000Z", "stop", ",\"reason\":\"signal\"");
  return b;
}

std::vector<std::string> Ids(const QueryResult& r) {
  std::vector<std::string> ids;
  for (const Request& q : r.requests) ids.push_back(q.request_id());
  return ids;
}

std::vector<std::string> Types(const QueryResult& r) {
  std::vector<std::string> types;
  for (const LogRecord* rec : r.records) types.push_back(rec->type);
  return types;
}

TimeUs T(std::string_view text) {
  Result<TimeUs> t = ParseTime(text);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? *t : 0;
}

// ---- time ----

TEST(AuditTime, ParsesDatesAndTimes) {
  EXPECT_EQ(T("2026-11-30"), int64_t{1795996800} * kMicrosPerSecond);
  EXPECT_EQ(T("2026-11-30T01:02:03Z"), T("2026-11-30") + 3723 * kMicrosPerSecond);
  EXPECT_EQ(T("2026-11-30T01:02:03.5Z"), T("2026-11-30T01:02:03Z") + 500000);
  EXPECT_EQ(T("2026-11-30T01:02:03.456789Z"), T("2026-11-30T01:02:03Z") + 456789);
  EXPECT_EQ(T("2026-11-30T01:02:03.456789999Z"), T("2026-11-30T01:02:03Z") + 456789);
  EXPECT_EQ(T("2024-02-29T23:59:59Z"), int64_t{1709251199} * kMicrosPerSecond);
  EXPECT_EQ(T("1970-01-01"), 0);
  EXPECT_EQ(FormatTime(T("2026-11-30T01:02:03.9Z")), "2026-11-30T01:02:03Z");
  EXPECT_EQ(FormatTime(T("2024-02-29T23:59:59Z")), "2024-02-29T23:59:59Z");
}

TEST(AuditTime, RejectsOtherForms) {
  for (const char* bad :
       {"", "yesterday", "2026-11-3", "2026/11/30", "2026-13-01", "2026-00-10", "2026-02-29",
        "2026-04-31", "2026-11-30T24:00:00Z", "2026-11-30T01:60:00Z", "2026-11-30T01:02:03",
        "2026-11-30T01:02:03+01:00", "2026-11-30T01:02Z", "2026-11-30T01:02:03.Z",
        "2026-11-30T01:02:03.1234567890Z", "2026-11-30 01:02:03Z", "1969-12-31",
        "2026-11-30T01:02:03Zjunk"}) {
    Result<TimeUs> t = ParseTime(bad);
    ASSERT_FALSE(t.ok()) << bad;
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(t.status().message().find("2026-11-30T01:02:03Z"), std::string::npos)
        << t.status().message();
  }
}

// ---- reading ----

TEST_F(AuditDirTest, ReadsFilesInSeqOrderAndIgnoresOtherFiles) {
  const LogBuilder b = SampleLog();
  // Three rotation files, written last-first; a checkpoint file and a stray file beside them.
  WriteLines(b, 12, b.lines().size());
  WriteLines(b, 5, 12);
  WriteLines(b, 0, 5);
  WriteFile("checkpoints-" + kLogId + ".jsonl", "{\"size\":1}\n");
  WriteFile("audit-notes.jsonl", "not a record\n");
  const AuditLog log = Read();
  EXPECT_TRUE(log.issues.empty());
  EXPECT_EQ(log.log_id, kLogId);
  ASSERT_EQ(log.files.size(), 3u);
  EXPECT_EQ(log.files[0], FileName(0));
  EXPECT_EQ(log.files[2], FileName(12));
  ASSERT_EQ(log.records.size(), b.lines().size());
  for (size_t i = 0; i < log.records.size(); ++i) EXPECT_EQ(log.records[i].seq, i);
  EXPECT_EQ(log.records[5].file, FileName(5));
  EXPECT_EQ(log.records[5].line, 1u);
  EXPECT_EQ(log.records[6].line, 2u);

  const LogRecord& start = log.records[0];
  EXPECT_EQ(start.type, "start");
  EXPECT_EQ(start.policy_versions.at("default"), kVersionA);
  ASSERT_FALSE(start.details.empty());
  EXPECT_EQ(start.details[0].key, "version");
  EXPECT_EQ(start.details[0].text, "0.9.0");
  EXPECT_EQ(start.details[0].json, "\"0.9.0\"");
  const LogRecord& adm = log.records[3];
  EXPECT_EQ(adm.request_id, "r2");
  EXPECT_EQ(adm.tenant, "acme");
  EXPECT_EQ(adm.route, "/v1/chat/completions");
  EXPECT_EQ(adm.policy_version, kVersionA);
  EXPECT_EQ(adm.decision, "block");
  EXPECT_EQ(adm.prompt_tokens, 10);
  ASSERT_EQ(adm.findings.size(), 1u);
  EXPECT_EQ(adm.findings[0].rule, "injection.ignore_previous");
  EXPECT_EQ(adm.findings[0].action, "block");
  EXPECT_EQ(adm.findings[0].mode, "enforce");
  const LogRecord& comp = log.records[4];
  EXPECT_EQ(comp.status, 403);
  EXPECT_EQ(comp.finish_reason, "policy_block");
  EXPECT_EQ(comp.completion_tokens, 5);
  EXPECT_DOUBLE_EQ(comp.duration_ms, 1310.5);
  EXPECT_EQ(comp.ts_us, T("2026-11-30T01:10:00.1Z"));
  EXPECT_EQ(log.records[5].ok, true);
  EXPECT_EQ(log.records[5].policy_versions.at("default"), kVersionB);
  EXPECT_EQ(log.records[6].ok, false);
  EXPECT_TRUE(log.records[6].policy_versions.empty());
}

TEST_F(AuditDirTest, ReportsLinesItCannotUse) {
  LogBuilder b;
  b.Admission("2026-11-30T01:00:00Z", "r1", "acme", "allow", kVersionA);
  b.Raw("{\"v\":1,\"log_id\":\"" + kLogId + "\",\"seq\":1,\"ts\":\"2026-11-30T01");  // cut
  b.Raw("");
  b.Raw("[1,2,3]");
  b.Raw("{\"v\":1,\"log_id\":\"" + kLogId + "\",\"seq\":4,\"type\":\"stop\"}");  // no ts
  b.Raw("{\"v\":1,\"log_id\":\"" + kLogId +
        "\",\"seq\":5,\"ts\":\"30/11/2026\",\"type\":\"stop\"}");
  b.Raw("{\"v\":2,\"log_id\":\"" + kLogId +
        "\",\"seq\":6,\"ts\":\"2026-11-30T01:00:00Z\",\"type\":\"stop\"}");
  b.Raw("{\"v\":1,\"log_id\":\"" + kLogId +
        "\",\"seq\":7,\"ts\":\"2026-11-30T01:00:00Z\",\"type\":\"completion\",\"prev\":\"0\","
        "\"request_id\":\"r1\",\"status\":\"200\",\"finish_reason\":\"stop\",\"decision\":"
        "\"allow\",\"findings\":[]}");
  b.Completion("2026-11-30T01:00:02Z", "r1", "allow", "stop", 200);
  std::string text;
  for (const std::string& line : b.lines()) text += line + "\n";
  text += "{\"v\":1,\"log_id\":\"";  // a write that never finished: no newline
  WriteFile(FileName(0), text);

  const AuditLog log = Read();
  ASSERT_EQ(log.records.size(), 2u);
  EXPECT_EQ(log.records[1].type, "completion");
  ASSERT_EQ(log.issues.size(), 8u);
  const std::vector<std::pair<uint64_t, std::string>> expected = {
      {2, "not JSON"},
      {3, "empty line"},
      {4, "not a JSON object"},
      {5, "missing \"ts\""},
      {6, "bad time"},
      {7, "unsupported record version 2"},
      {8, "\"status\" is not an integer"},
      {10, "unfinished last line"}};
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(log.issues[i].file, FileName(0));
    EXPECT_EQ(log.issues[i].line, expected[i].first) << i;
    EXPECT_NE(log.issues[i].message.find(expected[i].second), std::string::npos)
        << log.issues[i].message;
  }
}

TEST_F(AuditDirTest, DirectoryErrors) {
  Result<AuditLog> missing = ReadAuditLog((dir_ / "nope").string());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  Result<AuditLog> empty = ReadAuditLog(dir_.string());
  EXPECT_EQ(empty.status().code(), StatusCode::kNotFound);
  EXPECT_NE(empty.status().message().find("no audit-"), std::string::npos);
  WriteFile(FileName(0), "");
  WriteFile("audit-ffffffffffffffffffffffffffffffff-00000000000000000000.jsonl", "");
  Result<AuditLog> two = ReadAuditLog(dir_.string());
  EXPECT_EQ(two.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(two.status().message().find("more than one log"), std::string::npos);
}

// ---- query ----

class AuditQueryTest : public AuditDirTest {
 protected:
  void SetUp() override {
    AuditDirTest::SetUp();
    WriteLog(SampleLog());
    log_ = Read();
    ASSERT_EQ(log_.records.size(), SampleLog().lines().size());
  }
  std::vector<std::string> Match(const QueryFilter& f) {
    Result<QueryResult> r = Query(log_, f);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return {};
    EXPECT_FALSE(r->lifecycle);
    return Ids(*r);
  }
  std::vector<std::string> MatchLifecycle(const QueryFilter& f) {
    Result<QueryResult> r = Query(log_, f);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return {};
    EXPECT_TRUE(r->lifecycle);
    EXPECT_TRUE(r->requests.empty());
    return Types(*r);
  }
  Status Error(const QueryFilter& f) {
    Result<QueryResult> r = Query(log_, f);
    return r.ok() ? Status() : r.status();
  }

  AuditLog log_;
};

using V = std::vector<std::string>;

TEST_F(AuditQueryTest, NoFilterListsEveryRequestJoined) {
  Result<QueryResult> r = Query(log_, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Ids(*r), (V{"r1", "r2", "r3", "r4", "r5", "r6", "r7"}));
  for (const Request& q : r->requests) {
    ASSERT_NE(q.admission, nullptr) << q.request_id();
    EXPECT_EQ(q.completion == nullptr, q.request_id() == "r6");
  }
  EXPECT_EQ(Match({.type = "request"}), Ids(*r));
}

TEST_F(AuditQueryTest, DecisionMatchesInputOrOutput) {
  EXPECT_EQ(Match({.decision = "block"}), (V{"r2", "r4"}));   // r2 input, r4 output
  EXPECT_EQ(Match({.decision = "redact"}), (V{"r3", "r5"}));  // r3 input, r5 output
  EXPECT_EQ(Match({.decision = "flag"}), (V{"r5"}));
  // allow: nothing was blocked, redacted or flagged on either side.
  EXPECT_EQ(Match({.decision = "allow"}), (V{"r1", "r6", "r7"}));
}

TEST_F(AuditQueryTest, TenantRuleAndPolicyVersion) {
  EXPECT_EQ(Match({.tenant = "acme"}), (V{"r1", "r2", "r5", "r7"}));
  EXPECT_EQ(Match({.tenant = "acm"}), V{});
  EXPECT_EQ(Match({.rule = "injection.ignore_previous"}), (V{"r2"}));
  EXPECT_EQ(Match({.rule = "pii.phone"}), (V{"r5"}));        // an output finding
  EXPECT_EQ(Match({.rule = "pii.email"}), (V{"r3", "r5"}));  // input in r3, output in r5
  EXPECT_EQ(Match({.rule = "topic.finance"}), (V{"r5"}));    // shadow findings count
  EXPECT_EQ(Match({.rule = "pii"}), V{});
  EXPECT_EQ(Match({.policy_version = "aaaaaaaa"}), (V{"r1", "r2"}));
  EXPECT_EQ(Match({.policy_version = "BBBBBBBBBB"}), (V{"r3", "r4", "r5", "r6", "r7"}));
  EXPECT_EQ(Match({.policy_version = kVersionA}), (V{"r1", "r2"}));
  EXPECT_EQ(Match({.policy_version = "abababab"}), V{});
}

TEST_F(AuditQueryTest, TimesCompareAsTimes) {
  EXPECT_EQ(Match({.since = T("2026-11-30T01:20:00Z"), .until = T("2026-11-30T02:00:00Z")}),
            (V{"r3", "r4"}));  // since inclusive, until exclusive
  // r5's admission is at 02:00:00.5: as text "…02:00:00.500000Z" sorts before "…02:00:00Z".
  EXPECT_EQ(Match({.since = T("2026-11-30T02:00:00Z")}), (V{"r5", "r6", "r7"}));
  EXPECT_EQ(Match({.since = T("2026-11-30T02:00:00.6Z")}), (V{"r6", "r7"}));
  EXPECT_EQ(Match({.since = T("2026-11-30"), .until = T("2026-12-01")}).size(), 7u);
  EXPECT_EQ(Match({.until = T("2026-11-30")}), V{});
  EXPECT_EQ(Match({.since = T("2026-12-01")}), V{});
}

TEST_F(AuditQueryTest, FiltersCombine) {
  EXPECT_EQ(Match({.tenant = "acme", .decision = "block"}), (V{"r2"}));
  EXPECT_EQ(Match({.tenant = "globex", .rule = "pii.email"}), (V{"r3"}));
  EXPECT_EQ(Match({.since = T("2026-11-30T02:00:00Z"), .tenant = "acme", .decision = "redact"}),
            (V{"r5"}));
  EXPECT_EQ(Match({.tenant = "acme", .decision = "redact", .policy_version = "aaaaaaaa"}), V{});
  EXPECT_EQ(Match({.decision = "allow", .policy_version = "bbbbbbbb"}), (V{"r6", "r7"}));
}

TEST_F(AuditQueryTest, LifecycleTypes) {
  EXPECT_EQ(MatchLifecycle({.type = "policy_reload"}), (V{"policy_reload", "policy_reload"}));
  EXPECT_EQ(MatchLifecycle({.type = "lifecycle"}), (V{"start", "policy_reload", "policy_reload",
                                                      "audit_suspended", "audit_resumed", "stop"}));
  EXPECT_EQ(MatchLifecycle({.since = T("2026-11-30T01:00:00Z"),
                            .until = T("2026-11-30T02:10:00Z"),
                            .type = "lifecycle"}),
            (V{"policy_reload", "policy_reload"}));
  // policy_version: the versions a start or a successful reload put in force.
  EXPECT_EQ(MatchLifecycle({.policy_version = "bbbbbbbb", .type = "lifecycle"}),
            (V{"policy_reload"}));
  EXPECT_EQ(MatchLifecycle({.policy_version = "aaaaaaaa", .type = "start"}), (V{"start"}));
  EXPECT_EQ(MatchLifecycle({.type = "recovery"}), V{});
}

TEST_F(AuditQueryTest, RejectsBadFilters) {
  for (const QueryFilter& f : std::vector<QueryFilter>{
           {.decision = "deny"},
           {.decision = "BLOCK"},
           {.policy_version = "abc123"},
           {.policy_version = "zzzzzzzzzz"},
           {.policy_version = std::string(65, 'a')},
           {.type = "admission"},
           {.type = "completion"},
           {.type = "bogus"},
           {.since = T("2026-11-30T02:00:00Z"), .until = T("2026-11-30T01:00:00Z")},
           {.since = T("2026-11-30"), .until = T("2026-11-30")},
           {.tenant = "acme", .type = "start"},
           {.decision = "block", .type = "lifecycle"},
           {.rule = "pii.email", .type = "stop"},
       }) {
    const Status s = Error(f);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  }
  EXPECT_NE(Error({.type = "admission"}).message().find("queried as requests"), std::string::npos);
  EXPECT_NE(Error({.decision = "deny"}).message().find("block, redact, flag, allow"),
            std::string::npos);
}

TEST_F(AuditQueryTest, JsonLines) {
  Result<QueryResult> r = Query(log_, {});
  ASSERT_TRUE(r.ok());
  const std::string out = FormatJsonl(*r);
  std::vector<std::string> lines;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 7u);
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(lines[0],
            "{\"request_id\":\"r1\",\"ts\":\"2026-11-30T01:00:00.000000Z\","
            "\"tenant\":\"acme\",\"route\":\"/v1/chat/completions\",\"model\":"
            "\"mixtral\",\"policy\":\"default\",\"policy_version\":\"" +
                kVersionA +
                "\",\"input_decision\":\"allow\",\"output_decision\":\"allow\","
                "\"finish_reason\":\"stop\",\"status\":200,\"rules\":[],"
                "\"admission_seq\":1,\"completion_seq\":2}");
  for (const std::string& line : lines) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(line, ec);
    ASSERT_FALSE(ec) << line;
    const boost::json::object& o = v.as_object();
    const std::string id(o.at("request_id").as_string());
    if (id == "r4") {
      EXPECT_EQ(o.at("input_decision").as_string(), "allow");
      EXPECT_EQ(o.at("output_decision").as_string(), "block");
      EXPECT_EQ(o.at("finish_reason").as_string(), "content_filter");
      EXPECT_EQ(boost::json::serialize(o.at("rules")), "[\"output.secret\"]");
    } else if (id == "r5") {
      EXPECT_EQ(boost::json::serialize(o.at("rules")),
                "[\"topic.finance\",\"pii.phone\",\"pii.email\"]");
    } else if (id == "r6") {
      EXPECT_TRUE(o.at("status").is_null());
      EXPECT_TRUE(o.at("completion_seq").is_null());
      EXPECT_EQ(o.at("output_decision").as_string(), "");
    }
  }

  Result<QueryResult> reloads = Query(log_, {.type = "policy_reload"});
  ASSERT_TRUE(reloads.ok());
  EXPECT_EQ(FormatJsonl(*reloads),
            "{\"seq\":5,\"ts\":\"2026-11-30T01:15:00.000000Z\",\"type\":\"policy_reload\","
            "\"ok\":true,\"old\":{\"default\":\"" +
                kVersionA + "\"},\"new\":{\"default\":\"" + kVersionB +
                "\"},\"error\":\"\"}\n"
                "{\"seq\":6,\"ts\":\"2026-11-30T01:16:00.000000Z\",\"type\":\"policy_reload\","
                "\"ok\":false,\"old\":{\"default\":\"" +
                kVersionB + "\"},\"new\":{},\"error\":\"line 3: bad regex\"}\n");
  Result<QueryResult> none = Query(log_, {.tenant = "nobody"});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(FormatJsonl(*none), "");
}

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST_F(AuditQueryTest, TableAlignsColumns) {
  Result<QueryResult> r = Query(log_, {.tenant = "globex"});
  ASSERT_TRUE(r.ok());
  const std::vector<std::string> lines = SplitLines(FormatTable(*r));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].rfind("TIME", 0), 0u);
  // Each column starts where its header does.
  const size_t tenant = lines[0].find("TENANT"), in = lines[0].find(" IN ") + 1,
               status = lines[0].find("STATUS"), rules = lines[0].find("RULES");
  ASSERT_NE(tenant, std::string::npos);
  EXPECT_EQ(lines[1].find("globex"), tenant);
  EXPECT_EQ(lines[1].find("redact"), in);
  EXPECT_EQ(lines[1].substr(status, 3), "200");
  EXPECT_EQ(lines[1].substr(rules), "pii.email");
  EXPECT_EQ(lines[2].substr(rules), "output.secret");
  EXPECT_NE(lines[1].find("r3"), std::string::npos);
  EXPECT_NE(lines[1].find(kVersionB.substr(0, 12) + " "), std::string::npos);

  Result<QueryResult> unfinished = Query(log_, {.tenant = "initech"});
  ASSERT_TRUE(unfinished.ok());
  const std::vector<std::string> u = SplitLines(FormatTable(*unfinished));
  ASSERT_EQ(u.size(), 2u);
  EXPECT_EQ(u[1].substr(u[0].find("STATUS"), 2), "- ");

  Result<QueryResult> life = Query(log_, {.type = "stop"});
  ASSERT_TRUE(life.ok());
  const std::vector<std::string> l = SplitLines(FormatTable(*life));
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0].rfind("SEQ", 0), 0u);
  EXPECT_EQ(l[1].substr(l[0].find("DETAILS")), "reason=signal");
}

TEST_F(AuditDirTest, TableEscapesControlCharacters) {
  LogBuilder b;
  b.Admission("2026-11-30T01:00:00Z", "r1", "evil\x1b[2J\n\xe2\x80\xaetenant", "allow", kVersionA);
  WriteLog(b);
  const AuditLog log = Read();
  Result<QueryResult> r = Query(log, {});
  ASSERT_TRUE(r.ok());
  const std::string table = FormatTable(*r);
  EXPECT_EQ(table.find('\x1b'), std::string::npos);
  EXPECT_EQ(table.find("\xe2\x80\xae"), std::string::npos);
  EXPECT_NE(table.find("evil\\u001b[2J\\u000a\\u202etenant"), std::string::npos) << table;
  EXPECT_EQ(SplitLines(table).size(), 2u);
}

// ---- report ----

std::string CountOf(const std::string& html, const std::string& key) {
  const std::string marker = "data-count=\"" + key + "\">";
  const size_t at = html.find(marker);
  if (at == std::string::npos) return "(missing)";
  return html.substr(at + marker.size(), html.find('<', at) - at - marker.size());
}

class AuditReportTest : public AuditDirTest {
 protected:
  std::string Render(const LogBuilder& b, const VerificationSummary& v = {}) {
    WriteLog(b);
    log_ = Read();
    ReportOptions o;
    o.title = "Audit of gw1";
    o.generated_at = T("2026-12-01T08:00:00Z");
    o.verification = v;
    return RenderHtmlReport(log_, o);
  }

  AuditLog log_;
};

TEST_F(AuditReportTest, Counts) {
  const std::string html = Render(SampleLog(), {.ran = true, .valid = true, .text = "19 records"});
  EXPECT_EQ(CountOf(html, "requests"), "7");
  EXPECT_EQ(CountOf(html, "input-block"), "1");
  EXPECT_EQ(CountOf(html, "input-redact"), "1");
  EXPECT_EQ(CountOf(html, "input-flag"), "1");
  EXPECT_EQ(CountOf(html, "output-block"), "1");
  EXPECT_EQ(CountOf(html, "output-redact"), "1");
  EXPECT_EQ(CountOf(html, "output-flag"), "0");
  EXPECT_EQ(CountOf(html, "errors"), "1");
  EXPECT_EQ(CountOf(html, "unfinished"), "1");
  EXPECT_EQ(CountOf(html, "prompt-tokens"), "60");
  EXPECT_EQ(CountOf(html, "completion-tokens"), "30");
  EXPECT_NE(html.find("<title>Audit of gw1</title>"), std::string::npos);
  EXPECT_NE(html.find("Generated 2026-12-01T08:00:00Z"), std::string::npos);
  EXPECT_NE(html.find("class=\"box ok\""), std::string::npos);
  EXPECT_EQ(html.find("class=\"box bad\""), std::string::npos);  // no failure, no read issues
  EXPECT_NE(html.find("19 records"), std::string::npos);
  // Two hours of log: one bar per minute, each with its tooltip.
  EXPECT_NE(html.find("Requests per minute"), std::string::npos);
  EXPECT_NE(html.find("<title>2026-11-30T01:10:00Z: 1 request (1 block, 0 redact, 0 flag, 0 "
                      "allow)</title>"),
            std::string::npos);
  // Rules: pii.email fired twice (input in r3, output in r5) and leads the table.
  EXPECT_NE(html.find("<tr><td><code>pii.email</code></td><td class=\"num\">1</td><td "
                      "class=\"num\">1</td><td class=\"num\">0</td><td class=\"num\">2</td>"),
            std::string::npos);
  EXPECT_LT(html.find("<code>pii.email</code>"), html.find("<code>pii.phone</code>"));
  EXPECT_NE(html.find("<code>topic.finance</code></td><td class=\"num\">1</td><td "
                      "class=\"num\">0</td><td class=\"num\">1</td>"),
            std::string::npos);
  // Tenants: acme first with 4 requests, 1 blocked, 1 redacted (r5), 1 error.
  EXPECT_NE(html.find("<tr><td>acme</td><td class=\"num\">4</td><td class=\"num\">1</td><td "
                      "class=\"num\">1</td><td class=\"num\">0</td><td class=\"num\">1</td>"),
            std::string::npos);
  // Policy versions: A from the start record, B from the reload; first and last seen.
  EXPECT_NE(html.find("<code>" + kVersionA +
                      "</code></td><td class=\"t\">2026-11-30T00:59:00Z</td><td "
                      "class=\"t\">2026-11-30T01:10:00Z</td>"
                      "<td>start</td><td class=\"num\">2</td>"),
            std::string::npos);
  EXPECT_NE(html.find("<code>" + kVersionB +
                      "</code></td><td class=\"t\">2026-11-30T01:15:00Z</td><td "
                      "class=\"t\">2026-11-30T02:40:00Z</td>"
                      "<td>policy_reload</td><td class=\"num\">5</td>"),
            std::string::npos);
  // Lifecycle events, with their details.
  for (const char* event : {"<td>start</td>", "<td>stop</td>", "<td>audit_suspended</td>",
                            "<td>audit_resumed</td>", "<td>policy_reload</td>"}) {
    EXPECT_NE(html.find(event), std::string::npos) << event;
  }
  EXPECT_NE(html.find("<code>reason</code> disk full"), std::string::npos);
  EXPECT_NE(html.find("<code>error</code> line 3: bad regex"), std::string::npos);
}

TEST_F(AuditReportTest, VerificationStates) {
  const std::string bad =
      Render(SampleLog(), {.ran = true, .valid = false, .problems = {"seq 4: hash <mismatch>"}});
  EXPECT_NE(bad.find("class=\"box bad\" id=\"verification\""), std::string::npos);
  EXPECT_NE(bad.find("Verification: FAILED"), std::string::npos);
  EXPECT_NE(bad.find("<li>seq 4: hash &lt;mismatch&gt;</li>"), std::string::npos);
  const std::string none = RenderHtmlReport(log_, {});
  EXPECT_NE(none.find("class=\"box none\" id=\"verification\""), std::string::npos);
  EXPECT_NE(none.find("Verification: not run"), std::string::npos);
}

TEST_F(AuditReportTest, ListsReadIssues) {
  LogBuilder b = SampleLog();
  b.Raw("{\"v\":1,garbage");
  const std::string html = Render(b);
  EXPECT_NE(html.find("class=\"box bad\" id=\"issues\""), std::string::npos);
  EXPECT_NE(html.find("1 line could not be read"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"num\">20</td><td>not JSON"), std::string::npos);
  EXPECT_EQ(CountOf(html, "requests"), "7");
}

const char kHostileTenant[] = "<script>alert('t')</script>";
const char kHostileRule[] = "x\"><img src=x onerror=alert(1)>";

LogBuilder HostileLog() {
  LogBuilder b = SampleLog();
  b.Admission("2026-11-30T02:50:00Z", "r8\"><b>id", kHostileTenant, "block", kVersionB,
              Finding("regex", kHostileRule, "block"));
  b.Completion("2026-11-30T02:50:01Z", "r8\"><b>id", "allow", "policy_block", 403);
  b.Lifecycle("2026-11-30T02:55:00Z", "writer_fault",
              ",\"file\":\"</td></tr></table><h1>x\",\"error\":\"<style>body{display:none}"
              "</style>\"");
  return b;
}

TEST_F(AuditReportTest, EscapesEverythingFromTheLog) {
  const std::string html = Render(
      HostileLog(),
      {.ran = true, .valid = false, .text = "<b>bold</b>", .problems = {"<script>x</script>"}});
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_EQ(html.find("<b>"), std::string::npos);
  EXPECT_EQ(html.find("<h1>x"), std::string::npos);
  EXPECT_EQ(html.find("<style>body"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(&#39;t&#39;)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("x&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"), std::string::npos);
  EXPECT_EQ(CountOf(html, "requests"), "8");
  EXPECT_EQ(CountOf(html, "input-block"), "2");
  // Exactly one <style> element and one </table> per table: nothing was closed early.
  size_t styles = 0;
  for (size_t at = html.find("<style"); at != std::string::npos; at = html.find("<style", at + 1)) {
    ++styles;
  }
  EXPECT_EQ(styles, 1u);
}

TEST_F(AuditReportTest, SelfContained) {
  const std::string html = Render(HostileLog());
  for (const char* ref : {"http://", "https://", "<script", "<link", "@import", "url(", "src=\"",
                          "href=\"", "xlink:"}) {
    EXPECT_EQ(html.find(ref), std::string::npos) << ref;
  }
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("<svg"), std::string::npos);
}

TEST_F(AuditReportTest, EmptyLogStillRenders) {
  WriteFile(FileName(0), "not json\n");
  log_ = Read();
  const std::string html = RenderHtmlReport(log_, {});
  EXPECT_EQ(CountOf(html, "requests"), "0");
  EXPECT_NE(html.find("No requests in the log."), std::string::npos);
  EXPECT_NE(html.find("No findings in the log."), std::string::npos);
  EXPECT_NE(html.find("1 line could not be read"), std::string::npos);
}

// Bucket width follows the span: minutes, hours, days, and wider buckets for long spans.
TEST_F(AuditDirTest, TimeBucketsFollowTheSpan) {
  struct Case {
    const char* last;
    const char* unit;
    TimeUs width;
    size_t buckets;
  };
  for (const Case& c : {Case{"2026-11-30T02:59:30Z", "minute", kMicrosPerMinute, 180},
                        Case{"2026-12-02T00:30:00Z", "hour", kMicrosPerHour, 49},
                        Case{"2026-12-30T00:00:00Z", "day", kMicrosPerDay, 31},
                        Case{"2029-11-29T00:00:00Z", "day", 5 * kMicrosPerDay, 220}}) {
    LogBuilder b;
    b.Admission("2026-11-30T00:00:10Z", "a", "t", "block", kVersionA);
    b.Admission("2026-11-30T00:00:50Z", "b", "t", "allow", kVersionA);
    b.Admission(c.last, "c", "t", "flag", kVersionA);
    WriteLog(b);
    const internal::ReportStats s = internal::ComputeReportStats(Read());
    EXPECT_EQ(s.series.unit, c.unit) << c.last;
    EXPECT_EQ(s.series.width, c.width) << c.last;
    EXPECT_EQ(s.series.start, T("2026-11-30")) << c.last;
    ASSERT_EQ(s.series.buckets.size(), c.buckets) << c.last;
    EXPECT_LE(s.series.buckets.size(), internal::kMaxBuckets);
    EXPECT_EQ(s.series.buckets.front().block, 1);
    EXPECT_EQ(s.series.buckets.front().allow, 1);
    EXPECT_EQ(s.series.buckets.back().flag, 1);
  }
}

// ---- the report in a real browser ----

// Runs `command` through the shell; its exit status, or -1.
int RunShell(const std::string& command) {
  const int rc = std::system(command.c_str());
  return rc != -1 && WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::string ReadText(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Decodes an 8-bit RGB/RGBA PNG with the standard library's zlib and prints
// "<width> <height> <distinct colours>" then, per colour argument (hex RGB), how many pixels are
// within 3 of it in every channel.
constexpr char kPngProbe[] = R"py(
import struct, sys, zlib
data = open(sys.argv[1], 'rb').read()
assert data[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
pos, idat = 8, b''
while pos < len(data):
    n, kind = struct.unpack('>I4s', data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    pos += 12 + n
    if kind == b'IHDR':
        w, h, depth, ctype, _, _, interlace = struct.unpack('>IIBBBBB', body)
    elif kind == b'IDAT':
        idat += body
assert depth == 8 and interlace == 0 and ctype in (2, 6), 'unsupported PNG'
bpp = 3 if ctype == 2 else 4
raw, stride = zlib.decompress(idat), w * bpp
prev, colors, i = bytearray(stride), {}, 0
for y in range(h):
    f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
    i += 1 + stride
    if f == 2:
        line = bytearray((a + b) & 255 for a, b in zip(line, prev))
    elif f != 0:
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                p = a
            elif f == 3:
                p = (a + b) // 2
            else:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            line[x] = (line[x] + p) & 255
    for x in range(0, stride, bpp):
        key = bytes(line[x:x + 3])
        colors[key] = colors.get(key, 0) + 1
    prev = line
print(w, h, len(colors))
for want in sys.argv[2:]:
    t = bytes.fromhex(want)
    print(want, sum(n for k, n in colors.items() if all(abs(k[j] - t[j]) <= 3 for j in range(3))))
)py";

TEST_F(AuditReportTest, RendersInHeadlessChromium) {
  if (RunShell("command -v chromium >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "chromium is not installed (scripts/setup.sh installs chromium)";
  }
  const std::string html =
      Render(HostileLog(), {.ran = true, .valid = true, .text = "verified for the browser test"});
  const fs::path page = dir_ / "report.html", png = dir_ / "report.png", dom = dir_ / "dom.html",
                 profile = dir_ / "profile";
  std::ofstream(page, std::ios::binary) << html;
  const std::string chromium =
      "timeout 60 chromium --headless --no-sandbox --disable-gpu "
      "--disable-dev-shm-usage --hide-scrollbars --user-data-dir=" +
      profile.string() + " ";
  const std::string url = "file://" + page.string();

  ASSERT_EQ(RunShell(chromium + "--dump-dom " + url + " >" + dom.string() + " 2>" +
                     (dir_ / "dom.log").string()),
            0)
      << ReadText(dir_ / "dom.log");
  const std::string parsed = ReadText(dom);
  EXPECT_EQ(CountOf(parsed, "requests"), "8");
  EXPECT_EQ(CountOf(parsed, "input-block"), "2");
  EXPECT_EQ(CountOf(parsed, "output-block"), "1");
  EXPECT_NE(parsed.find("verified for the browser test"), std::string::npos);
  // The browser saw the hostile tenant as text, not as a script element.
  EXPECT_NE(parsed.find("&lt;script&gt;alert('t')&lt;/script&gt;"), std::string::npos);
  EXPECT_EQ(parsed.find("<script"), std::string::npos);
  EXPECT_EQ(parsed.find("<img"), std::string::npos);

  ASSERT_EQ(RunShell(chromium + "--screenshot=" + png.string() + " --window-size=1200,1600 " + url +
                     " >" + (dir_ / "shot.log").string() + " 2>&1"),
            0)
      << ReadText(dir_ / "shot.log");
  ASSERT_TRUE(fs::exists(png));
  EXPECT_GT(fs::file_size(png), 20u * 1024) << "a blank page compresses to a few KB";

  if (RunShell("command -v python3 >/dev/null 2>&1") != 0) return;  // the size check must do
  const fs::path probe = dir_ / "png_probe.py", probe_out = dir_ / "png_probe.txt";
  std::ofstream(probe) << kPngProbe;
  // The verification box's green, the block bars' red and the allow bars' blue.
  ASSERT_EQ(RunShell("python3 " + probe.string() + " " + png.string() + " e6f4ea d93025 8ab4f8 >" +
                     probe_out.string() + " 2>&1"),
            0)
      << ReadText(probe_out);
  std::istringstream in(ReadText(probe_out));
  int width = 0, height = 0, colors = 0;
  in >> width >> height >> colors;
  EXPECT_EQ(width, 1200);
  EXPECT_EQ(height, 1600);
  EXPECT_GT(colors, 50) << "a page of text and charts has many colours";
  for (std::string name; in >> name;) {
    int pixels = 0;
    in >> pixels;
    EXPECT_GT(pixels, 500) << "colour " << name << " is missing from the screenshot";
  }
}

}  // namespace
}  // namespace parapet::audit
