// KvPrefix: a prompt prefix evaluated once by a Scheduler (Scheduler::CachePrefix), whose keys and
// values are copied into later requests' caches instead of being recomputed — e.g. a guard
// model's fixed instructions and taxonomy, identical for every check. Built on the scheduler
// thread, immutable afterwards, shared as std::shared_ptr<const KvPrefix>; needs no lock.
//
// Memory: the prefix owns its cache (tokens().size() positions, kv_bytes(), in the model's
// backend memory: device memory for CUDA). It lives outside the Scheduler's KV pool accounting
// and is freed when the last reference goes. A prefix belongs to the Scheduler and lane (model)
// that built it (Submit refuses it elsewhere); it may outlive that Scheduler but not the Model.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "engine/kv_cache.h"
#include "engine/tokenizer.h"

namespace parapet::engine {

class Scheduler;

class KvPrefix {
 public:
  KvPrefix(const KvPrefix&) = delete;
  KvPrefix& operator=(const KvPrefix&) = delete;

  // The prefix's tokens; a request using it must begin with exactly these.
  const std::vector<TokenId>& tokens() const { return tokens_; }
  // The memory its cache occupies (outside the KV pool).
  uint64_t kv_bytes() const { return kv_->bytes(); }

 private:
  friend class Scheduler;
  // `kv` holds the keys and values of `tokens` at positions [0, tokens.size()); `owner` is the
  // building Scheduler lane's identity token (held, so its address cannot be reused meanwhile).
  KvPrefix(std::vector<TokenId> tokens, std::unique_ptr<KvCache> kv,
           std::shared_ptr<const void> owner)
      : tokens_(std::move(tokens)), kv_(std::move(kv)), owner_(std::move(owner)) {}

  const KvCache& kv() const { return *kv_; }
  const void* owner() const { return owner_.get(); }

  const std::vector<TokenId> tokens_;
  const std::unique_ptr<const KvCache> kv_;
  const std::shared_ptr<const void> owner_;
};

}  // namespace parapet::engine
