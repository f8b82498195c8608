#pragma once

// Internal to lib/oci: the section parsers shared by spec_json.cc and linux_json.cc. They throw
// internal::FieldError (json_reader.h).

#include "lib/oci/json_reader.h"
#include "lib/oci/spec.h"

namespace berth::oci::internal {

Process ReadProcess(const json& j, const std::string& path);
Linux ReadLinux(const json& j, const std::string& path);
Resources ReadResources(const json& j, const std::string& path);

json WriteProcess(const Process& p);
json WriteLinux(const Linux& l);
json WriteResources(const Resources& r);

}  // namespace berth::oci::internal
