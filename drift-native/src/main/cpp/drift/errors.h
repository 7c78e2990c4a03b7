// Errors cross into Java as exceptions carrying their message.
//
// JavaCPP turns any std::exception thrown by a bound function into a java.lang.RuntimeException with what()
// as its message. c10::Error::what() appends a native backtrace of a dozen frames, which buries the one line a
// user needs ("sequence_logps: hidden must be 3-D [N, T, D], got [4, 7]"), so entry points rethrow it without.
#pragma once

#include <c10/util/Exception.h>

#include <stdexcept>
#include <utility>

namespace drift {

template <typename F>
auto translate_errors(F&& body) -> decltype(body()) {
  try {
    return std::forward<F>(body)();
  } catch (const c10::Error& e) {
    throw std::invalid_argument(e.what_without_backtrace());
  }
}

}  // namespace drift
