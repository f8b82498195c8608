#pragma once

// How bctr prints what it lists: aligned tables, relative times, labels as JSON, and the
// "KEY=VALUE" arguments that set labels.

#include <cstdio>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "google/protobuf/any.pb.h"
#include "google/protobuf/map.h"
#include "google/protobuf/timestamp.pb.h"
#include "nlohmann/json.hpp"

namespace berth::ctr {

// "3 minutes", "About an hour": a duration as docker prints it.
std::string HumanDuration(int64_t seconds);
// "5 minutes ago", "About an hour ago", as docker prints times in the past; "-" for 0.
std::string HumanAgo(int64_t unix_seconds);
std::string Ago(const google::protobuf::Timestamp& t);

// Current unix time in seconds.
int64_t NowSeconds();

// RFC 3339 ("2026-11-23T15:04:05.123Z").
std::string TimeString(const google::protobuf::Timestamp& t);

// Columns padded to their widest cell, two spaces apart; the last column is not padded. With
// format "json", a JSON array instead: one object a row, keyed by the lower-cased headers.
class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }

  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }

  void Print(std::string_view format = "table", std::FILE* out = stdout) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// An Any as JSON. containerd's type URLs are bare message names ("containerd.events.TaskExit"),
// which protobuf's JSON printer does not resolve, so the message is unpacked by name from the
// types linked into bctr; an unknown type gives {"@type": URL}.
std::string AnyJson(const google::protobuf::Any& any);

// The output flags of a listing verb: -q (only the first column) and --format table|json or a
// Go template (PrintTemplate).
struct ListFlags {
  bool quiet = false;
  std::string format = "table";

  void Add(CLI::App* cmd, const char* quiet_help);
};

// The rows of a listing, printed as ListFlags say. row[0] is what -q prints. A template names
// the columns by `fields` (Docker's names, such as "Name"), else by the headers in CamelCase
// ("CREATED BY" → "CreatedBy").
class Listing {
 public:
  Listing(const ListFlags& flags, std::vector<std::string> header,
          std::vector<std::string> fields = {});

  void Add(std::vector<std::string> row);
  // InvalidArgument for a template that names no column.
  absl::Status Print() const;

 private:
  const ListFlags& flags_;
  std::vector<std::string> header_, fields_;
  std::vector<std::vector<std::string>> rows_;
};

// True when a --format value is a Go template ("{{...}}") rather than "table" or "json".
bool IsTemplateFormat(std::string_view format);
// CLI11's check of a --format value: "" for table, json or a template, else why not.
std::string CheckFormat(const std::string& format);

// Prints `rows` through Docker's --format Go template, the part scripts use: "{{.Field}}" (the
// row's field: a string as it is, anything else as JSON), "{{json .}}" and "{{json .Field}}",
// with "\t" and "\n" written as escapes; one line per row. A leading "table" prints a header
// line first (each field's name from `headers`, else upper-cased) and aligns the columns at the
// tabs. InvalidArgument, before anything is printed, names an action it does not know or a
// field the rows lack.
absl::Status PrintTemplate(std::string_view format, const std::vector<nlohmann::json>& rows,
                           const std::map<std::string, std::string>& headers = {});

nlohmann::json LabelsJson(const google::protobuf::Map<std::string, std::string>& labels);

// "k1=v1,k2=v2" for a table cell.
std::string LabelsCell(const google::protobuf::Map<std::string, std::string>& labels);

// KEY=VALUE arguments to a label map; "KEY=" (or "KEY") removes it where the verb says so.
// InvalidArgument names the argument without a key.
absl::StatusOr<std::map<std::string, std::string>> ParseLabelArgs(
    const std::vector<std::string>& args);

}  // namespace berth::ctr
