// Pre-tokenizers for byte-level BPE: split text into the "words" that BPE merges never cross,
// reproducing the regex lists llama.cpp uses for each `tokenizer.ggml.pre` value. Every regex is
// implemented by a hand-written matcher over code points and category flags (no std::regex), with
// the same results as llama.cpp's custom splitters (GPT-2, Llama-3) and its std::regex fallback
// (the DeepSeek-LLM and default lists).
//
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace parapet::engine::internal {

enum class PreTokenizer {
  kDefault,      // llama.cpp's LLAMA_VOCAB_PRE_TYPE_DEFAULT: punctuation runs, GPT-2, digits
  kGpt2,         // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  kLlama3,       // (?i:'s|...)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|...
  kDeepseekLlm,  // [\r\n], \s?[cased letters]+, \s?[punctuation]+, \s+$, [CJK/Hangul]+, \p{N}+
};

// Splits `cps` (decoded text; invalid bytes already replaced by U+FFFD) into words and returns
// their lengths in code points, in order. The lengths are > 0 and sum to cps.size().
std::vector<size_t> SplitWords(PreTokenizer kind, std::span<const uint32_t> cps);

}  // namespace parapet::engine::internal
