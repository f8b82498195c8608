#pragma once

// absl::Time → google.protobuf.Timestamp without protobuf's util library (not in
// libprotobuf-lite, which is all berth-shim links). The zero absl::Time gives an empty
// Timestamp (not set), as containerd's shim leaves exited_at of a running process.

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"

namespace berth::shim {

inline google::protobuf::Timestamp ToProtoTime(absl::Time t) {
  google::protobuf::Timestamp ts;
  if (t == absl::Time())
    return ts;
  int64_t ns = absl::ToUnixNanos(t);
  ts.set_seconds(ns / 1000000000);
  ts.set_nanos(static_cast<int32_t>(ns % 1000000000));
  return ts;
}

inline google::protobuf::Timestamp NowProtoTime() {
  return ToProtoTime(absl::Now());
}

}  // namespace berth::shim
