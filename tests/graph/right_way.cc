// The control: a `capture` target sees its own headers and those of `can` and `core` below it.
#include "bmslink/can/frame.h"
#include "bmslink/capture/reader.h"
#include "bmslink/core/error.h"
