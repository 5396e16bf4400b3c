// The shared library libcuclip.so is assembled from the component archives (engine/engine.cmake
// links them whole); CMake needs at least one source of its own for the target.
#include "cuclip.h"
