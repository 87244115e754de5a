// ApiError factories: OpenAI's wording and codes for the errors the gateway reports.
#include "gateway/api_error.h"

#include "gateway/exchange.h"
#include "gateway/rate_limiter.h"

namespace parapet::gateway {

std::string ApiError::Body() const { return ErrorBody(type, message, param, code); }

ApiError InvalidParam(std::string param, std::string message, std::string code) {
  return ApiError{400, "invalid_request_error", std::move(message), std::move(param),
                  std::move(code)};
}

ApiError InvalidType(std::string param, std::string_view expected, std::string_view got) {
  std::string message = "Invalid type for '" + param + "': expected " + std::string(expected) +
                        ", but got " + std::string(got) + " instead.";
  return InvalidParam(std::move(param), std::move(message), "invalid_type");
}

ApiError MissingParam(std::string param) {
  std::string message = "Missing required parameter: '" + param + "'.";
  return InvalidParam(std::move(param), std::move(message), "missing_required_parameter");
}

ApiError UnrecognizedParam(std::string param) {
  std::string message = "Unrecognized request argument supplied: " + param;
  return InvalidParam(std::move(param), std::move(message), "unrecognized_parameter");
}

ApiError UnsupportedParam(std::string param, std::string_view detail) {
  std::string message = "'" + param + "' is not supported by this server";
  message += detail.empty() ? "." : ": " + std::string(detail);
  return InvalidParam(std::move(param), std::move(message), "unsupported_parameter");
}

ApiError InvalidJson(const Status& status) {
  return ApiError{400, "invalid_request_error",
                  "We could not parse the JSON body of your request: " + status.message(), "",
                  "invalid_json"};
}

ApiError InvalidApiKey() {
  return ApiError{401, "invalid_request_error",
                  "Incorrect or missing API key. Send it as 'Authorization: Bearer <key>'.", "",
                  "invalid_api_key"};
}

ApiError ModelNotFound(std::string_view model) {
  // The name is the client's own input, cut so an error stays small (the JSON writer repairs a
  // character cut in half).
  return ApiError{404, "invalid_request_error",
                  "The model '" + std::string(model.substr(0, 256)) + "' does not exist", "model",
                  "model_not_found"};
}

ApiError RateLimited(std::string_view type, std::string message) {
  return ApiError{429, std::string(type), std::move(message), "", "rate_limit_exceeded"};
}

ApiError RateLimitedError(const Admission& admission) {
  PARAPET_CHECK(!admission.admitted());
  std::string unit = admission.limited_by == "tokens" ? "tokens per minute" : "requests per second";
  if (admission.outcome == Admission::Outcome::kTooLarge) {
    return RateLimited(admission.limited_by, "Request too large for this key's limit on " + unit +
                                                 ": reduce the prompt or max_tokens.");
  }
  return RateLimited(admission.limited_by, "Rate limit reached for this key on " + unit +
                                               ". Please try again in " +
                                               std::to_string(admission.retry_after_s) + "s.");
}

ApiError Overloaded(std::string message) {
  return ApiError{503, "server_error", std::move(message), "", "overloaded"};
}

ApiError ServerError(std::string message) {
  return ApiError{500, "server_error", std::move(message), "", ""};
}

}  // namespace parapet::gateway
