#pragma once

// Section is a read-only view of one TOML table of a configuration file that remembers which
// keys were read. Every value has a default; a value of the wrong type is InvalidArgument
// naming the file and the full key ("config.toml: grpc.gid: expected an integer"), and
// CheckAllRead() reports keys nobody asked for, so a typo is an error instead of being
// silently ignored.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace toml {
inline namespace v3 {
class table;
}
}  // namespace toml

namespace berth::config {

class Section {
 public:
  // An empty section (no file, every key takes its default).
  Section();
  // A view of `table`, which must outlive the section; `file` and `prefix` name it in errors.
  Section(const toml::table* table, std::string file, std::string prefix);

  absl::StatusOr<std::string> String(const std::string& key, const std::string& def);
  absl::StatusOr<int64_t> Int(const std::string& key, int64_t def);
  absl::StatusOr<bool> Bool(const std::string& key, bool def);
  absl::StatusOr<std::vector<std::string>> StringList(const std::string& key,
                                                      const std::vector<std::string>& def);
  // A sub-table; empty when absent, InvalidArgument when the key holds something else.
  absl::StatusOr<Section> Table(const std::string& key);
  // The keys of the sub-table `key` (e.g. the plugin ids under [plugins]).
  std::vector<std::string> Keys() const;

  // InvalidArgument naming the first key in this table that was never read.
  absl::Status CheckAllRead() const;

  const std::string& file() const { return file_; }

  // "prefix.key" (or just key at the top level), as printed in errors.
  std::string Path(const std::string& key) const;

 private:
  absl::Status TypeError(const std::string& key, const char* want) const;

  const toml::table* table_ = nullptr;
  std::string file_;
  std::string prefix_;
  std::shared_ptr<std::set<std::string>> read_;  // shared so copies record reads too
};

// The whole content of a file; NotFound when it does not exist, naming the path.
absl::StatusOr<std::string> ReadTextFile(const std::string& path);

// A parsed file and its top-level section. The document owns the TOML tree.
class Document {
 public:
  // Parses `path`. NotFound when it does not exist; InvalidArgument with line and column on a
  // syntax error.
  static absl::StatusOr<std::unique_ptr<Document>> Load(const std::string& path);
  // Parses TOML text; `name` stands for the file in messages.
  static absl::StatusOr<std::unique_ptr<Document>> Parse(const std::string& text,
                                                         const std::string& name);
  ~Document();

  Section& root() { return root_; }

 private:
  Document() = default;
  std::unique_ptr<toml::table> table_;
  Section root_;
};

}  // namespace berth::config
