// Names of the shared pipeline enums.
#include "pipeline/stage.h"

namespace parapet::pipeline {

const char* ActionName(Action a) {
  switch (a) {
    case Action::kAllow:
      return "allow";
    case Action::kFlag:
      return "flag";
    case Action::kRedact:
      return "redact";
    case Action::kBlock:
      return "block";
  }
  return "?";
}

}  // namespace parapet::pipeline
