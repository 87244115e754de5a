// `parapet audit keygen | hash | verify | query | report`: the tools of whoever keeps or reviews
// the audit trail (audit/FORMAT.md, audit/README.md).
#include <sys/stat.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "audit/crypto.h"
#include "audit/log_reader.h"
#include "audit/query.h"
#include "audit/report.h"
#include "audit/verify.h"
#include "cli/commands.h"
#include "common/json_writer.h"

namespace parapet::cli {
namespace {

namespace fs = std::filesystem;

Status WriteKeyFile(const std::string& path, const std::string& text, mode_t mode) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return InvalidArgumentError(path + ": cannot write");
  out << text;
  out.close();
  if (!out) return InvalidArgumentError(path + ": write failed");
  if (chmod(path.c_str(), mode) != 0) return InvalidArgumentError(path + ": chmod failed");
  return Status::Ok();
}

int RunKeygen(const std::string& out, std::string name, bool force) {
  if (name.empty()) {
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    name = std::string("parapet-") + host;
  }
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) return InputError(out + ": cannot create: " + ec.message());
  for (const char* f : {"signing.key", "signing.pub", "hmac.key", "content.key"}) {
    if (!force && fs::exists(out + "/" + f)) {
      return InputError(out + "/" + f + " exists (keys are not replaced; --force to overwrite)");
    }
  }
  Result<audit::SigningKey> signing = audit::SigningKey::Generate(name);
  if (!signing.ok()) return InputError("--name: " + signing.status().message());
  const audit::HmacKey hmac = audit::HmacKey::Generate();
  const audit::ContentKey content = audit::ContentKey::Generate();
  for (const auto& [file, text, mode] :
       {std::tuple{std::string("signing.key"), signing->Serialize() + "\n", mode_t{0600}},
        std::tuple{std::string("signing.pub"), signing->verifier().Serialize() + "\n",
                   mode_t{0644}},
        std::tuple{std::string("hmac.key"), hmac.Serialize(), mode_t{0600}},
        std::tuple{std::string("content.key"), content.Serialize(), mode_t{0600}}}) {
    Status s = WriteKeyFile(out + "/" + file, text, mode);
    if (!s.ok()) return InputError(s.message());
  }
  std::printf(
      "wrote %s/signing.key (private), %s/signing.pub, %s/hmac.key (private, id %s), "
      "%s/content.key (private; used only with audit.content_dir)\n",
      out.c_str(), out.c_str(), out.c_str(), hmac.id().c_str(), out.c_str());
  std::printf("verifier key: %s\n", signing->verifier().Serialize().c_str());
  return 0;
}

int RunHash(const std::string& key_file, const std::string& text, const std::string& file) {
  Result<audit::HmacKey> key = audit::HmacKey::Load(key_file);
  if (!key.ok()) return InputError(key.status().message());
  std::string data = text;
  if (!file.empty()) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return InputError(file + ": cannot open");
    std::ostringstream s;
    s << in.rdbuf();
    data = s.str();
  }
  std::printf("%s\n", key->Tag(data).c_str());
  return 0;
}

Result<audit::VerifyReport> Verify(const std::string& dir, const std::vector<std::string>& pubkeys,
                                   const std::string& trusted) {
  audit::VerifyOptions o;
  for (const std::string& path : pubkeys) {
    Result<audit::VerifierKey> k = audit::VerifierKey::Load(path);
    if (!k.ok()) return k.status();
    o.pubkeys.push_back(*k);
  }
  o.trusted_checkpoint = trusted;
  return audit::VerifyLog(dir, o);
}

int RunVerify(const std::string& dir, const std::vector<std::string>& pubkey,
              const std::string& trusted, bool json) {
  Result<audit::VerifyReport> r = Verify(dir, pubkey, trusted);
  if (!r.ok()) return InputError(r.status().message());
  if (json) {
    std::printf("%s\n", r->Json().c_str());
    return r->ok() ? 0 : 1;
  }
  for (const audit::VerifyProblem& p : r->problems) {
    std::string where = p.file;
    if (p.line > 0) where += ":" + std::to_string(p.line);
    if (p.offset >= 0) where += " (byte " + std::to_string(p.offset) + ")";
    std::printf("BROKEN %s: %s: %s\n", where.c_str(), p.check.c_str(), p.message.c_str());
  }
  for (const std::string& n : r->notes) std::printf("note: %s\n", n.c_str());
  std::printf("%s%s\n", r->Summary().c_str(),
              !r->ok()             ? ": the log is NOT intact"
              : r->uncovered() > 0 ? ": intact; the newest records are not yet checkpointed"
                                   : ": intact");
  return r->ok() ? 0 : 1;
}

struct QueryArgs {
  std::string dir, since, until, tenant, decision, rule, policy_version, type;
  std::string format = "table";
};

int RunQuery(const QueryArgs& a) {
  audit::QueryFilter f;
  for (const auto& [flag, text, into] :
       {std::tuple{"--since", &a.since, &f.since}, std::tuple{"--until", &a.until, &f.until}}) {
    if (text->empty()) continue;
    Result<audit::TimeUs> t = audit::ParseTime(*text);
    if (!t.ok()) return InputError(std::string(flag) + ": " + t.status().message());
    *into = *t;
  }
  if (!a.tenant.empty()) f.tenant = a.tenant;
  if (!a.decision.empty()) f.decision = a.decision;
  if (!a.rule.empty()) f.rule = a.rule;
  if (!a.policy_version.empty()) f.policy_version = a.policy_version;
  if (!a.type.empty()) f.type = a.type;
  if (a.format != "jsonl" && a.format != "table") return InputError("--format: jsonl or table");
  Result<audit::AuditLog> log = audit::ReadAuditLog(a.dir);
  if (!log.ok()) return InputError(log.status().message());
  Result<audit::QueryResult> q = audit::Query(*log, f);
  if (!q.ok()) return InputError(q.status().message());
  const std::string out = a.format == "jsonl" ? audit::FormatJsonl(*q) : audit::FormatTable(*q);
  std::fwrite(out.data(), 1, out.size(), stdout);
  for (const audit::ReadIssue& i : log->issues) {
    std::fprintf(stderr, "parapet: warning: %s:%llu: %s\n", i.file.c_str(),
                 static_cast<unsigned long long>(i.line), i.message.c_str());
  }
  return 0;
}

int RunReport(const std::string& dir, const std::string& html,
              const std::vector<std::string>& pubkey) {
  Result<audit::AuditLog> log = audit::ReadAuditLog(dir);
  if (!log.ok()) return InputError(log.status().message());
  audit::ReportOptions o;
  o.generated_at = std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  Result<audit::VerifyReport> v = Verify(dir, pubkey, "");
  o.verification.ran = v.ok();
  if (v.ok()) {
    o.verification.valid = v->ok();
    o.verification.text = v->Summary() + (pubkey.empty() ? " (key from the log)" : "");
    for (const audit::VerifyProblem& p : v->problems) {
      o.verification.problems.push_back(p.file + ":" + std::to_string(p.line) + ": " + p.check +
                                        ": " + p.message);
    }
  } else {
    o.verification.text = "verification could not run: " + v.status().message();
  }
  const std::string page = audit::RenderHtmlReport(*log, o);
  std::ofstream out(html, std::ios::binary | std::ios::trunc);
  if (!out || !(out << page)) return InputError(html + ": cannot write");
  std::printf("wrote %s (%zu requests' records, verification: %s)\n", html.c_str(),
              log->records.size(),
              !v.ok()   ? "not run"
              : v->ok() ? "intact"
                        : "BROKEN");
  return 0;
}

// content: decrypts the content store's lines (all, or one request's) as JSON lines.
int RunContent(const std::string& dir, const std::string& key_file, const std::string& request) {
  Result<audit::ContentKey> key = audit::ContentKey::Load(key_file);
  if (!key.ok()) return InputError(key.status().message());
  std::error_code ec;
  int rc = 0, found = 0;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (!name.starts_with("content-") || !name.ends_with(".jsonl")) continue;
    std::ifstream in(e.path());
    int line_no = 0;
    for (std::string line; std::getline(in, line);) {
      ++line_no;
      std::string id, part;
      Result<std::string> text = key->Open(line, &id, &part);
      if (!text.ok()) {
        std::fprintf(stderr, "parapet: %s:%d: %s\n", name.c_str(), line_no,
                     text.status().message().c_str());
        rc = 1;
        continue;
      }
      if (!request.empty() && id != request) continue;
      ++found;
      std::string out = "{\"request_id\":";
      AppendJsonString(id, &out);
      out += ",\"part\":";
      AppendJsonString(part, &out);
      out += ",\"text\":";
      AppendJsonString(*text, &out);
      std::printf("%s}\n", out.c_str());
    }
  }
  if (ec) return InputError(dir + ": " + ec.message());
  if (!request.empty() && found == 0 && rc == 0) return InputError("no content for " + request);
  return rc;
}

}  // namespace

void AddAuditCommands(CLI::App& app, Action* run) {
  CLI::App* audit = app.add_subcommand("audit",
                                       "Keys, verification, queries and reports for "
                                       "the audit trail (audit/FORMAT.md)");
  audit->require_subcommand(1);

  struct KeygenArgs {
    std::string out, name;
    bool force = false;
  };
  auto k = std::make_shared<KeygenArgs>();
  CLI::App* keygen =
      audit->add_subcommand("keygen", "Make the signing (Ed25519) and content (HMAC) keys");
  keygen->add_option("--out", k->out, "directory for signing.key, signing.pub, hmac.key")
      ->required();
  keygen->add_option("--name", k->name, "the signing key's name (default parapet-<host>)");
  keygen->add_flag("--force", k->force, "overwrite existing keys");
  keygen->callback([k, run] { *run = [k] { return RunKeygen(k->out, k->name, k->force); }; });

  struct HashArgs {
    std::string key, text, file;
  };
  auto h = std::make_shared<HashArgs>();
  CLI::App* hash = audit->add_subcommand(
      "hash", "The hmac-sha256 tag of a text, to compare with a prompt or output in the log");
  hash->add_option("--key", h->key, "hmac.key from the keys directory")->required();
  hash->add_option("--file", h->file, "read the text from a file (exact bytes)");
  hash->add_option("TEXT", h->text, "the text");
  hash->callback([h, run] {
    *run = [h] {
      if (!h->file.empty() && !h->text.empty()) return InputError("give TEXT or --file, not both");
      return RunHash(h->key, h->text, h->file);
    };
  });

  struct VerifyArgs {
    std::string dir, trusted;
    std::vector<std::string> pubkey;
    bool json = false;
  };
  auto v = std::make_shared<VerifyArgs>();
  CLI::App* verify = audit->add_subcommand(
      "verify", "Check every record, the hash chain, the checkpoints; exit 1 when broken");
  verify->add_option("DIR", v->dir, "the audit directory")->required();
  verify->add_option("--pubkey", v->pubkey,
                     "signing.pub (repeatable: keys changed between runs; else: the keys the log "
                     "names)");
  verify->add_option("--trusted-checkpoint", v->trusted,
                     "an exported checkpoint (from the sink): the log must still match it");
  verify->add_flag("--json", v->json, "one JSON object");
  verify->callback(
      [v, run] { *run = [v] { return RunVerify(v->dir, v->pubkey, v->trusted, v->json); }; });

  auto q = std::make_shared<QueryArgs>();
  CLI::App* query = audit->add_subcommand("query", "Requests (or lifecycle records) that match");
  query->add_option("DIR", q->dir, "the audit directory")->required();
  query->add_option("--since", q->since, "from this time (UTC, inclusive)");
  query->add_option("--until", q->until, "to this time (UTC, exclusive)");
  query->add_option("--tenant", q->tenant, "tenant id");
  query->add_option("--decision", q->decision, "block | redact | flag | allow");
  query->add_option("--rule", q->rule, "a rule id that fired (input or output)");
  query->add_option("--policy-version", q->policy_version, "policy version (hex prefix)");
  query->add_option("--type", q->type, "lifecycle | start | stop | policy_reload | ...");
  query->add_option("--format", q->format, "table (default) | jsonl");
  query->callback([q, run] { *run = [q] { return RunQuery(*q); }; });

  struct ContentArgs {
    std::string dir, key, request;
  };
  auto c = std::make_shared<ContentArgs>();
  CLI::App* content = audit->add_subcommand(
      "content", "Decrypt the content store (audit.content_dir): prompts and outputs");
  content->add_option("DIR", c->dir, "the content store directory")->required();
  content->add_option("--key", c->key, "content.key from the keys directory")->required();
  content->add_option("--request", c->request, "only this request id");
  content->callback([c, run] { *run = [c] { return RunContent(c->dir, c->key, c->request); }; });

  struct ReportArgs {
    std::string dir, html;
    std::vector<std::string> pubkey;
  };
  auto r = std::make_shared<ReportArgs>();
  CLI::App* report =
      audit->add_subcommand("report", "One self-contained HTML page for a compliance review");
  report->add_option("DIR", r->dir, "the audit directory")->required();
  report->add_option("--html", r->html, "the page to write")->required();
  report->add_option("--pubkey", r->pubkey, "signing.pub for the verification shown (repeatable)");
  report->callback([r, run] { *run = [r] { return RunReport(r->dir, r->html, r->pubkey); }; });
}

}  // namespace parapet::cli
