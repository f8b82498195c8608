#include "services/containers/convert.h"

#include "google/protobuf/util/time_util.h"

namespace berth::services::containers {

using google::protobuf::util::TimeUtil;
namespace api = ::containerd::services::containers::v1;

metadata::AnyValue FromProto(const google::protobuf::Any& in) {
  return {in.type_url(), in.value()};
}

google::protobuf::Any ToProto(const metadata::AnyValue& in) {
  google::protobuf::Any out;
  out.set_type_url(in.type_url);
  out.set_value(in.value);
  return out;
}

metadata::Container FromProto(const api::Container& in) {
  metadata::Container out;
  out.id = in.id();
  out.labels.insert(in.labels().begin(), in.labels().end());
  out.image = in.image();
  out.runtime_name = in.runtime().name();
  if (in.runtime().has_options())
    out.runtime_options = FromProto(in.runtime().options());
  if (in.has_spec())
    out.spec = FromProto(in.spec());
  out.snapshotter = in.snapshotter();
  out.snapshot_key = in.snapshot_key();
  for (const auto& [key, value] : in.extensions()) out.extensions[key] = FromProto(value);
  return out;
}

api::Container ToProto(const metadata::Container& in) {
  api::Container out;
  out.set_id(in.id);
  out.mutable_labels()->insert(in.labels.begin(), in.labels.end());
  out.set_image(in.image);
  out.mutable_runtime()->set_name(in.runtime_name);
  if (in.runtime_options)
    *out.mutable_runtime()->mutable_options() = ToProto(*in.runtime_options);
  if (in.spec)
    *out.mutable_spec() = ToProto(*in.spec);
  out.set_snapshotter(in.snapshotter);
  out.set_snapshot_key(in.snapshot_key);
  *out.mutable_created_at() = TimeUtil::NanosecondsToTimestamp(in.created_at);
  *out.mutable_updated_at() = TimeUtil::NanosecondsToTimestamp(in.updated_at);
  for (const auto& [key, value] : in.extensions) (*out.mutable_extensions())[key] = ToProto(value);
  return out;
}

}  // namespace berth::services::containers
