#include "snapshotter/snapshotter.h"

namespace berth::snapshot {

std::string_view KindName(Kind k) {
  switch (k) {
    case Kind::kView:
      return "view";
    case Kind::kActive:
      return "active";
    case Kind::kCommitted:
      return "committed";
    default:
      return "unknown";
  }
}

}  // namespace berth::snapshot
