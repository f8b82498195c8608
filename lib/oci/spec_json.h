#pragma once

// config.json <-> oci::Spec. Parsing validates what berth acts on: types and ranges, capability
// and rlimit names, namespace types, and that root.path and process.args are set. Errors are
// InvalidArgument and name the field: `config.json: process.capabilities.bounding[2]: unknown
// capability "CAP_FOO"`. Unknown fields are ignored.

#include <filesystem>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

#include "lib/oci/spec.h"

namespace berth::oci {

// Parses a whole runtime spec. `origin` prefixes error messages ("config.json").
absl::StatusOr<Spec> ParseSpec(std::string_view json, std::string_view origin = "config.json");

// Reads and parses <bundle>/config.json. NotFound when the file is missing.
absl::StatusOr<Spec> LoadSpec(const std::filesystem::path& bundle);

// Parses a Process object alone (an exec request's spec); errors start with "process: ".
absl::StatusOr<Process> ParseProcess(std::string_view json);

// Parses a LinuxResources object alone (an update request); errors start with "resources: ".
absl::StatusOr<Resources> ParseResources(std::string_view json);

// Serializes to JSON in the spec's field names (2-space indent when `pretty`).
std::string SpecToJson(const Spec& spec, bool pretty = true);
std::string ProcessToJson(const Process& process);
std::string ResourcesToJson(const Resources& resources);

// Writes <bundle>/config.json.
absl::Status WriteSpec(const std::filesystem::path& bundle, const Spec& spec);

}  // namespace berth::oci
