// Facts about the machine the process runs on. Thread-safe.
#pragma once

#include <cstdint>

namespace parapet {

// Physical memory in bytes (sysconf); 4 GiB when the system does not say.
uint64_t PhysicalMemoryBytes();

}  // namespace parapet
