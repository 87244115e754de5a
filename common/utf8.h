// UTF-8 helpers shared by the tokenizer, the JSON writer and (later) the stream guard.
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace parapet {

// Length of the well-formed UTF-8 sequence at the start of `s` (1..4), or 0 if `s` is empty or
// starts with an invalid or truncated sequence (overlongs and surrogates are invalid).
size_t Utf8SequenceLength(std::string_view s);

// True when all of `s` is well-formed UTF-8.
bool IsValidUtf8(std::string_view s);

// Number of bytes at the end of `s` that form an incomplete (but so far valid) UTF-8 sequence,
// i.e. bytes that must be held back until more input arrives. 0 if `s` ends on a boundary.
size_t Utf8IncompleteTail(std::string_view s);

// Decodes the code point at the start of `s` (which must have Utf8SequenceLength(s) > 0).
uint32_t Utf8Decode(std::string_view s);

// Appends the UTF-8 encoding of `cp` (REQUIRES: cp <= 0x10FFFF and not a surrogate).
void AppendUtf8(uint32_t cp, std::string* out);

}  // namespace parapet
