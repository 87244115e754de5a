// AhoCorasick construction: trie, then breadth-first failure links folded into the table.
#include "pipeline/internal/aho_corasick.h"

#include <algorithm>

namespace parapet::pipeline::internal {

Result<AhoCorasick> AhoCorasick::Build(const std::vector<std::string>& patterns,
                                       size_t max_table_bytes) {
  AhoCorasick ac;
  for (const std::string& p : patterns) {
    for (char c : p) {
      uint16_t& cls = ac.byte_class_[static_cast<unsigned char>(c)];
      if (cls == 0) cls = static_cast<uint16_t>(ac.n_classes_++);
    }
  }
  const size_t k = ac.n_classes_;  // at most 257
  auto budget_error = [&] {
    return ResourceExhaustedError("keyword automaton exceeds its memory budget of " +
                                  std::to_string(max_table_bytes) + " bytes");
  };
  // Trie. Entries of delta_ are 0 where there is no child (no trie edge leads to the root).
  ac.delta_.assign(k, 0);
  ac.depth_.assign(1, 0);
  std::vector<uint32_t> ends(patterns.size());
  for (size_t i = 0; i < patterns.size(); ++i) {
    PARAPET_CHECK(!patterns[i].empty());
    uint32_t s = 0;
    for (char c : patterns[i]) {
      uint32_t& next = ac.delta_[s * k + ac.byte_class_[static_cast<unsigned char>(c)]];
      if (next == 0) {
        if ((ac.delta_.size() + k) * sizeof(uint32_t) > max_table_bytes) return budget_error();
        next = static_cast<uint32_t>(ac.delta_.size() / k);
        ac.depth_.push_back(ac.depth_[s] + 1);
        ac.delta_.resize(ac.delta_.size() + k, 0);  // invalidates `next`: not used again
      }
      s = ac.delta_[s * k + ac.byte_class_[static_cast<unsigned char>(c)]];
    }
    ends[i] = s;
  }
  const size_t n = ac.delta_.size() / k;
  // Outputs, grouped by end state.
  ac.out_begin_.assign(n + 1, 0);
  for (uint32_t e : ends) ++ac.out_begin_[e + 1];
  for (size_t s = 0; s < n; ++s) ac.out_begin_[s + 1] += ac.out_begin_[s];
  ac.out_ids_.resize(patterns.size());
  std::vector<uint32_t> fill(ac.out_begin_.begin(), ac.out_begin_.end() - 1);
  for (size_t i = 0; i < patterns.size(); ++i)
    ac.out_ids_[fill[ends[i]]++] = static_cast<uint32_t>(i);
  // Breadth-first: failure links, dictionary links, and missing transitions filled in from the
  // failure state (whose row is complete, being shallower).
  std::vector<uint32_t> fail(n, 0), queue;
  ac.dict_link_.assign(n, 0);
  queue.reserve(n);
  queue.push_back(0);
  for (size_t head = 0; head < queue.size(); ++head) {
    uint32_t u = queue[head];
    for (size_t c = 0; c < k; ++c) {
      uint32_t& v = ac.delta_[u * k + c];
      if (v != 0) {
        uint32_t f = u == 0 ? 0 : ac.delta_[fail[u] * k + c];
        fail[v] = f;
        ac.dict_link_[v] = ac.has_output(f) ? f : ac.dict_link_[f];
        queue.push_back(v);
      } else {
        v = u == 0 ? 0 : ac.delta_[fail[u] * k + c];
      }
    }
  }
  // Row offsets and output bits: row offsets must fit in 31 bits.
  if (n * k >= kOutputBit) return budget_error();
  for (uint32_t& v : ac.delta_) {
    bool output = ac.has_output(v) || ac.dict_link_[v] != 0;
    v = static_cast<uint32_t>(v * k) | (output ? kOutputBit : 0);
  }
  return ac;
}

}  // namespace parapet::pipeline::internal
