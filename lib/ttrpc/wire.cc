#include "lib/ttrpc/wire.h"

#include <cstring>

namespace berth::ttrpc {
namespace {

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kBytes = 2, kFixed32 = 5 };

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void PutTag(std::string* out, uint32_t field, WireType type) {
  PutVarint(out, (static_cast<uint64_t>(field) << 3) | type);
}

void PutBytes(std::string* out, uint32_t field, std::string_view bytes) {
  if (bytes.empty())
    return;  // proto3: defaults are not written
  PutTag(out, field, kBytes);
  PutVarint(out, bytes.size());
  out->append(bytes);
}

void PutInt(std::string* out, uint32_t field, int64_t v) {
  if (v == 0)
    return;
  PutTag(out, field, kVarint);
  PutVarint(out, static_cast<uint64_t>(v));
}

// A cursor over protobuf fields; skips what the caller does not ask for.
class Fields {
 public:
  explicit Fields(std::string_view bytes) : p_(bytes) {}

  // Reads the next field's tag; false at the end. `ok()` tells a clean end from bad bytes.
  bool Next(uint32_t* field, uint32_t* type) {
    if (p_.empty() || !ok_)
      return false;
    uint64_t tag = 0;
    if (!Varint(&tag))
      return false;
    *field = static_cast<uint32_t>(tag >> 3);
    *type = static_cast<uint32_t>(tag & 7);
    return *field != 0 || Fail();
  }

  bool Varint(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_.empty())
        return Fail();
      uint8_t b = static_cast<uint8_t>(p_.front());
      p_.remove_prefix(1);
      *v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0)
        return true;
    }
    return Fail();
  }

  bool Bytes(std::string_view* out) {
    uint64_t n = 0;
    if (!Varint(&n) || n > p_.size())
      return Fail();
    *out = p_.substr(0, n);
    p_.remove_prefix(n);
    return true;
  }

  bool Skip(uint32_t type) {
    uint64_t v = 0;
    std::string_view s;
    switch (type) {
      case kVarint:
        return Varint(&v);
      case kBytes:
        return Bytes(&s);
      case kFixed64:
        return Advance(8);
      case kFixed32:
        return Advance(4);
      default:
        return Fail();
    }
  }

  bool ok() const { return ok_; }

 private:
  bool Advance(size_t n) {
    if (n > p_.size())
      return Fail();
    p_.remove_prefix(n);
    return true;
  }

  bool Fail() {
    ok_ = false;
    return false;
  }

  std::string_view p_;
  bool ok_ = true;
};

void PutU32(char* p, uint32_t v) {
  p[0] = static_cast<char>(v >> 24);
  p[1] = static_cast<char>(v >> 16);
  p[2] = static_cast<char>(v >> 8);
  p[3] = static_cast<char>(v);
}

uint32_t GetU32(const char* p) {
  auto b = [p](int i) { return static_cast<uint32_t>(static_cast<uint8_t>(p[i])); };
  return (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
}

}  // namespace

void AppendFrame(std::string* out, const Frame& f) {
  char header[kHeaderSize];
  PutU32(header, static_cast<uint32_t>(f.payload.size()));
  PutU32(header + 4, f.stream_id);
  header[8] = static_cast<char>(f.type);
  header[9] = static_cast<char>(f.flags);
  out->append(header, kHeaderSize);
  out->append(f.payload);
}

absl::StatusOr<std::optional<Frame>> FrameReader::Next() {
  if (buf_.size() - pos_ < kHeaderSize)
    return std::nullopt;
  const char* h = buf_.data() + pos_;
  uint32_t length = GetU32(h);
  if (length > kMaxPayload) {
    return absl::InvalidArgumentError("ttrpc: frame of " + std::to_string(length) +
                                      " bytes is over the limit of " + std::to_string(kMaxPayload));
  }
  if (buf_.size() - pos_ < kHeaderSize + length)
    return std::nullopt;
  Frame f;
  f.stream_id = GetU32(h + 4);
  f.type = static_cast<FrameType>(static_cast<uint8_t>(h[8]));
  f.flags = static_cast<uint8_t>(h[9]);
  f.payload.assign(h + kHeaderSize, length);
  pos_ += kHeaderSize + length;
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  } else if (pos_ > 64 * 1024 && pos_ * 2 > buf_.size()) {
    buf_.erase(0, pos_);  // keep the buffer from growing with consumed bytes
    pos_ = 0;
  }
  return f;
}

std::string EncodeRequest(const Request& r) {
  std::string out;
  out.reserve(r.service.size() + r.method.size() + r.payload.size() + 32);
  PutBytes(&out, 1, r.service);
  PutBytes(&out, 2, r.method);
  PutBytes(&out, 3, r.payload);
  PutInt(&out, 4, r.timeout_nano);
  return out;
}

absl::StatusOr<Request> DecodeRequest(std::string_view bytes) {
  Request r;
  Fields f(bytes);
  uint32_t field = 0, type = 0;
  while (f.Next(&field, &type)) {
    std::string_view s;
    uint64_t v = 0;
    if (type == kBytes && field >= 1 && field <= 3) {
      if (!f.Bytes(&s))
        break;
      (field == 1 ? r.service : field == 2 ? r.method : r.payload).assign(s);
    } else if (type == kVarint && field == 4) {
      if (!f.Varint(&v))
        break;
      r.timeout_nano = static_cast<int64_t>(v);
    } else if (!f.Skip(type)) {
      break;
    }
  }
  if (!f.ok())
    return absl::InvalidArgumentError("ttrpc: malformed request");
  return r;
}

std::string EncodeResponse(const absl::Status& status, std::string_view payload) {
  std::string st;
  PutInt(&st, 1, static_cast<int64_t>(status.code()));
  PutBytes(&st, 2, std::string_view(status.message().data(), status.message().size()));
  std::string out;
  out.reserve(st.size() + payload.size() + 16);
  if (!status.ok()) {
    PutTag(&out, 1, kBytes);
    PutVarint(&out, st.size());
    out.append(st);
  }
  PutBytes(&out, 2, payload);
  return out;
}

absl::Status DecodeResponse(std::string_view bytes, std::string* payload) {
  Fields f(bytes);
  uint32_t field = 0, type = 0;
  int64_t code = 0;
  std::string message;
  while (f.Next(&field, &type)) {
    std::string_view s;
    if (type == kBytes && field == 1) {
      if (!f.Bytes(&s))
        break;
      Fields st(s);
      uint32_t sfield = 0, stype = 0;
      while (st.Next(&sfield, &stype)) {
        uint64_t v = 0;
        std::string_view m;
        if (sfield == 1 && stype == kVarint && st.Varint(&v))
          code = static_cast<int32_t>(v);
        else if (sfield == 2 && stype == kBytes && st.Bytes(&m))
          message.assign(m);
        else if (!st.Skip(stype))
          break;
      }
      if (!st.ok())
        return absl::InvalidArgumentError("ttrpc: malformed status in response");
    } else if (type == kBytes && field == 2) {
      if (!f.Bytes(&s))
        break;
      payload->assign(s);
    } else if (!f.Skip(type)) {
      break;
    }
  }
  if (!f.ok())
    return absl::InvalidArgumentError("ttrpc: malformed response");
  if (code < 0 || code > 16)
    code = static_cast<int64_t>(absl::StatusCode::kUnknown);
  return absl::Status(static_cast<absl::StatusCode>(code), message);
}

}  // namespace berth::ttrpc
