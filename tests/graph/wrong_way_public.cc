// Compiled as part of a `can` target: `can` sits below `analysis`, so this include must fail.
#include "bmslink/analysis/evidence.h"
