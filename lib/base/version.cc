#include "lib/base/version.h"

namespace berth {

std::string_view Version() {
  return BERTH_VERSION;
}

std::string_view Revision() {
  return BERTH_REVISION;
}

}  // namespace berth
