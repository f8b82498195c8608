#include "ctr/output.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <memory>

#include "fmt/format.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"

#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::ctr {

std::string HumanDuration(int64_t s) {
  if (s < 1)
    return "Less than a second";
  if (s == 1)
    return "1 second";
  if (s < 60)
    return fmt::format("{} seconds", s);
  int64_t m = s / 60;
  if (m == 1)
    return "About a minute";
  if (m < 60)
    return fmt::format("{} minutes", m);
  int64_t h = (s + 1800) / 3600;
  if (h == 1)
    return "About an hour";
  if (h < 48)
    return fmt::format("{} hours", h);
  if (h < 24 * 7 * 2)
    return fmt::format("{} days", h / 24);
  if (h < 24 * 30 * 2)
    return fmt::format("{} weeks", h / 24 / 7);
  if (h < 24 * 365 * 2)
    return fmt::format("{} months", h / 24 / 30);
  return fmt::format("{} years", h / 24 / 365);
}

std::string HumanAgo(int64_t unix_seconds) {
  if (unix_seconds <= 0)
    return "-";
  return HumanDuration(NowSeconds() - unix_seconds) + " ago";
}

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Ago(const google::protobuf::Timestamp& t) {
  return HumanAgo(t.seconds());
}

std::string TimeString(const google::protobuf::Timestamp& t) {
  return google::protobuf::util::TimeUtil::ToString(t);
}

void Table::Print(std::string_view format, std::FILE* out) const {
  if (format == "json") {
    nlohmann::json rows = nlohmann::json::array();
    for (size_t r = 1; r < rows_.size(); ++r) {
      nlohmann::json row = nlohmann::json::object();
      for (size_t i = 0; i < rows_[r].size() && i < rows_[0].size(); ++i) {
        std::string key = rows_[0][i];
        std::transform(key.begin(), key.end(), key.begin(), ::tolower);
        row[key] = rows_[r][i];
      }
      rows.push_back(std::move(row));
    }
    std::fprintf(out, "%s\n", rows.dump(2).c_str());
    return;
  }
  std::vector<size_t> width;
  for (const auto& row : rows_) {
    if (width.size() < row.size())
      width.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : rows_) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size())
        line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    std::fprintf(out, "%s\n", line.c_str());
  }
}

std::string AnyJson(const google::protobuf::Any& any) {
  std::string_view name = any.type_url();
  name = name.substr(name.rfind('/') + 1);
  const google::protobuf::Descriptor* desc =
      google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(std::string(name));
  if (desc != nullptr) {
    std::unique_ptr<google::protobuf::Message> msg(
        google::protobuf::MessageFactory::generated_factory()->GetPrototype(desc)->New());
    std::string out;
    if (msg->ParseFromString(any.value()) &&
        google::protobuf::util::MessageToJsonString(*msg, &out).ok())
      return out;
  }
  return nlohmann::json{{"@type", any.type_url()}}.dump();
}

void ListFlags::Add(CLI::App* cmd, const char* quiet_help) {
  cmd->add_flag("-q,--quiet", quiet, quiet_help);
  cmd->add_option("--format", format,
                  "Output format: table, json, or a Go template ({{.Field}}, {{json .}})")
      ->check(CheckFormat)
      ->capture_default_str();
}

std::string CheckFormat(const std::string& format) {
  return format == "table" || format == "json" || IsTemplateFormat(format)
             ? std::string()
             : "want table, json or a template with {{.Field}}";
}

Listing::Listing(const ListFlags& flags, std::vector<std::string> header,
                 std::vector<std::string> fields)
    : flags_(flags), header_(std::move(header)), fields_(std::move(fields)) {
  for (size_t i = fields_.size(); i < header_.size(); ++i) {
    std::string name;
    bool upper = true;
    for (char c : header_[i]) {
      if (c == ' ') {
        upper = true;
        continue;
      }
      name += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
                    : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      upper = false;
    }
    fields_.push_back(name);
  }
}

void Listing::Add(std::vector<std::string> row) {
  rows_.push_back(std::move(row));
}

absl::Status Listing::Print() const {
  if (flags_.quiet) {
    for (const auto& row : rows_) std::printf("%s\n", row.empty() ? "" : row[0].c_str());
    return absl::OkStatus();
  }
  if (IsTemplateFormat(flags_.format)) {
    std::vector<nlohmann::json> rows;
    std::map<std::string, std::string> headers;
    for (size_t i = 0; i < fields_.size(); ++i) headers[fields_[i]] = header_[i];
    for (const auto& row : rows_) {
      nlohmann::json r = nlohmann::json::object();
      for (size_t i = 0; i < fields_.size(); ++i) r[fields_[i]] = i < row.size() ? row[i] : "";
      rows.push_back(std::move(r));
    }
    return PrintTemplate(flags_.format, rows, headers);
  }
  Table table(header_);
  for (const auto& row : rows_) table.Add(row);
  table.Print(flags_.format);
  return absl::OkStatus();
}

bool IsTemplateFormat(std::string_view format) {
  return format.find("{{") != std::string_view::npos;
}

namespace {

std::string_view SkipSpaces(std::string_view s) {
  return s.substr(std::min(s.find_first_not_of(' '), s.size()));
}

std::string_view TrimSpaces(std::string_view s) {
  s = SkipSpaces(s);
  return s.substr(0, s.find_last_not_of(' ') + 1);
}

// One piece of a template: literal text, or a field ("" = the whole row) and whether as JSON.
struct TemplatePiece {
  std::string text;
  bool action = false;
  std::string field;
  bool json = false;
};

absl::StatusOr<std::vector<TemplatePiece>> ParseTemplate(std::string_view t) {
  std::vector<TemplatePiece> out;
  std::string literal;
  auto flush = [&] {
    if (!literal.empty())
      out.push_back({.text = std::move(literal), .action = false, .field = "", .json = false});
    literal.clear();
  };
  for (size_t i = 0; i < t.size();) {
    if (t.substr(i, 2) == "\\t" || t.substr(i, 2) == "\\n") {
      literal += t[i + 1] == 't' ? '\t' : '\n';
      i += 2;
      continue;
    }
    if (t.substr(i, 2) != "{{") {
      literal += t[i++];
      continue;
    }
    const size_t end = t.find("}}", i + 2);
    if (end == std::string_view::npos)
      return InvalidArgument(fmt::format("--format {:?}: {{{{ without }}}}", std::string(t)));
    std::string_view action = TrimSpaces(t.substr(i + 2, end - i - 2));
    TemplatePiece p{.text = "", .action = true, .field = "", .json = false};
    if (action.starts_with("json ")) {
      p.json = true;
      action = TrimSpaces(action.substr(5));
    }
    const bool name_ok =
        std::all_of(action.begin() + (action.empty() ? 0 : 1), action.end(),
                    [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; });
    if (!action.starts_with(".") || !name_ok || (action == "." && !p.json))
      return InvalidArgument(fmt::format(
          "--format: {{{{{}}}}}: not understood (bctr knows {{{{.Field}}}}, {{{{json .}}}} and "
          "{{{{json .Field}}}})",
          std::string(t.substr(i + 2, end - i - 2))));
    p.field = std::string(action.substr(1));
    flush();
    out.push_back(std::move(p));
    i = end + 2;
  }
  flush();
  return out;
}

}  // namespace

absl::Status PrintTemplate(std::string_view format, const std::vector<nlohmann::json>& rows,
                           const std::map<std::string, std::string>& headers) {
  std::string_view t = SkipSpaces(format);
  const bool table = t.starts_with("table");
  if (table)
    t = SkipSpaces(t.substr(5));
  BERTH_ASSIGN_OR_RETURN(std::vector<TemplatePiece> pieces, ParseTemplate(t));
  for (const TemplatePiece& p : pieces) {
    for (const nlohmann::json& row : rows) {
      if (p.action && !p.field.empty() && !row.contains(p.field)) {
        std::vector<std::string> fields;
        for (const auto& [k, _] : row.items()) fields.push_back("." + k);
        return InvalidArgument(fmt::format("--format: no field .{} (the fields: {})", p.field,
                                           fmt::join(fields, " ")));
      }
    }
  }
  auto render = [&](const nlohmann::json* row) {
    std::string line;
    for (const TemplatePiece& p : pieces) {
      if (!p.action) {
        line += p.text;
      } else if (row == nullptr) {
        auto h = headers.find(p.field);
        std::string name = h != headers.end() ? h->second : p.field;
        std::transform(name.begin(), name.end(), name.begin(), ::toupper);
        line += name;
      } else {
        const nlohmann::json& v = p.field.empty() ? *row : (*row)[p.field];
        line += v.is_string() && !p.json ? v.get<std::string>() : v.dump();
      }
    }
    return line;
  };
  if (!table) {
    for (const nlohmann::json& row : rows) std::printf("%s\n", render(&row).c_str());
    return absl::OkStatus();
  }
  auto cells = [](const std::string& line) {
    std::vector<std::string> out;
    size_t start = 0;
    for (size_t tab; (tab = line.find('\t', start)) != std::string::npos; start = tab + 1)
      out.push_back(line.substr(start, tab - start));
    out.push_back(line.substr(start));
    return out;
  };
  Table out(cells(render(nullptr)));
  for (const nlohmann::json& row : rows) out.Add(cells(render(&row)));
  out.Print();
  return absl::OkStatus();
}

nlohmann::json LabelsJson(const google::protobuf::Map<std::string, std::string>& labels) {
  return nlohmann::json(std::map<std::string, std::string>(labels.begin(), labels.end()));
}

std::string LabelsCell(const google::protobuf::Map<std::string, std::string>& labels) {
  std::map<std::string, std::string> sorted(labels.begin(), labels.end());
  std::string out;
  for (const auto& [k, v] : sorted) out += (out.empty() ? "" : ",") + k + "=" + v;
  return out.empty() ? "-" : out;
}

absl::StatusOr<std::map<std::string, std::string>> ParseLabelArgs(
    const std::vector<std::string>& args) {
  std::map<std::string, std::string> out;
  for (const std::string& a : args) {
    size_t eq = a.find('=');
    std::string key = a.substr(0, eq);
    if (key.empty())
      return InvalidArgument(fmt::format("label {:?}: want KEY=VALUE", a));
    out[key] = eq == std::string::npos ? "" : a.substr(eq + 1);
  }
  return out;
}

}  // namespace berth::ctr
