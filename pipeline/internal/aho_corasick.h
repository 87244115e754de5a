// AhoCorasick: finds every occurrence of many byte strings in one pass over a text. Built once
// (the keywords stage compiles its lists into one), immutable afterwards; Scan is const and
// thread-safe.
//
// Representation: a full DFA (failure links folded into the transition table) over byte classes —
// each byte that occurs in some pattern is its own class, all other bytes share class 0 — so a
// step is one table load (entries hold the next row's offset and a bit saying whether any
// pattern ends there). Memory: states x classes x 4 bytes, bounded by the caller's budget.
// Outputs: each state lists the patterns that end exactly there (CSR arrays) and links to the
// nearest state on its failure chain that has outputs.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace parapet::pipeline::internal {

class AhoCorasick {
 public:
  // Builds the automaton for `patterns` (each non-empty; duplicates allowed, each reported under
  // its own index). Fails with ResourceExhausted when the table would exceed max_table_bytes.
  static Result<AhoCorasick> Build(const std::vector<std::string>& patterns,
                                   size_t max_table_bytes);

  // Calls on_match(pattern_index, end) for every occurrence of every pattern in `text`, where
  // `end` is the byte offset just past the occurrence; in order of `end`.
  template <typename OnMatch>
  void Scan(std::string_view text, OnMatch&& on_match) const {
    uint32_t row = 0;  // the current state's first entry in delta_
    for (size_t i = 0; i < text.size(); ++i) {
      uint32_t next = delta_[row + byte_class_[static_cast<unsigned char>(text[i])]];
      row = next & kRowMask;
      if ((next & kOutputBit) == 0) continue;
      uint32_t state = row / n_classes_;
      for (uint32_t s = has_output(state) ? state : dict_link_[state]; s != 0; s = dict_link_[s]) {
        for (uint32_t k = out_begin_[s]; k < out_begin_[s + 1]; ++k) on_match(out_ids_[k], i + 1);
      }
    }
  }

  // The length of the longest suffix of `text` that is a prefix of some pattern (0 if none): an
  // occurrence that text still to come could complete starts that many bytes before the end.
  size_t SuffixDepth(std::string_view text) const {
    uint32_t row = 0;
    for (char c : text) row = delta_[row + byte_class_[static_cast<unsigned char>(c)]] & kRowMask;
    return depth_[row / n_classes_];
  }

  size_t n_states() const { return dict_link_.size(); }
  size_t table_bytes() const { return delta_.size() * sizeof(uint32_t); }

 private:
  AhoCorasick() = default;
  bool has_output(uint32_t s) const { return out_begin_[s] != out_begin_[s + 1]; }

  std::array<uint16_t, 256> byte_class_{};  // byte -> class; 0 = in no pattern
  uint32_t n_classes_ = 1;
  // Entries of delta_: the next state's row offset (state x n_classes), with kOutputBit set when
  // some pattern ends there (in the state itself or along its dictionary links).
  static constexpr uint32_t kOutputBit = 0x80000000u;
  static constexpr uint32_t kRowMask = 0x7FFFFFFFu;

  std::vector<uint32_t> delta_;      // [n_states][n_classes] -> next state (see above)
  std::vector<uint32_t> dict_link_;  // [n_states] nearest proper suffix state with outputs, or 0
  std::vector<uint32_t> out_begin_;  // [n_states + 1] into out_ids_
  std::vector<uint32_t> out_ids_;    // pattern indexes, grouped by the state they end in
  std::vector<uint32_t> depth_;      // [n_states] trie depth: bytes from the root
};

}  // namespace parapet::pipeline::internal
