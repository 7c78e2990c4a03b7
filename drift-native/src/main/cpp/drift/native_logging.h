// LibTorch's own log threshold (c10's, which c10d's rendezvous and Gloo log through).
#pragma once

namespace drift {

// Sets c10's minimum severity (0 INFO, 1 WARNING, 2 ERROR, 3 FATAL); returns the one it replaces. c10d logs every
// failed connection try at WARNING or ERROR with the whole exception, a native stack of 10 frames each time: a rank
// started before rank 0 printed 29 such lines ahead of drift's own one-line message.
int set_c10_log_level(int level);

}  // namespace drift
