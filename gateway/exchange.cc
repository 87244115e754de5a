// The OpenAI-shaped error body shared by the transport and the API handlers.
#include "gateway/exchange.h"

#include "common/json_writer.h"

namespace parapet::gateway {

std::string ErrorBody(std::string_view type, std::string_view message, std::string_view param,
                      std::string_view code) {
  JsonWriter w;
  w.BeginObject();
  w.Key("error");
  w.BeginObject();
  w.StringField("message", message);
  w.StringField("type", type);
  w.Key("param");
  param.empty() ? w.Null() : w.String(param);
  w.Key("code");
  code.empty() ? w.Null() : w.String(code);
  w.EndObject();
  w.EndObject();
  return w.str();
}

}  // namespace parapet::gateway
