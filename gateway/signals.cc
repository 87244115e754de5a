// SignalWatcher: asio::signal_set on a private io_context.
#include "gateway/signals.h"

#include <csignal>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>

namespace parapet::gateway {

namespace asio = boost::asio;

struct SignalWatcher::Impl {
  asio::io_context ioc{1};
  asio::signal_set signals{ioc, SIGHUP, SIGTERM, SIGINT};
  const std::function<void()>* on_reload = nullptr;
  int result = 0;

  void Wait() {
    signals.async_wait([this](const boost::system::error_code& ec, int signal) {
      if (ec) return;  // cancelled by Stop()
      if (signal == SIGHUP) {
        if (*on_reload) (*on_reload)();
        Wait();
        return;
      }
      result = signal;
      ioc.stop();
    });
  }
};

SignalWatcher::SignalWatcher() : impl_(std::make_unique<Impl>()) {}

SignalWatcher::~SignalWatcher() {
  boost::system::error_code ignored;
  impl_->signals.cancel(ignored);
  impl_->signals.clear(ignored);
}

int SignalWatcher::Run(const std::function<void()>& on_reload) {
  impl_->on_reload = &on_reload;
  impl_->result = 0;
  impl_->ioc.restart();
  impl_->Wait();
  impl_->ioc.run();
  return impl_->result;
}

void SignalWatcher::Stop() {
  asio::post(impl_->ioc, [this] {
    boost::system::error_code ignored;
    impl_->signals.cancel(ignored);
    impl_->ioc.stop();
  });
}

}  // namespace parapet::gateway
