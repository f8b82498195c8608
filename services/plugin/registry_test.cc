#include "services/plugin/registry.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

#include "lib/base/status.h"
#include "tests/testing/matchers.h"

namespace berth::plugin {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;

// A plugin that records its load and destruction order in a shared log.
class Recorder : public Plugin {
 public:
  Recorder(std::vector<std::string>& log, std::string name) : log_(log), name_(std::move(name)) {
    log_.push_back("load " + name_);
  }

  ~Recorder() override { log_.push_back("drop " + name_); }

 private:
  std::vector<std::string>& log_;
  std::string name_;
};

Registration Make(std::vector<std::string>& log, Type type, std::string id, std::vector<Type> deps,
                  absl::Status fail = absl::OkStatus()) {
  return Registration{
      .type = type,
      .id = id,
      .deps = std::move(deps),
      .init = [&log, id, fail](InitContext&) -> absl::StatusOr<std::unique_ptr<Plugin>> {
        if (!fail.ok())
          return fail;
        return std::make_unique<Recorder>(log, id);
      }};
}

TEST(RegistryTest, LoadsDependenciesFirstAndDropsInReverse) {
  std::vector<std::string> log;
  {
    Registry r;
    r.Add(Make(log, Type::kGrpc, "namespaces", {Type::kMetadata}));
    r.Add(Make(log, Type::kMetadata, "sqlite", {Type::kContent}));
    r.Add(Make(log, Type::kContent, "content", {}));
    ASSERT_THAT(r.Load({}, {}), IsOk());
    ASSERT_EQ(r.results().size(), 3u);
  }
  EXPECT_EQ(log, (std::vector<std::string>{"load content", "load sqlite", "load namespaces",
                                           "drop namespaces", "drop sqlite", "drop content"}));
}

TEST(RegistryTest, SkippedAndFailedPluginsAreRecorded) {
  std::vector<std::string> log;
  Registry r;
  r.Add(Make(log, Type::kMetadata, "sqlite", {}));
  r.Add(Make(log, Type::kSnapshotter, "overlayfs", {}, Unimplemented("no overlay support")));
  r.Add(Make(log, Type::kDiff, "walking", {}, Unavailable("broken")));
  r.Add(Make(log, Type::kGrpc, "snapshots", {Type::kSnapshotter}));
  ASSERT_THAT(r.Load({}, {}), IsOk());
  std::map<std::string, absl::StatusCode> codes;
  for (const LoadResult& res : r.results()) codes[res.registration->id] = res.status.code();
  EXPECT_EQ(codes["sqlite"], absl::StatusCode::kOk);
  EXPECT_EQ(codes["overlayfs"], absl::StatusCode::kUnimplemented);
  EXPECT_EQ(codes["walking"], absl::StatusCode::kUnavailable);
  EXPECT_EQ(codes["snapshots"], absl::StatusCode::kUnimplemented);  // its dependency is missing
}

TEST(RegistryTest, RequiredFailureStopsLoading) {
  std::vector<std::string> log;
  Registry r;
  r.Add(Make(log, Type::kDiff, "walking", {}, Unavailable("broken")));
  LoadOptions opts;
  opts.required = {"io.containerd.differ.v1.walking"};
  EXPECT_THAT(r.Load({}, std::move(opts)),
              StatusIs(absl::StatusCode::kUnavailable, "io.containerd.differ.v1.walking"));
}

TEST(RegistryTest, DisabledPluginsAreNotLoaded) {
  std::vector<std::string> log;
  Registry r;
  r.Add(Make(log, Type::kGrpc, "version", {}));
  LoadOptions opts;
  opts.disabled = {"io.containerd.grpc.v1.version"};
  ASSERT_THAT(r.Load({}, std::move(opts)), IsOk());
  EXPECT_TRUE(log.empty());
  EXPECT_THAT(r.results()[0].status, StatusIs(absl::StatusCode::kUnimplemented, "disabled"));
}

TEST(RegistryTest, UnknownPluginNamesAreErrors) {
  std::vector<std::string> log;
  Registry r;
  r.Add(Make(log, Type::kGrpc, "version", {}));
  LoadOptions opts;
  opts.required = {"io.containerd.grpc.v1.verison"};
  EXPECT_THAT(r.Load({}, std::move(opts)),
              StatusIs(absl::StatusCode::kInvalidArgument, "no such plugin"));
}

TEST(RegistryTest, UnknownKeyInPluginTableIsAnError) {
  std::vector<std::string> log;
  auto doc =
      config::Document::Parse("[plugins.'io.containerd.grpc.v1.version']\nfoo = 1\n", "berth.toml");
  ASSERT_THAT(doc, IsOk());
  Registry r;
  r.Add(Make(log, Type::kGrpc, "version", {}));
  LoadOptions opts;
  opts.plugins = *(*doc)->root().Table("plugins");
  EXPECT_THAT(r.Load({}, std::move(opts)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "berth.toml: plugins.\"io.containerd.grpc.v1.version\".foo: unknown key"));
}

}  // namespace
}  // namespace berth::plugin
