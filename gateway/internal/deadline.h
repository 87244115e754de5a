// Deadline: a restartable timer for one network step of a Session. Arm() replaces any earlier
// deadline; its callback runs only if the deadline passes with no later Arm() or Cancel() (a
// generation count makes a late, already queued expiry harmless). Use on the owner's strand
// only; the callback must keep the owner (and so this object) alive, e.g. by holding its
// shared_ptr.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <utility>

namespace parapet::gateway::internal {

class Deadline {
 public:
  explicit Deadline(const boost::asio::any_io_executor& executor) : timer_(executor) {}

  template <typename Fn>
  void Arm(int timeout_ms, Fn fn) {
    uint64_t gen = ++gen_;
    timer_.expires_after(std::chrono::milliseconds(timeout_ms));
    timer_.async_wait([this, gen, fn = std::move(fn)](const boost::system::error_code&) mutable {
      if (gen == gen_) fn();
    });
  }

  void Cancel() {
    ++gen_;
    timer_.cancel();
  }

 private:
  boost::asio::steady_timer timer_;
  uint64_t gen_ = 0;
};

}  // namespace parapet::gateway::internal
