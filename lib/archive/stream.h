#pragma once

// The byte side of layers: SHA-256 (OpenSSL EVP), decompression by magic bytes (gzip with
// ISA-L's igzip, zstd with libzstd) and compression (gzip with igzip, zstd with libzstd), with
// the compressed and uncompressed digests counted on the way. Internal to lib/archive.

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "lib/archive/layer.h"

namespace berth::archive {

// Incremental SHA-256. Not thread-safe.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(const void* data, size_t n);
  // "sha256:<64 hex>"; call once.
  std::string Finish();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

// Size of the buffers used on both sides of the codecs.
inline constexpr size_t kStreamBufferSize = 1 << 20;

// A heap buffer that is not zero-filled: its pages are touched only when used, so a small
// layer does not pay for page-faulting whole megabytes.
class Buffer {
 public:
  explicit Buffer(size_t n) : data_(new char[n]), size_(n) {}

  char* data() { return data_.get(); }

  const char* data() const { return data_.get(); }

  size_t size() const { return size_; }

 private:
  std::unique_ptr<char[]> data_;
  size_t size_;
};

// Pulls a layer from `in`, detects its compression, and serves the uncompressed tar bytes.
// Errors from Read: DataLoss for corrupt, truncated or trailing data; whatever `in` returned.
// Keeps `in` (a FunctionRef): the callable must outlive the reader.
class LayerReader {
 public:
  explicit LayerReader(ReadFn in);
  ~LayerReader();
  LayerReader(const LayerReader&) = delete;
  LayerReader& operator=(const LayerReader&) = delete;

  // Reads the magic bytes; call once before Read.
  absl::Status Start();

  Compression DetectedCompression() const { return compression_; }

  // Up to `len` uncompressed bytes into `buf`; 0 at the end of the stream.
  absl::StatusOr<size_t> Read(char* buf, size_t len);

  // Reads (and hashes, and checks) whatever is left, so that the digests cover every byte.
  absl::Status Drain();

  // Digests and sizes; valid after Read returned 0 (e.g. after Drain).
  ApplyResult Finish();

 private:
  struct Codec;
  absl::Status Fill();  // more compressed bytes into in_, if any
  absl::StatusOr<size_t> ReadPlain(char* buf, size_t len);
  absl::StatusOr<size_t> ReadGzip(char* buf, size_t len);
  absl::StatusOr<size_t> ReadZstd(char* buf, size_t len);

  ReadFn src_;
  Compression compression_ = Compression::kNone;
  Buffer in_;
  size_t in_pos_ = 0, in_len_ = 0;
  bool in_eof_ = false;
  bool out_eof_ = false;
  std::unique_ptr<Codec> codec_;
  Sha256 compressed_, uncompressed_;
  int64_t compressed_size_ = 0, uncompressed_size_ = 0;
};

// Runs a started LayerReader on its own thread, up to `depth` buffers ahead of the consumer,
// so that decompression and hashing overlap with the consumer's filesystem work. The reader
// (and the ReadFn inside it) is used only by that thread until the PrefetchReader is gone.
class PrefetchReader {
 public:
  explicit PrefetchReader(LayerReader& reader, size_t depth = 4);
  ~PrefetchReader();  // stops the thread and joins it
  PrefetchReader(const PrefetchReader&) = delete;
  PrefetchReader& operator=(const PrefetchReader&) = delete;

  // The next chunk of uncompressed bytes, valid until the next call; empty at the end.
  absl::StatusOr<std::string_view> Next();

 private:
  struct Chunk {
    Buffer* buf = nullptr;
    size_t len = 0;
    absl::Status status;
  };

  void Produce();

  LayerReader& reader_;
  std::vector<Buffer> bufs_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Buffer*> free_;  // guarded by mu_
  std::deque<Chunk> ready_;    // guarded by mu_
  bool stop_ = false;          // guarded by mu_
  Buffer* held_ = nullptr;     // the consumer's current buffer
  bool done_ = false;          // the consumer saw the end or an error
  std::thread thread_;
};

// Takes uncompressed tar bytes, compresses them and hands the result to `out`. Keeps `out`
// (a FunctionRef): the callable must outlive the writer.
class LayerWriter {
 public:
  LayerWriter(Compression c, WriteFn out);
  ~LayerWriter();
  LayerWriter(const LayerWriter&) = delete;
  LayerWriter& operator=(const LayerWriter&) = delete;

  absl::Status Write(std::string_view bytes);
  // Ends the compressed stream; call once, after the last Write.
  absl::StatusOr<DiffResult> Finish();

 private:
  struct Codec;
  absl::Status Emit(const char* data, size_t n);
  absl::Status Compress(std::string_view bytes, bool end);
  absl::Status CompressGzip(std::string_view bytes, bool end);
  absl::Status CompressZstd(std::string_view bytes, bool end);

  Compression compression_;
  WriteFn out_;
  std::unique_ptr<Codec> codec_;
  Buffer buf_;
  Sha256 compressed_, uncompressed_;
  int64_t compressed_size_ = 0, uncompressed_size_ = 0;
};

// Feeds a LayerWriter from a helper thread, so that compression, hashing and `out` overlap
// with the producer (walking trees, reading files). Write copies the bytes into 1 MiB
// buffers; a full buffer goes to the thread. An error from the LayerWriter (or its `out`)
// is returned by the next Write, or by Finish. The LayerWriter is used only by the thread
// until Finish returns.
class AsyncLayerWriter {
 public:
  explicit AsyncLayerWriter(LayerWriter& writer, size_t depth = 4);
  ~AsyncLayerWriter();  // stops the thread and joins it
  AsyncLayerWriter(const AsyncLayerWriter&) = delete;
  AsyncLayerWriter& operator=(const AsyncLayerWriter&) = delete;

  absl::Status Write(std::string_view bytes);
  // Hands over what is buffered, waits for the thread, and finishes the LayerWriter.
  absl::StatusOr<DiffResult> Finish();

 private:
  struct Chunk {
    Buffer* buf;
    size_t len;
  };

  void Consume();
  absl::Status Push();  // hands `cur_` to the thread; REQUIRES: cur_ != nullptr
  absl::Status Failed();

  LayerWriter& writer_;
  std::vector<Buffer> bufs_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Buffer*> free_;  // guarded by mu_
  std::deque<Chunk> ready_;    // guarded by mu_
  bool closing_ = false;       // guarded by mu_: no more chunks will come
  absl::Status error_;         // guarded by mu_: the thread's first error
  Buffer* cur_ = nullptr;      // the producer's buffer being filled
  size_t cur_len_ = 0;
  std::thread thread_;
};

}  // namespace berth::archive
