// AuditWriter: recovery, group commit, checkpoints, rotation, faults.
#include "audit/writer.h"

#include <syslog.h>

#include <boost/json.hpp>
#include <cstdio>
#include <filesystem>

#include "audit/line.h"
#include "audit/record.h"
#include "common/json_writer.h"
#include "common/logging.h"

namespace parapet::audit {
namespace {

using Clock = std::chrono::steady_clock;

std::string RandomLogId() {
  const HmacKey k = HmacKey::Generate();  // 32 random bytes; the id is the first 16
  return k.Serialize().substr(0, 32);
}

// The writer_fault record opening `next` names the file it replaces and its durable bytes.
struct FaultNote {
  std::string file;
  uint64_t valid_bytes = 0;
};

std::optional<FaultNote> ReadFaultNote(std::string_view first_line) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(first_line, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const boost::json::object& o = v.as_object();
  auto type = o.find("type");
  auto file = o.find("file");
  auto bytes = o.find("valid_bytes");
  if (type == o.end() || !type->value().is_string() ||
      type->value().as_string() != "writer_fault" || file == o.end() ||
      !file->value().is_string() || bytes == o.end() || !bytes->value().is_int64()) {
    return std::nullopt;
  }
  return FaultNote{std::string(file->value().as_string()),
                   static_cast<uint64_t>(bytes->value().as_int64())};
}

}  // namespace

AuditWriter::AuditWriter(WriterOptions options)
    : o_(std::move(options)), fs_(o_.fs != nullptr ? *o_.fs : PosixFs()) {}

Result<std::unique_ptr<AuditWriter>> AuditWriter::Open(WriterOptions options) {
  if (options.dir.empty()) return InvalidArgumentError("audit: no directory");
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) return InvalidArgumentError(options.dir + ": cannot create: " + ec.message());
  if (options.checkpoint_records == 0) options.checkpoint_records = 1;
  std::unique_ptr<AuditWriter> w(new AuditWriter(std::move(options)));
  PARAPET_RETURN_IF_ERROR(w->Recover());
  w->last_checkpoint_ = Clock::now();
  w->thread_ = std::thread([p = w.get()] { p->Run(); });
  return w;
}

AuditWriter::~AuditWriter() { Close(); }

// ---- recovery ----

Status AuditWriter::Recover() {
  PARAPET_ASSIGN_OR_RETURN(std::vector<std::string> names, fs_.List(o_.dir));
  std::vector<std::pair<uint64_t, std::string>> files;
  for (const std::string& n : names) {
    std::string id;
    uint64_t first = 0;
    if (!ParseLogFileName(n, &id, &first)) continue;
    if (!log_id_.empty() && id != log_id_) {
      return InvalidArgumentError(o_.dir + ": holds two logs (" + log_id_ + ", " + id +
                                  "); one directory is one log");
    }
    log_id_ = id;
    files.emplace_back(first, n);
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    log_id_ = RandomLogId();
    PARAPET_RETURN_IF_ERROR(OpenFile(0));
  } else {
    std::string last_type;  // of the last valid record
    bool recovered = false;
    std::vector<std::string> data(files.size());
    for (size_t i = 0; i < files.size(); ++i) {
      PARAPET_ASSIGN_OR_RETURN(data[i], fs_.Read(o_.dir + "/" + files[i].second));
    }
    for (size_t i = 0; i < files.size(); ++i) {
      const std::string& name = files[i].second;
      std::string_view bytes = data[i];
      // A file that a writer fault abandoned: only its durable bytes count.
      if (i + 1 < files.size()) {
        const std::string_view next = data[i + 1];
        std::optional<FaultNote> f = ReadFaultNote(next.substr(0, next.find('\n')));
        if (f && f->file == name && f->valid_bytes <= bytes.size()) {
          bytes = bytes.substr(0, f->valid_bytes);
        }
      }
      const bool last = i + 1 == files.size();
      size_t at = 0, line_no = 0;
      if (files[i].first != next_seq_) {
        return DataLossError(o_.dir + "/" + name + ": starts at seq " +
                             std::to_string(files[i].first) + ", expected " +
                             std::to_string(next_seq_) + " (run parapet audit verify)");
      }
      while (at < bytes.size()) {
        ++line_no;
        const size_t eol = bytes.find('\n', at);
        const std::string_view line =
            bytes.substr(at, eol == std::string_view::npos ? std::string_view::npos : eol - at);
        Result<ParsedLine> p = eol == std::string_view::npos
                                   ? Result<ParsedLine>(InvalidArgumentError("no final newline"))
                                   : ParseRecordLine(line);
        Status chain;
        if (p.ok() && (p->log_id != log_id_ || p->seq != next_seq_ || p->prev != prev_)) {
          chain = DataLossError("seq/prev do not continue the chain");
        }
        if (!p.ok() || !chain.ok()) {
          const std::string why = !p.ok() ? p.status().message() : chain.message();
          // A torn tail: only in the last file, and only when nothing valid follows.
          bool valid_after = false;
          for (size_t k = eol == std::string_view::npos ? bytes.size() : eol + 1;
               k < bytes.size();) {
            const size_t e2 = bytes.find('\n', k);
            if (e2 == std::string_view::npos) break;
            if (ParseRecordLine(bytes.substr(k, e2 - k)).ok()) valid_after = true;
            k = e2 + 1;
          }
          if (!last || valid_after) {
            return DataLossError(o_.dir + "/" + name + ":" + std::to_string(line_no) +
                                 ": damaged record (" + why +
                                 "); this is not a torn tail — run parapet audit verify; move "
                                 "the directory aside to start a new log");
          }
          const std::string_view cut = std::string_view(data[i]).substr(at);
          const Hash cut_hash = Sha256(cut);
          PARAPET_RETURN_IF_ERROR(fs_.Truncate(o_.dir + "/" + name, at));
          recovery_note_ = "cut " + std::to_string(cut.size()) + " bytes from " + name + ":" +
                           std::to_string(line_no) + " (" + why + ")";
          PARAPET_LOG(kWarning) << "audit recovery: " << recovery_note_;
          data[i].resize(at);
          file_name_ = name;
          PARAPET_ASSIGN_OR_RETURN(file_, fs_.OpenAppend(o_.dir + "/" + name));
          file_bytes_ = at;
          const std::string rec =
              EncodeNext("recovery", Fields()
                                         .Int("cut_bytes", static_cast<int64_t>(cut.size()))
                                         .Str("cut_sha256", Hex(cut_hash))
                                         .Str("file", name)
                                         .Int("last_seq", static_cast<int64_t>(next_seq_) - 1)
                                         .str());
          PARAPET_RETURN_IF_ERROR(WriteLines(rec, 1));
          break;
        }
        tree_.Add(p->hash);
        prev_ = p->hash;
        ++next_seq_;
        last_type = p->type;
        at = eol + 1;
      }
      if (last && file_ == nullptr) {
        file_name_ = name;
        PARAPET_ASSIGN_OR_RETURN(file_, fs_.OpenAppend(o_.dir + "/" + name));
        file_bytes_ = data[i].size();
      }
    }
    if (!recovered && next_seq_ > 0 && last_type != "stop") {
      // Nothing torn, but no clean stop either: the process died between records.
      recovery_note_ = "the log ended without a stop record (the server did not shut down cleanly)";
      PARAPET_LOG(kWarning) << "audit recovery: " << recovery_note_;
      const std::string rec =
          EncodeNext("recovery", Fields()
                                     .Str("reason", "no stop record")
                                     .Int("cut_bytes", 0)
                                     .Str("cut_sha256", Hex(Sha256("")))
                                     .Str("file", file_name_)
                                     .Int("last_seq", static_cast<int64_t>(next_seq_) - 1)
                                     .str());
      PARAPET_RETURN_IF_ERROR(WriteLines(rec, 1));
    }
    file_opened_ = Clock::now();
  }
  durable_seq_ = next_seq_;
  durable_prev_ = prev_;
  durable_tree_ = tree_;
  durable_bytes_ = file_bytes_;
  // The checkpoint file: cut a torn last line; remember the last size checkpointed.
  const std::string cp_path = o_.dir + "/" + CheckpointFileName(log_id_);
  Result<std::string> cps = fs_.Read(cp_path);
  if (cps.ok()) {
    size_t good = cps->rfind('\n');
    good = good == std::string::npos ? 0 : good + 1;
    if (good < cps->size()) PARAPET_RETURN_IF_ERROR(fs_.Truncate(cp_path, good));
    const std::string_view text = std::string_view(*cps).substr(0, good);
    if (!text.empty()) {
      const size_t start = text.rfind('\n', text.size() - 2);
      boost::system::error_code ec;
      boost::json::value v =
          boost::json::parse(text.substr(start == std::string_view::npos ? 0 : start + 1), ec);
      if (!ec && v.is_object() && v.as_object().contains("size") &&
          v.as_object().at("size").is_int64()) {
        checkpointed_size_ = static_cast<uint64_t>(v.as_object().at("size").as_int64());
      }
    }
  }
  PARAPET_ASSIGN_OR_RETURN(checkpoints_, fs_.OpenAppend(cp_path));
  if (!o_.content_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(o_.content_dir, ec);
    if (ec) return InvalidArgumentError(o_.content_dir + ": cannot create: " + ec.message());
    const std::string path = o_.content_dir + "/content-" + log_id_ + ".jsonl";
    Result<std::string> old = fs_.Read(path);
    if (old.ok()) {  // a torn last line from a crash
      size_t good = old->rfind('\n');
      good = good == std::string::npos ? 0 : good + 1;
      if (good < old->size()) PARAPET_RETURN_IF_ERROR(fs_.Truncate(path, good));
    }
    PARAPET_ASSIGN_OR_RETURN(content_, fs_.OpenAppend(path));
  }
  return Status::Ok();
}

// ---- writer thread ----

Status AuditWriter::OpenFile(uint64_t first_seq) {
  file_.reset();
  file_name_ = LogFileName(log_id_, first_seq);
  PARAPET_ASSIGN_OR_RETURN(file_, fs_.OpenAppend(o_.dir + "/" + file_name_));
  file_bytes_ = 0;
  file_opened_ = Clock::now();
  return Status::Ok();
}

std::string AuditWriter::EncodeNext(const std::string& type, const std::string& fields) {
  const std::string body = RecordBody(log_id_, next_seq_, TimestampNow(), type, prev_, fields);
  if (body.size() + 80 > kMaxLineBytes) return "";
  const Hash h = LeafHash(body);
  ++next_seq_;
  prev_ = h;
  tree_.Add(h);
  return RecordLine(body, h);
}

Status AuditWriter::WriteLines(const std::string& bytes, uint64_t n_records) {
  if (file_ == nullptr) return DataLossError("no open audit file");
  Status s = file_->Append(bytes);
  if (s.ok()) s = file_->Sync();
  if (!s.ok()) return s;
  file_bytes_ += bytes.size();
  durable_seq_ = next_seq_;
  durable_prev_ = prev_;
  durable_tree_ = tree_;
  durable_bytes_ = file_bytes_;
  std::lock_guard<std::mutex> lock(mu_);
  stats_.records += n_records;
  ++stats_.batches;
  stats_.next_seq = next_seq_;
  return Status::Ok();
}

void AuditWriter::Suspend(const Status& why) {
  PARAPET_LOG(kError) << "audit writer fault on " << file_name_ << ": " << why.ToString()
                      << "; the file is abandoned, new work is refused until a new file starts";
  faulted_file_ = file_name_;
  file_.reset();
  next_seq_ = durable_seq_;
  prev_ = durable_prev_;
  tree_ = durable_tree_;
  last_retry_ = Clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  fault_ = DataLossError("audit log not writable: " + why.message());
  stats_.healthy = false;
}

void AuditWriter::TryResume() {
  if (Clock::now() - last_retry_ < std::chrono::milliseconds(o_.retry_ms)) return;
  last_retry_ = Clock::now();
  const uint64_t faulted_bytes = durable_bytes_;
  std::string error;
  {
    std::lock_guard<std::mutex> lock(mu_);
    error = fault_.message();
  }
  Status s;
  if (LogFileName(log_id_, durable_seq_) == faulted_file_) {
    // Nothing of the faulted file was durable: it is replaced, not continued.
    s = fs_.Truncate(o_.dir + "/" + faulted_file_, 0);
  }
  if (s.ok()) s = OpenFile(durable_seq_);
  if (!s.ok()) {
    file_.reset();
    return;
  }
  std::string lines =
      EncodeNext("writer_fault", Fields()
                                     .Str("file", faulted_file_)
                                     .Str("error", error)
                                     .Int("valid_bytes", static_cast<int64_t>(faulted_bytes))
                                     .Int("last_seq", static_cast<int64_t>(durable_seq_) - 1)
                                     .str());
  lines +=
      EncodeNext("audit_resumed",
                 Fields().Int("lost_writes", static_cast<int64_t>(lost_while_suspended_)).str());
  s = WriteLines(lines, 2);
  if (!s.ok()) {
    Suspend(s);
    return;
  }
  PARAPET_LOG(kWarning) << "audit writer resumed in " << file_name_ << " after a fault ("
                        << lost_while_suspended_ << " records could not be written)";
  lost_while_suspended_ = 0;
  std::lock_guard<std::mutex> lock(mu_);
  fault_ = Status::Ok();
  stats_.healthy = !space_low_;
}

void AuditWriter::CheckSpace() {
  const auto now = Clock::now();
  if (now - last_space_check_ < std::chrono::seconds(1)) return;
  last_space_check_ = now;
  Result<uint64_t> free = fs_.FreeBytes(o_.dir);
  if (!free.ok()) return;
  bool low;
  {
    std::lock_guard<std::mutex> lock(mu_);
    low = space_low_;
  }
  if (*free < o_.warn_free_bytes) {
    PARAPET_LOG(kWarning) << "audit directory " << o_.dir << ": " << *free << " bytes free";
  }
  if (!low && *free < o_.min_free_bytes) {
    const std::string rec =
        EncodeNext("audit_suspended",
                   Fields()
                       .Str("reason", "free space " + std::to_string(*free) + " bytes, below " +
                                          std::to_string(o_.min_free_bytes))
                       .str());
    Status s = WriteLines(rec, 1);
    if (!s.ok()) return Suspend(s);
    std::lock_guard<std::mutex> lock(mu_);
    space_low_ = true;
    stats_.healthy = false;
  } else if (low && *free >= o_.min_free_bytes + o_.min_free_bytes / 10) {
    Status s = WriteLines(EncodeNext("audit_resumed", Fields().Int("lost_writes", 0).str()), 1);
    if (!s.ok()) return Suspend(s);
    std::lock_guard<std::mutex> lock(mu_);
    space_low_ = false;
    stats_.healthy = fault_.ok();
  }
}

void AuditWriter::WriteBatch(std::deque<Pending>& batch) {
  if (batch.empty()) return;
  Status fault;
  {
    std::lock_guard<std::mutex> lock(mu_);
    fault = fault_;
  }
  auto fail = [&](Pending& p, const Status& s) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.failed;
    }
    if (p.done) p.done(s);
  };
  if (!fault.ok()) {
    for (Pending& p : batch) {
      if (p.type.empty()) {
        if (p.done) p.done(fault);
        continue;
      }
      ++lost_while_suspended_;
      fail(p, fault);
    }
    return;
  }
  std::string bytes, content;
  std::vector<Pending*> written;
  for (Pending& p : batch) {
    if (p.type.empty()) {  // a Flush marker: nothing to write, its callback follows the batch
      written.push_back(&p);
      continue;
    }
    std::string line = EncodeNext(p.type, p.fields);
    if (line.empty()) {
      fail(p, InvalidArgumentError("audit record over 64 KiB"));
      continue;
    }
    bytes += line;
    content += p.content;
    written.push_back(&p);
  }
  if (written.empty()) return;
  size_t n_records = 0;
  for (const Pending* p : written) n_records += p->type.empty() ? 0 : 1;
  Status s;
  if (!content.empty()) {  // the content first: a record never names content that is not there
    s = content_ == nullptr ? DataLossError("no content store open") : content_->Append(content);
    if (s.ok()) s = content_->Sync();
  }
  if (s.ok() && n_records > 0) s = WriteLines(bytes, n_records);
  if (!s.ok()) {
    Suspend(s);
    Status f = this->fault();
    for (Pending* p : written) fail(*p, f);
    return;
  }
  for (Pending* p : written) {
    if (p->new_key) {
      // The old key signs a checkpoint covering the rotation record, then the new one takes over.
      Status c = Checkpoint();
      if (!c.ok()) {
        Suspend(c);
        if (p->done) p->done(this->fault());
        continue;
      }
      o_.signing_key = *p->new_key;
    }
    if (p->done) p->done(Status::Ok());
  }
}

Status AuditWriter::Checkpoint() {
  const struct audit::Checkpoint c { "parapet.audit/" + log_id_, tree_.size(), tree_.Root() };
  PARAPET_ASSIGN_OR_RETURN(std::string note, SignNote(CheckpointText(c), o_.signing_key));
  std::string line =
      "{\"size\":" + std::to_string(c.size) + ",\"root\":\"" + Base64(c.root) + "\",\"file\":";
  AppendJsonString(file_name_, &line);
  line += ",\"note\":";
  AppendJsonString(note, &line);
  line += "}\n";
  Status s = checkpoints_->Append(line);
  if (s.ok()) s = checkpoints_->Sync();
  if (!s.ok()) return s;
  checkpointed_size_ = c.size;
  last_checkpoint_ = Clock::now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.checkpoints;
  }
  SendToSink(line, note);
  return Status::Ok();
}

void AuditWriter::SendToSink(const std::string& json_line, const std::string& note) {
  const std::string& sink = o_.sink;
  if (sink.empty()) return;
  if (sink.starts_with("dir:")) {
    const std::string dir = sink.substr(4);
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    Result<std::unique_ptr<AuditFile>> f = fs_.OpenAppend(dir + "/" + CheckpointFileName(log_id_));
    Status s = f.ok() ? (*f)->Append(json_line) : f.status();
    if (s.ok()) s = (*f)->Sync();
    if (!s.ok()) {
      PARAPET_LOG(kError) << "audit checkpoint sink " << sink << ": " << s.message();
    }
  } else if (sink.starts_with("command:")) {
    FILE* p = popen(sink.substr(8).c_str(), "w");
    if (p == nullptr) {
      PARAPET_LOG(kError) << "audit checkpoint sink: cannot run " << sink.substr(8);
      return;
    }
    fwrite(note.data(), 1, note.size(), p);
    const int rc = pclose(p);
    if (rc != 0) {
      PARAPET_LOG(kError) << "audit checkpoint sink " << sink << " exited " << rc;
    }
  } else if (sink == "syslog") {
    const std::string sig = note.substr(note.rfind("\n\n") + 2);
    syslog(LOG_NOTICE | LOG_AUTH, "parapet-audit-checkpoint %s %llu %s %s", log_id_.c_str(),
           static_cast<unsigned long long>(tree_.size()), Base64(tree_.Root()).c_str(),
           sig.substr(0, sig.size() - 1).c_str());
  }
}

void AuditWriter::MaybeCheckpointOrRotate(bool force_checkpoint) {
  if (file_ == nullptr) return;
  const auto now = Clock::now();
  const bool grew = tree_.size() > checkpointed_size_;
  const bool rotate =
      file_bytes_ > 0 && (file_bytes_ >= o_.rotate_bytes ||
                          now - file_opened_ >= std::chrono::seconds(o_.rotate_seconds));
  const bool due = grew && (force_checkpoint || rotate ||
                            tree_.size() - checkpointed_size_ >= o_.checkpoint_records ||
                            now - last_checkpoint_ >= std::chrono::seconds(o_.checkpoint_seconds));
  if (rotate) {
    const std::string next = LogFileName(log_id_, next_seq_ + 1);
    Status s = WriteLines(EncodeNext("rotation", Fields().Str("next_file", next).str()), 1);
    if (!s.ok()) return Suspend(s);
  }
  if (due || rotate) {
    Status s = Checkpoint();
    if (!s.ok()) {
      PARAPET_LOG(kError) << "audit checkpoint failed: " << s.message();
      return Suspend(s);
    }
  }
  if (rotate) {
    Status s = OpenFile(next_seq_);
    if (!s.ok()) return Suspend(s);
  }
}

void AuditWriter::Run() {
  for (;;) {
    std::deque<Pending> batch;
    bool closing;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(200),
                   [&] { return closing_ || !queue_.empty(); });
      if (o_.group_commit_wait_us > 0 && !queue_.empty() && !closing_) {
        lock.unlock();
        std::this_thread::sleep_for(std::chrono::microseconds(o_.group_commit_wait_us));
        lock.lock();
      }
      batch.swap(queue_);
      closing = closing_;
    }
    auto write_fault = [&] {
      std::lock_guard<std::mutex> lock(mu_);
      return !fault_.ok();
    };
    if (write_fault() || file_ == nullptr) {
      TryResume();
    } else {
      CheckSpace();
    }
    WriteBatch(batch);
    if (!write_fault()) MaybeCheckpointOrRotate(/*force_checkpoint=*/closing);
    if (closing) {
      std::lock_guard<std::mutex> lock(mu_);
      if (queue_.empty()) break;
    }
  }
}

// ---- callers ----

void AuditWriter::Append(std::string type, std::string fields, Done done, std::string content) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!closing_) {
      queue_.push_back(Pending{std::move(type), std::move(fields), std::move(done), std::nullopt,
                               std::move(content)});
      cv_.notify_one();
      return;
    }
    ++stats_.failed;
  }
  if (done) done(CancelledError("the audit writer is closed"));
}

Status AuditWriter::AppendSync(std::string type, std::string fields) {
  std::mutex m;
  std::condition_variable cv;
  std::optional<Status> result;
  Append(std::move(type), std::move(fields), [&](const Status& s) {
    std::lock_guard<std::mutex> lock(m);
    result = s;
    cv.notify_one();
  });
  std::unique_lock<std::mutex> lock(m);
  cv.wait(lock, [&] { return result.has_value(); });
  return *result;
}

void AuditWriter::Flush() {
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  Append("", "", [&](const Status&) {
    std::lock_guard<std::mutex> lock(m);
    done = true;
    cv.notify_one();
  });
  std::unique_lock<std::mutex> lock(m);
  cv.wait(lock, [&] { return done; });
}

Status AuditWriter::RotateKeys(SigningKey key, const std::string& hmac_key_id) {
  std::mutex m;
  std::condition_variable cv;
  std::optional<Status> result;
  Pending p;
  p.type = "key_rotation";
  p.fields =
      Fields().Str("hmac_key_id", hmac_key_id).Str("signing_key", key.verifier().Serialize()).str();
  p.new_key = std::move(key);
  p.done = [&](const Status& s) {
    std::lock_guard<std::mutex> lock(m);
    result = s;
    cv.notify_one();
  };
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closing_) return CancelledError("the audit writer is closed");
    queue_.push_back(std::move(p));
  }
  cv_.notify_one();
  std::unique_lock<std::mutex> lock(m);
  cv.wait(lock, [&] { return result.has_value(); });
  return *result;
}

bool AuditWriter::healthy() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fault_.ok() && !space_low_ && !closing_;
}

Status AuditWriter::fault() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!fault_.ok()) return fault_;
  if (space_low_) return ResourceExhaustedError("audit directory is low on free space");
  return Status::Ok();
}

WriterStats AuditWriter::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void AuditWriter::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closing_ = true;  // a second Close only waits for the thread
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

}  // namespace parapet::audit
