// The audit trail end to end: the real `parapet serve` with --audit-dir, real requests (curl),
// SIGKILL under load, and the real `parapet audit` tools on what it wrote.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "tests/integration/gateway_process_util.h"

namespace parapet::gateway::testing {
namespace {

namespace fs = std::filesystem;

const std::string kDemoModel = std::string(PARAPET_SOURCE_DIR) + "/models/stories260K.gguf";
const std::string kPolicy = std::string(PARAPET_SOURCE_DIR) + "/examples/policies/default.yaml";

class AuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir();
    std::string out;
    ASSERT_EQ(RunCommand(ParapetBinary() + " audit keygen --out " + dir_ + "/keys", &out), 0)
        << out;
  }

  // A server on a free port with the audit trail on; false (and a failure) when it did not start.
  bool StartServer(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {
        "--model", kDemoModel,    "--chat-template", "llama2",       "--insecure-http", "--policy",
        policy_,   "--audit-dir", dir_ + "/log",     "--audit-keys", dir_ + "/keys"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.insert(args.end(), {"--port", "0"});
    std::string error;
    server_ = GatewayProcess::Start(args, &error);
    EXPECT_NE(server_, nullptr) << error;
    return server_ != nullptr;
  }

  // curl; the body, and the status code in *status.
  std::string Post(const std::string& path, const std::string& body, int* status = nullptr) {
    const std::string file = dir_ + "/body.json";
    std::ofstream(file) << body;
    std::string out;
    RunCommand("curl -s -o " + dir_ + "/resp -w '%{http_code}' " + server_->url() + path +
                   " -H 'Content-Type: application/json' --data-binary @" + file,
               &out);
    if (status != nullptr) *status = std::atoi(out.c_str());
    std::ifstream in(dir_ + "/resp");
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }

  std::string Audit(const std::string& args, int* rc = nullptr) {
    std::string out;
    const int code = RunCommand(ParapetBinary() + " audit " + args, &out);
    if (rc != nullptr) *rc = code;
    return out;
  }

  // The log's records of one type, parsed.
  std::vector<boost::json::object> Records(const std::string& type) {
    std::vector<boost::json::object> out;
    for (const auto& e : fs::directory_iterator(dir_ + "/log")) {
      if (!e.path().filename().string().starts_with("audit-")) continue;
      std::ifstream in(e.path());
      for (std::string line; std::getline(in, line);) {
        boost::json::object o = boost::json::parse(line).as_object();
        if (o.at("type").as_string() == type) out.push_back(o);
      }
    }
    return out;
  }

  std::string AllLogText() {
    std::string all;
    for (const auto& e : fs::directory_iterator(dir_ + "/log")) {
      std::ifstream in(e.path());
      std::ostringstream s;
      s << in.rdbuf();
      all += s.str();
    }
    return all;
  }

  std::string dir_;
  std::string policy_ = kPolicy;  // the policy file the server gets
  std::unique_ptr<GatewayProcess> server_;
};

TEST_F(AuditTest, EveryRequestIsRecordedPrivatelyAndTheToolsAgree) {
  ASSERT_TRUE(StartServer());
  int status = 0;
  // Allowed, redacted, blocked (input), streamed, and one the client abandons.
  Post("/v1/completions", R"({"model":"stories260K","prompt":"Once upon a time","max_tokens":10})",
       &status);
  EXPECT_EQ(status, 200);
  Post(
      "/v1/chat/completions",
      R"({"model":"stories260K","max_tokens":5,"messages":[{"role":"user","content":"mail bob@example.com"}]})",
      &status);
  EXPECT_EQ(status, 200);
  Post(
      "/v1/chat/completions",
      R"({"model":"stories260K","messages":[{"role":"user","content":"key AKIAIOSFODNN7EXAMPLE"}]})",
      &status);
  EXPECT_EQ(status, 400);
  const std::string streamed =
      Post("/v1/completions",
           R"({"model":"stories260K","prompt":"Once","max_tokens":8,"stream":true})", &status);
  EXPECT_NE(streamed.find("data: [DONE]"), std::string::npos);
  std::string out;
  RunCommand("curl -s -m 0.05 " + server_->url() +
                 "/v1/completions -d '{\"model\":\"stories260K\",\"prompt\":\"Once\","
                 "\"max_tokens\":120,\"ignore_eos\":true,\"stream\":true}' >/dev/null",
             &out);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(server_->Stop(), 0) << server_->log();

  const std::vector<boost::json::object> admissions = Records("admission");
  const std::vector<boost::json::object> completions = Records("completion");
  EXPECT_EQ(admissions.size(), 5u);
  EXPECT_EQ(completions.size(), 5u);
  EXPECT_EQ(Records("start").size(), 1u);
  EXPECT_EQ(Records("stop").size(), 1u);
  // Private by default: neither the email nor the key appear, only rule ids and offsets.
  const std::string all = AllLogText();
  EXPECT_EQ(all.find("bob@example.com"), std::string::npos);
  EXPECT_EQ(all.find("AKIAIOSFODNN7EXAMPLE"), std::string::npos);
  bool redacted = false, blocked = false;
  for (const boost::json::object& a : admissions) {
    if (a.at("decision").as_string() == "redact") {
      redacted = true;
      const boost::json::object& f = a.at("findings").as_array()[0].as_object();
      EXPECT_EQ(f.at("rule").as_string(), "pii.email");
      EXPECT_EQ(f.at("begin").as_int64(), 5);  // characters into "mail bob@example.com"
      EXPECT_EQ(f.at("end").as_int64(), 20);
      // An investigator holding the text can prove it was sent.
      std::ofstream(dir_ + "/sent.txt", std::ios::binary) << "user\nmail bob@example.com";
      const std::string tag =
          Audit("hash --key " + dir_ + "/keys/hmac.key --file " + dir_ + "/sent.txt");
      EXPECT_EQ(tag, std::string(a.at("prompt").at("hmac").as_string()) + "\n");
    }
    if (a.at("decision").as_string() == "block") blocked = true;
  }
  EXPECT_TRUE(redacted);
  EXPECT_TRUE(blocked);
  std::set<std::string> finishes;
  for (const boost::json::object& c : completions) {
    finishes.insert(std::string(c.at("finish_reason").as_string()));
  }
  EXPECT_TRUE(finishes.count("policy_block")) << AllLogText();
  EXPECT_TRUE(finishes.count("cancelled") || finishes.count("length")) << AllLogText();

  int rc = 0;
  const std::string verify =
      Audit("verify " + dir_ + "/log --pubkey " + dir_ + "/keys/signing.pub", &rc);
  EXPECT_EQ(rc, 0) << verify;
  EXPECT_NE(verify.find("1/1 files valid, 12 records"), std::string::npos) << verify;
  const std::string q = Audit("query " + dir_ + "/log --decision block --format jsonl", &rc);
  EXPECT_EQ(rc, 0) << q;
  EXPECT_NE(q.find("pii.aws_key"), std::string::npos) << q;
  EXPECT_EQ(std::count(q.begin(), q.end(), '\n'), 1) << q;
  const std::string html = dir_ + "/report.html";
  Audit("report " + dir_ + "/log --html " + html + " --pubkey " + dir_ + "/keys/signing.pub", &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_GT(fs::file_size(html), 2000u);

  // A changed record is found, with its place.
  const std::string file = [&] {
    for (const auto& e : fs::directory_iterator(dir_ + "/log")) {
      if (e.path().filename().string().starts_with("audit-")) return e.path().string();
    }
    return std::string();
  }();
  std::string text = AllLogText().empty() ? "" : [&] {
    std::ifstream in(file);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }();
  const size_t at = text.find("\"decision\":\"block\"");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 18, "\"decision\":\"allow\"");
  std::ofstream(file, std::ios::trunc) << text;
  const std::string broken =
      Audit("verify " + dir_ + "/log --pubkey " + dir_ + "/keys/signing.pub", &rc);
  EXPECT_EQ(rc, 1) << broken;
  EXPECT_NE(broken.find("hash: hash mismatch"), std::string::npos) << broken;
}

TEST_F(AuditTest, KilledUnderLoadEveryCompletedResponseIsInTheLog) {
  std::set<std::string> completed;
  for (int crash = 0; crash < 3; ++crash) {
    ASSERT_TRUE(StartServer());
    // 8 clients sending requests back to back; SIGKILL while they run.
    const std::string script = dir_ + "/load.sh";
    std::ofstream(script) << "for c in 1 2 3 4 5 6 7 8; do (for i in $(seq 1 200); do curl -s "
                          << server_->url()
                          << "/v1/completions -d '{\"model\":\"stories260K\",\"prompt\":\"Once "
                             "upon a time\",\"max_tokens\":16}' >> "
                          << dir_ << "/done." << crash << ".$c; echo >> " << dir_ << "/done."
                          << crash << ".$c; done) & done; wait\n";
    std::thread load([&] {
      std::string out;
      RunCommand("timeout 60 sh " + script, &out);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    server_->Signal(SIGKILL);
    EXPECT_EQ(server_->Stop(), 128 + SIGKILL);
    load.join();
    for (int c = 1; c <= 8; ++c) {
      std::ifstream in(dir_ + "/done." + std::to_string(crash) + "." + std::to_string(c));
      for (std::string line; std::getline(in, line);) {
        // A complete body names its id and finish reason; a cut one does not parse.
        boost::system::error_code ec;
        boost::json::value v = boost::json::parse(line, ec);
        if (!ec && v.is_object() && v.as_object().contains("choices")) {
          completed.insert(std::string(v.at("id").as_string()));
        }
      }
    }
  }
  ASSERT_TRUE(StartServer());
  EXPECT_EQ(server_->Stop(), 0);
  ASSERT_GT(completed.size(), 20u) << "the load did not get going";
  std::set<std::string> recorded;
  for (const boost::json::object& c : Records("completion")) {
    recorded.insert(std::string(c.at("request_id").as_string()));
  }
  for (const std::string& id : completed) {
    EXPECT_TRUE(recorded.count(id)) << id << " was answered but is not in the log";
  }
  EXPECT_EQ(Records("recovery").size(), 3u);
  int rc = 0;
  const std::string verify =
      Audit("verify " + dir_ + "/log --pubkey " + dir_ + "/keys/signing.pub", &rc);
  EXPECT_EQ(rc, 0) << verify;
}

TEST_F(AuditTest, OutputDecisionsAreInTheCompletionRecord) {
  const std::string policy = dir_ + "/out.yaml";
  std::ofstream(policy) << "version: 1\npolicies:\n  default:\n    output:\n      stages:\n"
                           "        - {id: names, type: keywords, lists: [{name: name, words: "
                           "[Lily], action: block}]}\n";
  policy_ = policy;
  ASSERT_TRUE(StartServer());
  int status = 0;
  const std::string body =
      Post("/v1/completions",
           R"({"model":"stories260K","prompt":"Once upon a time","max_tokens":60,"temperature":0})",
           &status);
  EXPECT_EQ(status, 200) << body;
  EXPECT_NE(body.find(R"("finish_reason":"content_filter")"), std::string::npos) << body;
  EXPECT_EQ(server_->Stop(), 0);
  const std::vector<boost::json::object> completions = Records("completion");
  ASSERT_EQ(completions.size(), 1u);
  const boost::json::object& c = completions[0];
  EXPECT_EQ(c.at("finish_reason").as_string(), "content_filter");
  EXPECT_EQ(c.at("decision").as_string(), "block");
  const boost::json::object& f = c.at("findings").as_array()[0].as_object();
  EXPECT_EQ(f.at("rule").as_string(), "names.name");
  // ", there was a little girl named Lily": the name is characters [32, 36) of the output.
  EXPECT_EQ(f.at("begin").as_int64(), 32);
  EXPECT_EQ(f.at("end").as_int64(), 36);
  // What the client got (released before the block), by length and HMAC.
  const std::string text(
      boost::json::parse(body).at("choices").as_array()[0].at("text").as_string());
  EXPECT_EQ(c.at("output").at("chars").as_int64(), static_cast<int64_t>(text.size()));
  EXPECT_EQ(AllLogText().find("Lily"), std::string::npos);
}

TEST_F(AuditTest, NewKeysOnSighupAreARecordedRotation) {
  ASSERT_TRUE(StartServer());
  int status = 0;
  Post("/v1/completions", R"({"model":"stories260K","prompt":"Once","max_tokens":4})", &status);
  EXPECT_EQ(status, 200);
  const std::string old_pub = dir_ + "/old-signing.pub";
  fs::copy_file(dir_ + "/keys/signing.pub", old_pub);
  std::string out;
  ASSERT_EQ(RunCommand(ParapetBinary() + " audit keygen --force --name parapet-next --out " + dir_ +
                           "/keys",
                       &out),
            0)
      << out;
  server_->Signal(SIGHUP);
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  Post("/v1/completions", R"({"model":"stories260K","prompt":"Once","max_tokens":4})", &status);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(server_->Stop(), 0);
  ASSERT_EQ(Records("key_rotation").size(), 1u) << server_->log();
  // Requests after the rotation use the new HMAC key.
  const std::vector<boost::json::object> admissions = Records("admission");
  ASSERT_EQ(admissions.size(), 2u);
  EXPECT_NE(admissions[0].at("prompt").at("hmac").as_string().subview(12, 8),
            admissions[1].at("prompt").at("hmac").as_string().subview(12, 8));
  // The old public key verifies the whole log, the rotation included.
  int rc = 0;
  const std::string v = Audit("verify " + dir_ + "/log --pubkey " + old_pub, &rc);
  EXPECT_EQ(rc, 0) << v;
}

TEST_F(AuditTest, TheOptionalContentStoreKeepsTextEncryptedApartFromTheLog) {
  std::ofstream(dir_ + "/c.yaml") << "audit:\n  content_dir: " << dir_ << "/content\n";
  ASSERT_TRUE(StartServer({"--config", dir_ + "/c.yaml"}));
  int status = 0;
  const std::string body = Post(
      "/v1/chat/completions",
      R"({"model":"stories260K","max_tokens":5,"messages":[{"role":"user","content":"mail bob@example.com"}]})",
      &status);
  EXPECT_EQ(status, 200) << body;
  EXPECT_EQ(server_->Stop(), 0);
  const std::vector<boost::json::object> admissions = Records("admission");
  ASSERT_EQ(admissions.size(), 1u);
  EXPECT_TRUE(admissions[0].at("prompt").at("stored").as_bool());
  EXPECT_TRUE(Records("completion")[0].at("output").at("stored").as_bool());
  EXPECT_EQ(AllLogText().find("bob@example.com"), std::string::npos);
  const std::string id(admissions[0].at("request_id").as_string());
  int rc = 0;
  const std::string out = Audit(
      "content " + dir_ + "/content --key " + dir_ + "/keys/content.key --request " + id, &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find(R"("part":"prompt","text":"user\nmail bob@example.com")"), std::string::npos)
      << out;
  EXPECT_NE(out.find(R"("part":"output")"), std::string::npos) << out;
  // The text in the store matches the log's HMAC of it.
  std::ofstream(dir_ + "/sent.txt", std::ios::binary) << "user\nmail bob@example.com";
  EXPECT_EQ(Audit("hash --key " + dir_ + "/keys/hmac.key --file " + dir_ + "/sent.txt"),
            std::string(admissions[0].at("prompt").at("hmac").as_string()) + "\n");
}

TEST_F(AuditTest, ALogThatCannotTakeRecordsRefusesWork) {
  // Free space "below" an impossible threshold: the writer suspends admission.
  std::ofstream(dir_ + "/c.yaml") << "audit:\n  min_free_bytes: 1125899906842624\n";
  ASSERT_TRUE(StartServer({"--config", dir_ + "/c.yaml"}));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  int status = 0;
  const std::string body =
      Post("/v1/completions", R"({"model":"stories260K","prompt":"Once","max_tokens":4})", &status);
  EXPECT_EQ(status, 503) << body;
  EXPECT_NE(body.find("audit log"), std::string::npos) << body;
  std::string out;
  RunCommand("curl -s " + server_->url() + "/readyz", &out);
  EXPECT_NE(out.find("audit_unavailable"), std::string::npos) << out;
  EXPECT_EQ(server_->Stop(), 0);
  EXPECT_EQ(Records("audit_suspended").size(), 1u);
  EXPECT_EQ(Records("admission").size(), 0u);

  // degrade: the same log serves anyway.
  std::ofstream(dir_ + "/d.yaml")
      << "audit:\n  min_free_bytes: 1125899906842624\n  on_failure: degrade\n";
  ASSERT_TRUE(StartServer({"--config", dir_ + "/d.yaml"}));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  Post("/v1/completions", R"({"model":"stories260K","prompt":"Once","max_tokens":4})", &status);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(server_->Stop(), 0);
}

TEST_F(AuditTest, BadAuditSettingsAreOneClearLine) {
  std::string out;
  EXPECT_EQ(
      RunCommand(ParapetBinary() + " serve --model " + kDemoModel + " --audit-dir " + dir_ + "/log",
                 &out),
      2);
  EXPECT_NE(out.find("audit: a log directory needs keys"), std::string::npos) << out;
  EXPECT_EQ(RunCommand(ParapetBinary() + " serve --model " + kDemoModel + " --audit-dir " + dir_ +
                           " --audit-keys " + dir_ + "/keys",
                       &out),
            2);
  EXPECT_NE(out.find("keys must be kept outside the log directory"), std::string::npos) << out;
  EXPECT_EQ(RunCommand(ParapetBinary() + " serve --model " + kDemoModel +
                           " --insecure-http --port 0 "
                           "--audit-dir " +
                           dir_ + "/log2 --audit-keys " + dir_ + "/nokeys",
                       &out),
            2);
  EXPECT_NE(out.find("make the keys with `parapet audit keygen"), std::string::npos) << out;
  EXPECT_EQ(RunCommand(ParapetBinary() + " audit keygen --out " + dir_ + "/keys", &out), 2);
  EXPECT_NE(out.find("exists"), std::string::npos) << out;
  EXPECT_EQ(RunCommand(ParapetBinary() + " audit verify " + dir_ + "/nothing", &out), 2) << out;
}

}  // namespace
}  // namespace parapet::gateway::testing
