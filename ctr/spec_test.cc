// ctr/spec.h without a daemon: flag parsing and the spec built from an image config and flags.

#include "ctr/spec.h"

#include <sys/resource.h>

#include <algorithm>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "ctr/network.h"
#include "ctr/volumes.h"
#include "tests/testing/matchers.h"

namespace berth::ctr {
namespace {

using ::berth::testing::StatusIs;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Not;

TEST(SpecTest, MemorySizes) {
  EXPECT_EQ(*ParseMemorySize("512m"), 512LL << 20);
  EXPECT_EQ(*ParseMemorySize("1g"), 1LL << 30);
  EXPECT_EQ(*ParseMemorySize("1GB"), 1LL << 30);
  EXPECT_EQ(*ParseMemorySize("100k"), 100LL << 10);
  EXPECT_EQ(*ParseMemorySize("4096"), 4096);
  EXPECT_EQ(*ParseMemorySize("1.5m"), 3LL << 19);
  EXPECT_FALSE(ParseMemorySize("12q").ok());
  EXPECT_FALSE(ParseMemorySize("m").ok());
  EXPECT_FALSE(ParseMemorySize("-1m").ok());
  EXPECT_FALSE(ParseMemorySize("").ok());
}

TEST(SpecTest, VolumesAndMounts) {
  absl::StatusOr<oci::Mount> m = ParseVolume("/srv/data:/data:ro");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->source, "/srv/data");
  EXPECT_EQ(m->destination, "/data");
  EXPECT_THAT(m->options, ElementsAre("rbind", "rprivate", "ro"));
  EXPECT_FALSE(ParseVolume("/a:rel").ok());
  EXPECT_FALSE(ParseVolume("/a:/b:bogus").ok());
  EXPECT_FALSE(ParseVolume("/a:/b:nocopy").ok()) << "nocopy is for volumes";
  // Volumes stay placeholders (type "volume") until bctr resolves them.
  m = ParseVolume("data:/data:ro,nocopy");
  ASSERT_TRUE(m.ok()) << m.status();
  std::optional<VolumeMount> v = AsVolumeMount(*m);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->name, "data");
  EXPECT_EQ(v->destination, "/data");
  EXPECT_TRUE(v->read_only);
  EXPECT_TRUE(v->nocopy);
  m = ParseVolume("/cache");
  ASSERT_TRUE(m.ok()) << m.status();
  v = AsVolumeMount(*m);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->name, "") << "anonymous";
  EXPECT_EQ(v->destination, "/cache");
  EXPECT_FALSE(v->read_only);
  EXPECT_THAT(ParseVolume("./rel:/data").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "volume name \"./rel\""));
  EXPECT_FALSE(ParseVolume("x:/data").ok()) << "Docker's names have at least two characters";
  EXPECT_FALSE(ParseVolume("rel").ok());
  m = ParseMountFlag("type=bind,src=/a,dst=/b,readonly");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_THAT(m->options, Contains("ro"));
  m = ParseMountFlag("type=tmpfs,target=/t,tmpfs-size=1m");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->type, "tmpfs");
  EXPECT_THAT(m->options, Contains("size=1048576"));
  m = ParseMountFlag("type=volume,src=cache,dst=/b,volume-nocopy");
  ASSERT_TRUE(m.ok()) << m.status();
  v = AsVolumeMount(*m);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->name, "cache");
  EXPECT_TRUE(v->nocopy);
  m = ParseMountFlag("target=/b");  // Docker's default type: an anonymous volume
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->type, "volume");
  EXPECT_EQ(m->source, "");
  EXPECT_FALSE(ParseMountFlag("type=volume,src=/abs,dst=/b").ok());
  EXPECT_FALSE(ParseMountFlag("type=bind,src=/a,dst=/b,color=red").ok());
}

TEST(SpecTest, TmpfsFlagHasDockersDefaultsAndTakesMountOptions) {
  absl::StatusOr<oci::Mount> m = ParseTmpfsFlag("/run");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->destination, "/run");
  EXPECT_EQ(m->type, "tmpfs");
  EXPECT_EQ(m->source, "tmpfs");
  EXPECT_THAT(m->options, ElementsAre("noexec", "nosuid", "nodev", "mode=1777"));
  m = ParseTmpfsFlag("/run:exec,size=64m,mode=755,ro,uid=1000");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_THAT(m->options, ElementsAre("nosuid", "nodev", "mode=755", "size=64m", "ro", "uid=1000"));
  m = ParseTmpfsFlag("/t:ro,rw,suid,nosuid");  // the last of a pair wins
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_THAT(m->options, ElementsAre("noexec", "nosuid", "nodev", "mode=1777"));
  EXPECT_THAT(ParseTmpfsFlag("run").status(), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseTmpfsFlag("/run:color=red").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "\"color=red\""));
  EXPECT_FALSE(ParseTmpfsFlag("/run:size=").ok());
  EXPECT_FALSE(ParseTmpfsFlag("/run:noatime").ok());
}

TEST(SpecTest, AddHostAndDnsAsDocker) {
  absl::StatusOr<std::string> lines =
      ExtraHostsLines({"db:10.0.0.5", "v6=fd00::1", "br:[::1]", "a.b-c:192.168.1.1"});
  ASSERT_TRUE(lines.ok()) << lines.status();
  EXPECT_EQ(*lines, "10.0.0.5\tdb\nfd00::1\tv6\n::1\tbr\n192.168.1.1\ta.b-c\n");
  EXPECT_EQ(ExtraHostsLines({}).value_or("x"), "");
  for (const char* bad :
       {"db", "db:", ":10.0.0.5", "db:10.0.0.256", "db:name", "d b:10.0.0.1", "db:host-gateway"})
    EXPECT_THAT(ExtraHostsLines({bad}).status(),
                StatusIs(absl::StatusCode::kInvalidArgument, "--add-host"))
        << bad;

  const std::string host =
      "# generated\nnameserver 10.0.0.2\nnameserver 10.0.0.3\nsearch corp.example\n"
      "options edns0\n";
  EXPECT_EQ(ResolvConfText(host, {}, {}, {}).value_or(""), host);
  EXPECT_EQ(ResolvConfText(host, {"1.1.1.1", "2606:4700::1111"}, {}, {}).value_or(""),
            "# generated\nsearch corp.example\noptions edns0\nnameserver 1.1.1.1\n"
            "nameserver 2606:4700::1111\n");
  EXPECT_EQ(ResolvConfText(host, {}, {"a.example", "b.example"}, {"ndots:2"}).value_or(""),
            "# generated\nnameserver 10.0.0.2\nnameserver 10.0.0.3\nsearch a.example b.example\n"
            "options ndots:2\n");
  EXPECT_EQ(ResolvConfText("domain x\nnameserver 10.0.0.2", {}, {"."}, {}).value_or(""),
            "nameserver 10.0.0.2\n");
  EXPECT_EQ(ResolvConfText("", {"9.9.9.9"}, {}, {}).value_or(""), "nameserver 9.9.9.9\n");
  EXPECT_THAT(ResolvConfText(host, {"dns.example"}, {}, {}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "--dns \"dns.example\""));
}

TEST(SpecTest, UlimitsAsDocker) {
  absl::StatusOr<oci::Rlimit> r = ParseUlimit("nofile=1024:2048");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->type, "RLIMIT_NOFILE");
  EXPECT_EQ(r->resource, RLIMIT_NOFILE);
  EXPECT_EQ(r->soft, 1024u);
  EXPECT_EQ(r->hard, 2048u);
  r = ParseUlimit("CORE=0");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->type, "RLIMIT_CORE");
  EXPECT_EQ(r->soft, 0u);
  EXPECT_EQ(r->hard, 0u);
  r = ParseUlimit("memlock=-1:unlimited");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->soft, RLIM_INFINITY);
  EXPECT_EQ(r->hard, RLIM_INFINITY);
  EXPECT_THAT(ParseUlimit("nofile").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "want NAME=SOFT[:HARD]"));
  EXPECT_THAT(ParseUlimit("files=1").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "unknown limit \"files\""));
  EXPECT_THAT(ParseUlimit("nofile=2048:1024").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "soft limit exceeds"));
  for (const char* bad : {"nofile=", "nofile=x", "nofile=1:", "nofile=1k", "nofile=-2"})
    EXPECT_FALSE(ParseUlimit(bad).ok()) << bad;
}

TEST(SpecTest, DevicesAsDocker) {
  absl::StatusOr<DeviceFlag> d = ParseDeviceFlag("/dev/null");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->device.type, "c");
  EXPECT_EQ(d->device.path, "/dev/null");
  EXPECT_EQ(d->device.major, 1);
  EXPECT_EQ(d->device.minor, 3);
  EXPECT_TRUE(d->rule.allow);
  EXPECT_EQ(d->rule.type, "c");
  EXPECT_EQ(d->rule.major, 1);
  EXPECT_EQ(d->rule.minor, 3);
  EXPECT_EQ(d->rule.access, "rwm");
  d = ParseDeviceFlag("/dev/null:/dev/n2:r");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->device.path, "/dev/n2");
  EXPECT_EQ(d->rule.access, "r");
  d = ParseDeviceFlag("/dev/null:rw");  // HOST:PERMISSIONS
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->device.path, "/dev/null");
  EXPECT_EQ(d->rule.access, "rw");
  EXPECT_THAT(ParseDeviceFlag("/dev/null:/x:z").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "not a subset of rwm"));
  EXPECT_THAT(ParseDeviceFlag("/etc/passwd").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "not a character or block device"));
  EXPECT_THAT(ParseDeviceFlag("/dev/no-such-device").status(),
              StatusIs(absl::StatusCode::kNotFound, "--device \"/dev/no-such-device\""));
  EXPECT_FALSE(ParseDeviceFlag("dev/null").ok());
  EXPECT_FALSE(ParseDeviceFlag("/dev/null:/a:r:x").ok());
}

TEST(SpecTest, GroupAddTakesNumbersAndTheImagesGroupNames) {
  int reads = 0;
  UserDbReader read = [&]() -> absl::StatusOr<UserDb> {
    ++reads;
    return UserDb{.passwd = "", .group = "staff:x:50:\nwheel:x:10:root\n"};
  };
  oci::User u;
  u.additional_gids = {10};
  ASSERT_THAT(AddGroups({"1234", "staff", "wheel"}, read, u), testing::IsOk());
  EXPECT_THAT(u.additional_gids, ElementsAre(10, 1234, 50));
  EXPECT_EQ(reads, 1);
  EXPECT_THAT(AddGroups({"nogroup"}, read, u),
              StatusIs(absl::StatusCode::kNotFound, "--group-add \"nogroup\": no such group"));
  EXPECT_THAT(AddGroups({"staff"}, nullptr, u), StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_THAT(AddGroups({"7"}, nullptr, u), testing::IsOk()) << "numbers need no database";
}

TEST(SpecTest, TheImagesUserDatabaseIsReadOnceForUserAndGroups) {
  int reads = 0;
  RunFlags f;
  f.args = {"true"};
  f.user = "app";
  f.group_add = {"staff"};
  SpecInput in{.ns = "default",
               .id = std::string(64, 'a'),
               .flags = &f,
               .image = {},
               .network = {},
               .hook_program = "",
               .hosts_file = "",
               .resolv_file = "",
               .read_user_db = [&]() -> absl::StatusOr<UserDb> {
                 ++reads;
                 return UserDb{.passwd = "app:x:1000:1000::/home/app:/bin/sh\n",
                               .group = "staff:x:50:\n"};
               }};
  absl::StatusOr<oci::Spec> s = BuildSpec(in);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->process->user.uid, 1000u);
  EXPECT_THAT(s->process->user.additional_gids, Contains(50u));
  EXPECT_EQ(reads, 1);
}

TEST(SpecTest, Capabilities) {
  std::vector<std::string> base = {"CAP_CHOWN", "CAP_KILL"};
  EXPECT_THAT(*ApplyCapabilities(base, {"net_admin"}, {"chown"}),
              ElementsAre("CAP_KILL", "CAP_NET_ADMIN"));
  EXPECT_THAT(*ApplyCapabilities(base, {"CAP_SYS_TIME"}, {"ALL"}), ElementsAre("CAP_SYS_TIME"));
  EXPECT_FALSE(ApplyCapabilities(base, {"bogus"}, {}).ok());
  EXPECT_FALSE(ApplyCapabilities(base, {}, {"CAP_BOGUS"}).ok());
}

TEST(SpecTest, UsersFromTheImageDatabase) {
  int reads = 0;
  UserDbReader read = [&]() -> absl::StatusOr<UserDb> {
    ++reads;
    return UserDb{"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:App:/home/app:/bin/sh\n",
                  "root:x:0:\napp:x:1001:\nextra:x:2000:app,other\n"};
  };
  std::string home;
  absl::StatusOr<oci::User> u = ResolveUser("app", read, &home);
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->uid, 1000u);
  EXPECT_EQ(u->gid, 1001u);
  EXPECT_THAT(u->additional_gids, ElementsAre(2000u));
  EXPECT_EQ(home, "/home/app");
  u = ResolveUser("1234:5678", read, &home);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->uid, 1234u);
  EXPECT_EQ(u->gid, 5678u);
  int before = reads;
  (void)ResolveUser("1:2", read, &home);
  EXPECT_EQ(reads, before) << "numbers alone need no lookup";
  u = ResolveUser("app:root", read, &home);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->gid, 0u);
  EXPECT_TRUE(absl::IsNotFound(ResolveUser("nobody", read, &home).status()));
  EXPECT_TRUE(absl::IsNotFound(ResolveUser("app:nogroup", read, &home).status()));
}

TEST(SpecTest, RestartPolicies) {
  EXPECT_EQ(*ParseRestartPolicy("no"), "");
  EXPECT_EQ(*ParseRestartPolicy("always"), "always");
  EXPECT_EQ(*ParseRestartPolicy("on-failure:2"), "on-failure:2");
  EXPECT_FALSE(ParseRestartPolicy("on-failure:0").ok());
  EXPECT_FALSE(ParseRestartPolicy("sometimes").ok());
}

TEST(SpecTest, BuildsFromImageConfigAndFlags) {
  absl::StatusOr<ImageConfig> image = ParseImageConfig(
      R"({"config":{"Entrypoint":["/entry"],"Cmd":["serve"],"Env":["PATH=/bin","A=image"],
          "WorkingDir":"/srv","User":"0","Volumes":{"/data/":{},"/c":{}}}})");
  ASSERT_TRUE(image.ok()) << image.status();
  RunFlags f;
  f.image = "img";
  f.env = {"A=flag", "B=2"};
  f.memory = "64m";
  f.cpus = 1.5;
  f.pids_limit = 10;
  f.read_only = true;
  f.cap_drop = {"CHOWN"};
  f.volumes = {"/h:/c"};
  f.tty = true;
  SpecInput in{.ns = "default",
               .id = std::string(64, 'a'),
               .flags = &f,
               .image = *image,
               .network = {},
               .hook_program = "/usr/bin/bctr",
               .hosts_file = "/var/lib/x/hosts",
               .resolv_file = "",
               .read_user_db = nullptr};
  absl::StatusOr<oci::Spec> s = BuildSpec(in);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(s->process->args, ElementsAre("/entry", "serve"));
  EXPECT_EQ(s->process->cwd, "/srv");
  EXPECT_THAT(s->process->env, Contains("A=flag"));
  EXPECT_THAT(s->process->env, Contains("B=2"));
  EXPECT_THAT(s->process->env, Contains("PATH=/bin"));
  EXPECT_THAT(s->process->env, Contains("HOSTNAME=aaaaaaaaaaaa"));
  EXPECT_THAT(s->process->env, Contains("TERM=xterm"));
  EXPECT_TRUE(s->process->terminal);
  EXPECT_EQ(s->hostname, "aaaaaaaaaaaa");
  EXPECT_EQ(*s->linux.resources->memory->limit, 64 << 20);
  EXPECT_EQ(*s->linux.resources->cpu->quota, 150000);
  EXPECT_EQ(s->linux.resources->pids->limit, 10);
  EXPECT_TRUE(s->root.readonly);
  EXPECT_THAT(s->process->capabilities->effective, Not(Contains("CAP_CHOWN")));
  EXPECT_TRUE(s->linux.seccomp.has_value());
  // The image's VOLUMEs: an anonymous volume for /data; /c is the -v bind's.
  EXPECT_THAT(image->volumes, ElementsAre("/c", "/data"));
  ASSERT_GE(s->mounts.size(), 2u);
  EXPECT_EQ(s->mounts.back().destination, "/data");
  EXPECT_EQ(s->mounts.back().type, "volume");
  EXPECT_EQ(s->mounts.back().source, "");
  EXPECT_EQ(s->mounts[s->mounts.size() - 2].destination, "/c");
  EXPECT_EQ(s->mounts[s->mounts.size() - 2].type, "bind");
  EXPECT_EQ(s->linux.cgroups_path, "/default/" + std::string(64, 'a'));

  f.ulimits = {"nofile=4096:8192", "core=0"};
  s = BuildSpec(in);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->process->rlimits.size(), 2u) << "the default RLIMIT_NOFILE replaced";
  EXPECT_EQ(s->process->rlimits[0].type, "RLIMIT_NOFILE");
  EXPECT_EQ(s->process->rlimits[0].soft, 4096u);
  EXPECT_EQ(s->process->rlimits[0].hard, 8192u);
  EXPECT_EQ(s->process->rlimits[1].type, "RLIMIT_CORE");
  f.ulimits.clear();

  // --sysctl checked as the runtime checks it; --shm-size; --device.
  f.sysctls = {"net.ipv4.ip_forward=1", "kernel.shmmax=1000000"};
  f.shm_size = "128m";
  f.devices = {"/dev/null:/dev/n2:r"};
  s = BuildSpec(in);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->linux.sysctl["net.ipv4.ip_forward"], "1");
  EXPECT_EQ(s->linux.sysctl["kernel.shmmax"], "1000000");
  auto shm = std::find_if(s->mounts.begin(), s->mounts.end(),
                          [](const oci::Mount& m) { return m.destination == "/dev/shm"; });
  ASSERT_NE(shm, s->mounts.end());
  EXPECT_THAT(shm->options, Contains("size=131072k"));
  EXPECT_THAT(shm->options, Not(Contains("size=65536k")));
  ASSERT_FALSE(s->linux.devices.empty());
  EXPECT_EQ(s->linux.devices.back().path, "/dev/n2");
  EXPECT_EQ(s->linux.resources->devices.back().access, "r");
  f.sysctls = {"vm.swappiness=10"};
  EXPECT_THAT(BuildSpec(in).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "--sysctl: linux.sysctl: \"vm.swappiness\" is not in a separate kernel "
                       "namespace"));
  f.sysctls = {"novalue"};
  EXPECT_FALSE(BuildSpec(in).ok());
  f.sysctls.clear();
  f.shm_size = "0";
  EXPECT_THAT(BuildSpec(in).status(), StatusIs(absl::StatusCode::kInvalidArgument, "--shm-size"));
  f.shm_size.clear();
  f.devices.clear();

  f.args = {"other"};
  f.entrypoint = "";
  s = BuildSpec(in);
  ASSERT_TRUE(s.ok());
  EXPECT_THAT(s->process->args, ElementsAre("other"));
  f.args.clear();
  EXPECT_FALSE(BuildSpec(in).ok()) << "no command at all";

  f.entrypoint.reset();
  f.net = "host";
  f.security_opts = {"seccomp=unconfined"};
  s = BuildSpec(in);
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->linux.seccomp.has_value());
  EXPECT_TRUE(std::none_of(s->linux.namespaces.begin(), s->linux.namespaces.end(),
                           [](const oci::Namespace& n) { return n.type == "network"; }));
  f.security_opts = {"apparmor=x"};
  EXPECT_FALSE(BuildSpec(in).ok());

  // A CNI network: the container keeps its own network namespace; two hooks attach and detach
  // it, with what they need in their arguments and the ports in an annotation.
  f.security_opts.clear();
  f.net = "default";
  f.publish = {"127.0.0.1:8080:80", "5353:53/udp"};
  in.network.state_dir = "/var/lib/x";
  s = BuildSpec(in);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(std::any_of(s->linux.namespaces.begin(), s->linux.namespaces.end(),
                          [](const oci::Namespace& n) { return n.type == "network"; }));
  EXPECT_EQ(s->annotations["berth.io/network"], "bridge") << "-p implies the bridge";
  EXPECT_TRUE(std::any_of(s->mounts.begin(), s->mounts.end(), [](const oci::Mount& m) {
    return m.destination == "/etc/hosts" && m.source == "/var/lib/x/hosts";
  }));
  std::vector<cni::PortMapping> ports = PublishedPorts(*s);
  ASSERT_EQ(ports.size(), 2u);
  EXPECT_EQ(PortsColumn(ports), "127.0.0.1:8080->80/tcp, 0.0.0.0:5353->53/udp");
  ASSERT_EQ(s->hooks.create_runtime.size(), 1u);
  ASSERT_EQ(s->hooks.poststop.size(), 1u);
  const oci::Hook& up = s->hooks.create_runtime[0];
  EXPECT_EQ(up.path, "/usr/bin/bctr");
  EXPECT_THAT(up.args,
              ElementsAre("bctr", "__network-hook", "up", "--ns", "default", "--network", "bridge",
                          "--conf-dir", "/etc/berth/cni/net.d", "--state-dir", "/var/lib/x",
                          "--plugin-dir", "/usr/lib/cni", "--plugin-dir", "/opt/cni/bin"));
  EXPECT_EQ(s->hooks.poststop[0].args[2], "down");
  EXPECT_THAT(up.env, ElementsAre(::testing::StartsWith("PATH=")));

  // --add-host's lines ride in an annotation for the hook; own files are bound read-only.
  f.add_hosts = {"db:10.0.0.5"};
  in.hosts_file = "/var/lib/x/hosts.d/default-a";
  in.resolv_file = "/var/lib/x/resolv.d/default-a";
  s = BuildSpec(in);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->annotations["berth.io/extra-hosts"], "10.0.0.5\tdb\n");
  for (const char* dst : {"/etc/hosts", "/etc/resolv.conf"}) {
    EXPECT_EQ(std::count_if(s->mounts.begin(), s->mounts.end(),
                            [&](const oci::Mount& m) { return m.destination == dst; }),
              1)
        << dst;
  }
  EXPECT_TRUE(std::any_of(s->mounts.begin(), s->mounts.end(), [](const oci::Mount& m) {
    return m.destination == "/etc/resolv.conf" && m.source == "/var/lib/x/resolv.d/default-a" &&
           std::find(m.options.begin(), m.options.end(), "ro") != m.options.end();
  }));
  f.net = "host";
  f.publish.clear();
  s = BuildSpec(in);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(std::any_of(s->mounts.begin(), s->mounts.end(), [](const oci::Mount& m) {
    return m.destination == "/etc/hosts" && m.source == "/var/lib/x/hosts.d/default-a";
  }));
  f.net = "none";
  f.dns = {"1.1.1.1"};
  in.resolv_file.clear();
  EXPECT_THAT(BuildSpec(in).status(), StatusIs(absl::StatusCode::kInvalidArgument, "--net none"));
  f.dns.clear();
  f.add_hosts = {"db"};
  EXPECT_THAT(BuildSpec(in).status(), StatusIs(absl::StatusCode::kInvalidArgument, "--add-host"));
  f.add_hosts.clear();
  in.hosts_file = "/var/lib/x/hosts";
  f.publish = {"127.0.0.1:8080:80"};

  f.net = "none";
  EXPECT_FALSE(BuildSpec(in).ok()) << "ports without a network";

  EXPECT_TRUE(OnlyLoopbackNameservers("# resolved\nnameserver 127.0.0.53\noptions edns0\n"));
  EXPECT_TRUE(OnlyLoopbackNameservers("nameserver ::1\n  nameserver\t127.0.1.1 # dnsmasq"));
  EXPECT_FALSE(OnlyLoopbackNameservers("nameserver 127.0.0.53\nnameserver 10.0.0.2\n"));
  EXPECT_FALSE(OnlyLoopbackNameservers("search example.org\n"));
  EXPECT_FALSE(OnlyLoopbackNameservers("nameserver 192.168.1.1"));
  f.publish = {"80"};
  f.net = "bridge";
  EXPECT_FALSE(BuildSpec(in).ok()) << "no host port";
  f.publish.clear();
  in.network.default_network = "none";
  f.net = "default";
  s = BuildSpec(in);
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->annotations.contains("berth.io/network"));
  EXPECT_TRUE(s->hooks.create_runtime.empty());
}

}  // namespace
}  // namespace berth::ctr
