// RequestReader: Beast's request parser over a flat buffer (see request_reader.h).
#include "gateway/internal/request_reader.h"

// GCC 12 with -fsanitize reports a false -Wmaybe-uninitialized inside Beast's
// basic_parser::content_length (boost::optional); the diagnostic is placed at Beast's lines, so
// it is silenced for the includes only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#pragma GCC diagnostic pop

namespace parapet::gateway::internal {

namespace beast = boost::beast;

struct RequestReader::Impl {
  uint64_t max_header_bytes;
  uint64_t max_body_bytes;
  beast::flat_buffer buffer;
  std::optional<http::request_parser<http::string_body>> parser;
  bool header_reported = false;

  void NewParser() {
    parser.emplace();
    parser->header_limit(static_cast<std::uint32_t>(max_header_bytes));
    parser->body_limit(max_body_bytes);
    header_reported = false;
  }
};

RequestReader::RequestReader(uint64_t max_header_bytes, uint64_t max_body_bytes)
    : impl_(std::make_unique<Impl>()) {
  impl_->max_header_bytes = max_header_bytes;
  impl_->max_body_bytes = max_body_bytes;
}

RequestReader::~RequestReader() = default;

void RequestReader::Append(const char* data, size_t n) {
  auto out = impl_->buffer.prepare(n);
  impl_->buffer.commit(boost::asio::buffer_copy(out, boost::asio::buffer(data, n)));
}

size_t RequestReader::buffered() const { return impl_->buffer.size(); }

bool RequestReader::idle() const {
  return impl_->buffer.size() == 0 && (!impl_->parser || !impl_->parser->got_some());
}

RequestReader::Event RequestReader::Parse(boost::system::error_code* ec) {
  Impl& m = *impl_;
  for (;;) {
    if (!m.parser) m.NewParser();
    if (m.parser->is_header_done() && !m.header_reported) {
      m.header_reported = true;
      return Event::kHeader;
    }
    if (m.parser->is_done()) return Event::kRequest;
    if (m.buffer.size() == 0) return Event::kNeedMore;
    *ec = {};
    size_t n = m.parser->put(m.buffer.data(), *ec);
    m.buffer.consume(n);
    if (*ec == http::error::need_more) return Event::kNeedMore;
    if (*ec) return Event::kError;
    if (n == 0) return Event::kNeedMore;
  }
}

const Request& RequestReader::header() const { return impl_->parser->get(); }

std::optional<uint64_t> RequestReader::content_length() const {
  auto length = impl_->parser->content_length();
  return length ? std::optional<uint64_t>(*length) : std::nullopt;
}

bool RequestReader::complete() const { return impl_->parser->is_done(); }

bool RequestReader::expects_continue() const {
  return beast::iequals(impl_->parser->get()[http::field::expect], "100-continue");
}

Request RequestReader::Release() {
  Request request = impl_->parser->release();
  impl_->parser.reset();
  return request;
}

}  // namespace parapet::gateway::internal
