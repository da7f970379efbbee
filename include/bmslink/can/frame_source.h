// bmslink can: the frame-source seam. Everything that yields CAN frames — a capture reader, a live
// adapter (SocketCAN, SLCAN), a replay, the simulated site, frames in memory — is a FrameSource,
// so the analysis pipeline runs the same code whatever the frames come from. A source is
// single-threaded.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bmslink/can/frame.h"

namespace bmslink::can {

class FrameSource {
 public:
  virtual ~FrameSource() = default;
  // Fills `frame` with the next frame; false when the source has ended (a live source blocks
  // or returns false when it is stopped).
  virtual bool next(Frame& frame) = 0;
  // The source's clock now, on the frames' clock (ns), for sources that have one (live adapters,
  // replays): lets an analysis notice silence while no frame arrives. nullopt for files.
  virtual std::optional<std::int64_t> now_ns() const { return std::nullopt; }
};

// Frames held in memory, in order. The span must outlive the source.
class SpanSource final : public FrameSource {
 public:
  explicit SpanSource(std::span<const Frame> frames) : frames_(frames) {}
  bool next(Frame& frame) override {
    if (at_ >= frames_.size()) return false;
    frame = frames_[at_++];
    return true;
  }

 private:
  std::span<const Frame> frames_;
  std::size_t at_ = 0;
};

}  // namespace bmslink::can
