#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "audit/line.h"
#include "audit/record.h"
#include "audit/verify.h"
#include "audit/writer.h"

namespace parapet::audit {
namespace {

namespace fs = std::filesystem;

std::string TempDir(const std::string& name) {
  const std::string d = fs::temp_directory_path().string() + "/parapet_audit_" + name + "_" +
                        std::to_string(getpid());
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteAll(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

std::vector<std::string> LogFiles(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().starts_with("audit-")) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string CheckpointPath(const std::string& dir) {
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().starts_with("checkpoints-")) return e.path().string();
  }
  return "";
}

const SigningKey& Key() {
  static const SigningKey k = *SigningKey::Generate("parapet-test");
  return k;
}

WriterOptions Options(const std::string& dir) {
  WriterOptions o;
  o.dir = dir;
  o.signing_key = Key();
  o.min_free_bytes = 0;
  o.warn_free_bytes = 0;
  return o;
}

// A request's two records.
void Request(AuditWriter& w, int i) {
  AdmissionRecord a;
  a.request_id = "req-" + std::to_string(i);
  a.tenant = i % 2 ? "acme" : "globex";
  a.route = "/v1/chat/completions";
  a.decision = i % 3 == 0 ? "redact" : "allow";
  if (i % 3 == 0) {
    a.findings.push_back(
        FindingRecord{"pii", "pii.email", "EMAIL", "redact", "enforce", 1, 0, 3, 19});
  }
  ASSERT_TRUE(w.AppendSync("admission", EncodeAdmission(a)).ok());
  CompletionRecord c;
  c.request_id = a.request_id;
  c.finish_reason = "stop";
  c.completion_tokens = i;
  ASSERT_TRUE(w.AppendSync("completion", EncodeCompletion(c)).ok());
}

VerifyReport Verify(const std::string& dir, const std::string& trusted = "") {
  VerifyOptions o;
  o.pubkeys = {Key().verifier()};
  o.trusted_checkpoint = trusted;
  Result<VerifyReport> r = VerifyLog(dir, o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : VerifyReport{};
}

std::string Problems(const VerifyReport& r) {
  std::string s;
  for (const VerifyProblem& p : r.problems) {
    s += p.file + ":" + std::to_string(p.line) + " " + p.check + ": " + p.message + "\n";
  }
  return s;
}

// A small finished log: start, n requests, stop; checkpoints every 4 records.
std::string SmallLog(const std::string& name, int n, uint64_t rotate_bytes = 64 << 20) {
  const std::string dir = TempDir(name);
  WriterOptions o = Options(dir);
  o.checkpoint_records = 4;
  o.rotate_bytes = rotate_bytes;
  auto w = AuditWriter::Open(o);
  EXPECT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_TRUE(
      (*w)->AppendSync("start", Fields().Str("signing_key", Key().verifier().Serialize()).str())
          .ok());
  for (int i = 0; i < n; ++i) Request(**w, i);
  EXPECT_TRUE((*w)->AppendSync("stop", Fields().Str("reason", "shutdown").str()).ok());
  (*w)->Close();
  return dir;
}

TEST(AuditWriter, WritesAVerifiableChainWithCheckpoints) {
  const std::string dir = SmallLog("basic", 10);
  const VerifyReport r = Verify(dir);
  EXPECT_TRUE(r.ok()) << Problems(r);
  EXPECT_EQ(r.records, 22u);
  EXPECT_EQ(r.covered, 22u);  // the final checkpoint at Close covers everything
  EXPECT_GE(r.checkpoints, 5u);
  EXPECT_EQ(r.open_requests, 0u);
  EXPECT_EQ(r.Summary(),
            "1/1 files valid, 22 records, " + std::to_string(r.checkpoints) + " checkpoints");
  // Lines are what FORMAT.md says: envelope first, hash last, prev chained.
  const std::string text = ReadAll(LogFiles(dir)[0]);
  const std::string first = text.substr(0, text.find('\n'));
  EXPECT_EQ(first.rfind("{\"v\":1,\"log_id\":\"", 0), 0u) << first;
  EXPECT_NE(first.find(",\"seq\":0,\"ts\":\""), std::string::npos);
  EXPECT_NE(first.find(",\"type\":\"start\",\"prev\":\"" + std::string(64, '0') + "\""),
            std::string::npos);
  Result<ParsedLine> p = ParseRecordLine(first);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->type, "start");
}

TEST(AuditWriter, CheckpointsGoToTheExternalSinkToo) {
  const std::string dir = TempDir("sink");
  const std::string exported = dir + "/../sink_" + std::to_string(getpid());
  fs::remove_all(exported);
  WriterOptions o = Options(dir + "/log");
  o.checkpoint_records = 2;
  o.sink = "dir:" + exported;
  auto w = AuditWriter::Open(o);
  ASSERT_TRUE(w.ok());
  Request(**w, 1);
  Request(**w, 2);
  (*w)->Close();
  // The exported file equals the log's own checkpoint file, line for line.
  const std::string own = ReadAll(CheckpointPath(dir + "/log"));
  EXPECT_FALSE(own.empty());
  EXPECT_EQ(ReadAll(exported + "/" + CheckpointFileName((*w)->log_id())), own);
  // A command sink gets the signed note on stdin.
  const std::string notes = dir + "/notes.txt";
  WriterOptions c = Options(dir + "/log2");
  c.sink = "command:cat >> " + notes;
  auto w2 = AuditWriter::Open(c);
  ASSERT_TRUE(w2.ok());
  Request(**w2, 1);
  (*w2)->Close();
  const std::string note = ReadAll(notes);
  EXPECT_EQ(note.rfind("parapet.audit/" + (*w2)->log_id() + "\n2\n", 0), 0u) << note;
  EXPECT_TRUE(OpenNote(note, Key().verifier()).ok());
  fs::remove_all(exported);
}

TEST(AuditWriter, KeyRotationIsVouchedForByTheOldKey) {
  const std::string dir = TempDir("rotate_keys");
  auto w = AuditWriter::Open(Options(dir));
  ASSERT_TRUE(w.ok());
  Request(**w, 1);
  const SigningKey next = *SigningKey::Generate("parapet-next");
  ASSERT_TRUE((*w)->RotateKeys(next, "0badc0de").ok());
  Request(**w, 2);
  (*w)->Close();
  // The old public key alone verifies everything: the rotation is covered by its checkpoint.
  VerifyReport r = Verify(dir);
  EXPECT_TRUE(r.ok()) << Problems(r);
  EXPECT_EQ(r.uncovered(), 0u);
  const std::string text = ReadAll(LogFiles(dir)[0]);
  EXPECT_NE(text.find("\"type\":\"key_rotation\""), std::string::npos);
  EXPECT_NE(text.find(next.verifier().Serialize()), std::string::npos);
  // The new key alone cannot vouch for the checkpoints before it.
  Result<VerifyReport> only_new = VerifyLog(dir, VerifyOptions{{next.verifier()}, ""});
  ASSERT_TRUE(only_new.ok());
  EXPECT_FALSE(only_new->ok());
  // Without the old key's checkpoint over the rotation, the new key is not trusted.
  const std::string cp = CheckpointPath(dir);
  std::vector<std::string> lines;
  {
    std::istringstream in(ReadAll(cp));
    for (std::string l; std::getline(in, l);) lines.push_back(l + "\n");
  }
  ASSERT_GE(lines.size(), 2u);
  std::string without_first;
  for (size_t i = 1; i < lines.size(); ++i) without_first += lines[i];
  WriteAll(cp, without_first);
  r = Verify(dir);
  EXPECT_FALSE(r.ok());
}

TEST(AuditWriter, ReopensAndContinuesTheChain) {
  const std::string dir = SmallLog("reopen", 3);
  {
    auto w = AuditWriter::Open(Options(dir));
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    EXPECT_EQ((*w)->stats().records, 0u);
    EXPECT_TRUE((*w)->recovery_note().empty());
    Request(**w, 99);
    (*w)->Close();
  }
  const VerifyReport r = Verify(dir);
  EXPECT_TRUE(r.ok()) << Problems(r);
  EXPECT_EQ(r.records, 10u);
  EXPECT_EQ(r.uncovered(), 0u);
}

TEST(AuditWriter, RotatesFilesThatLinkToEachOther) {
  const std::string dir = SmallLog("rotate", 30, 2048);
  const std::vector<std::string> files = LogFiles(dir);
  EXPECT_GE(files.size(), 3u);
  const VerifyReport r = Verify(dir);
  EXPECT_TRUE(r.ok()) << Problems(r);
  EXPECT_EQ(r.files.size(), files.size());
  // Each file but the last ends with a rotation record naming the next file.
  const std::string t = ReadAll(files[0]);
  const std::string last = t.substr(t.rfind('\n', t.size() - 2) + 1);
  EXPECT_NE(last.find("\"type\":\"rotation\""), std::string::npos) << last;
  EXPECT_NE(last.find(fs::path(files[1]).filename().string()), std::string::npos) << last;
}

TEST(AuditWriter, GroupCommitBatchesConcurrentWriters) {
  const std::string dir = TempDir("group");
  auto w = AuditWriter::Open(Options(dir));
  ASSERT_TRUE(w.ok());
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        if ((*w)->AppendSync("stop", Fields().Int("t", t).Int("i", i).str()).ok()) ++ok;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const WriterStats s = (*w)->stats();
  (*w)->Close();
  EXPECT_EQ(ok.load(), 320);
  EXPECT_EQ(s.records, 320u);
  EXPECT_LT(s.batches, 320u) << "one fdatasync per batch, not per record";
  const VerifyReport r = Verify(dir);
  EXPECT_TRUE(r.ok()) << Problems(r);
}

TEST(AuditWriter, RecoveryCutsATornTailAndSaysSo) {
  const std::string dir = SmallLog("torn", 3);
  const std::string file = LogFiles(dir).back();
  const std::string torn = "{\"v\":1,\"log_id\":\"half a rec";
  WriteAll(file, ReadAll(file) + torn);
  EXPECT_FALSE(Verify(dir).ok());  // before recovery: a torn tail
  auto w = AuditWriter::Open(Options(dir));
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_NE((*w)->recovery_note().find("cut " + std::to_string(torn.size()) + " bytes"),
            std::string::npos)
      << (*w)->recovery_note();
  (*w)->Close();
  const VerifyReport r = Verify(dir);
  EXPECT_TRUE(r.ok()) << Problems(r);
  const std::string text = ReadAll(file);
  EXPECT_NE(text.find("\"type\":\"recovery\",\"prev\":"), std::string::npos);
  EXPECT_NE(text.find("\"cut_bytes\":" + std::to_string(torn.size())), std::string::npos);
  EXPECT_NE(text.find("\"cut_sha256\":\"" + Hex(Sha256(torn)) + "\""), std::string::npos);
}

TEST(AuditWriter, DamageThatIsNotATornTailStopsOpen) {
  const std::string dir = SmallLog("damaged", 3);
  const std::string file = LogFiles(dir).back();
  std::string text = ReadAll(file);
  text[text.find("req-1")] = 'X';  // a record in the middle
  WriteAll(file, text);
  auto w = AuditWriter::Open(Options(dir));
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("damaged record"), std::string::npos) << w.status().message();
  EXPECT_NE(w.status().message().find("hash mismatch"), std::string::npos);
}

// Fails appends or syncs on cue, or reports little free space.
class FaultyFs : public AuditFs {
 public:
  std::atomic<bool> fail_sync{false};
  std::atomic<bool> fail_write{false};
  std::atomic<uint64_t> free_bytes{1ull << 40};

  class File : public AuditFile {
   public:
    File(FaultyFs& fs, std::unique_ptr<AuditFile> f) : fs_(fs), f_(std::move(f)) {}
    Status Append(std::string_view d) override {
      if (fs_.fail_write) return ResourceExhaustedError("write: No space left on device");
      return f_->Append(d);
    }
    Status Sync() override {
      if (fs_.fail_sync) return DataLossError("fdatasync: Input/output error");
      return f_->Sync();
    }

   private:
    FaultyFs& fs_;
    std::unique_ptr<AuditFile> f_;
  };

  Result<std::unique_ptr<AuditFile>> OpenAppend(const std::string& path) override {
    if (fail_write) return ResourceExhaustedError("open: No space left on device");
    PARAPET_ASSIGN_OR_RETURN(std::unique_ptr<AuditFile> f, PosixFs().OpenAppend(path));
    return std::unique_ptr<AuditFile>(new File(*this, std::move(f)));
  }
  Result<std::string> Read(const std::string& p) override { return PosixFs().Read(p); }
  Status Truncate(const std::string& p, uint64_t s) override { return PosixFs().Truncate(p, s); }
  Result<std::vector<std::string>> List(const std::string& d) override { return PosixFs().List(d); }
  Result<uint64_t> FreeBytes(const std::string&) override { return free_bytes.load(); }
};

// A failed sync or write (EIO, ENOSPC) abandons the file; the log resumes in a new one.
class AuditWriterFault : public ::testing::TestWithParam<bool> {};

TEST_P(AuditWriterFault, StickyForTheFileAndTheLogResumesInANewOne) {
  const bool sync = GetParam();
  const std::string dir = TempDir(sync ? "fault_sync" : "fault_write");
  FaultyFs ffs;
  WriterOptions o = Options(dir);
  o.fs = &ffs;
  o.retry_ms = 50;
  auto w = AuditWriter::Open(o);
  ASSERT_TRUE(w.ok());
  Request(**w, 1);
  (sync ? ffs.fail_sync : ffs.fail_write) = true;
  const Status failed = (*w)->AppendSync("stop", Fields().Str("reason", "x").str());
  EXPECT_FALSE(failed.ok());
  EXPECT_FALSE((*w)->healthy());
  // Still failing (the file is abandoned, not retried) even though the disk is fine again.
  (sync ? ffs.fail_sync : ffs.fail_write) = false;
  EXPECT_FALSE((*w)->AppendSync("stop", Fields().Str("reason", "y").str()).ok());
  for (int i = 0; i < 100 && !(*w)->healthy(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE((*w)->healthy()) << (*w)->fault().ToString();
  Request(**w, 2);
  (*w)->Close();
  EXPECT_EQ(LogFiles(dir).size(), 2u);
  const VerifyReport r = Verify(dir);
  EXPECT_TRUE(r.ok()) << Problems(r);
  EXPECT_EQ(r.records, 2u + 2u + 2u);  // request 1, writer_fault + audit_resumed, request 2
  const std::string second = ReadAll(LogFiles(dir)[1]);
  EXPECT_NE(second.find("\"type\":\"writer_fault\""), std::string::npos);
  EXPECT_NE(second.find("\"lost_writes\":1"), std::string::npos) << second;
  bool abandoned = false;
  for (const std::string& n : r.notes) abandoned |= n.find("abandoned") != std::string::npos;
  // A failed sync leaves written-but-not-durable bytes behind (reported); a failed write none.
  EXPECT_EQ(abandoned, sync) << "the unsynced bytes of the failed file are reported";
}

INSTANTIATE_TEST_SUITE_P(SyncAndWrite, AuditWriterFault, ::testing::Bool());

TEST(AuditWriter, LowDiskSpaceSuspendsAdmissionAndIsRecorded) {
  const std::string dir = TempDir("space");
  FaultyFs ffs;
  WriterOptions o = Options(dir);
  o.fs = &ffs;
  o.min_free_bytes = 1000;
  auto w = AuditWriter::Open(o);
  ASSERT_TRUE(w.ok());
  ffs.free_bytes = 10;
  for (int i = 0; i < 100 && (*w)->healthy(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE((*w)->healthy());
  EXPECT_TRUE((*w)->AppendSync("stop", Fields().Str("reason", "x").str()).ok())
      << "records are still written while there is room";
  ffs.free_bytes = 1ull << 40;
  for (int i = 0; i < 100 && !(*w)->healthy(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE((*w)->healthy());
  (*w)->Close();
  const std::string text = ReadAll(LogFiles(dir)[0]);
  EXPECT_NE(text.find("\"type\":\"audit_suspended\""), std::string::npos);
  EXPECT_NE(text.find("\"type\":\"audit_resumed\""), std::string::npos);
  EXPECT_TRUE(Verify(dir).ok());
}

// ---- tamper tests: every change is a problem (or an uncovered tail), never a silent pass ----

TEST(AuditVerify, CutAtEveryByteOfTheLastThreeRecordsIsDetected) {
  const std::string dir = SmallLog("cut", 4);
  const std::string file = LogFiles(dir).back();
  const std::string text = ReadAll(file);
  size_t start = text.size();
  for (int k = 0; k < 4; ++k) start = text.rfind('\n', start - 2);  // 3 records back
  ++start;
  for (size_t cut = start; cut < text.size(); ++cut) {
    WriteAll(file, text.substr(0, cut));
    const VerifyReport r = Verify(dir);
    ASSERT_FALSE(r.ok()) << "cut at byte " << cut << " not detected";
  }
  WriteAll(file, text);
  EXPECT_TRUE(Verify(dir).ok());
}

TEST(AuditVerify, EveryBitFlipIsDetected) {
  const std::string dir = SmallLog("flip", 1);
  std::vector<std::string> paths = LogFiles(dir);
  paths.push_back(CheckpointPath(dir));
  int flips = 0;
  for (const std::string& path : paths) {
    const std::string text = ReadAll(path);
    for (size_t i = 0; i < text.size(); ++i) {
      for (int bit = 0; bit < 8; ++bit) {
        std::string t = text;
        t[i] = static_cast<char>(t[i] ^ (1 << bit));
        WriteAll(path, t);
        ++flips;
        Result<VerifyReport> r = VerifyLog(dir, VerifyOptions{{Key().verifier()}, ""});
        ASSERT_TRUE(!r.ok() || !r->ok())
            << fs::path(path).filename() << " byte " << i << " bit " << bit << " not detected";
      }
    }
    WriteAll(path, text);
  }
  EXPECT_GT(flips, 8000);
  EXPECT_TRUE(Verify(dir).ok());
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l + "\n");
  return out;
}

std::string Join(const std::vector<std::string>& lines) {
  std::string s;
  for (const std::string& l : lines) s += l;
  return s;
}

TEST(AuditVerify, SwappedDuplicatedDeletedAndInsertedRecordsAreDetected) {
  const std::string dir = SmallLog("records", 4);
  const std::string file = LogFiles(dir).back();
  const std::vector<std::string> lines = Lines(ReadAll(file));
  ASSERT_GE(lines.size(), 8u);
  auto check = [&](std::vector<std::string> changed, const char* what) {
    WriteAll(file, Join(changed));
    EXPECT_FALSE(Verify(dir).ok()) << what;
  };
  std::vector<std::string> v = lines;
  std::swap(v[3], v[4]);
  check(v, "swap");
  v = lines;
  v.insert(v.begin() + 3, lines[3]);
  check(v, "duplicate");
  v = lines;
  v.erase(v.begin() + 3);
  check(v, "delete");
  v = lines;
  v.erase(v.end() - 1);  // the last record (covered by the final checkpoint)
  check(v, "delete last");
  // A well-formed record of our own making inserted in the middle (correct hash, wrong place).
  v = lines;
  const std::string body = RecordBody(std::string(32, 'a'), 3, TimestampNow(), "stop", kZeroHash,
                                      "\"reason\":\"forged\"");
  v.insert(v.begin() + 3, RecordLine(body, LeafHash(body)));
  check(v, "insert");
  WriteAll(file, Join(lines));
  EXPECT_TRUE(Verify(dir).ok());
}

TEST(AuditVerify, SwappedDuplicatedDeletedAndInsertedFilesAreDetected) {
  const std::string dir = SmallLog("files", 20, 1500);
  const std::vector<std::string> files = LogFiles(dir);
  ASSERT_GE(files.size(), 4u);
  const std::string a = ReadAll(files[1]), b = ReadAll(files[2]);
  WriteAll(files[1], b);  // swapped contents
  WriteAll(files[2], a);
  EXPECT_FALSE(Verify(dir).ok()) << "swap";
  WriteAll(files[1], a);
  WriteAll(files[2], b);
  fs::remove(files[2]);
  EXPECT_FALSE(Verify(dir).ok()) << "delete";
  WriteAll(files[2], b);
  std::string id;
  uint64_t first = 0;
  ASSERT_TRUE(ParseLogFileName(fs::path(files[2]).filename().string(), &id, &first));
  const std::string dup = dir + "/" + LogFileName(id, first + 1);
  WriteAll(dup, b);  // a copy of a file under another seq
  EXPECT_FALSE(Verify(dir).ok()) << "duplicate/insert";
  fs::remove(dup);
  EXPECT_TRUE(Verify(dir).ok());
}

TEST(AuditVerify, CheckpointsResignedWithAnUnknownKeyOrRolledBackAreDetected) {
  const std::string dir = SmallLog("resign", 4);
  const std::string cp = CheckpointPath(dir);
  const std::string original = ReadAll(cp);
  // Export the latest checkpoint (what the external sink holds).
  const std::string exported = dir + "/../exported_" + std::to_string(getpid()) + ".jsonl";
  WriteAll(exported, Lines(original).back());

  // Re-signed by someone else's key, with the same name.
  std::vector<std::string> lines = Lines(original);
  const SigningKey mallory = *SigningKey::Generate("parapet-test");
  std::string& last = lines.back();
  const size_t note_at = last.find("\"note\":\"") + 8;
  std::string note = last.substr(note_at, last.rfind("\"}") - note_at);
  std::string text;  // unescape \n
  for (size_t i = 0; i < note.size(); ++i) {
    if (note[i] == '\\' && i + 1 < note.size() && note[i + 1] == 'n') {
      text += '\n';
      ++i;
    } else {
      text += note[i];
    }
  }
  const std::string body = text.substr(0, text.rfind("\n\n") + 1);
  std::string forged = *SignNote(body, mallory);
  std::string escaped;
  for (char c : forged) escaped += c == '\n' ? std::string("\\n") : std::string(1, c);
  last = last.substr(0, note_at) + escaped + "\"}\n";
  WriteAll(cp, Join(lines));
  VerifyReport r = Verify(dir);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.problems[0].check, "checkpoint signature") << Problems(r);

  // Rolled back: the log and its checkpoints cut back to an earlier, consistent state. Only an
  // exported checkpoint can tell.
  WriteAll(cp, original);
  const std::string file = LogFiles(dir).back();
  const std::string log = ReadAll(file);
  std::vector<std::string> cps = Lines(original);
  std::vector<std::string> records = Lines(log);
  std::string older_cp = cps[cps.size() - 3];
  const size_t size_at = older_cp.find("\"size\":") + 7;
  const uint64_t older_size = std::stoull(older_cp.substr(size_at));
  records.resize(older_size);
  cps.resize(cps.size() - 2);
  WriteAll(file, Join(records));
  WriteAll(cp, Join(cps));
  r = Verify(dir);
  EXPECT_TRUE(r.ok()) << "a consistent older state passes on its own: " << Problems(r);
  r = Verify(dir, exported);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.problems[0].check, "trusted checkpoint") << Problems(r);
  // The checkpoint file alone rolled back: the newer records show as an uncovered tail.
  WriteAll(file, log);
  r = Verify(dir);
  EXPECT_TRUE(r.ok()) << Problems(r);
  EXPECT_GT(r.uncovered(), 0u);
  EXPECT_NE(r.Json().find("\"status\":\"valid_uncovered_tail\""), std::string::npos);
  fs::remove(exported);
}

}  // namespace
}  // namespace parapet::audit
