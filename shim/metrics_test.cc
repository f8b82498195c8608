// The shim's Stats payload end to end without root: cgroup v1 and v2 trees written under a
// temporary root, read back by CgroupV1/CgroupV2::Stats, mapped to containerd's metrics
// messages. The fields and key spellings are containerd's (github.com/containerd/cgroups).

#include "shim/metrics.h"

#include <unistd.h>

#include <cstdint>
#include <limits>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "shim/linux/cgroups/v1.h"
#include "shim/linux/cgroups/v2.h"
#include "tests/testing/matchers.h"
#include "tests/testing/temp_dir.h"

namespace berth::shim {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::WriteFile;
using ::testing::ElementsAre;

TEST(MetricsTest, V1ReadsWhatContainerdReads) {
  berth::testing::TempDir root("cg1");
  auto f = [&](const std::string& controller, const std::string& file, const std::string& text) {
    WriteFile(root / controller / "ns" / "c" / file, text);
  };
  f("memory", "memory.usage_in_bytes", "4096000\n");
  f("memory", "memory.max_usage_in_bytes", "8192000\n");
  f("memory", "memory.limit_in_bytes", "104857600\n");
  f("memory", "memory.failcnt", "3\n");
  f("memory", "memory.memsw.usage_in_bytes", "4100000\n");
  f("memory", "memory.memsw.max_usage_in_bytes", "8200000\n");
  f("memory", "memory.memsw.limit_in_bytes", "209715200\n");
  f("memory", "memory.memsw.failcnt", "0\n");
  f("memory", "memory.stat",
    "cache 40960\nrss 114688\npgpgin 394\npgmajfault 2\ninactive_file 36864\n"
    "hierarchical_memory_limit 104857600\nhierarchical_memsw_limit 209715200\n"
    "total_rss 114688\ntotal_inactive_file 36864\ntotal_pgpgout 366\nnot_a_field 7\n");
  f("memory", "memory.oom_control", "oom_kill_disable 0\nunder_oom 1\noom_kill 2\n");
  f("cpuacct", "cpuacct.usage", "14516496\n");
  f("cpuacct", "cpuacct.stat", "user 0\nsystem 1\n");  // in USER_HZ ticks
  f("cpuacct", "cpuacct.usage_user", "4000000\n");     // raw samples: not what is reported
  f("cpuacct", "cpuacct.usage_sys", "24000000\n");
  f("cpuacct", "cpuacct.usage_percpu", "12282823 2233673 \n");
  f("cpu", "cpu.stat", "nr_periods 9\nnr_throttled 4\nthrottled_time 123456\n");
  f("pids", "pids.current", "2\n");
  f("pids", "pids.max", "max\n");
  f("blkio", "blkio.io_serviced_recursive", "8:0 Read 5\n8:0 Write 7\n8:0 Total 12\nTotal 12\n");
  f("blkio", "blkio.io_service_bytes_recursive", "8:0 Read 20480\n8:0 Write 28672\nTotal 49152\n");
  f("blkio", "blkio.sectors_recursive", "8:0 96\n");

  linux::CgroupV1 cg("/ns/c", root.path().string());
  absl::StatusOr<linux::CgroupStats> st = cg.Stats();
  ASSERT_THAT(st, IsOk());
  io::containerd::cgroups::v1::Metrics m = V1Metrics(*st);

  EXPECT_EQ(m.pids().current(), 2u);
  EXPECT_EQ(m.pids().limit(), 0u);  // "max"
  EXPECT_EQ(m.cpu().usage().total(), 14516496u);
  EXPECT_EQ(m.cpu().usage().user(), 0u);
  EXPECT_EQ(m.cpu().usage().kernel(),
            1'000'000'000u / static_cast<uint64_t>(::sysconf(_SC_CLK_TCK)));
  EXPECT_THAT(m.cpu().usage().per_cpu(), ElementsAre(12282823u, 2233673u));
  EXPECT_EQ(m.cpu().throttling().periods(), 9u);
  EXPECT_EQ(m.cpu().throttling().throttled_periods(), 4u);
  EXPECT_EQ(m.cpu().throttling().throttled_time(), 123456u);

  const auto& mem = m.memory();
  EXPECT_EQ(mem.cache(), 40960u);
  EXPECT_EQ(mem.rss(), 114688u);
  EXPECT_EQ(mem.pg_pg_in(), 394u);
  EXPECT_EQ(mem.pg_maj_fault(), 2u);
  EXPECT_EQ(mem.inactive_file(), 36864u);
  EXPECT_EQ(mem.hierarchical_memory_limit(), 104857600u);
  EXPECT_EQ(mem.hierarchical_swap_limit(), 209715200u);
  EXPECT_EQ(mem.total_rss(), 114688u);
  EXPECT_EQ(mem.total_inactive_file(), 36864u);
  EXPECT_EQ(mem.total_pg_pg_out(), 366u);
  EXPECT_EQ(mem.usage().usage(), 4096000u);
  EXPECT_EQ(mem.usage().max(), 8192000u);
  EXPECT_EQ(mem.usage().limit(), 104857600u);
  EXPECT_EQ(mem.usage().failcnt(), 3u);
  ASSERT_TRUE(mem.has_swap());
  EXPECT_EQ(mem.swap().usage(), 4100000u);
  EXPECT_EQ(mem.swap().limit(), 209715200u);
  EXPECT_FALSE(mem.has_kernel());  // no memory.kmem.* files: left out, not zeros
  EXPECT_FALSE(mem.has_kernel_tcp());
  EXPECT_EQ(m.memory_oom_control().under_oom(), 1u);
  EXPECT_EQ(m.memory_oom_control().oom_kill(), 2u);

  // Device lines only ("Total" lines are sums), the op as the kernel spells it.
  const auto& io = m.blkio();
  ASSERT_EQ(io.io_serviced_recursive_size(), 3);
  EXPECT_EQ(io.io_serviced_recursive(0).op(), "Read");
  EXPECT_EQ(io.io_serviced_recursive(0).major(), 8u);
  EXPECT_EQ(io.io_serviced_recursive(0).minor(), 0u);
  EXPECT_EQ(io.io_serviced_recursive(0).value(), 5u);
  EXPECT_EQ(io.io_serviced_recursive(2).op(), "Total");
  ASSERT_EQ(io.io_service_bytes_recursive_size(), 2);
  EXPECT_EQ(io.io_service_bytes_recursive(1).value(), 28672u);
  ASSERT_EQ(io.sectors_recursive_size(), 1);
  EXPECT_EQ(io.sectors_recursive(0).op(), "");
  EXPECT_EQ(io.sectors_recursive(0).value(), 96u);
}

TEST(MetricsTest, V1WithoutCfqFilesReadsTheThrottlingCounters) {
  berth::testing::TempDir root("cg1t");
  WriteFile(root / "memory" / "c" / "memory.usage_in_bytes", "1\n");
  WriteFile(root / "blkio" / "c" / "blkio.throttle.io_service_bytes", "253:1 Write 4096\n");
  WriteFile(root / "blkio" / "c" / "blkio.throttle.io_serviced", "253:1 Write 1\n");
  linux::CgroupV1 cg("/c", root.path().string());
  absl::StatusOr<linux::CgroupStats> st = cg.Stats();
  ASSERT_THAT(st, IsOk());
  io::containerd::cgroups::v1::Metrics m = V1Metrics(*st);
  ASSERT_EQ(m.blkio().io_service_bytes_recursive_size(), 1);
  EXPECT_EQ(m.blkio().io_service_bytes_recursive(0).major(), 253u);
  EXPECT_EQ(m.blkio().io_service_bytes_recursive(0).value(), 4096u);
  ASSERT_EQ(m.blkio().io_serviced_recursive_size(), 1);
  EXPECT_FALSE(m.memory().has_swap());
}

TEST(MetricsTest, V2ReadsWhatContainerdReads) {
  berth::testing::TempDir root("cg2");
  auto f = [&](const std::string& file, const std::string& text) {
    WriteFile(root / "ns" / "c" / file, text);
  };
  f("memory.current", "4096000\n");
  f("memory.peak", "8192000\n");
  f("memory.max", "max\n");
  f("memory.swap.current", "0\n");
  f("memory.swap.max", "max\n");
  f("memory.events", "low 0\nhigh 1\nmax 5\noom 2\noom_kill 1\noom_group_kill 0\n");
  f("memory.stat",
    "anon 114688\nfile 40960\nkernel_stack 16384\ninactive_file 36864\npgfault 694\n"
    "workingset_refault_anon 0\nthp_fault_alloc 0\n");
  f("cpu.stat",
    "usage_usec 14516\nuser_usec 4000\nsystem_usec 10516\nnr_periods 9\nnr_throttled 4\n"
    "throttled_usec 123\n");
  f("pids.current", "2\n");
  f("pids.max", "100\n");
  f("io.stat",
    "8:0 rbytes=20480 wbytes=28672 rios=5 wios=7 dbytes=0 dios=0\n"
    "253:1 rbytes=0 wbytes=4096 rios=0 wios=1 dbytes=0 dios=0\n");
  f("hugetlb.2MB.current", "2097152\n");
  f("hugetlb.2MB.max", "max\n");
  f("hugetlb.2MB.rsvd.current", "0\n");

  linux::CgroupV2 cg("/ns/c", root.path().string());
  absl::StatusOr<linux::CgroupStats> st = cg.Stats();
  ASSERT_THAT(st, IsOk());
  io::containerd::cgroups::v2::Metrics m = V2Metrics(*st);

  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  EXPECT_EQ(m.pids().current(), 2u);
  EXPECT_EQ(m.pids().limit(), 100u);
  EXPECT_EQ(m.cpu().usage_usec(), 14516u);
  EXPECT_EQ(m.cpu().user_usec(), 4000u);
  EXPECT_EQ(m.cpu().system_usec(), 10516u);
  EXPECT_EQ(m.cpu().nr_periods(), 9u);
  EXPECT_EQ(m.cpu().nr_throttled(), 4u);
  EXPECT_EQ(m.cpu().throttled_usec(), 123u);
  EXPECT_EQ(m.memory().usage(), 4096000u);
  EXPECT_EQ(m.memory().usage_limit(), kMax);  // "max", as containerd reports it
  EXPECT_EQ(m.memory().swap_usage(), 0u);
  EXPECT_EQ(m.memory().swap_limit(), kMax);
  EXPECT_EQ(m.memory().anon(), 114688u);
  EXPECT_EQ(m.memory().file(), 40960u);
  EXPECT_EQ(m.memory().kernel_stack(), 16384u);
  EXPECT_EQ(m.memory().inactive_file(), 36864u);
  EXPECT_EQ(m.memory().pgfault(), 694u);
  EXPECT_EQ(m.memory_events().high(), 1u);
  EXPECT_EQ(m.memory_events().max(), 5u);
  EXPECT_EQ(m.memory_events().oom(), 2u);
  EXPECT_EQ(m.memory_events().oom_kill(), 1u);

  ASSERT_EQ(m.io().usage_size(), 2);
  EXPECT_EQ(m.io().usage(0).major(), 8u);
  EXPECT_EQ(m.io().usage(0).rbytes(), 20480u);
  EXPECT_EQ(m.io().usage(0).wbytes(), 28672u);
  EXPECT_EQ(m.io().usage(0).rios(), 5u);
  EXPECT_EQ(m.io().usage(0).wios(), 7u);
  EXPECT_EQ(m.io().usage(1).major(), 253u);
  EXPECT_EQ(m.io().usage(1).minor(), 1u);
  EXPECT_EQ(m.io().usage(1).wbytes(), 4096u);

  ASSERT_EQ(m.hugetlb_size(), 1);  // the reservation counters are not a page size
  EXPECT_EQ(m.hugetlb(0).pagesize(), "2MB");
  EXPECT_EQ(m.hugetlb(0).current(), 2097152u);
  EXPECT_EQ(m.hugetlb(0).max(), kMax);
}

TEST(MetricsTest, AGoneCgroupIsNotFound) {
  berth::testing::TempDir root("cg0");
  EXPECT_EQ(linux::CgroupV1("/c", root.path().string()).Stats().status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(linux::CgroupV2("/c", root.path().string()).Stats().status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace berth::shim
