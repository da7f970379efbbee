// bmslink core: the error type every fallible library call returns.
//
// Library functions return tl::expected<T, Error>; they never print and never exit. An Error
// carries a machine-checkable code and a message written for the technician (it names the file,
// line and what was expected where that applies). Thread-safe: plain values.
#pragma once

#include <string>
#include <utility>

#include <tl/expected.hpp>

namespace bmslink {

enum class ErrorCode {
  kIo,             // the file or device could not be opened or read
  kUnknownFormat,  // no reader recognised the content
  kMalformed,      // the content was recognised but is unusable
  kInvalidArgument,
  kUnsupported,
  kCancelled,  // the caller asked the work to stop
  kNotFound,   // what was asked for (a case, a kept capture) does not exist
  kConflict,   // another writer kept changing what was to be written
};

struct Error {
  ErrorCode code = ErrorCode::kIo;
  std::string message;
};

template <typename T>
using Result = tl::expected<T, Error>;

inline tl::unexpected<Error> make_error(ErrorCode code, std::string message) {
  return tl::unexpected<Error>(Error{code, std::move(message)});
}

}  // namespace bmslink
