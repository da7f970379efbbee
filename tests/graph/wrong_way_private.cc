// Compiled as part of a `capture` target: another module's private header must not be reachable.
#include "analysis/frame_facts.h"
