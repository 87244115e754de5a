// StepGraphs: which steps the CUDA backend runs eagerly, captures as a CUDA graph, or replays.
// A step key (Backend::BeginStep) seen for the first time runs eagerly (it sizes every buffer);
// the second time it is captured; from then on its graph is replayed. Any buffer reallocation
// (Invalidate) drops every graph, since graphs hold device pointers. At most `max_graphs` graphs
// are kept; the oldest is dropped first. Graph handles are opaque here (`void*`); the owner
// destroys the ones handed back by Drop* through the `destroy` callback.
// Pure host logic, no CUDA types; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

namespace parapet::engine::cuda {

class StepGraphs {
 public:
  enum class Action { kEager, kCapture, kReplay };

  StepGraphs(size_t max_graphs, std::function<void(void*)> destroy)
      : max_graphs_(max_graphs), destroy_(std::move(destroy)) {}
  ~StepGraphs() { Invalidate(); }
  StepGraphs(const StepGraphs&) = delete;
  StepGraphs& operator=(const StepGraphs&) = delete;

  // What to do with a step of `key` (0 = never capture).
  Action Decide(uint64_t key) {
    if (key == 0) return Action::kEager;
    for (const Entry& e : entries_) {
      if (e.key == key) return e.graph != nullptr ? Action::kReplay : Action::kCapture;
    }
    if (entries_.size() >= max_graphs_) {
      if (entries_.front().graph != nullptr) destroy_(entries_.front().graph);
      entries_.erase(entries_.begin());
    }
    entries_.push_back(Entry{key, nullptr});
    return Action::kEager;
  }
  // The graph captured for `key` (owned from now on); a capture that failed passes nullptr and
  // the key is captured again next time.
  void Store(uint64_t key, void* graph) {
    for (Entry& e : entries_) {
      if (e.key == key) {
        if (e.graph != nullptr) destroy_(e.graph);
        e.graph = graph;
        return;
      }
    }
    if (graph != nullptr) destroy_(graph);  // the key was dropped meanwhile
  }
  void* Graph(uint64_t key) const {
    for (const Entry& e : entries_) {
      if (e.key == key) return e.graph;
    }
    return nullptr;
  }
  // Drops every graph and every key's history.
  void Invalidate() {
    for (const Entry& e : entries_) {
      if (e.graph != nullptr) destroy_(e.graph);
    }
    entries_.clear();
  }
  size_t n_graphs() const {
    size_t n = 0;
    for (const Entry& e : entries_) n += e.graph != nullptr;
    return n;
  }

 private:
  struct Entry {
    uint64_t key;
    void* graph;
  };
  size_t max_graphs_;
  std::function<void(void*)> destroy_;
  std::vector<Entry> entries_;
};

}  // namespace parapet::engine::cuda
