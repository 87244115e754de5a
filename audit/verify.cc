// VerifyLog: reading every file of a log and every checkpoint, and saying where it breaks.
#include "audit/verify.h"

#include <boost/json.hpp>
#include <map>
#include <set>

#include "audit/file_system.h"
#include "audit/line.h"
#include "common/json_writer.h"

namespace parapet::audit {
namespace {

const std::set<std::string> kTypes = {
    "start",         "stop",        "admission",    "completion",
    "policy_reload", "cert_reload", "key_rotation", "audit_suspended",
    "audit_resumed", "recovery",    "writer_fault", "rotation"};

struct Fault {
  std::string file;
  uint64_t valid_bytes = 0;
};

std::optional<boost::json::object> JsonObject(std::string_view text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return v.as_object();
}

std::string Str(const boost::json::object& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_string() ? std::string(it->value().as_string()) : "";
}

class Verifier {
 public:
  Verifier(std::string dir, const VerifyOptions& o)
      : dir_(std::move(dir)), o_(o), trusted_(o.pubkeys) {}

  Result<VerifyReport> Run() {
    PARAPET_ASSIGN_OR_RETURN(std::vector<std::string> names, PosixFs().List(dir_));
    std::vector<std::pair<uint64_t, std::string>> files;
    std::string cp_file;
    for (const std::string& n : names) {
      std::string id;
      uint64_t first = 0;
      if (ParseLogFileName(n, &id, &first)) {
        if (r_.log_id.empty()) r_.log_id = id;
        if (id != r_.log_id) {
          Problem(n, 0, -1, "log id", "a second log (" + id + ") in the directory of " + r_.log_id);
          continue;
        }
        files.emplace_back(first, n);
      } else if (n.starts_with("checkpoints-") && n.ends_with(".jsonl")) {
        cp_file = n;
      } else {
        r_.notes.push_back("ignored " + n + ": not an audit file name");
      }
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) {
      Problem("", 0, -1, "files", "no audit log files in " + dir_);
      return std::move(r_);
    }
    std::vector<std::string> data(files.size());
    for (size_t i = 0; i < files.size(); ++i) {
      PARAPET_ASSIGN_OR_RETURN(data[i], PosixFs().Read(dir_ + "/" + files[i].second));
    }
    for (size_t i = 0; i < files.size(); ++i) {
      std::optional<Fault> fault;
      if (i + 1 < files.size()) fault = FaultNoteOf(data[i + 1]);
      CheckFile(files[i].first, files[i].second, data[i], fault);
    }
    for (const auto& [id, where] : admissions_) {
      if (completions_.count(id) == 0) ++r_.open_requests;
    }
    if (r_.open_requests > 0) {
      r_.notes.push_back(std::to_string(r_.open_requests) +
                         " admitted request(s) without a completion record (in flight when the "
                         "log ended or the server crashed)");
    }
    if (cp_file.empty() || cp_file != CheckpointFileName(r_.log_id)) {
      Problem(cp_file, 0, -1, "checkpoints", "no checkpoint file " + CheckpointFileName(r_.log_id));
    } else {
      PARAPET_ASSIGN_OR_RETURN(std::string cps, PosixFs().Read(dir_ + "/" + cp_file));
      CheckCheckpoints(cp_file, cps);
    }
    if (!o_.trusted_checkpoint.empty()) PARAPET_RETURN_IF_ERROR(CheckTrusted());
    if (r_.uncovered() > 0) {
      r_.notes.push_back(std::to_string(r_.uncovered()) +
                         " record(s) after the last checkpoint are not yet covered by a signed "
                         "checkpoint");
    }
    return std::move(r_);
  }

 private:
  void Problem(const std::string& file, int64_t line, int64_t offset, std::string check,
               std::string message) {
    r_.problems.push_back(VerifyProblem{file, line, offset, std::move(check), std::move(message)});
    for (VerifyFile& f : r_.files) {
      if (f.name == file) f.valid = false;
    }
  }

  static std::optional<Fault> FaultNoteOf(std::string_view next_file) {
    std::optional<boost::json::object> o = JsonObject(next_file.substr(0, next_file.find('\n')));
    if (!o || Str(*o, "type") != "writer_fault") return std::nullopt;
    auto b = o->find("valid_bytes");
    if (b == o->end() || !b->value().is_int64()) return std::nullopt;
    return Fault{Str(*o, "file"), static_cast<uint64_t>(b->value().as_int64())};
  }

  void CheckFile(uint64_t first_seq, const std::string& name, std::string_view bytes,
                 const std::optional<Fault>& fault) {
    r_.files.push_back(VerifyFile{name, 0, true});
    if (fault && fault->file == name && fault->valid_bytes <= bytes.size()) {
      if (fault->valid_bytes < bytes.size()) {
        r_.notes.push_back(name + ": " + std::to_string(bytes.size() - fault->valid_bytes) +
                           " byte(s) after a writer fault were abandoned (not part of the log)");
      }
      bytes = bytes.substr(0, fault->valid_bytes);
    }
    if (first_seq != next_seq_) {
      Problem(name, 0, -1, "file order",
              "named for seq " + std::to_string(first_seq) + " but the log continues at seq " +
                  std::to_string(next_seq_) + " (a file missing, duplicated or out of place)");
    }
    size_t at = 0;
    int64_t line_no = 0;
    while (at < bytes.size()) {
      ++line_no;
      const size_t eol = bytes.find('\n', at);
      if (eol == std::string_view::npos) {
        Problem(name, line_no, static_cast<int64_t>(at), "torn tail",
                std::to_string(bytes.size() - at) + " byte(s) without a final newline");
        break;
      }
      CheckLine(name, line_no, static_cast<int64_t>(at), bytes.substr(at, eol - at));
      at = eol + 1;
    }
  }

  void CheckLine(const std::string& name, int64_t line_no, int64_t offset, std::string_view line) {
    Result<ParsedLine> p = ParseRecordLine(line);
    if (!p.ok()) {
      const std::string& m = p.status().message();
      const std::string check = m.starts_with("hash")        ? "hash"
                                : m.starts_with("key order") ? "key order"
                                : m == "not UTF-8"           ? "utf-8"
                                                             : "record";
      Problem(name, line_no, offset, check, m);
      return;
    }
    ++r_.records;
    ++r_.files.back().records;
    if (p->log_id != r_.log_id) {
      Problem(name, line_no, offset, "log id", "record of log " + p->log_id);
    }
    if (p->seq != next_seq_) {
      Problem(name, line_no, offset, "seq",
              "seq " + std::to_string(p->seq) + ", expected " + std::to_string(next_seq_) +
                  (p->seq < next_seq_ ? " (a record repeated or moved)" : " (records missing)"));
    } else if (p->prev != prev_) {
      Problem(name, line_no, offset, "prev",
              "prev does not match the hash of the record before (a record was replaced, "
              "removed or moved)");
    }
    if (kTypes.count(p->type) == 0)
      Problem(name, line_no, offset, "type", "unknown type " + p->type);
    if (p->type == "admission") {
      if (!admissions_.emplace(p->request_id, line_no).second) {
        Problem(name, line_no, offset, "pairing", "second admission for " + p->request_id);
      }
    } else if (p->type == "completion") {
      if (admissions_.count(p->request_id) == 0) {
        Problem(name, line_no, offset, "pairing",
                "completion of " + p->request_id + " without its admission before it");
      } else if (!completions_.insert(p->request_id).second) {
        Problem(name, line_no, offset, "pairing", "second completion for " + p->request_id);
      }
    } else if (p->type == "start" || p->type == "key_rotation") {
      std::optional<boost::json::object> o = JsonObject(line);
      Result<VerifierKey> k = VerifierKey::Parse(o ? Str(*o, "signing_key") : "");
      if (!k.ok()) {
        Problem(name, line_no, offset, "record", p->type + " without a valid signing_key");
      } else if (p->type == "key_rotation") {
        rotations_.emplace_back(p->seq, *k);
      } else if (o_.pubkeys.empty()) {
        Trust(*k);  // consistency only: notes say so
      }
    }
    leaves_.push_back(p->hash);
    leaf_file_.push_back(name);
    next_seq_ = p->seq + 1;
    prev_ = p->hash;
  }

  void Trust(const VerifierKey& k) {
    for (const VerifierKey& t : trusted_) {
      if (t.Serialize() == k.Serialize()) return;
    }
    trusted_.push_back(k);
  }

  // A checkpoint's note checked against the trusted keys and the leaves; "" when it holds.
  std::string CheckNote(const std::string& note, uint64_t* size_out) {
    Result<std::string> text = InvalidArgumentError("no trusted key");
    for (const VerifierKey& k : trusted_) {
      text = OpenNote(note, k);
      if (text.ok()) break;
    }
    if (!text.ok()) return "signature: " + text.status().message();
    Result<Checkpoint> c = ParseCheckpointText(*text);
    if (!c.ok()) return "body: " + c.status().message();
    if (c->origin != "parapet.audit/" + r_.log_id)
      return "origin " + c->origin + " is not this log";
    *size_out = c->size;
    if (c->size > leaves_.size()) {
      return "covers " + std::to_string(c->size) + " records but the log has " +
             std::to_string(leaves_.size()) + " (records were removed)";
    }
    if (MerkleRoot(std::span<const Hash>(leaves_.data(), c->size)) != c->root) {
      return "the Merkle root of the first " + std::to_string(c->size) +
             " records differs (records were changed)";
    }
    return "";
  }

  void CheckCheckpoints(const std::string& file, std::string_view text) {
    if (trusted_.empty()) {
      Problem(file, 0, -1, "checkpoint signature",
              "no key to check checkpoints with (pass --pubkey signing.pub)");
      return;
    }
    if (o_.pubkeys.empty()) {
      r_.notes.push_back(
          "checkpoints were checked with the keys the log's start records name; "
          "pass --pubkey for an independent check");
    }
    uint64_t last = 0;
    int64_t line_no = 0;
    for (size_t at = 0; at < text.size();) {
      ++line_no;
      const size_t eol = text.find('\n', at);
      if (eol == std::string_view::npos) {
        Problem(file, line_no, static_cast<int64_t>(at), "torn tail", "no final newline");
        break;
      }
      std::optional<boost::json::object> o = JsonObject(text.substr(at, eol - at));
      const int64_t offset = static_cast<int64_t>(at);
      at = eol + 1;
      if (!o) {
        Problem(file, line_no, offset, "checkpoint", "not a JSON object");
        continue;
      }
      uint64_t size = 0;
      const std::string why = CheckNote(Str(*o, "note"), &size);
      if (!why.empty()) {
        Problem(file, line_no, offset,
                why.starts_with("signature") ? "checkpoint signature" : "checkpoint", why);
        continue;
      }
      // A rotation this checkpoint covers was vouched for by a trusted key: trust the new key.
      for (const auto& [seq, key] : rotations_) {
        if (seq < size) Trust(key);
      }
      // The line must be exactly what the writer makes of the signed note (every byte counts).
      const std::string note = Str(*o, "note");
      Result<Checkpoint> c = ParseCheckpointText(note.substr(0, note.rfind("\n\n") + 1));
      const std::string in_file =
          size > 0 && size <= leaf_file_.size() ? leaf_file_[size - 1] : Str(*o, "file");
      std::string expected = "{\"size\":" + std::to_string(size) + ",\"root\":\"" +
                             (c.ok() ? Base64(c->root) : "") + "\",\"file\":";
      AppendJsonString(in_file, &expected);
      expected += ",\"note\":";
      AppendJsonString(note, &expected);
      expected += "}";
      if (text.substr(offset, eol - static_cast<size_t>(offset)) != expected) {
        Problem(file, line_no, offset, "checkpoint",
                "the line differs from its signed note (size, root or file changed)");
      }
      if (size < last) {
        Problem(file, line_no, offset, "checkpoint order",
                "size " + std::to_string(size) + " after " + std::to_string(last) +
                    " (checkpoints rolled back or reordered)");
      }
      last = std::max(last, size);
      ++r_.checkpoints;
      r_.covered = std::max(r_.covered, size);
    }
  }

  Status CheckTrusted() {
    Result<std::string> text = PosixFs().Read(o_.trusted_checkpoint);
    if (!text.ok()) return text.status();
    std::string note = *text;
    // An exported checkpoints file or line: take the last line's note.
    if (note.starts_with("{")) {
      std::string_view t = note;
      while (!t.empty() && t.back() == '\n') t.remove_suffix(1);
      const size_t start = t.rfind('\n');
      std::optional<boost::json::object> o =
          JsonObject(t.substr(start == std::string_view::npos ? 0 : start + 1));
      if (!o) return InvalidArgumentError(o_.trusted_checkpoint + ": not a checkpoint");
      note = Str(*o, "note");
    }
    if (trusted_.empty()) {
      return InvalidArgumentError("--trusted-checkpoint needs --pubkey (or a start record)");
    }
    uint64_t size = 0;
    const std::string why = CheckNote(note, &size);
    if (!why.empty()) {
      Problem(o_.trusted_checkpoint, 0, -1, "trusted checkpoint",
              why + " — the log was truncated or rewritten after the checkpoint was exported");
    } else if (r_.covered < size) {
      Problem(o_.trusted_checkpoint, 0, -1, "trusted checkpoint",
              "the log's own checkpoints stop at " + std::to_string(r_.covered) +
                  " records, before the exported one (" + std::to_string(size) +
                  "): the checkpoint file was rolled back");
    }
    return Status::Ok();
  }

  std::string dir_;
  const VerifyOptions& o_;
  VerifyReport r_;
  uint64_t next_seq_ = 0;
  Hash prev_{};
  std::vector<Hash> leaves_;
  std::vector<std::string> leaf_file_;  // the file each leaf is in
  std::map<std::string, int64_t> admissions_;
  std::set<std::string> completions_;
  std::vector<VerifierKey> trusted_;                         // keys checkpoints may be signed with
  std::vector<std::pair<uint64_t, VerifierKey>> rotations_;  // key_rotation records: seq, key
};

}  // namespace

std::string VerifyReport::Summary() const {
  size_t valid = 0;
  for (const VerifyFile& f : files) valid += f.valid ? 1 : 0;
  return std::to_string(valid) + "/" + std::to_string(files.size()) + " files valid, " +
         std::to_string(records) + " records, " + std::to_string(checkpoints) + " checkpoints";
}

std::string VerifyReport::Json() const {
  JsonWriter w;
  w.BeginObject();
  w.StringField("status", !ok() ? "broken" : uncovered() > 0 ? "valid_uncovered_tail" : "valid");
  w.StringField("log_id", log_id);
  w.IntField("files", static_cast<int64_t>(files.size()));
  w.IntField("records", static_cast<int64_t>(records));
  w.IntField("checkpoints", static_cast<int64_t>(checkpoints));
  w.IntField("covered", static_cast<int64_t>(covered));
  w.IntField("uncovered", static_cast<int64_t>(uncovered()));
  w.IntField("open_requests", static_cast<int64_t>(open_requests));
  w.Key("problems");
  w.BeginArray();
  for (const VerifyProblem& p : problems) {
    w.BeginObject();
    w.StringField("file", p.file);
    w.IntField("line", p.line);
    w.IntField("offset", p.offset);
    w.StringField("check", p.check);
    w.StringField("message", p.message);
    w.EndObject();
  }
  w.EndArray();
  w.Key("notes");
  w.BeginArray();
  for (const std::string& n : notes) w.String(n);
  w.EndArray();
  w.EndObject();
  return w.str();
}

Result<VerifyReport> VerifyLog(const std::string& dir, const VerifyOptions& options) {
  return Verifier(dir, options).Run();
}

}  // namespace parapet::audit
