#include "native_logging.h"

#include <c10/util/Logging.h>

namespace drift {

int set_c10_log_level(int level) {
  const int before = FLAGS_caffe2_log_level;
  FLAGS_caffe2_log_level = level;
  return before;
}

}  // namespace drift
