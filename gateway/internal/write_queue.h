// WriteQueue: a session's outgoing bytes (response heads, bodies, stream chunks), written in
// order with at most one gather-write outstanding and a deadline on each write. Header-only;
// used by session.cc. Not thread-safe: the session's strand only.
#pragma once

#include <boost/asio/buffer.hpp>
#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "gateway/internal/deadline.h"
#include "gateway/internal/stream.h"

namespace parapet::gateway::internal {

class WriteQueue {
 public:
  struct Item {
    std::string bytes;
    uint64_t stream_bytes = 0;  // payload counted against the exchange's stream buffer limit
    bool last = false;          // completes the response it belongs to
  };
  // What one finished write carried.
  struct Written {
    uint64_t stream_bytes = 0;
    bool response_done = false;
  };

  WriteQueue(Stream& stream, const boost::asio::any_io_executor& executor, int timeout_ms)
      : stream_(stream), deadline_(executor), timeout_ms_(timeout_ms) {}

  void Push(Item item) { queue_.push_back(std::move(item)); }
  bool writing() const { return writing_; }
  bool empty() const { return queue_.empty(); }
  void Clear() {
    queue_.clear();
    deadline_.Cancel();
  }

  // Writes what is queued, unless a write is outstanding or nothing is queued. Then calls
  // on_done(ec, written) — or on_timeout() if the write misses its deadline (the caller closes
  // the stream, which completes the write with an error). Both must hold the session.
  template <typename OnDone, typename OnTimeout>
  void Start(OnDone on_done, OnTimeout on_timeout) {
    if (writing_ || queue_.empty()) return;
    writing_ = true;
    in_flight_.clear();
    while (!queue_.empty() && in_flight_.size() < kMaxBuffersPerWrite) {
      in_flight_.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    std::vector<boost::asio::const_buffer> buffers;
    buffers.reserve(in_flight_.size());
    for (const Item& item : in_flight_) buffers.push_back(boost::asio::buffer(item.bytes));
    deadline_.Arm(timeout_ms_, std::move(on_timeout));
    stream_.AsyncWrite(std::move(buffers),
                       [this, on_done = std::move(on_done)](const ErrorCode& ec, size_t) mutable {
                         on_done(ec, Finish());
                       });
  }

 private:
  static constexpr size_t kMaxBuffersPerWrite = 64;

  Written Finish() {
    writing_ = false;
    deadline_.Cancel();
    Written w;
    for (const Item& item : in_flight_) {
      w.stream_bytes += item.stream_bytes;
      w.response_done = w.response_done || item.last;
    }
    in_flight_.clear();
    return w;
  }

  Stream& stream_;
  Deadline deadline_;
  const int timeout_ms_;
  bool writing_ = false;
  std::deque<Item> queue_;
  std::vector<Item> in_flight_;  // the buffers of the outstanding write point into these
};

}  // namespace parapet::gateway::internal
