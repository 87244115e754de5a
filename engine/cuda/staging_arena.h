// StagingArena: the CUDA backend's per-step host-to-device staging area, as offsets. Each step
// the backend copies small host inputs (token rows, positions, cache pointers, row lists) into a
// pinned host buffer at offsets handed out here and from there to a device mirror at the same
// offsets. Offsets depend only on the sequence of requests, so a replayed step (CUDA graph) finds
// its inputs where the captured copies read them. Requests for the same host span within a step
// share one offset (the model passes the same positions to every layer).
// Pure host logic, no CUDA types; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace parapet::engine::cuda {

class StagingArena {
 public:
  static constexpr size_t kAlign = 16;

  explicit StagingArena(size_t capacity) : capacity_(capacity) {}

  size_t capacity() const { return capacity_; }
  size_t used() const { return used_; }
  // Forgets the step's offsets.
  void Reset() {
    used_ = 0;
    memo_.clear();
  }
  // Sets a new capacity (after the backend reallocated its buffers). REQUIRES: used() == 0.
  void set_capacity(size_t capacity) { capacity_ = capacity; }

  struct Slot {
    bool fits = false;   // false: the arena is full (offset meaningless)
    bool fresh = false;  // true: the caller must copy the data (not a repeat within the step)
    size_t offset = 0;
  };
  // An offset for `bytes` from host address `key` (`tag` distinguishes derived data built from
  // the same span).
  Slot Take(const void* key, int tag, size_t bytes) {
    for (const Memo& m : memo_) {
      if (m.key == key && m.tag == tag && m.bytes == bytes) return Slot{true, false, m.offset};
    }
    const size_t offset = (used_ + kAlign - 1) / kAlign * kAlign;
    if (offset + bytes > capacity_) return Slot{};
    used_ = offset + bytes;
    memo_.push_back(Memo{key, tag, bytes, offset});
    return Slot{true, true, offset};
  }
  // An offset that is never shared.
  Slot TakeUnique(size_t bytes) {
    const size_t offset = (used_ + kAlign - 1) / kAlign * kAlign;
    if (offset + bytes > capacity_) return Slot{};
    used_ = offset + bytes;
    return Slot{true, true, offset};
  }

 private:
  struct Memo {
    const void* key;
    int tag;
    size_t bytes;
    size_t offset;
  };
  size_t capacity_;
  size_t used_ = 0;
  std::vector<Memo> memo_;
};

}  // namespace parapet::engine::cuda
