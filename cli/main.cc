// The `parapet` executable: dispatches to subcommands.
#include <cstdio>

int main() {
  std::puts("parapet");
  return 0;
}
