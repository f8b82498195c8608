#include "lib/archive/stream.h"

#include <openssl/evp.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "fmt/format.h"

#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include <isa-l/igzip_lib.h>

namespace berth::archive {
namespace {

constexpr unsigned char kGzipMagic[] = {0x1f, 0x8b};
constexpr unsigned char kZstdMagic[] = {0x28, 0xb5, 0x2f, 0xfd};

bool HasPrefix(const char* data, size_t n, const unsigned char* magic, size_t m) {
  return n >= m && std::memcmp(data, magic, m) == 0;
}

absl::Status DataLoss(std::string_view msg) {
  return absl::DataLossError(std::string(msg));
}

std::string IsalError(int ret) {
  switch (ret) {
    case ISAL_INVALID_BLOCK:
      return "invalid deflate block";
    case ISAL_INVALID_SYMBOL:
      return "invalid deflate symbol";
    case ISAL_INVALID_LOOKBACK:
      return "invalid back-reference distance";
    case ISAL_INVALID_WRAPPER:
      return "invalid gzip header";
    case ISAL_UNSUPPORTED_METHOD:
      return "unsupported compression method";
    case ISAL_INCORRECT_CHECKSUM:
      return "checksum mismatch";
    default:
      return fmt::format("error {}", ret);
  }
}

}  // namespace

// ---- Sha256 ----

struct Sha256::Ctx {
  EVP_MD_CTX* md = EVP_MD_CTX_new();

  ~Ctx() { EVP_MD_CTX_free(md); }
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
  EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr);
}

Sha256::~Sha256() = default;

void Sha256::Update(const void* data, size_t n) {
  EVP_DigestUpdate(ctx_->md, data, n);
}

std::string Sha256::Finish() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_->md, md, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

// ---- LayerReader ----

struct LayerReader::Codec {
  inflate_state gz;
  bool gz_member_done = false;
  ZSTD_DCtx* zstd = nullptr;
  size_t zstd_last = 0;  // last ZSTD_decompressStream result: 0 = at a frame boundary

  ~Codec() { ZSTD_freeDCtx(zstd); }
};

LayerReader::LayerReader(ReadFn in) : src_(in), in_(kStreamBufferSize) {}

LayerReader::~LayerReader() = default;

absl::Status LayerReader::Fill() {
  if (in_eof_)
    return absl::OkStatus();
  if (in_pos_ < in_len_) {  // keep unread bytes at the front
    std::memmove(in_.data(), in_.data() + in_pos_, in_len_ - in_pos_);
    in_len_ -= in_pos_;
  } else {
    in_len_ = 0;
  }
  in_pos_ = 0;
  if (in_len_ == in_.size())
    return absl::OkStatus();
  BERTH_ASSIGN_OR_RETURN(size_t n, src_(in_.data() + in_len_, in_.size() - in_len_));
  if (n == 0) {
    in_eof_ = true;
    return absl::OkStatus();
  }
  compressed_.Update(in_.data() + in_len_, n);
  compressed_size_ += static_cast<int64_t>(n);
  in_len_ += n;
  return absl::OkStatus();
}

absl::Status LayerReader::Start() {
  while (!in_eof_ && in_len_ - in_pos_ < sizeof(kZstdMagic)) BERTH_RETURN_IF_ERROR(Fill());
  const char* p = in_.data() + in_pos_;
  size_t n = in_len_ - in_pos_;
  codec_ = std::make_unique<Codec>();
  if (HasPrefix(p, n, kGzipMagic, sizeof(kGzipMagic))) {
    compression_ = Compression::kGzip;
    codec_->gz_member_done = true;  // ReadGzip starts a member
  } else if (HasPrefix(p, n, kZstdMagic, sizeof(kZstdMagic))) {
    compression_ = Compression::kZstd;
    codec_->zstd = ZSTD_createDCtx();
    if (codec_->zstd == nullptr)
      return Internal("zstd: cannot allocate a decompression context");
  } else {
    compression_ = Compression::kNone;
  }
  return absl::OkStatus();
}

absl::StatusOr<size_t> LayerReader::Read(char* buf, size_t len) {
  if (out_eof_ || len == 0)
    return 0;
  absl::StatusOr<size_t> n;
  switch (compression_) {
    case Compression::kNone:
      n = ReadPlain(buf, len);
      break;
    case Compression::kGzip:
      n = ReadGzip(buf, len);
      break;
    case Compression::kZstd:
      n = ReadZstd(buf, len);
      break;
  }
  if (!n.ok())
    return n;
  if (*n == 0) {
    out_eof_ = true;
  } else {
    uncompressed_.Update(buf, *n);
    uncompressed_size_ += static_cast<int64_t>(*n);
  }
  return n;
}

absl::StatusOr<size_t> LayerReader::ReadPlain(char* buf, size_t len) {
  if (in_pos_ == in_len_)
    BERTH_RETURN_IF_ERROR(Fill());
  size_t n = std::min(len, in_len_ - in_pos_);
  std::memcpy(buf, in_.data() + in_pos_, n);
  in_pos_ += n;
  return n;
}

absl::StatusOr<size_t> LayerReader::ReadGzip(char* buf, size_t len) {
  inflate_state& st = codec_->gz;
  for (;;) {
    if (codec_->gz_member_done) {  // at the start of the stream or between members
      while (!in_eof_ && in_len_ - in_pos_ < sizeof(kGzipMagic)) BERTH_RETURN_IF_ERROR(Fill());
      size_t left = in_len_ - in_pos_;
      if (left == 0)
        return 0;
      if (!HasPrefix(in_.data() + in_pos_, left, kGzipMagic, sizeof(kGzipMagic)))
        return DataLoss(
            fmt::format("gzip: {} bytes of trailing data after the end of the stream", left));
      isal_inflate_init(&st);
      st.crc_flag = ISAL_GZIP;
      codec_->gz_member_done = false;
    }
    if (in_pos_ == in_len_)
      BERTH_RETURN_IF_ERROR(Fill());
    st.next_in = reinterpret_cast<uint8_t*>(in_.data() + in_pos_);
    st.avail_in = static_cast<uint32_t>(in_len_ - in_pos_);
    st.next_out = reinterpret_cast<uint8_t*>(buf);
    st.avail_out = static_cast<uint32_t>(std::min<size_t>(len, UINT32_MAX));
    const uint32_t out_before = st.avail_out;
    int ret = isal_inflate(&st);
    in_pos_ = reinterpret_cast<char*>(st.next_in) - in_.data();
    if (ret < 0)
      return DataLoss(fmt::format("gzip: corrupt stream: {}", IsalError(ret)));
    size_t produced = out_before - st.avail_out;
    if (st.block_state == ISAL_BLOCK_FINISH)
      codec_->gz_member_done = true;
    if (produced > 0)
      return produced;
    if (!codec_->gz_member_done && in_pos_ == in_len_ && in_eof_)
      return DataLoss("gzip: stream truncated (unexpected end of data)");
  }
}

absl::StatusOr<size_t> LayerReader::ReadZstd(char* buf, size_t len) {
  for (;;) {
    if (in_pos_ == in_len_)
      BERTH_RETURN_IF_ERROR(Fill());
    if (in_pos_ == in_len_ && in_eof_) {
      if (codec_->zstd_last != 0)
        return DataLoss("zstd: stream truncated (unexpected end of data)");
      return 0;
    }
    ZSTD_inBuffer ib{in_.data(), in_len_, in_pos_};
    ZSTD_outBuffer ob{buf, len, 0};
    size_t ret = ZSTD_decompressStream(codec_->zstd, &ob, &ib);
    in_pos_ = ib.pos;
    if (ZSTD_isError(ret))
      return DataLoss(fmt::format("zstd: corrupt stream: {}", ZSTD_getErrorName(ret)));
    codec_->zstd_last = ret;
    if (ob.pos > 0)
      return ob.pos;
  }
}

absl::Status LayerReader::Drain() {
  Buffer scratch(kStreamBufferSize);
  for (;;) {
    BERTH_ASSIGN_OR_RETURN(size_t n, Read(scratch.data(), scratch.size()));
    if (n == 0)
      return absl::OkStatus();
  }
}

ApplyResult LayerReader::Finish() {
  ApplyResult r;
  r.compressed_digest = compressed_.Finish();
  r.uncompressed_digest = uncompressed_.Finish();
  r.compressed_size = compressed_size_;
  r.uncompressed_size = uncompressed_size_;
  return r;
}

// ---- PrefetchReader ----

PrefetchReader::PrefetchReader(LayerReader& reader, size_t depth) : reader_(reader) {
  bufs_.reserve(depth);
  for (size_t i = 0; i < depth; ++i) bufs_.emplace_back(kStreamBufferSize);
  for (Buffer& b : bufs_) free_.push_back(&b);
  thread_ = std::thread([this] { Produce(); });
}

PrefetchReader::~PrefetchReader() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void PrefetchReader::Produce() {
  for (;;) {
    Buffer* buf;
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return stop_ || !free_.empty(); });
      if (stop_)
        return;
      buf = free_.back();
      free_.pop_back();
    }
    absl::StatusOr<size_t> n = reader_.Read(buf->data(), buf->size());
    Chunk c{buf, n.ok() ? *n : 0, n.status()};
    bool last = !n.ok() || *n == 0;
    {
      std::lock_guard<std::mutex> l(mu_);
      ready_.push_back(std::move(c));
    }
    cv_.notify_all();
    if (last)
      return;
  }
}

absl::StatusOr<std::string_view> PrefetchReader::Next() {
  if (done_)
    return std::string_view();
  std::unique_lock<std::mutex> l(mu_);
  if (held_ != nullptr) {
    free_.push_back(held_);
    held_ = nullptr;
    cv_.notify_all();
  }
  cv_.wait(l, [&] { return !ready_.empty(); });
  Chunk c = std::move(ready_.front());
  ready_.pop_front();
  held_ = c.buf;
  if (!c.status.ok() || c.len == 0) {
    done_ = true;
    if (!c.status.ok())
      return c.status;
  }
  return std::string_view(c.buf->data(), c.len);
}

// ---- LayerWriter ----

struct LayerWriter::Codec {
  isal_zstream gz;
  std::vector<uint8_t> gz_level_buf;
  ZSTD_CCtx* zstd = nullptr;

  ~Codec() { ZSTD_freeCCtx(zstd); }
};

LayerWriter::LayerWriter(Compression c, WriteFn out)
    : compression_(c), out_(out), codec_(std::make_unique<Codec>()), buf_(kStreamBufferSize) {
  if (c == Compression::kGzip) {
    // igzip level 3: on a 276 MB tree of /usr, 8% larger than zlib's level 6, 12x faster.
    isal_zstream& z = codec_->gz;
    isal_deflate_init(&z);
    z.level = 3;
    z.gzip_flag = IGZIP_GZIP;
    codec_->gz_level_buf.resize(ISAL_DEF_LVL3_DEFAULT);
    z.level_buf = codec_->gz_level_buf.data();
    z.level_buf_size = static_cast<uint32_t>(codec_->gz_level_buf.size());
  } else if (c == Compression::kZstd) {
    codec_->zstd = ZSTD_createCCtx();
    if (codec_->zstd != nullptr)
      ZSTD_CCtx_setParameter(codec_->zstd, ZSTD_c_compressionLevel, 3);
  }
}

LayerWriter::~LayerWriter() = default;

absl::Status LayerWriter::Emit(const char* data, size_t n) {
  if (n == 0)
    return absl::OkStatus();
  compressed_.Update(data, n);
  compressed_size_ += static_cast<int64_t>(n);
  return out_(std::string_view(data, n));
}

absl::Status LayerWriter::Compress(std::string_view bytes, bool end) {
  return compression_ == Compression::kGzip ? CompressGzip(bytes, end) : CompressZstd(bytes, end);
}

absl::Status LayerWriter::CompressGzip(std::string_view bytes, bool end) {
  isal_zstream& z = codec_->gz;
  z.next_in = reinterpret_cast<uint8_t*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uint32_t>(bytes.size());
  z.end_of_stream = end ? 1 : 0;
  z.flush = NO_FLUSH;
  for (;;) {
    z.next_out = reinterpret_cast<uint8_t*>(buf_.data());
    z.avail_out = static_cast<uint32_t>(buf_.size());
    int ret = isal_deflate(&z);
    if (ret != COMP_OK)
      return Internal(fmt::format("gzip: compressor failed (igzip error {})", ret));
    BERTH_RETURN_IF_ERROR(Emit(buf_.data(), buf_.size() - z.avail_out));
    if (end ? z.internal_state.state == ZSTATE_END : (z.avail_in == 0 && z.avail_out != 0))
      return absl::OkStatus();
  }
}

absl::Status LayerWriter::CompressZstd(std::string_view bytes, bool end) {
  if (codec_->zstd == nullptr)
    return Internal("zstd: cannot allocate a compression context");
  ZSTD_inBuffer ib{bytes.data(), bytes.size(), 0};
  for (;;) {
    ZSTD_outBuffer ob{buf_.data(), buf_.size(), 0};
    size_t ret = ZSTD_compressStream2(codec_->zstd, &ob, &ib, end ? ZSTD_e_end : ZSTD_e_continue);
    if (ZSTD_isError(ret))
      return Internal(fmt::format("zstd: compressor failed: {}", ZSTD_getErrorName(ret)));
    BERTH_RETURN_IF_ERROR(Emit(buf_.data(), ob.pos));
    if (end ? ret == 0 : ib.pos == ib.size)
      return absl::OkStatus();
  }
}

absl::Status LayerWriter::Write(std::string_view bytes) {
  uncompressed_.Update(bytes.data(), bytes.size());
  uncompressed_size_ += static_cast<int64_t>(bytes.size());
  if (compression_ == Compression::kNone)
    return Emit(bytes.data(), bytes.size());
  return Compress(bytes, /*end=*/false);
}

absl::StatusOr<DiffResult> LayerWriter::Finish() {
  if (compression_ != Compression::kNone)
    BERTH_RETURN_IF_ERROR(Compress({}, /*end=*/true));
  DiffResult r;
  r.uncompressed_digest = uncompressed_.Finish();
  r.uncompressed_size = uncompressed_size_;
  r.compressed_digest = compressed_.Finish();  // equal to the above for kNone
  r.compressed_size = compressed_size_;
  return r;
}

// ---- AsyncLayerWriter ----

AsyncLayerWriter::AsyncLayerWriter(LayerWriter& writer, size_t depth) : writer_(writer) {
  bufs_.reserve(depth);
  for (size_t i = 0; i < depth; ++i) bufs_.emplace_back(kStreamBufferSize);
  for (Buffer& b : bufs_) free_.push_back(&b);
  thread_ = std::thread([this] { Consume(); });
}

AsyncLayerWriter::~AsyncLayerWriter() {
  {
    std::lock_guard<std::mutex> l(mu_);
    closing_ = true;
    ready_.clear();  // nobody will look at the result
  }
  cv_.notify_all();
  if (thread_.joinable())
    thread_.join();
}

void AsyncLayerWriter::Consume() {
  for (;;) {
    Chunk c;
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return closing_ || !ready_.empty(); });
      if (ready_.empty())
        return;  // closing and drained
      c = ready_.front();
      ready_.pop_front();
    }
    absl::Status st =
        error_.ok() ? writer_.Write(std::string_view(c.buf->data(), c.len)) : absl::OkStatus();
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!st.ok() && error_.ok())
        error_ = st;
      free_.push_back(c.buf);
    }
    cv_.notify_all();
  }
}

absl::Status AsyncLayerWriter::Failed() {
  std::lock_guard<std::mutex> l(mu_);
  return error_;
}

absl::Status AsyncLayerWriter::Push() {
  std::unique_lock<std::mutex> l(mu_);
  ready_.push_back({cur_, cur_len_});
  cur_ = nullptr;
  cur_len_ = 0;
  cv_.notify_all();
  return error_;
}

absl::Status AsyncLayerWriter::Write(std::string_view bytes) {
  while (!bytes.empty()) {
    if (cur_ == nullptr) {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return !free_.empty(); });
      if (!error_.ok())
        return error_;
      cur_ = free_.back();
      free_.pop_back();
    }
    size_t n = std::min(bytes.size(), cur_->size() - cur_len_);
    std::memcpy(cur_->data() + cur_len_, bytes.data(), n);
    cur_len_ += n;
    bytes.remove_prefix(n);
    if (cur_len_ == cur_->size())
      BERTH_RETURN_IF_ERROR(Push());
  }
  return absl::OkStatus();
}

absl::StatusOr<DiffResult> AsyncLayerWriter::Finish() {
  if (cur_ != nullptr && cur_len_ > 0)
    BERTH_RETURN_IF_ERROR(Push());
  {
    std::lock_guard<std::mutex> l(mu_);
    closing_ = true;
  }
  cv_.notify_all();
  thread_.join();
  BERTH_RETURN_IF_ERROR(Failed());
  return writer_.Finish();
}

}  // namespace berth::archive
