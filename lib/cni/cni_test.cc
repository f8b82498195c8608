// The pure parts of the CNI client: configuration lists, -p values, what each plugin gets on
// stdin, results. The plugin protocol itself is exercised with Debian's real plugins in
// tests/integration/bctr_network_test.cc.

#include "lib/cni/cni.h"

#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/testing/matchers.h"
#include "tests/testing/temp_dir.h"

namespace berth::cni {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using nlohmann::json;

constexpr char kList[] = R"({
  "cniVersion": "1.0.0", "name": "web",
  "plugins": [
    {"type": "bridge", "bridge": "br0", "ipam": {"type": "host-local"}},
    {"type": "portmap", "capabilities": {"portMappings": true}},
    {"type": "firewall"}
  ]})";

TEST(NetworkConfigTest, ParsesAListAndASinglePlugin) {
  absl::StatusOr<NetworkConfig> net = ParseNetworkConfig(kList, "web.conflist");
  ASSERT_THAT(net, IsOk());
  EXPECT_EQ(net->name, "web");
  EXPECT_EQ(net->cni_version, "1.0.0");
  ASSERT_EQ(net->plugins.size(), 3u);
  EXPECT_EQ(net->plugins[1]["type"], "portmap");

  net = ParseNetworkConfig(R"({"cniVersion":"0.4.0","name":"one","type":"bridge"})", "one.conf");
  ASSERT_THAT(net, IsOk());
  ASSERT_EQ(net->plugins.size(), 1u);
  EXPECT_EQ(net->plugins[0]["type"], "bridge");
}

TEST(NetworkConfigTest, BadConfigsNameTheFileAndTheFault) {
  EXPECT_THAT(ParseNetworkConfig("{", "a.conflist"),
              StatusIs(absl::StatusCode::kInvalidArgument, "a.conflist: not a JSON object"));
  EXPECT_THAT(ParseNetworkConfig(R"({"plugins":[{"type":"bridge"}]})", "b.conflist"),
              StatusIs(absl::StatusCode::kInvalidArgument, "b.conflist: no \"name\""));
  EXPECT_THAT(ParseNetworkConfig(R"({"name":"n","plugins":[]})", "c.conflist"),
              StatusIs(absl::StatusCode::kInvalidArgument, "non-empty list"));
  EXPECT_THAT(ParseNetworkConfig(R"({"name":"n","plugins":[{"bridge":"x"}]})", "d.conflist"),
              StatusIs(absl::StatusCode::kInvalidArgument, "plugins[0] has no \"type\""));
  EXPECT_THAT(ParseNetworkConfig(R"({"name":"../up","type":"bridge"})", "f.conf"),
              StatusIs(absl::StatusCode::kInvalidArgument, "name \"../up\": want letters"));
  // A type is a file name in the plugin directories, never a path out of them.
  EXPECT_THAT(ParseNetworkConfig(R"({"name":"n","type":"../../bin/sh"})", "e.conf"),
              StatusIs(absl::StatusCode::kInvalidArgument, "is not a file name"));
}

TEST(NetworkConfigTest, FindsANetworkByNameInFileOrder) {
  testing::TempDir dir("cni-conf");
  std::ofstream(dir.path() / "10-web.conflist") << kList;
  std::ofstream(dir.path() / "20-web.conflist")
      << R"({"cniVersion":"1.0.0","name":"web","plugins":[{"type":"ptp"}]})";
  std::ofstream(dir.path() / "notes.txt") << "not a config";
  absl::StatusOr<NetworkConfig> net = FindNetwork(dir.path(), "web");
  ASSERT_THAT(net, IsOk());
  EXPECT_EQ(net->plugins[0]["type"], "bridge");
  EXPECT_THAT(net->source, ::testing::EndsWith("10-web.conflist"));
  EXPECT_THAT(FindNetwork(dir.path(), "db"),
              StatusIs(absl::StatusCode::kNotFound, "network \"db\": no CNI configuration"));
  EXPECT_THAT(FindNetwork(dir.path() / "missing", "web"), StatusIs(absl::StatusCode::kNotFound));
  absl::StatusOr<std::vector<NetworkConfig>> all = ListNetworks(dir.path());
  ASSERT_THAT(all, IsOk());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[1].plugins[0]["type"], "ptp");
  std::ofstream(dir.path() / "30-bad.conf") << "{";
  EXPECT_THAT(ListNetworks(dir.path()),
              StatusIs(absl::StatusCode::kInvalidArgument, "30-bad.conf: not a JSON object"));
}

TEST(PortMappingTest, DockersSyntax) {
  absl::StatusOr<PortMapping> p = ParsePortMapping("8080:80");
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(*p, (PortMapping{8080, 80, "tcp", ""}));
  EXPECT_EQ(FormatPortMapping(*p), "8080:80/tcp");
  p = ParsePortMapping("127.0.0.1:5353:53/udp");
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(*p, (PortMapping{5353, 53, "udp", "127.0.0.1"}));
  EXPECT_EQ(FormatPortMapping(*p), "127.0.0.1:5353:53/udp");
  p = ParsePortMapping("[::1]:8443:443");
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(*p, (PortMapping{8443, 443, "tcp", "::1"}));
  EXPECT_EQ(FormatPortMapping(*p), "[::1]:8443:443/tcp");

  for (const char* bad : {"80", "x:80", "0:80", "8080:65536", "8080:80/icmp", "8080:", ":80",
                          "[::1:80:80", "1.2.3.4:5:6:7"}) {
    EXPECT_THAT(ParsePortMapping(bad), StatusIs(absl::StatusCode::kInvalidArgument, bad)) << bad;
  }
}

TEST(PortMappingTest, JsonRoundTrip) {
  std::vector<PortMapping> ports = {{8080, 80, "tcp", ""}, {5353, 53, "udp", "127.0.0.1"}};
  json j = PortMappingsJson(ports);
  EXPECT_EQ(j[0], json::parse(R"({"hostPort":8080,"containerPort":80,"protocol":"tcp"})"));
  EXPECT_EQ(j[1]["hostIP"], "127.0.0.1");
  absl::StatusOr<std::vector<PortMapping>> back = PortMappingsFromJson(j);
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(*back, ports);
  EXPECT_THAT(PortMappingsFromJson(json::parse(R"([{"hostPort":"x"}])")),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(PortMappingsFromJson(json::parse(R"([{"hostPort":70000,"containerPort":80}])")),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(PluginInputTest, NameVersionPrevResultAndCapabilities) {
  absl::StatusOr<NetworkConfig> net = ParseNetworkConfig(kList, "web.conflist");
  ASSERT_THAT(net, IsOk());
  Attachment a{.container_id = "c1",
               .netns = "/proc/1/ns/net",
               .ifname = "eth0",
               .ports = {{8080, 80, "tcp", ""}}};
  json first = PluginInput(*net, 0, a, nullptr);
  EXPECT_EQ(first["name"], "web");
  EXPECT_EQ(first["cniVersion"], "1.0.0");
  EXPECT_EQ(first["bridge"], "br0");
  EXPECT_FALSE(first.contains("prevResult"));
  EXPECT_FALSE(first.contains("runtimeConfig")) << "bridge declares no capability";

  json prev = json::parse(R"({"cniVersion":"1.0.0","ips":[{"address":"10.1.0.2/24"}]})");
  json second = PluginInput(*net, 1, a, &prev);
  EXPECT_EQ(second["prevResult"], prev);
  EXPECT_EQ(second["runtimeConfig"]["portMappings"], PortMappingsJson(a.ports));
  EXPECT_FALSE(second.contains("capabilities"));
}

TEST(ResultTest, FirstAddressAndGateway) {
  Result r = ParseResult(
      json::parse(R"({"ips":[{"address":"10.89.0.5/16","gateway":"10.89.0.1","interface":2}]})"));
  EXPECT_EQ(r.address, "10.89.0.5/16");
  EXPECT_EQ(r.ip(), "10.89.0.5");
  EXPECT_EQ(r.gateway, "10.89.0.1");
  EXPECT_EQ(ParseResult(json::object()).ip(), "");
}

TEST(CniTest, AMissingPluginIsNamed) {
  testing::TempDir dir("cni");
  absl::StatusOr<NetworkConfig> net = ParseNetworkConfig(kList, "web.conflist");
  ASSERT_THAT(net, IsOk());
  Cni cni({dir.path() / "bin"}, dir.path() / "cache");
  Attachment a;
  a.container_id = "c1";
  a.netns = "/proc/self/ns/net";
  EXPECT_THAT(cni.Add(*net, a), StatusIs(absl::StatusCode::kNotFound,
                                         "network \"web\": plugin bridge ADD: no plugin"));
  EXPECT_THAT(cni.Cached("web", "c1"), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace berth::cni
