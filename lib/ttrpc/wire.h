#pragma once

// ttrpc's wire format (github.com/containerd/ttrpc), which berthd and berth-shim speak over
// the shim's unix socket instead of gRPC. Every message is a frame: a 10-byte header
// (uint32 big-endian payload length, uint32 big-endian stream id, uint8 type, uint8 flags)
// and the payload. A call is a Request frame on a new odd stream id; the server answers with
// Data frames (server streams only) and one Response frame on the same stream id.
//   Request  { string service = 1; string method = 2; bytes payload = 3;
//              int64 timeout_nano = 4; repeated KeyValue metadata = 5; }
//   Response { google.rpc.Status status = 1; bytes payload = 2; }
// The envelopes are encoded here by hand (a few varints and strings), so this library needs
// no protobuf runtime; the payloads are serialized messages of the caller's choice.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace berth::ttrpc {

enum class FrameType : uint8_t { kRequest = 1, kResponse = 2, kData = 3 };

inline constexpr uint8_t kFlagRemoteClosed = 0x1;  // the sender sends no more on this stream
inline constexpr uint8_t kFlagRemoteOpen = 0x2;
inline constexpr uint8_t kFlagNoData = 0x4;
inline constexpr size_t kHeaderSize = 10;
// Frames above this are a protocol error (ttrpc's default limit is 4 MiB).
inline constexpr uint32_t kMaxPayload = 16u << 20;

struct Frame {
  uint32_t stream_id = 0;
  FrameType type = FrameType::kRequest;
  uint8_t flags = 0;
  std::string payload;
};

// Appends `f` (header and payload) to `out`.
void AppendFrame(std::string* out, const Frame& f);

// Splits a byte stream into frames; feed it whatever read() returned, however it is cut.
// Not thread-safe.
class FrameReader {
 public:
  void Feed(const char* data, size_t n) { buf_.append(data, n); }

  // The next complete frame, nullopt when more bytes are needed; InvalidArgument for a frame
  // longer than kMaxPayload (the stream cannot be resynchronized after that).
  absl::StatusOr<std::optional<Frame>> Next();

 private:
  std::string buf_;
  size_t pos_ = 0;
};

struct Request {
  std::string service;
  std::string method;
  std::string payload;
  int64_t timeout_nano = 0;
};

std::string EncodeRequest(const Request& r);
// InvalidArgument for bytes that are not a Request.
absl::StatusOr<Request> DecodeRequest(std::string_view bytes);

// A Response with `status` (code and message; OK for success) and `payload`.
std::string EncodeResponse(const absl::Status& status, std::string_view payload);
// The status the Response carries; on OK its payload goes to `*payload`. InvalidArgument
// (naming the response) for bytes that are not a Response.
absl::Status DecodeResponse(std::string_view bytes, std::string* payload);

}  // namespace berth::ttrpc
