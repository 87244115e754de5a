// Strict JSON decoding for request bodies: RFC 8259 JSON into a boost::json::value, rejecting what
// a lenient parser would silently accept or mangle:
//   - invalid UTF-8 anywhere (strings and keys, including lone surrogate escapes "\ud800"),
//   - nesting deeper than `max_depth` arrays/objects,
//   - a key repeated within one object,
//   - numbers that do not fit: integers outside int64/uint64, and values that overflow a double,
//   - anything after the value but whitespace, comments, NaN/Infinity literals,
//   - documents larger than `max_bytes` (checked before parsing).
// Errors are Status InvalidArgument with a short message that never quotes the input, e.g.
// "invalid JSON at byte 17: duplicate key", "invalid JSON at byte 64: nesting too deep".
//
// Out of memory is ResourceExhausted. Never throws (Boost.JSON's exceptions, e.g. bad_alloc or its
// size limits, are caught inside). Stateless; thread-safe.
#pragma once

#include <boost/json/storage_ptr.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <string_view>

#include "common/status.h"

namespace parapet::gateway {

struct StrictJsonOptions {
  size_t max_bytes = 4 << 20;  // larger documents are rejected without parsing
  size_t max_depth = 64;       // deepest allowed nesting of arrays and objects (top level = 1)
};

// Parses all of `text` as one JSON value. The value's memory comes from `storage` (default: the
// global heap; a boost::json::monotonic_resource makes per-request parsing cheaper, and must then
// outlive the value).
Result<boost::json::value> ParseStrictJson(std::string_view text,
                                           const StrictJsonOptions& options = {},
                                           boost::json::storage_ptr storage = {});

}  // namespace parapet::gateway
