// Test helpers: read a capture completely into memory.
#pragma once

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "bmslink/capture/reader.h"

namespace bmslink::test {

struct ReadAll {
  std::vector<can::Frame> frames;
  CollectingSink sink{1000};
  capture::ReaderStats stats;
  std::optional<capture::Format> format;
  std::string variant;
  std::optional<Error> open_error;
};

inline std::unique_ptr<ReadAll> drain(std::unique_ptr<ReadAll> r,
                                      Result<std::unique_ptr<capture::FrameReader>> reader) {
  if (!reader) {
    r->open_error = reader.error();
    return r;
  }
  can::Frame f;
  while ((*reader)->next(f)) r->frames.push_back(f);
  r->stats = (*reader)->stats();
  r->format = (*reader)->format();
  r->variant = (*reader)->variant();
  return r;
}

inline std::unique_ptr<ReadAll> read_memory(std::string_view text,
                                            capture::ReaderOptions options = {}) {
  auto r = std::make_unique<ReadAll>();
  auto reader = capture::open_capture_memory(text, "mem", r->sink, options);
  return drain(std::move(r), std::move(reader));
}

inline std::unique_ptr<ReadAll> read_file(const std::string& path,
                                          capture::ReaderOptions options = {}) {
  auto r = std::make_unique<ReadAll>();
  auto reader = capture::open_capture(path, r->sink, options);
  return drain(std::move(r), std::move(reader));
}

inline std::string data_path(const std::string& rel) {
  return std::string(BMSLINK_TEST_DATA) + "/" + rel;
}

inline std::vector<std::uint8_t> bytes(const can::Frame& f) {
  return {f.data.begin(), f.data.begin() + f.len};
}

}  // namespace bmslink::test
