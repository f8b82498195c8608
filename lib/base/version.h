#pragma once

// berth's version (from the CMake project) and the git revision it was built from.

#include <string_view>

namespace berth {

std::string_view Version();
std::string_view Revision();  // "unknown" when not built from a git checkout

}  // namespace berth
