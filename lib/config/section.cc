#include "lib/config/section.h"

#include <sys/stat.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "fmt/format.h"
#include "toml++/toml.h"

#include "lib/base/status.h"

namespace berth::config {

Section::Section() : read_(std::make_shared<std::set<std::string>>()) {}

Section::Section(const toml::table* table, std::string file, std::string prefix)
    : table_(table),
      file_(std::move(file)),
      prefix_(std::move(prefix)),
      read_(std::make_shared<std::set<std::string>>()) {}

std::string Section::Path(const std::string& key) const {
  // Keys with dots are quoted as TOML writes them: plugins."io.containerd.grpc.v1.version".
  std::string k = key.find('.') == std::string::npos ? key : fmt::format("\"{}\"", key);
  return prefix_.empty() ? k : prefix_ + "." + k;
}

absl::Status Section::TypeError(const std::string& key, const char* want) const {
  return InvalidArgument(fmt::format("{}: {}: expected {}", file_, Path(key), want));
}

absl::StatusOr<std::string> Section::String(const std::string& key, const std::string& def) {
  read_->insert(key);
  const toml::node* n = table_ ? table_->get(key) : nullptr;
  if (n == nullptr)
    return def;
  if (auto v = n->value<std::string>(); v && n->is_string())
    return *v;
  return TypeError(key, "a string");
}

absl::StatusOr<int64_t> Section::Int(const std::string& key, int64_t def) {
  read_->insert(key);
  const toml::node* n = table_ ? table_->get(key) : nullptr;
  if (n == nullptr)
    return def;
  if (n->is_integer())
    return *n->value<int64_t>();
  return TypeError(key, "an integer");
}

absl::StatusOr<bool> Section::Bool(const std::string& key, bool def) {
  read_->insert(key);
  const toml::node* n = table_ ? table_->get(key) : nullptr;
  if (n == nullptr)
    return def;
  if (n->is_boolean())
    return *n->value<bool>();
  return TypeError(key, "true or false");
}

absl::StatusOr<std::vector<std::string>> Section::StringList(const std::string& key,
                                                             const std::vector<std::string>& def) {
  read_->insert(key);
  const toml::node* n = table_ ? table_->get(key) : nullptr;
  if (n == nullptr)
    return def;
  const toml::array* arr = n->as_array();
  if (arr == nullptr)
    return TypeError(key, "a list of strings");
  std::vector<std::string> out;
  for (const toml::node& e : *arr) {
    if (!e.is_string())
      return TypeError(key, "a list of strings");
    out.push_back(*e.value<std::string>());
  }
  return out;
}

absl::StatusOr<Section> Section::Table(const std::string& key) {
  read_->insert(key);
  const toml::node* n = table_ ? table_->get(key) : nullptr;
  if (n == nullptr)
    return Section(nullptr, file_, Path(key));
  if (!n->is_table())
    return TypeError(key, "a table");
  return Section(n->as_table(), file_, Path(key));
}

std::vector<std::string> Section::Keys() const {
  std::vector<std::string> out;
  if (table_ == nullptr)
    return out;
  for (const auto& [k, v] : *table_) out.emplace_back(k.str());
  return out;
}

absl::Status Section::CheckAllRead() const {
  for (const std::string& k : Keys()) {
    if (!read_->contains(k)) {
      return InvalidArgument(fmt::format("{}: {}: unknown key", file_, Path(k)));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Document>> Document::Parse(const std::string& text,
                                                          const std::string& name) {
  std::unique_ptr<Document> doc(new Document());
  try {
    doc->table_ = std::make_unique<toml::table>(toml::parse(text, name));
  } catch (const toml::parse_error& e) {
    return InvalidArgument(fmt::format("{}:{}:{}: {}", name, e.source().begin.line,
                                       e.source().begin.column, std::string(e.description())));
  }
  doc->root_ = Section(doc->table_.get(), name, "");
  return doc;
}

absl::StatusOr<std::string> ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return ErrnoError(errno, fmt::format("config file {:?}", path));
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad())
    return ErrnoError(errno, fmt::format("read config file {:?}", path));
  return ss.str();
}

absl::StatusOr<std::unique_ptr<Document>> Document::Load(const std::string& path) {
  absl::StatusOr<std::string> text = ReadTextFile(path);
  if (!text.ok())
    return text.status();
  return Parse(*text, path);
}

Document::~Document() = default;

}  // namespace berth::config
